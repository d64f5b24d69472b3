"""Bounds on client values before they are signed (node.domain.inputs): instants, and JSON
values that every store and the canonical encoding can hold, each refusal naming its field."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.domain.errors import DomainError
from node.domain.inputs import MAX_DEPTH, MAX_INSTANT_MS, MAX_SAFE_INTEGER, check_instant, check_json
from sync.wire import canonical_json


def test_instants_are_positive_integer_milliseconds_before_2100():
    assert check_instant(1_779_000_000_000, "due_at") == 1_779_000_000_000
    for bad in (0, -5, MAX_INSTANT_MS, 10**30, 1.5, "1779000000000", True, None):
        with pytest.raises(DomainError) as e:
            check_instant(bad, "due_at")
        assert e.value.field == "due_at"


@pytest.mark.parametrize(("value", "field"), [
    ({"due_at": 10**30}, "due_at"),
    ({"details": {"fees": [{"amount": 1.5}]}}, "details.fees[0].amount"),
    ({"x": float("nan")}, "x"),
    ({"x": float("inf")}, "x"),
    ({"applicant": {"name": "A\ud800"}}, "applicant.name"),
    ({"applicant": {"name": "A\u202eB"}}, "applicant.name"),
    ({"details": {"\u202e": "x"}}, "details"),
    ({"list": ["ok", "bad\x00"]}, "list[1]"),
])
def test_a_bad_leaf_is_refused_with_its_path(value, field):
    with pytest.raises(DomainError) as e:
        check_json(value)
    assert e.value.field == field


def test_depth_is_bounded_without_recursion():
    deep: object = "leaf"
    for _ in range(100_000):  # far past the interpreter's recursion limit
        deep = [deep]
    with pytest.raises(DomainError) as e:
        check_json({"details": deep})
    assert "nested" in e.value.message
    ok: object = 1
    for _ in range(MAX_DEPTH - 1):
        ok = {"a": ok}
    check_json(ok)


def test_integers_up_to_2_53_pass():
    check_json({"a": MAX_SAFE_INTEGER, "b": -MAX_SAFE_INTEGER, "c": [0, True, None, "x"]})
    with pytest.raises(DomainError):
        check_json({"a": MAX_SAFE_INTEGER + 1})


JSON_LEAVES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text())
JSON = st.recursive(JSON_LEAVES, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner,
                                                                                            max_size=4), max_leaves=20)


@given(JSON)
def test_whatever_passes_can_be_canonically_encoded(value):
    try:
        check_json(value)
    except DomainError:
        return
    canonical_json(value)  # no float, no surrogate, no integer out of range: never raises
