"""Authority from certificates in the fold (node.domain.authority), each rule both ways round:
what an origin's certified role and unit allow takes effect, anything else is kept as a
violation and changes nothing, whatever the event body claims."""

from __future__ import annotations

import itertools

import pytest

from node import reference
from node.domain import dossier as d
from node.domain.authority import (
    NOT_DISTRICT,
    NOT_OWNER,
    NOT_RECEIVER,
    OUTSIDE_UNIT,
    UNKNOWN_ORIGIN,
    Authority,
    Certified,
)
from node.domain.merge import CONFLICT_RESOLVED, fold_checked, fold_dossier
from node.units import serves
from sync.wire import build_event

UNIT, NEIGHBOUR = "17272", "17278"  # two communes of Nghệ An (province 40)
COMMUNE, LAPTOP, NEIGHBOUR_PC, NEIGHBOUR_LAPTOP = "c" * 32, "a" * 32, "b" * 32, "9" * 32
HUB, OTHER_HUB, STRANGER = "d" * 32, "e" * 32, "f" * 32  # STRANGER: no admitted profile
AUTHORITY = Authority({
    COMMUNE: Certified("commune", UNIT), LAPTOP: Certified("mobile", UNIT),
    NEIGHBOUR_PC: Certified("commune", NEIGHBOUR), NEIGHBOUR_LAPTOP: Certified("mobile", NEIGHBOUR),
    HUB: Certified("district", "40"), OTHER_HUB: Certified("district", "42"),  # Hà Tĩnh
}, serves)
SEQ: dict[str, int] = {}
CLAIM = {"office": UNIT, "role": "district"}  # what a tampered body says, whoever signed it


@pytest.fixture(autouse=True)
def _reset():
    SEQ.clear()


def ev(origin, type_, body, parents=(), hlc=10, scope=UNIT):
    SEQ[origin] = SEQ.get(origin, 0) + 1
    return build_event(origin=origin, scope=scope, seq=SEQ[origin], prev="" if SEQ[origin] == 1 else "0" * 64,
                       hlc=hlc, at=hlc, author="u", entity="dossier/D", type=type_, body={**CLAIM, **body},
                       parents=parents)


def received(origin=COMMUNE, scope=UNIT, code="TAM-CCCCCCCC-260518-0001"):
    body = d.validate_received({"procedure": {"code": "1.001193"}, "applicant": {"name": "Hà"}, "received_at": 1,
                                "code": code})
    return ev(origin, d.RECEIVED, body, hlc=1, scope=scope)


def step(origin, frm, to, parent, hlc, **extra):
    return ev(origin, d.STATUS_CHANGED, {"from": frm, "to": to, **extra}, [parent.ref], hlc)


def fold(events, authority=AUTHORITY):
    results = [fold_checked("D", list(p), authority) for p in itertools.permutations(events)]
    assert all(r == results[0] for r in results), "the fold depends on arrival order"
    return results[0]


# -- the rules themselves ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "unit", "owner", "expected"),
    [
        (COMMUNE, UNIT, UNIT, ""),  # a commune on its own unit's dossier
        (NEIGHBOUR_PC, UNIT, UNIT, OUTSIDE_UNIT),  # ... and on another commune's
        (NEIGHBOUR_PC, UNIT, NEIGHBOUR, ""),  # a commune on a dossier transferred to it
        (COMMUNE, UNIT, "40", ""),  # the receiving commune keeps its unit's dossier after a transfer away
        (LAPTOP, UNIT, UNIT, ""),  # a laptop on its unit's dossier
        (NEIGHBOUR_LAPTOP, UNIT, UNIT, OUTSIDE_UNIT),  # ... and on another unit's
        (NEIGHBOUR_LAPTOP, UNIT, NEIGHBOUR, OUTSIDE_UNIT),  # a laptop never acts on a transferred one
        (HUB, UNIT, UNIT, ""),  # a hub on a commune of its province
        (OTHER_HUB, UNIT, UNIT, OUTSIDE_UNIT),  # ... and another province's hub
        (OTHER_HUB, UNIT, "42", ""),  # a dossier transferred to the other hub's office
        (HUB, "40", "40", ""),  # the hub's own desk
        (HUB, "17273", "17273", ""),  # a code the national list places nowhere (pre-2025)
        (HUB, "42", "42", OUTSIDE_UNIT),  # another province's own desk
        (STRANGER, UNIT, UNIT, UNKNOWN_ORIGIN),  # no admitted profile: no authority at all
    ],
)
def test_who_may_act_on_a_dossier(origin, unit, owner, expected):
    assert AUTHORITY.on_dossier(origin, unit, owner) == expected


@pytest.mark.parametrize(
    ("origin", "expected"),
    [(HUB, ""), (OTHER_HUB, ""), (COMMUNE, NOT_DISTRICT), (LAPTOP, NOT_DISTRICT), (STRANGER, UNKNOWN_ORIGIN)],
)
def test_only_a_district_origin_publishes_leases_or_revokes(origin, expected):
    assert AUTHORITY.on_shared(origin) == expected


@pytest.mark.parametrize(
    ("hub", "unit", "expected"),
    [("40", "40", True), ("40", "17272", True), ("42", "17272", False), ("40", "42", False),
     ("40", "17273", True), ("760", "760", True), ("760", "17272", False)],
)
def test_the_units_a_hub_serves(hub, unit, expected):
    assert serves(hub, unit) is expected


# -- in the fold ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("origin", "applies"),
    [(COMMUNE, True), (LAPTOP, True), (HUB, True), (NEIGHBOUR_PC, False), (NEIGHBOUR_LAPTOP, False),
     (OTHER_HUB, False), (STRANGER, False)],
)
def test_a_status_change_applies_only_with_the_authority_of_the_origin(origin, applies):
    c = received()
    change = step(origin, "received", "refused", c, 5)
    folded, violations = fold([c, change])
    assert folded.state.status == ("refused" if applies else "received")
    assert [v.ref for v in violations] == ([] if applies else [change.ref])
    if not applies:
        assert folded.state.heads == (c.ref,)  # never a parent of a local edit
        assert folded.state.updated_hlc == c.hlc  # moved nothing, not even the time stamp


def test_a_violation_names_the_origin_as_certified_not_as_claimed():
    c = received()
    edit = ev(NEIGHBOUR_PC, d.UPDATED, {"fields": {"applicant.phone": "0999"}}, [c.ref], 5, scope=NEIGHBOUR)
    folded, (v,) = fold([c, edit])
    assert folded.state.phone == c.body["applicant"]["phone"]
    assert (v.origin, v.role, v.unit, v.scope, v.entity, v.type, v.reason) == (
        NEIGHBOUR_PC, "commune", NEIGHBOUR, NEIGHBOUR, "dossier/D", d.UPDATED, OUTSIDE_UNIT)


@pytest.mark.parametrize(("origin", "creates"), [(COMMUNE, True), (HUB, True), (NEIGHBOUR_PC, False),
                                                 (STRANGER, False)])
def test_a_reception_needs_the_authority_of_its_scope(origin, creates):
    c = received(origin)
    folded, violations = fold_checked("D", [c], AUTHORITY)
    assert (folded is not None) is creates
    assert [v.ref for v in violations] == ([] if creates else [c.ref])


def test_a_transfer_gives_the_receiving_office_authority_and_only_after_it():
    c = received()
    p = step(COMMUNE, "received", "processing", c, 2)
    early = ev(NEIGHBOUR_PC, d.UPDATED, {"fields": {"note": "trước"}}, [p.ref], 3, scope=NEIGHBOUR)
    transfer = step(COMMUNE, "processing", "processing", p, 4, target_office=NEIGHBOUR)
    late = ev(NEIGHBOUR_PC, d.UPDATED, {"fields": {"note": "sau"}}, [transfer.ref], 5, scope=NEIGHBOUR)
    folded, violations = fold([c, p, early, transfer, late])
    assert folded.state.owner == NEIGHBOUR and folded.state.note == "sau"
    assert [v.ref for v in violations] == [early.ref]


@pytest.mark.parametrize(
    ("resolver", "counts", "reason"),
    [(COMMUNE, True, ""), (HUB, True, ""), (LAPTOP, True, ""),  # the owning office (its laptop too) or a hub
     (NEIGHBOUR_PC, False, OUTSIDE_UNIT), (OTHER_HUB, False, OUTSIDE_UNIT)],
)
def test_a_resolution_counts_from_the_owner_or_a_district(resolver, counts, reason):
    c = received()
    p = step(COMMUNE, "received", "processing", c, 2)
    s = step(COMMUNE, "processing", "supplement_requested", p, 5)
    a = step(HUB, "processing", "resolved", p, 6)
    (conflict,) = fold_dossier("D", [c, p, s, a], AUTHORITY).conflicts
    fix = ev(resolver, CONFLICT_RESOLVED, {"conflict": conflict.id, "choose": a.ref, "reason": "x"}, [s.ref, a.ref],
             9)
    folded, violations = fold([c, p, s, a, fix])
    assert folded.conflicts[0].status == ("resolved" if counts else "open")
    assert folded.state.status == ("resolved" if counts else "supplement_requested")
    assert [v.reason for v in violations] == ([] if counts else [reason])


def test_a_commune_claiming_the_district_role_cannot_resolve_once_the_stage_is_not_its_own():
    """Rule 5: the unit's own commune, after a transfer to the hub's office, is not the owner."""
    c = received()
    p = step(COMMUNE, "received", "processing", c, 2)
    t = step(COMMUNE, "processing", "processing", p, 3, target_office="40")
    x = step(HUB, "processing", "resolved", t, 5)
    y = step(COMMUNE, "processing", "supplement_requested", t, 6)
    (conflict,) = fold_dossier("D", [c, p, t, x, y], AUTHORITY).conflicts
    assert conflict.winner == x.ref  # the hub owns the stage: its version stands (Rule 4)
    claim = ev(COMMUNE, CONFLICT_RESOLVED, {"conflict": conflict.id, "choose": y.ref, "reason": "x",
                                            "role": "district", "office": "40"}, [x.ref, y.ref], 9)
    folded, (v,) = fold([c, p, t, x, y, claim])
    assert folded.conflicts[0].status == "open" and folded.state.status == "resolved"
    assert (v.ref, v.reason, v.role) == (claim.ref, NOT_OWNER, "commune")
    by_hub = ev(HUB, CONFLICT_RESOLVED, {"conflict": conflict.id, "choose": y.ref, "reason": "x"}, [x.ref, y.ref], 9)
    folded, violations = fold_checked("D", [c, p, t, x, y, by_hub], AUTHORITY)
    assert folded.state.status == "supplement_requested" and violations == ()


def test_the_owner_rule_reads_the_certified_office_not_the_claimed_one():
    """Rule 4: a concurrent change by the hub claiming to be the commune does not become the owner's."""
    c = received()
    p = step(COMMUNE, "received", "processing", c, 2)
    mine = step(COMMUNE, "processing", "supplement_requested", p, 6)
    claimed = step(HUB, "processing", "resolved", p, 5)  # the body says office 17272
    folded, _ = fold([c, p, mine, claimed])
    assert folded.state.status == "supplement_requested" and folded.conflicts[0].winner == mine.ref


@pytest.mark.parametrize(("origin", "reason"), [(COMMUNE, ""), (LAPTOP, NOT_RECEIVER), (HUB, NOT_RECEIVER)])
def test_only_the_receiving_node_assigns_the_final_code(origin, reason):
    c = received()
    assign = ev(origin, d.CODE_ASSIGNED, {"code": "000.17.22.H56-260518-0001"}, [c.ref], 5)
    folded, violations = fold([c, assign])
    assert (folded.state.code == "000.17.22.H56-260518-0001") is (not reason)
    assert [v.reason for v in violations] == ([reason] if reason else [])


def test_an_event_without_authority_never_counts_as_having_built_on_a_version():
    """Rule 4: building on the other branch protects its winner; a rogue event cannot do it."""
    c = received()
    p = step(COMMUNE, "received", "processing", c, 2)
    a = step(HUB, "processing", "resolved", p, 5)
    rogue = ev(NEIGHBOUR_PC, d.UPDATED, {"fields": {"note": "x"}}, [a.ref], 6, scope=NEIGHBOUR)
    s = step(COMMUNE, "processing", "supplement_requested", p, 7)
    with_rogue, _ = fold([c, p, a, rogue, s])
    without, _ = fold([c, p, a, s])
    assert with_rogue.state.status == without.state.status == "supplement_requested"
    assert with_rogue.conflicts == without.conflicts


def test_a_replica_trusting_the_body_claim_would_decide_otherwise():
    """What this module prevents, shown: believing 'role: district' lets a neighbour resolve."""
    c = received()
    p = step(COMMUNE, "received", "processing", c, 2)
    s = step(COMMUNE, "processing", "supplement_requested", p, 5)
    a = step(HUB, "processing", "resolved", p, 6)
    (conflict,) = fold_dossier("D", [c, p, s, a], AUTHORITY).conflicts
    fix = ev(NEIGHBOUR_PC, CONFLICT_RESOLVED, {"conflict": conflict.id, "choose": a.ref, "reason": "x"},
             [s.ref, a.ref], 9, scope=NEIGHBOUR)
    believer = Authority({**AUTHORITY.certified, NEIGHBOUR_PC: Certified("district", "40")}, serves)
    assert fold_dossier("D", [c, p, s, a, fix], AUTHORITY).state.status == "supplement_requested"
    assert fold_dossier("D", [c, p, s, a, fix], believer).state.status == "resolved"


# -- shared data -----------------------------------------------------------------------------


def publication(origin, revision, version, hlc, scope="*"):
    body = reference.publication_body("catalogue", revision, {**reference.seed_catalogue_data(), "version": version})
    return build_event(origin=origin, scope=scope, seq=revision, prev="" if revision == 1 else "0" * 64, hlc=hlc,
                       at=hlc, author="admin", entity=reference.entity("catalogue"),
                       type=reference.event_type("catalogue"), body={**body, **CLAIM})


@pytest.mark.parametrize(("origin", "in_force"), [(HUB, "v9"), (OTHER_HUB, "v9"), (COMMUNE, "v1"), (STRANGER, "v1")])
def test_reference_data_is_in_force_only_from_a_district_origin(origin, in_force):
    events = [publication(HUB, 1, "v1", 1), publication(origin, 9, "v9", 2)]
    for order in (events, events[::-1]):
        current, _ = reference.pick_current(order, AUTHORITY)
        assert current.version == in_force
