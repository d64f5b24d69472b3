"""Bytes of an exchange on the wire: compact JSON, zstd-compressed both ways.

Why zstd rather than gzip: on dossier batches it compresses better at a fraction of gzip's CPU,
and the hub's ingest budget is CPU-bound.

Decoding is bounded before anything is built from the bytes, because a few KB can be crafted
to expand into gigabytes or to nest a million levels deep:

* decompression streams into a buffer that may not exceed ``limit`` bytes (a "zip bomb" is
  refused after ``limit`` bytes, never allocated whole), with the zstd window capped so a frame
  cannot ask for a huge decoder buffer either;
* nesting is at most :data:`MAX_JSON_DEPTH` levels (checked on the text before ``json.loads``,
  with C-speed byte operations only: strings are blanked out by pairing their quotes, then the
  brackets left are peeled level by level), so no recursive walk of an event, in C or Python,
  can overflow the stack later;
* integers have at most :data:`MAX_INT_DIGITS` digits (no field needs more than 63 bits) and
  floats are refused, both while parsing: CPython would otherwise build a 4,300-digit integer,
  or refuse a longer one with a bare ``ValueError``.

The sync endpoint calls :func:`decode` only after the request signature verified
(``sync/server.py``): a stranger's bytes are hashed, never decompressed.
"""

from __future__ import annotations

import json
import re
from typing import Any

import zstandard

from sync.protocol import MAX_REQUEST_BYTES, Code, ProtocolError, StoredCompact

# Short on purpose: on a 300 ms link with nothing to sync, the headers *are* the traffic
# (DESIGN §7: a no-op sync in at most 1 KiB, both ways, headers included).
CONTENT_TYPE = "application/x-motcua"
CONTENT_ENCODING = "zstd"
_LEVEL = 6
# A protocol message is ~6 levels deep down to an event body, and a body rarely another 4.
MAX_JSON_DEPTH = 32
MAX_INT_DIGITS = 19  # 2**63 - 1 has 19 digits; the wire refuses anything beyond it anyway
_MAX_WINDOW = 1 << 23  # our level-6 frames use 2 MiB; refuse frames asking more than 8 MiB
_CHUNK = 1 << 20

_MARKS_ONLY = bytes(b for b in range(256) if b not in b'"[]{}')
_STRING_OF_MARKS = re.compile(rb'"[^"]*"')
_INNERMOST = re.compile(rb"\[\]|\{\}")


_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def _json(value: Any) -> bytes:
    return _JSON.encode(value).encode("utf-8")


def _run_json(run: dict[str, Any]) -> bytes:
    events = run.get("events")
    if not isinstance(events, list) or not any(isinstance(e, StoredCompact) for e in events):
        return _json(run)
    head = _json({k: v for k, v in run.items() if k != "events"})
    body = b",".join(e.wire_bytes() if isinstance(e, StoredCompact) else _json(e) for e in events)
    return head[:-1] + (b',"events":[' if len(head) > 2 else b'"events":[') + body + b"]}"


def message_json(message: dict[str, Any]) -> bytes:
    """The JSON of a message; events sent from the store are spliced in as the bytes they were
    stored as (:class:`sync.protocol.StoredCompact`), the rest encoded as usual."""
    runs = {k: message[k] for k in ("push", "pull") if isinstance(message.get(k), list)}
    if not runs:
        return _json(message)
    head = _json({k: v for k, v in message.items() if k not in runs})
    parts = [head[:-1]]
    for key, value in runs.items():
        parts.append(("," if len(head) > 2 or len(parts) > 1 else "").encode() + f'"{key}":['.encode()
                     + b",".join(_run_json(r) if isinstance(r, dict) else _json(r) for r in value) + b"]")
    return b"".join(parts) + b"}"


def encode(message: dict[str, Any]) -> tuple[bytes, int]:
    """Compressed bytes of a message and the size of its JSON before compression."""
    raw = message_json(message)
    # Compressor objects are not thread-safe and cost microseconds to make: one per message.
    return zstandard.ZstdCompressor(level=_LEVEL).compress(raw), len(raw)


def decompress(data: bytes, limit: int = MAX_REQUEST_BYTES) -> bytes:
    """The decompressed bytes, streamed: refused with ``too_large`` once past ``limit``."""
    out = bytearray()
    try:
        reader = zstandard.ZstdDecompressor(max_window_size=_MAX_WINDOW).stream_reader(data)
        while chunk := reader.read(min(_CHUNK, limit + 1 - len(out))):
            out += chunk
            if len(out) > limit:
                raise ProtocolError(Code.TOO_LARGE, f"decompressed body exceeds {limit} bytes")
    except zstandard.ZstdError as e:
        raise ProtocolError(Code.BAD_REQUEST, f"body is not zstd data: {e}") from e
    return bytes(out)


def check_depth(raw: bytes) -> None:
    """Refuse JSON text nested deeper than :data:`MAX_JSON_DEPTH` (a malformed text is left to
    the parser).

    Escaped backslashes, then escaped quotes, are dropped; of what remains only quotes and
    brackets are kept, and adjacent quotes are dropped in pairs: quotes still alternate open and
    close, and no bracket changes sides, so the few strings left are those holding brackets.
    """
    text = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    marks = text.translate(None, _MARKS_ONLY).replace(b'""', b"")
    if b'"' in marks:
        marks = _STRING_OF_MARKS.sub(b"", marks)
    for _ in range(MAX_JSON_DEPTH):
        if not marks:
            return
        inner = _INNERMOST.sub(b"", marks)
        if inner == marks:
            return  # unbalanced: the parser says what is wrong
        marks = inner
    if marks:
        raise ProtocolError(Code.BAD_REQUEST, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")


def decode(data: bytes, limit: int = MAX_REQUEST_BYTES) -> Any:
    """Parse compressed bytes; refuse oversize, too deep or malformed input with a protocol error."""
    raw = decompress(data, limit)
    check_depth(raw)
    try:
        # No protocol message carries a float: refusing them here lets ingest skip a per-value
        # walk of every event body (sync.wire.check_canonical_text covers the rest).
        return json.loads(raw, parse_float=_no_float, parse_constant=_no_float, parse_int=_bounded_int)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise ProtocolError(Code.BAD_REQUEST, f"body is not JSON: {e}") from e
    except ValueError as e:  # e.g. CPython's int-string conversion limit; bounded above, kept as a net
        raise ProtocolError(Code.MALFORMED, f"body holds a value this node cannot read: {e}") from e


def _bounded_int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise ProtocolError(Code.MALFORMED, f"an integer of {len(text)} digits: at most {MAX_INT_DIGITS} are allowed")
    return int(text)


def _no_float(text: str) -> object:
    raise ProtocolError(Code.MALFORMED, f"non-integer number {text!r}: floats are not allowed in sync messages")
