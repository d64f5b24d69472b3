"""The merge rules of node.domain.merge, each checked both ways round (syncthing's habit)."""

from __future__ import annotations

import itertools

import pytest

from node.domain import dossier as d
from node.domain.authority import Authority, Certified
from node.domain.conflict import find_duplicates
from node.domain.merge import CONFLICT_RESOLVED, fold_dossier
from node.units import serves
from sync.wire import build_event

COMMUNE = "c" * 32
DISTRICT = "d" * 32
OTHER = "e" * 32  # another node of the same commune
ROGUE = "f" * 32  # a commune of another unit
AUTHORITY = Authority({COMMUNE: Certified("commune", "17272"), OTHER: Certified("commune", "17272"),
                       DISTRICT: Certified("district", "40"), ROGUE: Certified("commune", "99999")}, serves)
SEQ = {}


def ev(origin, type_, body, parents=(), hlc=10, office="17272", role="commune"):
    SEQ[origin] = SEQ.get(origin, 0) + 1
    return build_event(origin=origin, scope="17272", seq=SEQ[origin], prev="" if SEQ[origin] == 1 else "0" * 64,
                       hlc=hlc, at=hlc, author=f"u-{origin[0]}", entity="dossier/D", type=type_,
                       body={**body, "office": office, "role": role}, parents=parents)


@pytest.fixture(autouse=True)
def _reset():
    SEQ.clear()


def base():
    body = d.validate_received({"procedure": {"code": "1.001193"}, "applicant": {"name": "Hà", "id_number": ""},
                                "received_at": 1})
    created = ev(COMMUNE, d.RECEIVED, body, hlc=1)
    processing = ev(COMMUNE, d.STATUS_CHANGED, {"from": "received", "to": "processing"}, [created.ref], hlc=2)
    return created, processing


def folds_all_orders(events):
    results = [fold_dossier("D", list(p), AUTHORITY) for p in itertools.permutations(events)]
    assert all(r == results[0] for r in results), "fold depends on arrival order"
    return results[0]


def district(type_, body, parents, hlc):
    return ev(DISTRICT, type_, body, parents, hlc, office="40", role="district")


def test_sequential_transitions_apply_without_conflict():
    c, p = base()
    r = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], hlc=3)
    f = folds_all_orders([c, p, r])
    assert f.state.status == "resolved" and f.conflicts == ()


@pytest.mark.parametrize("commune_first", [True, False])
def test_owner_office_wins_a_status_conflict_whatever_the_stamps(commune_first):
    """The PouchDB case: the district approves while the commune (owner) asks for a supplement."""
    c, p = base()
    commune_hlc, district_hlc = (5, 6) if commune_first else (6, 5)
    supplement = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "supplement_requested"}, [p.ref],
                    hlc=commune_hlc)
    approve = district(d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], district_hlc)
    f = folds_all_orders([c, p, supplement, approve])
    assert f.state.status == "supplement_requested"
    (conflict,) = f.conflicts
    assert (conflict.kind, conflict.winner, conflict.loser) == ("status", supplement.ref, approve.ref)
    values = (conflict.winner_value, conflict.loser_value, conflict.status)
    assert values == ("supplement_requested", "resolved", "open")


@pytest.mark.parametrize("first", ["a", "b"])
def test_between_non_owners_the_earlier_stamp_wins(first):
    c, p = base()
    transfer = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "processing", "target_office": "99"},
                  [p.ref], hlc=3)
    ha, hb = (5, 6) if first == "a" else (6, 5)
    a = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [transfer.ref], hlc=ha)
    b = district(d.STATUS_CHANGED, {"from": "processing", "to": "stopped"}, [transfer.ref], hb)
    f = folds_all_orders([c, p, transfer, a, b])
    winner = a if first == "a" else b
    assert f.conflicts[0].winner == winner.ref
    assert f.state.status == winner.body["to"]


def test_same_decision_on_both_sides_is_not_a_conflict():
    c, p = base()
    x = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], hlc=5)
    y = district(d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], 6)
    f = folds_all_orders([c, p, x, y])
    assert f.state.status == "resolved" and f.conflicts == ()


def test_two_transfers_to_different_offices_conflict():
    c, p = base()
    x = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "processing", "target_office": "41"}, [p.ref], 5)
    y = ev(OTHER, d.STATUS_CHANGED, {"from": "processing", "to": "processing", "target_office": "42"}, [p.ref], 6)
    f = folds_all_orders([c, p, x, y])
    assert len(f.conflicts) == 1 and f.state.owner == "41"


@pytest.mark.parametrize("order", [0, 1])
def test_concurrent_edits_of_different_fields_merge_as_a_parallel_update(order):
    c, p = base()
    phones = ev(COMMUNE, d.UPDATED, {"fields": {"applicant.phone": "0911"}}, [p.ref], hlc=5 + order)
    notes = district(d.UPDATED, {"fields": {"note": "ghi chú"}}, [p.ref], 6 - order)
    f = folds_all_orders([c, p, phones, notes])
    assert (f.state.phone, f.state.note) == ("0911", "ghi chú")
    assert [(x.kind, x.status) for x in f.conflicts] == [("parallel", "merged")]
    assert f.state.open_conflicts == 0


def test_concurrent_edits_of_the_same_field_keep_both_versions():
    c, p = base()
    mine = ev(COMMUNE, d.UPDATED, {"fields": {"applicant.phone": "0911"}}, [p.ref], hlc=6)
    theirs = district(d.UPDATED, {"fields": {"applicant.phone": "0922"}}, [p.ref], 5)
    f = folds_all_orders([c, p, mine, theirs])
    (conflict,) = f.conflicts
    assert conflict.kind == "field" and conflict.field == "applicant.phone"
    assert {conflict.winner_value, conflict.loser_value} == {"0911", "0922"}
    assert f.state.phone == "0911"  # the owner office's version is the provisional winner


def test_resolution_by_the_owner_keeps_the_loser_and_closes_the_conflict():
    c, p = base()
    s = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "supplement_requested"}, [p.ref], hlc=5)
    a = district(d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], 6)
    cid = fold_dossier("D", [c, p, s, a], AUTHORITY).conflicts[0].id
    fix = ev(COMMUNE, CONFLICT_RESOLVED, {"conflict": cid, "choose": a.ref, "reason": "đã đủ hồ sơ"},
             sorted([s.ref, a.ref]), hlc=9)
    f = folds_all_orders([c, p, s, a, fix])
    assert f.state.status == "resolved"
    assert (f.conflicts[0].status, f.conflicts[0].chosen, f.conflicts[0].resolution) == ("resolved", a.ref, fix.ref)
    assert f.state.open_conflicts == 0


def test_resolution_by_an_office_without_authority_is_ignored():
    c, p = base()
    s = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "supplement_requested"}, [p.ref], hlc=5)
    a = district(d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], 6)
    cid = fold_dossier("D", [c, p, s, a], AUTHORITY).conflicts[0].id
    rogue = ev(ROGUE, CONFLICT_RESOLVED, {"conflict": cid, "choose": a.ref, "reason": "x"}, [s.ref, a.ref],
               hlc=9, office="99999")
    f = fold_dossier("D", [c, p, s, a, rogue], AUTHORITY)
    assert f.conflicts[0].status == "open" and f.state.status == "supplement_requested"


def test_a_district_may_resolve():
    c, p = base()
    s = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "supplement_requested"}, [p.ref], hlc=5)
    a = district(d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], 6)
    cid = fold_dossier("D", [c, p, s, a], AUTHORITY).conflicts[0].id
    fix = district(CONFLICT_RESOLVED, {"conflict": cid, "choose": s.ref, "reason": "giữ"}, [s.ref, a.ref], 9)
    f = fold_dossier("D", [c, p, s, a, fix], AUTHORITY)
    assert f.conflicts[0].status == "resolved" and f.state.status == "supplement_requested"


def test_the_owner_wins_and_every_concurrent_step_of_the_other_branch_stays_visible():
    c, p = base()
    a = district(d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], 5)
    returned = district(d.STATUS_CHANGED, {"from": "resolved", "to": "returned"}, [a.ref], 6)
    s = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "supplement_requested"}, [p.ref], hlc=7)
    f = folds_all_orders([c, p, a, returned, s])
    assert f.state.status == "supplement_requested"
    assert sorted((x.winner, x.loser) for x in f.conflicts) == sorted([(s.ref, a.ref), (s.ref, returned.ref)])
    assert f.state.open_conflicts == 2


def test_a_winner_others_built_on_is_not_overturned():
    """The owner's change only became applicable after the other branch was built on."""
    c, p = base()
    a = district(d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], 5)
    handed = district(d.STATUS_CHANGED, {"from": "resolved", "to": "returned"}, [a.ref], 6)
    note = district(d.UPDATED, {"fields": {"note": "x"}}, [p.ref], 8)  # an office not owning the stage
    s = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "supplement_requested"}, [note.ref], hlc=9)
    f = folds_all_orders([c, p, a, handed, note, s])
    assert f.state.status == "returned"
    status_conflicts = [x for x in f.conflicts if x.kind == "status"]
    assert [(x.winner, x.loser) for x in status_conflicts] == [(handed.ref, s.ref)]


def test_a_stale_from_status_never_applies():
    c, p = base()
    bogus = ev(OTHER, d.STATUS_CHANGED, {"from": "resolved", "to": "returned"}, [p.ref], hlc=5)
    assert fold_dossier("D", [c, p, bogus], AUTHORITY).state.status == "processing"


def test_malformed_bodies_are_ignored_not_fatal():
    c, p = base()
    junk = [
        ev(OTHER, d.STATUS_CHANGED, {"to": 5}, [p.ref], hlc=5),
        ev(OTHER, d.UPDATED, {"fields": "x"}, [p.ref], hlc=6),
        ev(OTHER, CONFLICT_RESOLVED, {"conflict": []}, [p.ref], hlc=7),
    ]
    assert fold_dossier("D", [c, p, *junk], AUTHORITY).state.status == "processing"


def test_duplicate_applications_from_two_nodes_are_flagged():
    from types import SimpleNamespace as S

    def dossier(id_, origin, received, status="received"):
        return S(id=id_, origin=origin, id_number="040090001234", procedure_code="1.001193", status=status,
                 received_at=received, code=f"C-{id_}")

    a, b = dossier("A", COMMUNE, 1), dossier("B", OTHER, 2)
    (conflict,) = find_duplicates([b, a], {})
    assert (conflict.kind, conflict.winner, conflict.loser, conflict.status) == ("duplicate", "A", "B", "open")
    assert find_duplicates([a, dossier("C", COMMUNE, 3)], {}) == []  # same node: a clerk's own business
    assert find_duplicates([a, dossier("B", OTHER, 2, "returned")], {}) == []  # closed ones do not count
    resolved = find_duplicates([a, b], {conflict.id: ("r", "A", "x", "why")})
    assert resolved[0].status == "resolved"
