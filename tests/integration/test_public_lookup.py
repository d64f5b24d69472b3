"""The public status lookup /tra-cuu (web.public, node.tracking): it needs the check code printed
on the receipt, answers a wrong or missing one exactly like an unknown code, limits misses per
address (429), and verifies on every replica that holds the dossier, the district hub included."""

from __future__ import annotations

import re

import pytest

from node.app import create_app
from node.domain.lookup import LENGTH, display
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login
from tests.multinode import carry, make_node, use
from web import public

AGENCY = "000.17.22.H56"


def lookup(client, code: str | None, check: str | None, ip: str = "203.0.113.5"):
    query = {k: v for k, v in (("ma", code), ("kiem_tra", check)) if v is not None}
    return client.get("/tra-cuu", query_string=query, environ_base={"REMOTE_ADDR": ip})


def answer(r) -> str:
    """The page without the echoed inputs, to compare two refusals byte for byte."""
    html = r.get_data(as_text=True)
    html = re.sub(r'href="/ngon-ngu/[^"]*"', 'href=""', html)  # the language links carry the query
    return re.sub(r'(name="(?:ma|kiem_tra)"[^>]*value=")[^"]*"', r'\1"', html)


@pytest.fixture
def dossier(sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    return d, sqlite_node.lookup_check(d.id)


def test_the_check_code_is_recorded_in_the_signed_reception_event(sqlite_node, dossier):
    d, check = dossier
    (reception,) = [e for e in sqlite_node.timeline(d.id) if e["type"] == "dossier.received"]
    assert reception["body"]["lookup_check"] == check and len(check) == LENGTH


def test_the_code_and_its_check_code_find_the_dossier(app, dossier):
    d, check = dossier
    for typed in (check, check.lower(), display(check), f" {display(check).lower()} "):
        r = lookup(app.test_client(), d.code.lower(), typed)
        assert r.status_code == 200 and "data-found" in r.text and d.code in r.text, typed


def test_a_wrong_or_missing_check_code_gets_the_same_answer_as_an_unknown_code(app, dossier):
    d, check = dossier
    wrong = ("1" if check[0] != "1" else "2") + check[1:]
    unknown = lookup(app.test_client(), "000.17.22.H56-260101-9999", check, ip="203.0.113.1")
    refusals = [
        lookup(app.test_client(), d.code, wrong, ip="203.0.113.2"),
        lookup(app.test_client(), d.code, None, ip="203.0.113.3"),
        lookup(app.test_client(), d.code, "", ip="203.0.113.4"),
        lookup(app.test_client(), d.code, check + "\u202e", ip="203.0.113.6"),
    ]
    assert unknown.status_code == 404 and "data-not-found" in unknown.text
    for r in refusals:
        assert r.status_code == unknown.status_code
        assert answer(r) == answer(unknown)
        assert d.procedure_name not in r.text


def test_misses_are_rate_limited_per_address_hits_are_not(app, dossier, clock):
    d, check = dossier
    c = app.test_client()
    for i in range(public.BURST):
        assert lookup(c, d.code, f"ZZZZZ{i}").status_code == 404
    limited = lookup(c, d.code, check)  # even the right code waits: nothing is looked up
    assert limited.status_code == 429 and "data-found" not in limited.text and "data-limited" in limited.text
    assert int(limited.headers["Retry-After"]) == public.MISS_INTERVAL_MS // 1000
    assert lookup(c, d.code, check, ip="203.0.113.99").status_code == 200  # another address is not affected
    for _ in range(50):  # found dossiers cost nothing: citizens behind one address are never slowed
        assert lookup(c, d.code, check, ip="203.0.113.99").status_code == 200
    clock.advance(public.MISS_INTERVAL_MS)
    assert lookup(c, d.code, check).status_code == 200
    assert lookup(c, d.code, "ZZZZZZ").status_code == 404
    assert lookup(c, d.code, "ZZZZZZ").status_code == 429  # one miss a minute after the burst


def test_an_ipv6_subscriber_cannot_multiply_its_allowance(app, dossier):
    d, _ = dossier
    c = app.test_client()
    for i in range(public.BURST):
        assert lookup(c, d.code, "ZZZZZZ", ip=f"2001:db8:5:6::{i + 1:x}").status_code == 404
    assert lookup(c, d.code, "ZZZZZZ", ip="2001:db8:5:6:ffff::1").status_code == 429


def test_guessing_check_codes_finds_nothing(app, sqlite_node, clock):
    codes = [sqlite_node.create_dossier("t", sample_dossier(name=f"Người {i}", id_number="")).code for i in range(20)]
    c = app.test_client()
    found = 0
    for i in range(2000):  # 2,000 guesses from 200 addresses: each succeeds with 2**-30
        ip = f"198.51.{i % 200 // 100}.{i % 100}"
        r = lookup(c, codes[i % len(codes)], f"{i:06d}", ip=ip)
        assert r.status_code in (404, 429)
        found += "data-found" in r.text
        clock.advance(10)
    assert found == 0


def test_the_receipt_and_the_desk_page_show_the_check_code(app, sqlite_node, dossier, clock, monkeypatch):
    d, check = dossier
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock())
    c = app.test_client()
    login(c, "lan")
    receipt = c.get(f"/in/{d.id}/bien-nhan").get_data(as_text=True)
    assert receipt.count(f"Mã kiểm tra: {display(check)}") == 2  # both copies, the citizen's included
    desk = c.get(f"/mot-cua/ho-so/{d.id}?moi=1").get_data(as_text=True)
    assert f"data-lookup-check>{display(check)}<" in desk


def test_the_api_gives_the_check_code_to_a_caller_printing_its_own_receipt(client, sqlite_node):
    created = client.post("/api/v1/dossiers", json=sample_dossier())
    body = created.get_json()
    assert created.status_code == 201 and body["lookup_check"] == sqlite_node.lookup_check(body["id"])
    assert client.get(f"/api/v1/dossiers/{body['id']}").get_json()["lookup_check"] == body["lookup_check"]


def test_every_replica_verifies_the_check_code_and_old_codes_still_find_the_dossier(tmp_path, clock):
    hub = make_node(tmp_path, "hub", clock, role="district", unit="40")
    commune = make_node(tmp_path, "c", clock, AGENCY_ID=AGENCY)
    use(commune)
    d = commune.create_dossier("t", sample_dossier())
    provisional, check = d.code, commune.lookup_check(d.id)
    assert provisional.startswith("TAM-")
    carry(commune, hub)
    use(hub)
    hub_app = create_app(hub.settings, node=hub)
    assert lookup(hub_app.test_client(), provisional, check).status_code == 200  # the hub never saw the secret
    assert lookup(hub_app.test_client(), provisional, "ZZZZZZ", ip="198.51.100.1").status_code == 404
    # the final code replaces the provisional one; the citizen's receipt still works, and so does the new code
    hub.lease_codes("admin", commune.node_id, days=1, size=5, agency_id=AGENCY, unit="17272")
    carry(hub, commune)
    use(commune)
    assigned = commune.assign_final_codes()
    carry(commune, hub)
    use(hub)
    final = hub.get_dossier(d.id).code
    assert final == assigned[0]["code"] and final.startswith(AGENCY)
    for code in (provisional, final):
        r = lookup(hub_app.test_client(), code, check)
        assert r.status_code == 200 and final in r.text, code
    hub.close()
    commune.close()


def test_a_dossier_received_before_check_codes_is_found_on_its_own_node_only(app, sqlite_node, dossier):
    from node.domain.lookup import check_code
    from node.tracking import recorded_check

    d, check = dossier
    assert check == check_code(sqlite_node.lookup_secret, d.id)  # what the origin recomputes for older events
    assert recorded_check(d.id, "0" * 32, b"another node") == check  # recorded: anyone holding it verifies
    assert recorded_check("f" * 32 + ":17272:9", sqlite_node.node_id, sqlite_node.lookup_secret) == ""
