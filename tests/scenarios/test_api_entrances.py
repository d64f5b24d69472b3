"""The JSON API of real ``motcua serve`` processes refuses strangers (issue 10): a district that
holds a CA, and a commune and a mobile laptop enrolled with it, all three serving https, and a
commune that is not enrolled, serving plain http. On each, every API route refuses an anonymous
call (401) and an account of a role that does not work there (403) and nothing changes (digest,
events and access log as before); an author header has no effect; reads are in the access log
under the account's name."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.api_routes import api_calls
from tests.factories import sqlite_connect
from tests.scenarios.harness import RealNode, call

UNIT = "17272"
WRONG_ROLE = {"district": "clerk", "commune": "district_admin", "mobile": "district_admin"}


def routes_app() -> Flask:
    """The API blueprint on a bare app: its url_map lists every route the nodes serve."""
    from web.api import bp

    app = Flask("routes")
    app.register_blueprint(bp)
    return app


def enroll(node: RealNode, district: RealNode) -> None:
    out = district.cli("ca", "pair", "--role", node.role, "--unit", node.unit, "--name", node.name).stdout
    code = re.search(r"pairing code: (\S+)", out).group(1)
    node.cli("enroll", "--district", district.url, "--code", code)


def access_log(node: RealNode) -> list[tuple[str, str, str]]:
    con = sqlite_connect(f"file:{node.db_path}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT username, dossier_id, action FROM access_log ORDER BY id").fetchall()
    finally:
        con.close()


def state(node: RealNode) -> tuple:
    return node.cli("digest").stdout.strip(), node.events(), access_log(node)


@pytest.fixture(scope="module")
def nodes(tmp_path_factory):
    root = tmp_path_factory.mktemp("entrances")
    district = RealNode("Hub Nghệ An", "district", "40", root / "district")
    commune = RealNode("Xã Tân Phú", "commune", UNIT, root / "commune")
    mobile = RealNode("Tổ lưu động", "mobile", UNIT, root / "mobile")
    plain = RealNode("Xã Bên Cạnh", "commune", "17275", root / "plain")
    started = []
    try:
        district.init()
        district.cli("ca", "init")
        district.start()
        started.append(district)
        for node in (commune, mobile, plain):
            node.init()
            if node is not plain:
                enroll(node, district)
            node.start()
            started.append(node)
        yield {"district": district, "commune": commune, "mobile": mobile, "plain": plain}
    finally:
        for node in reversed(started):
            node.stop()


@pytest.mark.parametrize("name", ["district", "commune", "mobile", "plain"])
def test_strangers_and_wrong_roles_are_refused_and_change_nothing(nodes, name):
    node = nodes[name]
    assert node.url.startswith("http://" if name == "plain" else "https://")
    wrong = node.api_token(WRONG_ROLE[node.role])
    dossier = "x"
    if node.role != "district":
        status, made = call(node, "POST", "/api/v1/dossiers", {
            "procedure": {"code": "1.001193"}, "applicant": {"name": "Lò Thị Mai", "id_number": "040190004444"}})
        assert status == 201, made
        dossier = made["id"]
    before = state(node)
    calls = api_calls(routes_app(), dossier)
    for _endpoint, method, url, body in calls:
        for token, status, code in (("", 401, "unauthenticated"), ("mct_forged", 401, "unauthenticated"),
                                    (wrong, 403, "forbidden")):
            got, answer = call(node, method, url, body, token=token, headers={"X-Motcua-Author": "quantri"})
            assert (got, list(answer), answer["error"]["code"]) == (status, ["error"], code), (method, url, token)
    assert len(calls) >= 17
    assert state(node) == before


@pytest.mark.parametrize("name", ["commune", "mobile", "plain"])
def test_the_author_is_the_account_and_reads_are_logged_under_its_name(nodes, name):
    node = nodes[name]
    account = "api.mobile" if node.role == "mobile" else "api.head"
    status, made = call(node, "POST", "/api/v1/dossiers", {
        "procedure": {"code": "1.001193"}, "applicant": {"name": "Vi Văn Sáng", "id_number": "040190005555"}},
        headers={"X-Motcua-Author": "quantri"})
    assert status == 201, made
    status, got = call(node, "GET", f"/api/v1/dossiers/{made['id']}", headers={"X-Motcua-Author": "quantri"})
    assert status == 200 and [e["author"] for e in got["timeline"]] == [account]
    assert access_log(node)[-1] == (account, made["id"], "api")


def test_the_district_logs_its_admins_reads(nodes):
    district = nodes["district"]
    status, _ = call(district, "GET", "/api/v1/dossiers?q=040190004444")
    assert status == 200
    assert access_log(district)[-1] == ("api.district-admin", "", "api:search")
