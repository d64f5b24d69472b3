"""The canonical encoding: one byte form per event, and nothing else accepted."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.wire import (
    GENESIS,
    WireError,
    build_event,
    canonical_bytes,
    event_hash,
    make_ref,
    parse_event,
    parse_ref,
)

ORIGIN = "0123456789abcdef0123456789abcdef"


def ev(**kw):
    base = dict(
        origin=ORIGIN, scope="17272", seq=1, prev=GENESIS, hlc=5 << 16, at=1_779_000_000_000,
        author="clerk", entity="dossier/x", type="dossier.received", body={"a": 1},
    )
    base.update(kw)
    return build_event(**base)


def test_round_trip_is_byte_identical():
    e = ev(body={"tên": "Nguyễn Văn An", "n": 3, "list": [1, "x", None, True]})
    raw = canonical_bytes(e)
    assert parse_event(raw) == e
    assert canonical_bytes(parse_event(raw)) == raw


def test_keys_are_sorted_and_utf8_unescaped():
    raw = canonical_bytes(ev(body={"b": "Đ", "a": 1}))
    assert b'"body":{"a":1,"b":"\xc4\x90"}' in raw
    assert b"\\u" not in raw


def test_strings_are_nfc_so_hash_does_not_depend_on_input_method():
    decomposed = "Nguye\u0302\u0303n"  # NFD, as some keyboards produce it
    composed = "Nguyễn"
    assert event_hash(ev(body={"n": decomposed})) == event_hash(ev(body={"n": composed}))


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(extra=1),
        lambda d: d.pop("author"),
        lambda d: d.update(v=2),
        lambda d: d.update(seq=0),
        lambda d: d.update(prev="zz"),
        lambda d: d.update(origin="not-a-node"),
        lambda d: d.update(type="Bad"),
        lambda d: d.update(entity="noslash"),
        lambda d: d.update(parents=["b:17272:1", "a"]),
    ],
)
def test_malformed_dicts_are_refused(mutate):
    d = json.loads(canonical_bytes(ev()))
    mutate(d)
    with pytest.raises(WireError):
        parse_event(json.dumps(d, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode())


def test_non_canonical_bytes_are_refused():
    d = json.loads(canonical_bytes(ev()))
    pretty = json.dumps(d, sort_keys=True, indent=1, ensure_ascii=False).encode()
    with pytest.raises(WireError, match="canonical"):
        parse_event(pretty)


def test_floats_are_refused_in_both_directions():
    with pytest.raises(WireError, match="float"):
        ev(body={"fee": 1.5})
    raw = canonical_bytes(ev(body={"fee": 1})).replace(b'"fee":1', b'"fee":1.0')
    with pytest.raises(WireError):
        parse_event(raw)


def test_first_event_needs_empty_prev_and_later_ones_a_hash():
    with pytest.raises(WireError):
        ev(seq=1, prev="a" * 64)
    with pytest.raises(WireError):
        ev(seq=2, prev=GENESIS)
    assert ev(seq=2, prev="a" * 64).seq == 2


def test_refs_round_trip():
    assert parse_ref(make_ref(ORIGIN, "17272", 42)) == (ORIGIN, "17272", 42)
    with pytest.raises(WireError):
        parse_ref(f"{ORIGIN}:17272:0")


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53), 2**53) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@given(body=st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_any_json_body_round_trips(body):
    e = ev(body=body)
    assert parse_event(canonical_bytes(e)) == e


@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_the_parser(data):
    with contextlib.suppress(WireError):
        parse_event(data)
