"""Bytes of an exchange on the wire: compact JSON, zstd-compressed both ways.

Why zstd rather than gzip: on dossier batches it compresses better at a fraction of gzip's CPU,
and the hub's ingest budget is CPU-bound. Decompression is bounded (a "zip bomb" of a few KB
must not allocate gigabytes): the output may not exceed ``limit`` bytes.
"""

from __future__ import annotations

import json
from typing import Any

import zstandard

from sync.protocol import MAX_REQUEST_BYTES, Code, ProtocolError

# Short on purpose: on a 300 ms link with nothing to sync, the headers *are* the traffic
# (DESIGN §7: a no-op sync in at most 1 KiB, both ways, headers included).
CONTENT_TYPE = "application/x-motcua"
CONTENT_ENCODING = "zstd"
_LEVEL = 6

def encode(message: dict[str, Any]) -> tuple[bytes, int]:
    """Compressed bytes of a message and the size of its JSON before compression."""
    raw = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # Compressor objects are not thread-safe and cost microseconds to make: one per message.
    return zstandard.ZstdCompressor(level=_LEVEL).compress(raw), len(raw)


def decode(data: bytes, limit: int = MAX_REQUEST_BYTES) -> Any:
    """Parse compressed bytes; refuse oversize or malformed input with a protocol error."""
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(data)
        chunks, size = [], 0
        while size <= limit:
            chunk = reader.read(1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        raw = b"".join(chunks)
    except zstandard.ZstdError as e:
        raise ProtocolError(Code.BAD_REQUEST, f"body is not zstd data: {e}") from e
    if len(raw) > limit:
        raise ProtocolError(Code.TOO_LARGE, f"decompressed body exceeds {limit} bytes")
    try:
        # No protocol message carries a float: refusing them here lets ingest skip a per-value
        # walk of every event body (sync.wire.check_canonical_text covers the rest).
        return json.loads(raw, parse_float=_no_float, parse_constant=_no_float)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ProtocolError(Code.BAD_REQUEST, f"body is not JSON: {e}") from e


def _no_float(text: str) -> object:
    raise ProtocolError(Code.MALFORMED, f"non-integer number {text!r}: floats are not allowed in sync messages")
