"""Files attached to a dossier: the attach event and its fold (pure core: stdlib only).

A file (a scan of the papers, an electronic result) is split into chunks of :data:`CHUNK_SIZE`
bytes, each named by its SHA-256; the file is named by the SHA-256 of its whole content. The
signed ``dossier.file_attached`` event carries the file's hash, size, media type and the list of
its chunk hashes, so the origin's signature covers the content: a chunk from anywhere (a peer, a
USB stick) is accepted only if its hash is in a signed list, and a file shows complete only when
its whole hash checks.

Body of ``dossier.file_attached``::

    file        {hash, size, media_type, chunk_size, chunks: [chunk hash, ...]}
    thumb       the same shape for a small JPEG preview, or null
    kind        scan | result (kết quả điện tử, attached at resolution)
    component   the document component of the procedure it belongs to ("" when none)
    name        the file name shown (never trusted for the content)
    original_size, pages   what the desk uploaded before normalising, and the PDF's pages
    office, role           for people only, like every dossier event

Rules
-----
Rule F1. An attach event applies like any dossier event (authority of :mod:`node.domain.merge`,
         Rule 9); one without authority attaches nothing.
Rule F2. A body that does not describe a well-formed file (hash shapes, sizes that the chunk list
         cannot hold, an unknown media type or kind) attaches nothing (Rule 6 of the fold).
Rule F3. Attachments are never removed by a later event here: retention is a local decision of a
         node about chunks, not about the signed history.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

from node.domain.errors import DomainError

ATTACHED = "dossier.file_attached"
# One chunk per exchange at 2G speeds: a cut wastes on average half the request in flight, and
# each request costs ~1 KB of signed headers; 32 KiB balances the two for cuts every ~300 KB.
CHUNK_SIZE = 32 * 1024
MAX_FILE_BYTES = 20 * 1024 * 1024  # a stored file never exceeds this, whatever the settings say
KINDS = ("scan", "result")
MEDIA_TYPES = ("application/pdf", "image/jpeg", "image/png")
HASH_RE = re.compile(r"^[0-9a-f]{64}$")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def split(data: bytes, chunk_size: int = CHUNK_SIZE) -> list[bytes]:
    """The chunks of ``data`` (one empty chunk for an empty file, so every file has one)."""
    return [data[i : i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]


def describe(data: bytes, media_type: str, chunk_size: int = CHUNK_SIZE) -> dict[str, Any]:
    """The ``file`` part of an attach body for ``data``."""
    return {"hash": sha256(data), "size": len(data), "media_type": media_type, "chunk_size": chunk_size,
            "chunks": [sha256(c) for c in split(data, chunk_size)]}


def check_file(spec: Any) -> dict[str, Any]:
    """A ``file`` description that holds together (Rule F2); :class:`DomainError` otherwise."""
    if not isinstance(spec, Mapping):
        raise DomainError("a file description must be an object", "file")
    h, size, media, cs, chunks = (spec.get(k) for k in ("hash", "size", "media_type", "chunk_size", "chunks"))
    if not (isinstance(h, str) and HASH_RE.match(h)):
        raise DomainError("the file hash must be 64 hexadecimal digits", "file")
    if type(size) is not int or not 0 <= size <= MAX_FILE_BYTES:
        raise DomainError("the file size is out of range", "file")
    if media not in MEDIA_TYPES:
        raise DomainError(f"media type {media!r} is not accepted", "file")
    if type(cs) is not int or not 1024 <= cs <= 1024 * 1024:
        raise DomainError("the chunk size is out of range", "file")
    if not (isinstance(chunks, list) and all(isinstance(c, str) and HASH_RE.match(c) for c in chunks)):
        raise DomainError("the chunk list must be SHA-256 hashes", "file")
    if len(chunks) != max(1, -(-size // cs)):
        raise DomainError("the chunk list does not match the file size", "file")
    return {"hash": h, "size": size, "media_type": media, "chunk_size": cs, "chunks": list(chunks)}


def chunk_length(spec: Mapping[str, Any], index: int) -> int:
    """How many bytes chunk ``index`` of the file holds (all full but the last)."""
    last = len(spec["chunks"]) - 1
    return spec["chunk_size"] if index < last else spec["size"] - spec["chunk_size"] * last


def attachment_of(event: Any) -> dict[str, Any] | None:
    """The attachment an attach event makes (None: Rule F2)."""
    body = event.body
    if event.type != ATTACHED or not isinstance(body, Mapping):
        return None
    try:
        spec = check_file(body.get("file"))
        thumb = check_file(body["thumb"]) if body.get("thumb") is not None else None
    except DomainError:
        return None
    kind, component, name = body.get("kind"), body.get("component", ""), body.get("name", "")
    original, pages = body.get("original_size", spec["size"]), body.get("pages", 0)
    if kind not in KINDS or not all(isinstance(v, str) for v in (component, name)):
        return None
    if type(original) is not int or type(pages) is not int or original < 0 or pages < 0:
        return None
    return {"ref": event.ref, "kind": kind, "component": component[:200], "name": name[:200], "file": spec,
            "thumb": thumb, "original_size": original, "pages": pages, "at": event.at, "author": event.author,
            "origin": event.origin}


def attachments(events: Iterable[Any], refused: frozenset[str] | set[str]) -> list[dict[str, Any]]:
    """Every attachment of a dossier's events, in the order they were made (Rules F1-F3)."""
    found = [a for e in events if e.ref not in refused and (a := attachment_of(e)) is not None]
    return sorted(found, key=lambda a: (a["at"], a["ref"]))
