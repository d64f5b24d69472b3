"""Frames of the file exchange: round trip, and every malformation refused as bad_request."""

from __future__ import annotations

import struct

import pytest

from sync import chunkwire, codec
from sync.protocol import ProtocolError


def test_a_frame_carries_its_header_and_raw_blobs():
    frame = chunkwire.encode({"op": "put", "items": [["a" * 64, 0], ["a" * 64, 1]]}, [b"x" * 10, b""])
    header, blobs = chunkwire.decode(frame)
    assert header["op"] == "put" and blobs == [b"x" * 10, b""]
    assert chunkwire.items_of(header) == [("a" * 64, 0), ("a" * 64, 1)]


def _frame(header: dict, tail: bytes = b"") -> bytes:
    packed, _ = codec.encode(header)
    return chunkwire.MAGIC + struct.pack(">I", len(packed)) + packed + tail


@pytest.mark.parametrize("data", [
    b"", b"MCF1", b"XXXX\x00\x00\x00\x01{", chunkwire.MAGIC + struct.pack(">I", 10**9) + b"x",
    _frame({"op": "ask"}),  # no sizes
    _frame({"op": "put", "sizes": [5]}, b"abc"),  # blobs shorter than said
    _frame({"op": "put", "sizes": [1]}, b"ab"),  # trailing bytes
    _frame({"op": "put", "sizes": [-1]}),
    chunkwire.MAGIC + struct.pack(">I", 3) + b"abc",  # not zstd
])
def test_a_malformed_frame_is_refused(data):
    with pytest.raises(ProtocolError) as e:
        chunkwire.decode(data)
    assert e.value.code.value == "bad_request"


@pytest.mark.parametrize("items", [{"a": 1}, [["a", "0"]], [["a"]], [[1, 2]], [["a", 0]] * 3])
def test_malformed_items_are_refused(items):
    with pytest.raises(ProtocolError):
        chunkwire.items_of({"items": items}, limit=2)
