"""Dossier codes on running nodes: the district leases disjoint blocks, nodes issue final codes
from them offline without ever colliding, a node without a block issues provisional codes that
get final codes of their reception day once a block arrives, and a number is never issued twice."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from node.domain.dossier_code import DossierCode, parse_code, parse_dossier_code
from node.domain.errors import DomainError
from node.domain.vietnam_time import VIETNAM
from node.models import DossierRow, IssuedCodeRow, NumberBlockRow
from tests.factories import FakeClock, sample_dossier
from tests.integration.web_helpers import give_token
from tests.multinode import carry, make_node, use

AGENCY = "000.17.22.H56"
OTHER_AGENCY = "000.18.22.H56"
MINUTE = 60_000


def at(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=VIETNAM).timestamp() * 1000)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(at(2026, 5, 18, 8))  # a Monday


@pytest.fixture
def trio(tmp_path, clock):
    """A district and two communes of different units, each with its own database."""
    district = make_node(tmp_path, "district", clock, role="district", unit="40")
    a = make_node(tmp_path, "a", clock, unit="17272", AGENCY_ID=AGENCY)
    b = make_node(tmp_path, "b", clock, unit="17273", AGENCY_ID=AGENCY)
    yield district, a, b
    for n in (district, a, b):
        n.close()


def receive(node, n: int, clock: FakeClock, name: str = "Người") -> list:
    use(node)
    out = []
    for i in range(n):
        out.append(node.create_dossier("canbo", sample_dossier(name=f"{name} {i}", id_number=f"0400900{i:05d}")))
        clock.advance(MINUTE)
    return out


def test_two_nodes_with_disjoint_blocks_issue_final_codes_that_never_collide(trio, clock):
    district, a, b = trio
    use(district)
    block_a = district.lease_codes("admin", a.node_id, days=2, size=40, agency_id=AGENCY, unit=a.scope)
    block_b = district.lease_codes("admin", b.node_id, days=2, size=40, agency_id=AGENCY, unit=b.scope)
    assert (block_a["first_seq"], block_a["last_seq"], block_b["first_seq"], block_b["last_seq"]) == (1, 40, 41, 80)
    # partial replication: each commune receives the block of its own unit only
    assert carry(district, a) == 1 and carry(district, b) == 1

    codes_a = [d.code for d in receive(a, 30, clock, "A")]
    codes_b = [d.code for d in receive(b, 30, clock, "B")]
    clock.advance(86_400_000)  # the next day: each block covers it too, numbering restarts
    codes_a += [d.code for d in receive(a, 10, clock, "A2")]
    codes_b += [d.code for d in receive(b, 10, clock, "B2")]

    everything = codes_a + codes_b
    assert len(set(everything)) == len(everything) == 80, "a code was issued twice"
    parsed_a = [parse_dossier_code(c) for c in codes_a]
    parsed_b = [parse_dossier_code(c) for c in codes_b]
    assert all(c.agency_id == AGENCY for c in parsed_a + parsed_b)
    assert all(1 <= c.seq <= 40 for c in parsed_a) and all(41 <= c.seq <= 80 for c in parsed_b)
    assert [c.seq for c in parsed_a[:3]] == [1, 2, 3] and [c.seq for c in parsed_b[:3]] == [41, 42, 43]
    assert codes_a[0] == "000.17.22.H56-260518-0001" and codes_a[30] == "000.17.22.H56-260519-0001"

    # the district holds both communes' dossiers: all distinct there too
    carry(a, district)
    carry(b, district)
    use(district)
    held = [r.code for r in DossierRow.select(DossierRow.code)]
    assert len(held) == len(set(held)) == 80


def test_a_used_up_block_falls_back_to_provisional_codes_with_a_clear_notice(tmp_path, clock):
    district = make_node(tmp_path, "district", clock, role="district", unit="40")
    commune = make_node(tmp_path, "c", clock, AGENCY_ID=AGENCY)
    use(district)
    district.lease_codes("admin", commune.node_id, days=1, size=2, agency_id=AGENCY, unit="17272")
    carry(district, commune)
    codes = [d.code for d in receive(commune, 3, clock)]
    assert codes[:2] == ["000.17.22.H56-260518-0001", "000.17.22.H56-260518-0002"]
    assert codes[2] == f"TAM-{commune.provisional_name}-260518-0001"
    status = commune.codes_status()
    assert status["provisional_waiting"] == 1 and status["blocks"][0]["issued"] == 2


def test_a_node_without_a_block_issues_provisional_codes_that_become_final_after_the_lease(tmp_path, clock):
    district = make_node(tmp_path, "district", clock, role="district", unit="40")
    commune = make_node(tmp_path, "c", clock, AGENCY_ID=AGENCY)
    short = commune.provisional_name
    assert short.isalnum() and short.isupper() and short not in commune.node_id.upper()  # not from the id
    first_day = receive(commune, 3, clock)
    clock.advance(86_400_000)
    second_day = receive(commune, 2, clock)
    assert [d.code for d in first_day] == [f"TAM-{short}-260518-000{i}" for i in (1, 2, 3)]
    assert [d.code for d in second_day] == [f"TAM-{short}-260519-000{i}" for i in (1, 2)]
    assert commune.assign_final_codes() == []  # no block yet: nothing to assign

    use(district)
    district.lease_codes("admin", commune.node_id, days=2, size=10, agency_id=AGENCY, unit="17272",
                         first_day=date(2026, 5, 18))
    carry(district, commune)
    assigned = commune.assign_final_codes("motcua-sync")
    # each dossier keeps its reception day, oldest first
    assert [a["code"] for a in assigned] == [
        "000.17.22.H56-260518-0001", "000.17.22.H56-260518-0002", "000.17.22.H56-260518-0003",
        "000.17.22.H56-260519-0001", "000.17.22.H56-260519-0002",
    ]
    for dossier, final in zip(first_day + second_day, assigned, strict=True):
        state = commune.get_dossier(dossier.id)
        assert state.code == final["code"]
        assert [e["type"] for e in commune.timeline(dossier.id)][-1] == "dossier.code_assigned"
    # the next reception continues after the assigned numbers, and provisional numbers are not reused
    assert receive(commune, 1, clock)[0].code == "000.17.22.H56-260519-0003"
    assert commune.assign_final_codes() == []
    provisional = IssuedCodeRow.select().where(~IssuedCodeRow.final).count()
    assert provisional == 5  # the ledger keeps every code ever issued, provisional ones too

    # the final codes reach the district with the assignment events
    carry(commune, district)
    use(district)
    assert sorted(r.code for r in DossierRow.select()) == sorted(
        [a["code"] for a in assigned] + ["000.17.22.H56-260519-0003"])


def test_a_block_for_another_agency_or_node_is_not_used(tmp_path, clock):
    district = make_node(tmp_path, "district", clock, role="district", unit="40")
    commune = make_node(tmp_path, "c", clock, AGENCY_ID=AGENCY)
    laptop = make_node(tmp_path, "m", clock, role="mobile", unit="17272", AGENCY_ID=AGENCY)
    use(district)
    district.lease_codes("admin", commune.node_id, days=1, size=5, agency_id=OTHER_AGENCY, unit="17272")
    district.lease_codes("admin", laptop.node_id, days=1, size=5, agency_id=AGENCY, unit="17272")
    carry(district, commune)
    (dossier,) = receive(commune, 1, clock)
    assert dossier.code.startswith("TAM-")
    blocks = [(b["agency_id"], b["mine"], b["usable"]) for b in commune.codes_status()["blocks"]]
    assert blocks == [(OTHER_AGENCY, True, False)]  # the laptop's block is held here but not shown
    assert NumberBlockRow.select().count() == 2


def test_without_agency_id_every_code_is_provisional_and_the_api_says_why(client, sqlite_node):
    r = client.post("/api/v1/dossiers", json=sample_dossier())
    body = r.get_json()
    assert r.status_code == 201 and body["code"].startswith(f"TAM-{sqlite_node.provisional_name}-")
    assert parse_code(body["code"]).n == 1
    (notice,) = body["notices"]
    assert "AGENCY_ID" in notice and "mã tạm" in notice


def test_a_final_code_answer_has_no_notice(tmp_path, clock):
    from node.app import create_app

    district = make_node(tmp_path, "district", clock, role="district", unit="40")
    commune = make_node(tmp_path, "c", clock, AGENCY_ID=AGENCY)
    use(district)
    district.lease_codes("admin", commune.node_id, days=1, size=5, agency_id=AGENCY, unit="17272")
    carry(district, commune)
    client = create_app(commune.settings, node=commune).test_client()
    give_token(client, now=clock())
    body = client.post("/api/v1/dossiers", json=sample_dossier()).get_json()
    assert body["code"] == "000.17.22.H56-260518-0001" and "notices" not in body
    assert client.get("/api/v1/codes").get_json()["blocks"][0]["issued"] == 1


@pytest.mark.parametrize(
    ("role", "node_id", "agency", "unit", "size", "field"),
    [
        ("commune", "a" * 32, AGENCY, "17272", 5, "role"),
        ("district", "not-a-node", AGENCY, "17272", 5, "node"),
        ("district", "a" * 32, "H56", "17272", 5, "agency"),
        ("district", "a" * 32, AGENCY, "", 5, "unit"),  # never synced: its unit is unknown
        ("district", "a" * 32, AGENCY, "17272", 10_000, "size"),
    ],
)
def test_lease_refusals(tmp_path, clock, role, node_id, agency, unit, size, field):
    node = make_node(tmp_path, "n", clock, role=role, unit="40")
    with pytest.raises(DomainError) as e:
        node.lease_codes("admin", node_id, days=1, size=size, agency_id=agency, unit=unit)
    assert e.value.field == field
    node.close()


def test_the_district_leases_the_lowest_free_range_and_runs_out_cleanly(tmp_path, clock):
    district = make_node(tmp_path, "district", clock, role="district", unit="40")
    ranges = [district.lease_codes("admin", "a" * 32, days=3, size=size, agency_id=AGENCY, unit="17272")
              for size in (5000, 4000)]
    assert [(r["first_seq"], r["last_seq"]) for r in ranges] == [(1, 5000), (5001, 9000)]
    later = district.lease_codes("admin", "b" * 32, days=1, size=2000, agency_id=AGENCY, unit="17273",
                                 first_day=date(2026, 5, 18) + timedelta(days=3))
    assert (later["first_seq"], later["last_seq"]) == (1, 2000)  # days that do not overlap start at 1
    with pytest.raises(DomainError, match="no free range"):
        district.lease_codes("admin", "b" * 32, days=1, size=1000, agency_id=AGENCY, unit="17273")
    district.close()


def test_a_caller_given_code_is_kept_unless_already_issued(sqlite_node):
    first = sqlite_node.create_dossier("x", sample_dossier(code="000.17.22.H56-250101-0007"))
    assert first.code == "000.17.22.H56-250101-0007"
    assert isinstance(parse_code(first.code), DossierCode)
    with pytest.raises(DomainError, match="already issued"):
        sqlite_node.create_dossier("x", sample_dossier(code="000.17.22.H56-250101-0007"))
