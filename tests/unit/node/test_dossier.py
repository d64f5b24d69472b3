"""The dossier fold: a function of the event set, not of arrival order."""

from __future__ import annotations

import itertools

import pytest

from node.domain import dossier as d
from node.domain.authority import Authority, Certified
from node.domain.errors import DomainError, InvalidTransition
from node.domain.merge import fold_dossier
from node.domain.text import fold as fold_text
from sync.wire import build_event, make_ref

A = "a" * 32
B = "b" * 32
AUTHORITY = Authority({A: Certified("commune", "17272"), B: Certified("mobile", "17272")})


def received(origin=A, seq=1, hlc=10):
    body = d.validate_received(
        {"procedure": {"code": "1.001193"}, "applicant": {"name": "Hà"}, "received_at": 1_000}
    )
    return build_event(origin=origin, scope="17272", seq=seq, prev="" if seq == 1 else "0" * 64, hlc=hlc,
                       at=1_000, author="x", entity="dossier/D", type=d.RECEIVED, body=body)


def test_fold_ignores_a_creation_the_domain_cannot_read():
    broken = build_event(origin=A, scope="17272", seq=1, prev="", hlc=1, at=1, author="x", entity="dossier/D",
                         type=d.RECEIVED, body={"nonsense": True})
    assert fold_dossier("D", [broken], AUTHORITY) is None


def change(to, origin, seq, hlc, parents):
    return build_event(origin=origin, scope="17272", seq=seq, prev="0" * 64, hlc=hlc, at=2_000, author="x",
                       entity="dossier/D", type=d.STATUS_CHANGED, body={"to": to}, parents=parents)


def test_fold_is_independent_of_arrival_order():
    r = received()
    p = change("processing", A, 2, 20, [r.ref])
    s1 = change("resolved", A, 3, 30, [p.ref])
    s2 = change("supplement_requested", B, 1 + 1, 25, [p.ref])  # concurrent with s1
    folds = [fold_dossier("D", list(perm), AUTHORITY) for perm in itertools.permutations([r, p, s1, s2])]
    assert all(f == folds[0] for f in folds)
    folded = folds[0]
    assert folded.state.heads == tuple(sorted([s1.ref, s2.ref]))
    assert [c.kind for c in folded.conflicts] == ["status"]


def test_fold_follows_parents_even_against_stamps():
    r = received(hlc=50)
    p = change("processing", B, 2, 5, [r.ref])  # parent has a later stamp: a wrong PC clock
    assert fold_dossier("D", [p, r], AUTHORITY).state.status == "processing"


def test_fold_without_creation_is_none():
    assert fold_dossier("D", [change("processing", A, 2, 20, [make_ref(A, "17272", 1)])], AUTHORITY) is None


@pytest.mark.parametrize(
    ("current", "to", "ok"),
    [
        ("received", "processing", True),
        ("processing", "resolved", True),
        ("processing", "processing", True),
        ("resolved", "returned", True),
        ("received", "returned", False),
        ("returned", "processing", False),
        ("refused", "received", False),
        ("processing", "nonsense", False),
    ],
)
def test_transition_table(current, to, ok):
    if ok:
        d.check_transition(current, to)
    else:
        with pytest.raises(InvalidTransition):
            d.check_transition(current, to)


def test_every_status_has_a_national_code_and_a_row_in_the_table():
    assert sorted(d.NATIONAL_CODE.values()) == list(range(1, 11))
    assert set(d.TRANSITIONS) == set(d.STATUSES)
    for targets in d.TRANSITIONS.values():
        assert targets <= set(d.STATUSES)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"applicant": {"name": "x"}}, "procedure"),
        ({"procedure": {"code": "1"}}, "applicant"),
        ({"procedure": {"code": "1"}, "applicant": {"name": "  "}}, "applicant.name"),
        ({"procedure": {"code": "1"}, "applicant": {"name": "x", "id_number": "12345678901"}}, "applicant.id_number"),
        ({"procedure": {"code": "1"}, "applicant": {"name": "x"}, "channel": "fax"}, "channel"),
    ],
)
def test_validation_names_the_field(body, field):
    with pytest.raises(DomainError) as info:
        d.validate_received({"received_at": 1, **body})
    assert info.value.field == field


@pytest.mark.parametrize(
    ("text", "folded"),
    [("Nguyễn Thị Ánh", "nguyen thi anh"), ("ĐẶNG  Đức", "dang duc"), ("Hồ  Văn\tẤt", "ho van at")],
)
def test_fold_text(text, folded):
    assert fold_text(text) == folded
