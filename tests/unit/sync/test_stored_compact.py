"""Stored events go out as the bytes they were stored as: the cut of the canonical bytes equals
the old parse-and-encode (same members, canonical key order), whatever the body holds, and a
message with spliced events parses to the same message."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sync import codec
from sync.protocol import Run, StoredCompact, compact, run_from_wire
from sync.wire import build_event, canonical_bytes

ORIGIN = "a" * 32

# bodies with the keys and characters that could fool a cut: nested "origin", "type", "v",
# quotes, backslashes, commas, non-ASCII
tricky_text = st.text(alphabet=st.sampled_from(list('ab,":{}[]\\ệ\u00e9\u0000v')), max_size=12)
keys = st.one_of(st.sampled_from(["origin", "type", "v", "prev", "seq", "parents", "hlc", "scope"]), tricky_text)
values = st.recursive(st.one_of(st.integers(-(2**40), 2**40), tricky_text, st.booleans(), st.none()),
                      lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(keys, inner, max_size=3)),
                      max_leaves=8)


def event(seq: int, body: dict, parents: tuple[str, ...] = ()):
    return build_event(origin=ORIGIN, scope="17272", seq=seq, prev="" if seq == 1 else "b" * 64, hlc=12345 + seq,
                       at=1_779_000_000_000, author="cán bộ \"x\"", entity='dossier/id,"origin":"1"',
                       type="dossier.received",
                       body=body, parents=parents)


def old_wire(raw: bytes) -> bytes:
    return json.dumps(compact(json.loads(raw)), ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(keys, values, max_size=5), st.integers(1, 10**12))
def test_the_cut_equals_parse_and_encode(body, seq):
    parents = (f"{'c' * 32}:17272:3", f"{'d' * 32}:*:9")
    raw = canonical_bytes(event(seq, body, parents))
    cut = StoredCompact(raw)
    # the same members and bytes, in the canonical (sorted) key order instead of compact()'s
    assert json.loads(cut.wire_bytes()) == json.loads(old_wire(raw))
    assert len(cut.wire_bytes()) == len(old_wire(raw))
    assert dict(cut) == compact(json.loads(raw)) and set(cut) == set(compact(json.loads(raw)))


def test_unexpected_bytes_fall_back_to_parsing():
    raw = b'{"author":"x","at":1,"body":{},"entity":"a/b","hlc":1,"origin":"o","parents":[],"prev":"","scope":"s",' \
          b'"seq":1,"type":"a.b","v":1}'
    assert json.loads(StoredCompact(raw).wire_bytes()) == json.loads(old_wire(raw))


def test_a_message_with_spliced_events_parses_to_the_same_message():
    raws = [canonical_bytes(event(i, {"i": i, "origin": "x", "tên": "Nguyễn"})) for i in range(1, 4)]
    run = Run(ORIGIN, "17272", 1, "", tuple(StoredCompact(r) for r in raws), b"sig")
    plain = Run(ORIGIN, "17272", 1, "", tuple(compact(json.loads(r)) for r in raws), b"sig")
    message = {"protocol": 1, "session": "s" * 16, "vector": {"k": 1}, "push": [run.to_wire()], "profiles": []}
    expected = {**message, "push": [plain.to_wire()]}
    assert json.loads(codec.message_json(message)) == expected
    assert json.loads(codec.message_json({**message, "push": [], "pull": [run.to_wire()]})) == {
        **message, "push": [], "pull": [plain.to_wire()]}
    assert json.loads(codec.message_json({"push": [run.to_wire()]})) == {"push": [plain.to_wire()]}
    assert codec.decode(codec.encode(message)[0]) == expected
    assert run_from_wire(json.loads(codec.message_json(message))["push"][0]) == plain
