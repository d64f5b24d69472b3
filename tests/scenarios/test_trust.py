"""Trust end to end with real processes: a district CA, enrollment by pairing code, https sync
pinned to the CA, LAN discovery by mDNS on loopback, revocation that works offline, a spoofed
peer that gets no event bytes."""

from __future__ import annotations

import re
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import sqlite_connect
from tests.scenarios.harness import RealNode

UNIT = "17272"


def pairing_code(district: RealNode, role: str, unit: str, name: str) -> str:
    out = district.cli("ca", "pair", "--role", role, "--unit", unit, "--name", name).stdout
    return re.search(r"pairing code: (\S+)", out).group(1)


def enrolled(node: RealNode, district: RealNode, role: str, name: str) -> RealNode:
    node.cli("enroll", "--district", district.url, "--code", pairing_code(district, role, node.unit, name))
    return node


def count(node: RealNode, sql: str, *args) -> int:
    con = sqlite_connect(node.db_path)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    root = tmp_path_factory.mktemp("trust")
    district = RealNode("Hub Nghệ An", "district", "40", root / "district")
    district.init()
    district.cli("ca", "init")
    district.start()
    commune = RealNode("Xã Tân Phú", "commune", UNIT, root / "commune")
    commune.init()
    enrolled(commune, district, "commune", "Xã Tân Phú")
    commune.start()
    mobile = RealNode("Tổ lưu động", "mobile", UNIT, root / "mobile")
    mobile.init()
    try:
        yield {"district": district, "commune": commune, "mobile": mobile, "root": root}
    finally:
        commune.stop()
        district.stop()


def test_pairing_code_works_once(net):
    district, root = net["district"], net["root"]
    code = pairing_code(district, "commune", "17275", "Xã Bên Cạnh")
    first = RealNode("Xã Bên Cạnh", "commune", "17275", root / "other")
    first.init()
    first.cli("enroll", "--district", district.url, "--code", code)
    thief = RealNode("Kẻ giả", "commune", "17275", root / "thief")
    thief.init()
    again = thief.cli("enroll", "--district", district.url, "--code", code, check=False)
    assert again.returncode != 0 and "already used" in again.stderr
    wrong = thief.cli("enroll", "--district", district.url, "--code", "ABCD-EFGH", check=False)
    assert wrong.returncode != 0 and not (thief.data_dir / "node.pem").exists()


def test_mobile_discovers_the_commune_enrolls_and_syncs_over_https(net):
    district, commune, mobile = net["district"], net["commune"], net["mobile"]
    heard = mobile.cli("peers", "--interface", "127.0.0.1", "--seconds", "2").stdout
    assert commune.node_id in heard and district.node_id in heard
    enrolled(mobile, district, "mobile", "Tổ lưu động")
    assert "same CA" in mobile.cli("peers", "--interface", "127.0.0.1", "--seconds", "2").stdout
    mobile.cli("seed-demo", "--count", "3")
    out = mobile.cli("sync", "--discover", "--interface", "127.0.0.1").stdout
    assert out.startswith("ok") and commune.node_id in out
    commune.cli("sync", "--peer", district.url)
    assert mobile.own_events() <= district.events()
    # the district knows the laptop by its certificate: role and unit come from the CA
    con = sqlite_connect(district.db_path)
    role, unit, cert = con.execute("SELECT role, unit, length(cert) FROM node_profile WHERE node_id = ?",
                                   (mobile.node_id,)).fetchone()
    con.close()
    assert (role, unit) == ("mobile", UNIT) and cert > 100


def test_a_node_of_another_district_can_neither_read_nor_write(net):
    district, root = net["district"], net["root"]
    other = RealNode("Hub khác", "district", "41", root / "other-district")
    other.init()
    other.cli("ca", "init")
    other.start()
    try:
        stranger = RealNode("Xã lạ", "commune", UNIT, root / "stranger")
        stranger.init()
        enrolled(stranger, other, "commune", "Xã lạ")
        stranger.cli("seed-demo", "--count", "2")
        before = district.events()
        result = stranger.cli("sync", "--peer", district.url, check=False)
        assert result.returncode != 0 and "transport" in result.stderr  # the TLS handshake fails
        assert district.events() == before
        assert count(district, "SELECT COUNT(*) FROM sync_session WHERE peer = ?", stranger.node_id) == 0
    finally:
        other.stop()


def test_revoked_mobile_is_refused_everywhere_and_its_earlier_work_stays(net):
    district, commune, mobile = net["district"], net["commune"], net["mobile"]
    earlier = mobile.own_events()
    assert earlier <= commune.events() and earlier <= district.events()
    out = district.cli("ca", "revoke", mobile.node_id, "--reason", "key_compromise").stdout
    assert f"after seq {max(e[2] for e in earlier)}" in out
    commune.cli("sync", "--peer", district.url)  # the commune learns it; from now on it works offline
    mobile.cli("seed-demo", "--count", "2")
    to_commune = mobile.cli("sync", "--peer", commune.url, check=False)
    to_district = mobile.cli("sync", "--peer", district.url, check=False)
    for result in (to_commune, to_district):
        assert result.returncode != 0 and "revoked" in result.stderr
    later = mobile.own_events() - earlier
    assert later and not later & commune.events() and not later & district.events()
    assert earlier <= commune.events() and earlier <= district.events()  # work up to N stays
    assert "FAIL" not in commune.cli("verify").stdout


def _rogue_tls_server(tmp_path):
    """A TLS server with a certificate of some other CA, recording any byte a client sends."""
    from certs import create_ca, issue_node_certificate
    from certs.identity import certificate_pem
    from certs.keys import generate_private_key, node_id_of, private_key_pem

    now = datetime.now(UTC)
    rogue_ca = create_ca("99", now=now, lifetime=timedelta(days=60))
    key = generate_private_key()
    cert = issue_node_certificate(key.public_key(), node_id=node_id_of(key), role="commune", unit=UNIT,
                                  name="giả mạo", ca=rogue_ca, now=now, lifetime=timedelta(days=30))
    (tmp_path / "rogue.pem").write_bytes(certificate_pem(cert))
    (tmp_path / "rogue.key").write_bytes(private_key_pem(key))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "rogue.pem", tmp_path / "rogue.key")
    listener = socket.create_server(("127.0.0.1", 0))
    received = bytearray()

    def serve() -> None:
        listener.settimeout(20)
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            try:
                with ctx.wrap_socket(conn, server_side=True) as tls:
                    tls.settimeout(5)
                    while chunk := tls.recv(65536):
                        received.extend(chunk)
            except (ssl.SSLError, OSError):
                pass  # the client refused our certificate: exactly what should happen

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return listener, thread, received


def test_a_spoofed_peer_gets_no_event_bytes(net, tmp_path):
    commune = net["commune"]
    listener, thread, received = _rogue_tls_server(tmp_path)
    port = listener.getsockname()[1]
    try:
        result = commune.cli("sync", "--peer", f"https://127.0.0.1:{port}", check=False)
    finally:
        thread.join(25)
        listener.close()
    assert result.returncode != 0 and "transport" in result.stderr
    assert bytes(received) == b""  # not one byte of HTTP, let alone of events
