"""A real ``motcua serve`` of an encrypted, enrolled node started locked (issue 16): https with a
throwaway certificate and only the sign-in page until a staff member signs in; then the node's
own certificate, the API; ``motcua lock`` locks it again."""

from __future__ import annotations

import re
import shutil
import ssl

import requests
import urllib3

from tests.factories import sqlite_connect
from tests.scenarios.harness import RealNode, certify

PASSWORD = "một cụm mật khẩu dài 2026"


def _served_certificate(node: RealNode) -> str:
    return ssl.get_server_certificate(("127.0.0.1", node.port), timeout=5)


def _sign_in(session: requests.Session, node: RealNode, password: str) -> requests.Response:
    page = session.get(node.url + "/dang-nhap", timeout=10)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    return session.post(node.url + "/dang-nhap", data={"username": "lan", "password": password,
                                                       "csrf_token": token}, allow_redirects=False, timeout=30,
                        headers={"Referer": node.url + "/dang-nhap"})  # Flask-WTF checks it over https


def test_a_locked_node_serves_sign_in_only_until_a_staff_member_unlocks_it(tmp_path, district_ca):
    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    node = RealNode("Xã Khoá", "commune", "17272", tmp_path / "commune")
    node.init()
    certify(node, district_ca)
    node.cli("user", "add", "--username", "lan", "--role", "clerk", "--name", "Nguyễn Thị Lan",
             "--password", PASSWORD)
    node.cli("seed-demo", "--count", "2")
    node.cli("lock")
    assert "LOCKED" in node.cli("doctor", check=False).stdout
    node.start()
    try:
        s = requests.Session()
        s.verify = False  # the harness's probe; nodes themselves pin the district CA
        s.trust_env = False  # else REQUESTS_CA_BUNDLE would turn verification back on
        assert s.get(node.url + "/healthz", timeout=10).json()["locked"] is True
        own = (node.data_dir / "node.pem").read_text()
        assert _served_certificate(node).strip() != own.strip()  # the key file stays sealed
        assert s.get(node.url + "/api/v1/dossiers", timeout=10).status_code == 503
        assert _sign_in(s, node, "not the password at all").status_code == 401
        assert _sign_in(s, node, PASSWORD).status_code == 302
        assert s.get(node.url + "/healthz", timeout=10).json()["locked"] is False
        assert _served_certificate(node).strip() == own.strip()
        assert s.get(node.url + "/mot-cua/", timeout=10).status_code == 200  # signed in, data readable
        searched = s.get(node.url + "/mot-cua/tim-kiem", params={"q": "040090007777 Nguyễn Văn Bảy"}, timeout=10)
        assert searched.status_code == 200
        con = sqlite_connect(node.db_path)  # while unlocked: what the node holds, to look for below
        held = [v for row in con.execute("SELECT applicant_name, id_number, phone FROM dossier") for v in row if v]
        con.close()
        assert len(held) >= 4
        node.cli("lock")
        assert s.get(node.url + "/api/v1/dossiers", timeout=10).status_code == 503
        assert s.get(node.url + "/healthz", timeout=10).json()["locked"] is True
    finally:
        node.stop()
    # A copy of the served, locked data directory (database, WAL, serve.log with the access log,
    # keys): none of the names, ID numbers and phones it holds, nor the search text, in plaintext.
    copy = tmp_path / "copied"
    shutil.copytree(node.data_dir, copy)
    needles = {v.encode() for v in held} | {b"040090007777", "Bảy".encode()}
    for path in copy.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            assert [n for n in needles if n in raw] == [], path
