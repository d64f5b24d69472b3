"""Bytes of a file exchange (``POST /sync/v1/files``): a small header and raw chunk bytes.

Chunks of scans are already compressed (JPEG inside a PDF): base64 in JSON would add a third and
zstd would not take it back, so a frame carries them raw after a compressed JSON header::

    b"MCF1" | u32 big-endian length of the header | header (zstd JSON, :mod:`sync.codec`) | blobs

The header's ``sizes`` lists the length of each blob in order; the frame must end exactly after
the last one. Decoding is bounded like every wire input (the header by :data:`MAX_HEADER_BYTES`
before and after decompression, the blobs by the frame's own length) and only ever happens after
the request signature verified (the route authenticates first, like ``/sync/v1/exchange``).

Operations (``op`` in the request header; answers carry ``protocol`` and the same ``op``):

``ask``  ``files``: file hashes the caller holds complete → ``files``: {hash: {``state``:
         complete | missing | unknown, ``need``: [chunk indexes]}} (``unknown``: the peer holds no
         signed event naming that file, or may not hold its unit)
``put``  ``items``: [[file hash, chunk index], ...] with one blob each → ``stored`` (count),
         ``refused`` (items whose bytes did not hash to the signed chunk hash, or unknown),
         ``complete`` (files whose every chunk and whole hash now check on the peer)
``get``  ``items`` and ``budget`` (bytes) → ``items`` sent with their blobs (at least one, at most
         the budget), ``missing`` (items the peer does not hold)
"""

from __future__ import annotations

import struct
from typing import Any

from sync import codec
from sync.protocol import Code, ProtocolError

FILES_PATH = "/sync/v1/files"
MAGIC = b"MCF1"
CONTENT_TYPE = "application/x-motcua-files"
MAX_HEADER_BYTES = 256 * 1024
MAX_ITEMS = 2000
OPS = ("ask", "put", "get")


def encode(header: dict[str, Any], blobs: list[bytes] = ()) -> bytes:  # type: ignore[assignment]
    packed, _ = codec.encode({**header, "sizes": [len(b) for b in blobs]})
    return b"".join([MAGIC, struct.pack(">I", len(packed)), packed, *blobs])


def decode(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """Header and blobs of a frame; :class:`ProtocolError` (``bad_request``) on any malformation."""
    if len(data) < 8 or data[:4] != MAGIC:
        raise ProtocolError(Code.BAD_REQUEST, "not a file exchange frame")
    (length,) = struct.unpack(">I", data[4:8])
    if length > MAX_HEADER_BYTES or 8 + length > len(data):
        raise ProtocolError(Code.BAD_REQUEST, "file exchange header out of bounds")
    header = codec.decode(data[8 : 8 + length], MAX_HEADER_BYTES)
    sizes = header.get("sizes") if isinstance(header, dict) else None
    if not (isinstance(sizes, list) and len(sizes) <= MAX_ITEMS and all(type(s) is int and s >= 0 for s in sizes)):
        raise ProtocolError(Code.BAD_REQUEST, "file exchange header without valid sizes")
    if 8 + length + sum(sizes) != len(data):
        raise ProtocolError(Code.BAD_REQUEST, "file exchange blobs do not match their sizes")
    blobs, at = [], 8 + length
    for size in sizes:
        blobs.append(data[at : at + size])
        at += size
    return header, blobs


def items_of(header: dict[str, Any], limit: int = MAX_ITEMS) -> list[tuple[str, int]]:
    """The ``items`` of a header as (file hash, chunk index) pairs, checked for shape."""
    items = header.get("items", [])
    if not isinstance(items, list) or len(items) > limit:
        raise ProtocolError(Code.BAD_REQUEST, f"items must be a list of at most {limit} pairs")
    out = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str) and type(item[1]) is int):
            raise ProtocolError(Code.BAD_REQUEST, "an item is [file hash, chunk index]")
        out.append((item[0], item[1]))
    return out
