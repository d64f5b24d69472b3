"""Bounded decoding of sync bodies (sync/codec.py): size, nesting depth and integer size are
refused with stable codes before anything is built from the bytes."""

from __future__ import annotations

import json
import random

import pytest
import zstandard

from sync import codec
from sync.protocol import ProtocolError


def z(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(raw)


def code_of(raw: bytes, limit: int = 1 << 20) -> str:
    try:
        codec.decode(z(raw), limit)
    except ProtocolError as e:
        return e.code.value
    return "ok"


def nested(depth: int) -> bytes:
    objects, lists = depth // 2, depth - depth // 2
    return b'{"a":' * objects + b"[" * lists + b"1" + b"]" * lists + b"}" * objects


def test_a_message_round_trips():
    message = {"protocol": 1, "vector": {"a:1": 2**63 - 1}, "text": 'Nguyễn "Văn" \\ [An]'}
    assert codec.decode(codec.encode(message)[0]) == message


def test_depth_up_to_the_bound_passes_and_beyond_is_a_bad_request():
    assert code_of(nested(codec.MAX_JSON_DEPTH)) == "ok"
    assert code_of(nested(codec.MAX_JSON_DEPTH + 1)) == "bad_request"
    assert code_of(b"[" * 200_000 + b"]" * 200_000) == "bad_request"


@pytest.mark.parametrize("text", ['"][" ', '"\\"][\\""', '"\\\\"', '"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["'])
def test_brackets_and_quotes_inside_strings_neither_hide_nor_add_depth(text):
    # strings holding "][" between every level must not let a deep structure pass ...
    deep = "".join(f"[{text}," for _ in range(40)) + "1" + "]" * 40
    assert code_of(deep.encode()) == "bad_request"
    # ... and strings full of brackets must not make a shallow structure look deep
    shallow = "[" + ",".join([text] * 50) + "]"
    assert code_of(shallow.encode()) == "ok"


def test_depth_check_agrees_with_the_parsed_depth_on_random_documents():
    rng = random.Random(10)
    alphabet = ["[", "]", "{", "}", '"', "\\", "a", "é", "\n", "0"]

    def text() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5)))

    def value(depth: int, stop: int, budget: list[int]):
        budget[0] -= 1
        if depth >= stop or budget[0] <= 0 or rng.random() < 0.05:
            return rng.choice([text(), 1, None])
        width = 2 if rng.random() < 0.15 else 1  # a few siblings, not a full tree of depth 40
        if rng.random() < 0.5:
            return [value(depth + 1, stop, budget) for _ in range(width)]
        return {text(): value(depth + 1, stop, budget) for _ in range(width)}

    def depth_of(v) -> int:
        children = v.values() if isinstance(v, dict) else v if isinstance(v, list) else None
        return 0 if children is None else 1 + max([depth_of(c) for c in children], default=0)

    seen = set()
    for _ in range(3000):
        v = value(0, rng.randint(25, 40), [200])
        raw = json.dumps(v, ensure_ascii=rng.random() < 0.5).encode()
        expected = depth_of(v) <= codec.MAX_JSON_DEPTH
        seen.add(expected)
        try:
            codec.check_depth(raw)
            got = True
        except ProtocolError:
            got = False
        assert got == expected, raw[:200]
    assert seen == {True, False}


def test_integers_are_bounded_while_parsing():
    assert code_of(b"[9223372036854775807, -9223372036854775807]") == "ok"
    assert code_of(b"[92233720368547758070]") == "malformed"
    assert code_of(b'{"vector": {"x": ' + b"9" * 5000 + b"}}") == "malformed"  # CPython: ValueError
    assert code_of(b'{"note": "' + b"9" * 5000 + b'"}') == "ok"  # digits in a string are text


def test_floats_are_malformed():
    assert code_of(b"[1.5]") == "malformed"
    assert code_of(b"[1e400]") == "malformed"
    assert code_of(b"[NaN]") == "malformed"


def test_decompression_stops_at_the_limit():
    assert code_of(b" " * 1000 + b"[1]", limit=1003) == "ok"
    assert code_of(b" " * 1000 + b"[1]", limit=1002) == "too_large"


def test_not_zstd_is_a_bad_request():
    with pytest.raises(ProtocolError, match="bad_request"):
        codec.decode(b'{"protocol": 1}')
