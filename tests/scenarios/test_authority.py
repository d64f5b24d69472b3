"""Signed is not allowed, over real processes: a district with a CA serves two enrolled communes
and a laptop. Commune A signs, in its own unit's feed, what its certificate does not allow: a
change to commune B's dossier, a resolution claiming the district role, a number block for
itself, a catalogue and a revocation. After the syncs the hub and every replica ignore them
alike, the district console lists them with their origin, each node's digest equals its rebuild,
two replicas holding the same events have the same digest, and the district's own lease of the
very numbers A claimed succeeds and takes effect.
"""

from __future__ import annotations

import copy
import http.cookiejar
import json
import re
import subprocess
import urllib.parse
import urllib.request
from datetime import datetime

import pytest

from node import reference
from node.domain.vietnam_time import VIETNAM
from tests.factories import sqlite_connect
from tests.scenarios.harness import INSECURE, MOTCUA, RealNode, clean_env

AGENCY = "000.17.22.H56"
A_UNIT, B_UNIT = "17272", "17278"  # Xã Tân Phú and Xã Giai Xuân, both of Nghệ An (40)
CLAIM = {"office": "40", "role": "district"}
PASSWORD = "một cụm mật khẩu dài 2026"
QUIET = {"MOTCUA_SYNC_INTERVAL_SECONDS": "3600"}  # the test decides when to sync


def act(node: RealNode, *steps: dict) -> list[str]:
    """Use cases or crafted events on ``node`` through node code (tests.scenarios.act)."""
    result = subprocess.run(
        [*MOTCUA[:-2], "-m", "tests.scenarios.act", str(node.data_dir)], input=json.dumps(steps),
        capture_output=True, text=True, timeout=120, env=clean_env(**node.env), check=False,
    )
    assert result.returncode == 0, f"act on {node.name} failed:\n{result.stderr[-3000:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def query(node: RealNode, sql: str, *args) -> list[tuple]:
    con = sqlite_connect(f"file:{node.db_path}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def dossier_row(node: RealNode, dossier_id: str) -> dict:
    con = sqlite_connect(f"file:{node.db_path}?mode=ro", uri=True, timeout=30)
    con.row_factory = __import__("sqlcipher3").dbapi2.Row
    try:
        return dict(con.execute("SELECT * FROM dossier WHERE id = ?", (dossier_id,)).fetchone())
    finally:
        con.close()


def violations(node: RealNode) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in query(node, "SELECT ref, origin, role, unit, reason FROM authority_violation")}


def sync(node: RealNode, hub: RealNode) -> None:
    assert node.cli("sync", "--peer", hub.url).stdout.startswith("ok")


def rebuilt_digest(node: RealNode) -> str:
    out = node.cli("rebuild").stdout
    before, after = re.findall(r"digest (?:before|after)\s+(\w+)", out)
    assert before == after, f"{node.name}: the derived state after sync differs from a rebuild"
    return after


def enroll(node: RealNode, hub: RealNode) -> RealNode:
    node.init()
    out = hub.cli("ca", "pair", "--role", node.role, "--unit", node.unit, "--name", node.name).stdout
    code = re.search(r"pairing code: (\S+)", out).group(1)
    node.cli("enroll", "--district", hub.url, "--code", code)
    return node


def console_page(hub: RealNode, path: str) -> str:
    """A page of the district console, signed in as a district admin over the hub's https."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar),
                                         urllib.request.HTTPSHandler(context=INSECURE))
    with opener.open(hub.url + "/dang-nhap", timeout=10) as r:
        token = re.search(r'name="csrf_token" value="([^"]+)"', r.read().decode()).group(1)
    form = urllib.parse.urlencode({"username": "quantri", "password": PASSWORD, "csrf_token": token}).encode()
    login = urllib.request.Request(hub.url + "/dang-nhap", data=form, headers={"Referer": hub.url + "/dang-nhap"})
    with opener.open(login, timeout=10) as r:  # under https the CSRF check wants a same-origin referrer
        assert "/dang-nhap" not in r.url, "the district admin could not sign in"
    with opener.open(hub.url + path, timeout=10) as r:
        return r.read().decode()


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    root = tmp_path_factory.mktemp("authority")
    hub = RealNode("Hub Nghệ An", "district", "40", root / "hub", env=QUIET)
    hub.init()
    hub.cli("ca", "init")
    hub.cli("user", "add", "--username", "quantri", "--role", "district_admin", "--name", "Quản Trị",
            "--password", PASSWORD)
    hub.start()
    try:
        a = RealNode("Xã Tân Phú", "commune", A_UNIT, root / "a", env={**QUIET, "MOTCUA_AGENCY_ID": AGENCY})
        a = enroll(a, hub)
        b = enroll(RealNode("Xã Giai Xuân", "commune", B_UNIT, root / "b", env=QUIET), hub)
        laptop = enroll(RealNode("Tổ lưu động Tân Phú", "mobile", A_UNIT, root / "laptop", env=QUIET), hub)
        yield {"hub": hub, "a": a, "b": b, "laptop": laptop}
    finally:
        hub.stop()


def create(author: str = "canbo", **sample) -> dict:
    return {"use_case": "create_dossier", "args": [author, {"sample": sample}]}


def change(dossier_id: str, to: str, author: str = "canbo", **kwargs) -> dict:
    return {"use_case": "change_status", "args": [author, dossier_id, to], "kwargs": kwargs}


def crafted_by(a: RealNode, b: RealNode, b_dossier: dict, a_dossier: str, conflict: str, mine: str,
               a_heads: list[str]) -> list[str]:
    """What A's certificate does not allow, signed by A in its own unit's feed."""
    catalogue = copy.deepcopy(reference.seed_catalogue_data())
    catalogue["version"] = "gia-mao"
    catalogue["procedures"] = [p for p in catalogue["procedures"] if p["national_code"] != "1.001193"]
    today = datetime.now(VIETNAM).date().isoformat()
    return act(
        a,
        {"scope": A_UNIT, "entity": f"dossier/{b_dossier['id']}", "type": "dossier.status_changed",
         "body": {"from": "received", "to": "refused", "reason": "không đủ", "office": B_UNIT, "role": "district"},
         "parents": b_dossier["heads"].split()},
        {"scope": A_UNIT, "entity": f"dossier/{a_dossier}", "type": "dossier.conflict_resolved",
         "body": {"conflict": conflict, "choose": mine, "reason": "giữ bản của xã", **CLAIM}, "parents": a_heads},
        {"scope": A_UNIT, "entity": "codeblock/x", "type": "codes.block_leased",
         "body": {"agency_id": AGENCY, "node_id": a.node_id, "first_day": today, "last_day": today,
                  "first_seq": 1, "last_seq": 9999, **CLAIM}},
        {"scope": A_UNIT, "entity": reference.entity("catalogue"), "type": reference.event_type("catalogue"),
         "body": {**reference.publication_body("catalogue", 99, catalogue), **CLAIM}},
        {"scope": A_UNIT, "entity": f"node/{b.node_id}", "type": "trust.node_revoked",
         "body": {"node_id": b.node_id, "after": {B_UNIT: 0}, "reason": "key_compromise", **CLAIM}},
    )


def test_a_commune_overreaching_its_certificate_changes_nothing_anywhere(net):
    hub, a, b, laptop = net["hub"], net["a"], net["b"], net["laptop"]
    (b_id,) = act(b, create(name="Lê Thị Bình"))
    (a_id,) = act(a, create())
    act(a, change(a_id, "processing", target_office="40"))  # a hands the stage to the hub's office
    sync(a, hub)
    sync(b, hub)
    # a conflict on a's dossier: the hub decides while a, concurrently, asks for a supplement
    act(hub, change(a_id, "resolved", "quantri"))
    (mine,) = act(a, change(a_id, "supplement_requested"))
    sync(a, hub)
    ((conflict, loser),) = query(a, "SELECT id, loser FROM conflict WHERE dossier_id = ? AND status = 'open'", a_id)
    assert loser == mine  # the owner of the stage (the hub) wins provisionally
    b_before = dossier_row(hub, b_id)
    a_heads = dossier_row(a, a_id)["heads"].split()

    crafted = crafted_by(a, b, b_before, a_id, conflict, mine, a_heads)
    on_b, resolution, lease, publication, revocation = crafted
    sync(a, hub)  # properly signed, in a's own feed: the hub stores them all
    held = {f"{o}:{s}:{n}" for o, s, n, _h in hub.events()}
    assert set(crafted) <= held
    out = hub.cli("codes", "lease", "--node", a.node_id, "--days", "1", "--size", "20", "--agency", AGENCY).stdout
    assert "0001-0020" in out  # the numbers a claimed for itself are the district's to lease
    sync(b, hub)  # b was not revoked
    sync(a, hub)  # a gets the block and assigns its dossier a final code ...
    sync(a, hub)  # ... which goes up
    sync(laptop, hub)

    # the hub and every replica ignore them alike
    assert dossier_row(hub, b_id) == b_before == dossier_row(b, b_id)
    for node in (hub, a, laptop):
        row = dossier_row(node, a_id)
        assert (row["status"], row["owner"]) == ("resolved", "40")
        assert row["code"].startswith(AGENCY), "the district's lease did not take effect"
        assert query(node, "SELECT status FROM conflict WHERE id = ?", conflict) == [("open",)]
        assert query(node, "SELECT leased_by, node_id, first_seq, last_seq FROM number_block") == [
            (hub.node_id, a.node_id, 1, 20)]
        assert query(node, "SELECT COUNT(*) FROM reference_data WHERE origin = ?", a.node_id) == [(0,)]
        assert query(node, "SELECT COUNT(*) FROM revocation") == [(0,)]
    certified = (a.node_id, "commune", A_UNIT)
    expected = {on_b: (*certified, "outside_unit"), resolution: (*certified, "not_owner"),
                **{ref: (*certified, "not_district") for ref in (lease, publication, revocation)}}
    assert violations(hub) == expected
    # a and its laptop never held b's dossier, so cannot judge that one; the rest they list alike
    assert violations(a) == violations(laptop) == {k: v for k, v in expected.items() if k != on_b}
    assert violations(b) == {} and not {e for e in hub.events() if e[0] == a.node_id} & b.events()

    # the console lists them with their origin
    page = console_page(hub, "/quan-tri/vi-pham")
    assert all(f'data-violation="{ref}"' in page for ref in crafted)
    assert a.node_id in page and "Xã Tân Phú" in page and f"commune / {A_UNIT}" in page
    assert "Hồ sơ không thuộc đơn vị của máy gửi" in page

    # digests agree: each node with its rebuild, and two replicas holding the same events
    digests = {node.name: rebuilt_digest(node) for node in (hub, a, b, laptop)}
    assert a.events() == laptop.events()
    assert digests[a.name] == digests[laptop.name]
