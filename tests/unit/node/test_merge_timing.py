"""Rules 7 and 8 of node.domain.merge: timing facts (status history, supplement pauses, the
number of supplement requests), final code assignment and the apology, in every arrival order."""

from __future__ import annotations

import itertools

import pytest

from node.domain import dossier as d
from node.domain.authority import Authority, Certified
from node.domain.merge import CONFLICT_RESOLVED, fold_dossier
from node.units import serves
from sync.wire import build_event

COMMUNE = "c" * 32
DISTRICT = "d" * 32
AUTHORITY = Authority({COMMUNE: Certified("commune", "17272"), DISTRICT: Certified("district", "40")}, serves)
SEQ: dict[str, int] = {}


@pytest.fixture(autouse=True)
def _reset():
    SEQ.clear()


def ev(origin, type_, body, parents=(), at=10, office="17272", role="commune"):
    SEQ[origin] = SEQ.get(origin, 0) + 1
    return build_event(origin=origin, scope="17272", seq=SEQ[origin], prev="" if SEQ[origin] == 1 else "0" * 64,
                       hlc=at, at=at, author="u", entity="dossier/D", type=type_,
                       body={**body, "office": office, "role": role}, parents=parents)


def created(code="TAM-CCCCCCCC-260518-0001"):
    body = d.validate_received({"procedure": {"code": "1.001193"}, "applicant": {"name": "Hà"}, "received_at": 1,
                                "code": code})
    return ev(COMMUNE, d.RECEIVED, body, at=1)


def chain(start, *moves, origin=COMMUNE):
    """Status changes each made on top of the previous one: (to, at)."""
    out, parent, status = [], start, "received"
    for to, at in moves:
        e = ev(origin, d.STATUS_CHANGED, {"from": status, "to": to}, [parent.ref], at)
        out.append(e)
        parent, status = e, to
    return out


def fold_all_orders(events):
    results = [fold_dossier("D", list(p), AUTHORITY) for p in itertools.permutations(events)]
    assert all(r == results[0] for r in results), "fold depends on arrival order"
    return results[0].state


@pytest.mark.parametrize(
    ("moves", "pauses", "requests"),
    [
        ([("processing", 2)], (), 0),
        ([("processing", 2), ("supplement_requested", 3)], ((3, None),), 1),
        ([("processing", 2), ("supplement_requested", 3), ("processing", 5)], ((3, 5),), 1),
        ([("processing", 2), ("supplement_requested", 3), ("processing", 5), ("supplement_requested", 7),
          ("processing", 8)], ((3, 5), (7, 8)), 2),
        ([("supplement_requested", 3), ("withdrawal_requested", 4), ("stopped", 6)], ((3, 4),), 1),
    ],
)
def test_supplement_pauses_and_requests(moves, pauses, requests):
    c = created()
    state = fold_all_orders([c, *chain(c, *moves)])
    assert (state.pauses, state.supplement_requests) == (pauses, requests)
    assert state.history == (("received", 1), *moves)


def test_a_change_replaced_by_the_owners_concurrent_one_leaves_no_timing_behind():
    c = created()
    (p,) = chain(c, ("processing", 2))
    # the district asks for a supplement, the owning commune concurrently decides: the owner wins
    supplement = ev(DISTRICT, d.STATUS_CHANGED, {"from": "processing", "to": "supplement_requested"}, [p.ref], 3,
                    office="40", role="district")
    resolved = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], 4)
    state = fold_all_orders([c, p, supplement, resolved])
    assert state.status == "resolved"
    assert (state.pauses, state.supplement_requests) == ((), 0)
    assert state.history == (("received", 1), ("processing", 2), ("resolved", 4))


def test_a_resolution_keeping_the_loser_applies_it_at_the_resolution_time():
    c = created()
    (p,) = chain(c, ("processing", 2))
    supplement = ev(COMMUNE, d.STATUS_CHANGED, {"from": "processing", "to": "supplement_requested"}, [p.ref], 3)
    approve = ev(DISTRICT, d.STATUS_CHANGED, {"from": "processing", "to": "resolved"}, [p.ref], 4, office="40",
                 role="district")
    state = fold_all_orders([c, p, supplement, approve])
    assert state.status == "supplement_requested" and state.pauses == ((3, None),)
    (conflict,) = fold_dossier("D", [c, p, supplement, approve], AUTHORITY).conflicts
    keep = ev(DISTRICT, CONFLICT_RESOLVED, {"conflict": conflict.id, "choose": approve.ref, "reason": "đủ"},
              [supplement.ref, approve.ref], 9, office="40", role="district")
    state = fold_all_orders([c, p, supplement, approve, keep])
    assert state.status == "resolved"
    assert state.pauses == ((3, 9),) and state.history[-1] == ("resolved", 9)


@pytest.mark.parametrize(
    ("origin", "first_code", "assigned", "expected"),
    [
        (COMMUNE, "TAM-CCCCCCCC-260518-0001", "000.17.22.H56-260518-0001", "000.17.22.H56-260518-0001"),
        (DISTRICT, "TAM-CCCCCCCC-260518-0001", "000.17.22.H56-260518-0001", "TAM-CCCCCCCC-260518-0001"),
        (COMMUNE, "000.17.22.H56-260518-0009", "000.17.22.H56-260518-0001", "000.17.22.H56-260518-0009"),
        (COMMUNE, "TAM-CCCCCCCC-260518-0001", "TAM-CCCCCCCC-260518-0002", "TAM-CCCCCCCC-260518-0001"),
        (COMMUNE, "TAM-CCCCCCCC-260518-0001", "", "TAM-CCCCCCCC-260518-0001"),
    ],
)
def test_a_provisional_code_is_replaced_once_by_the_receiving_node(origin, first_code, assigned, expected):
    c = created(first_code)
    office = "17272" if origin == COMMUNE else "40"
    e = ev(origin, d.CODE_ASSIGNED, {"code": assigned, "provisional": first_code}, [c.ref], 5, office=office)
    assert fold_all_orders([c, e]).code == expected


def test_two_assignments_keep_the_first_in_causal_order():
    c = created()
    first = ev(COMMUNE, d.CODE_ASSIGNED, {"code": "000.17.22.H56-260518-0001"}, [c.ref], 5)
    second = ev(COMMUNE, d.CODE_ASSIGNED, {"code": "000.17.22.H56-260518-0002"}, [first.ref], 6)
    assert fold_all_orders([c, first, second]).code == "000.17.22.H56-260518-0001"


def test_the_last_apology_stands_and_a_malformed_one_is_ignored():
    c = created()
    first = ev(COMMUNE, d.APOLOGY_ISSUED, {"reason": "Chờ xác minh", "new_due_at": 100}, [c.ref], 5)
    second = ev(COMMUNE, d.APOLOGY_ISSUED, {"reason": "Chờ phối hợp", "new_due_at": 200}, [first.ref], 6)
    broken = ev(COMMUNE, d.APOLOGY_ISSUED, {"reason": 7, "new_due_at": "mai"}, [second.ref], 7)
    state = fold_all_orders([c, first, second, broken])
    assert (state.apology_at, state.apology_reason, state.new_due_at) == (6, "Chờ phối hợp", 200)


@pytest.mark.parametrize(
    ("body", "due", "field"),
    [({"reason": " ", "new_due_at": 10}, 5, "reason"), ({"reason": "x", "new_due_at": 5}, 5, "new_due_at"),
     ({"reason": "x", "new_due_at": "10"}, 5, "new_due_at"), ({"reason": "x", "new_due_at": True}, None, "new_due_at")],
)
def test_validate_apology(body, due, field):
    from node.domain.errors import DomainError

    with pytest.raises(DomainError) as e:
        d.validate_apology(body, due)
    assert e.value.field == field
    assert d.validate_apology({"reason": "  Chờ   xác minh ", "new_due_at": 10}, 5) == {
        "reason": "Chờ xác minh", "new_due_at": 10}
