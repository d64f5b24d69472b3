"""Attached files as the desk uses them: attach, list with their state, read, ask for, verify.

* Attaching normalises the upload (:mod:`node.scans`), stores its chunks (:mod:`node.chunkstore`)
  and then records the signed ``dossier.file_attached`` event through the one write recipe
  (:mod:`node.writer`): chunks first, so an event never names a chunk this node lacks (a chunk
  without its event, after a crash between the two, is unreferenced and harmless).
* A file's state on this node is ``complete`` only when every chunk is here and the SHA-256 of
  the whole file checked (:func:`complete_if_whole`); otherwise ``receiving`` (some chunks came),
  ``not_fetched`` (an on-demand node has not asked for it), or ``purged`` (a retention purge
  removed its chunks). Nothing reads a file that is not complete.
* The electronic result (kind ``result``) is attached once the dossier is resolved.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from node import dossiers, scans
from node.binding import database
from node.domain import attachment as domain
from node.domain.errors import DomainError
from node.filerows import FilePeerRow, FileStateRow
from node.models import AttachmentRow
from node.writer import acting_office

RESULT_STATUSES = ("resolved", "returned")


def max_bytes(node) -> int:
    return min(int(node.settings.MAX_FILE_MB) * 1024 * 1024, domain.MAX_FILE_BYTES)


def fetch_rule(node) -> str:
    rule = node.settings.FILES_FETCH or ("on_demand" if node.settings.ROLE == "mobile" else "all")
    return rule if rule in ("all", "on_demand") else "all"


def _store_file(node, data: bytes, media_type: str) -> dict[str, Any]:
    spec = domain.describe(data, media_type)
    for chunk_hash, chunk in zip(spec["chunks"], domain.split(data, spec["chunk_size"]), strict=True):
        node.chunks.put(chunk_hash, chunk)
    return spec


def _mark_complete(file_hash: str, now: int) -> None:
    FileStateRow.insert(file_hash=file_hash, complete=True, verified_at=now).on_conflict(
        conflict_target=[FileStateRow.file_hash], update={FileStateRow.complete: True, FileStateRow.verified_at: now,
                                                          FileStateRow.purged_at: 0},
    ).execute()


def attach(node, author: str, dossier_id: str, uploads: list[bytes], *, name: str = "", component: str = "",
           kind: str = "scan", grayscale: bool = False) -> dict[str, Any]:
    """Attach the uploaded pages of one paper (or one PDF) to a dossier; the attachment as listed."""
    if kind not in domain.KINDS:
        raise DomainError(f"unknown attachment kind {kind!r}", "kind")
    current = dossiers.row(dossier_id)
    if kind == "result" and current.status not in RESULT_STATUSES:
        raise DomainError("the electronic result is attached once the dossier is resolved", "kind")
    normalised = scans.normalise(uploads, grayscale=grayscale, max_bytes=max_bytes(node))
    spec = _store_file(node, normalised.data, normalised.media_type)
    thumb = _store_file(node, normalised.thumb, "image/jpeg") if normalised.thumb else None
    body = {"file": spec, "thumb": thumb, "kind": kind, "component": component.strip()[:200],
            "name": (name.strip() or f"{kind}.pdf")[:200], "original_size": normalised.original_size,
            "pages": normalised.pages, **acting_office(node.settings)}
    with node.writer.transaction():
        current = dossiers.row(dossier_id)
        now = node.wall_ms()
        for f in (spec, thumb):
            if f:
                _mark_complete(f["hash"], now)
        event = node.writer.record_on(current, domain.ATTACHED, body, author)
    return describe_row(AttachmentRow.get(AttachmentRow.ref == event.ref))


def _states(hashes: list[str]) -> dict[str, FileStateRow]:
    found: dict[str, FileStateRow] = {}
    for start in range(0, len(hashes), 500):
        found.update({r.file_hash: r for r in FileStateRow.select().where(
            FileStateRow.file_hash.in_(hashes[start : start + 500]))})
    return found


def state_of(node, row: AttachmentRow, held: FileStateRow | None) -> str:
    if held is not None and held.complete:
        return "complete"
    if held is not None and held.purged_at:
        return "purged"
    chunks = json.loads(row.chunks)
    if len(node.chunks.missing(chunks)) < len(chunks):
        return "receiving"
    if fetch_rule(node) == "on_demand" and not (held is not None and held.wanted):
        return "not_fetched"
    return "receiving"


def describe_row(row: AttachmentRow, state: str = "complete", thumb_ready: bool = True) -> dict[str, Any]:
    return {
        "ref": row.ref, "dossier_id": row.dossier_id, "kind": row.kind, "component": row.component,
        "name": row.name, "file_hash": row.file_hash, "media_type": row.media_type, "size": row.size,
        "original_size": row.original_size, "pages": row.pages, "chunks": len(json.loads(row.chunks)),
        "thumb_hash": row.thumb_hash if thumb_ready else "", "at": row.at, "author": row.author, "state": state,
    }


def listing(node, dossier_id: str) -> list[dict[str, Any]]:
    """The dossier's attachments, oldest first, each with its state on this node."""
    rows = list(AttachmentRow.select().where(AttachmentRow.dossier_id == dossier_id)
                .order_by(AttachmentRow.at, AttachmentRow.ref))
    held = _states([h for r in rows for h in (r.file_hash, r.thumb_hash) if h])
    out = []
    for r in rows:
        thumb = held.get(r.thumb_hash)
        out.append(describe_row(r, state_of(node, r, held.get(r.file_hash)),
                                thumb_ready=bool(r.thumb_hash) and thumb is not None and thumb.complete))
    return out


def _spec_of(file_hash: str) -> dict[str, Any] | None:
    """The signed description of a file (or thumbnail) held here, by its hash."""
    row = AttachmentRow.get_or_none(AttachmentRow.file_hash == file_hash)
    if row is not None:
        return {"hash": row.file_hash, "size": row.size, "media_type": row.media_type, "chunk_size": row.chunk_size,
                "chunks": json.loads(row.chunks), "scope": row.scope, "received_at": row.received_at}
    row = AttachmentRow.get_or_none(AttachmentRow.thumb_hash == file_hash)
    if row is not None:
        return {**json.loads(row.thumb), "scope": row.scope, "received_at": row.received_at}
    return None


def spec_of(file_hash: str) -> dict[str, Any] | None:
    return _spec_of(file_hash) if isinstance(file_hash, str) and domain.HASH_RE.match(file_hash) else None


def read(node, file_hash: str) -> tuple[bytes, str]:
    """A complete file's bytes and media type; :class:`DomainError` if it is not all here."""
    spec = spec_of(file_hash)
    held = FileStateRow.get_or_none(FileStateRow.file_hash == file_hash) if spec else None
    if spec is None or held is None or not held.complete:
        raise DomainError("this file is not (yet) complete on this node", "file")
    data = b"".join(node.chunks.get(h) for h in spec["chunks"])
    if hashlib.sha256(data).hexdigest() != file_hash:
        raise DomainError("this file is damaged on this node: run motcua verify", "file")
    return data, spec["media_type"]


def complete_if_whole(node, spec: dict[str, Any]) -> bool:
    """Mark a file complete when every chunk is here and the whole file's hash checks."""
    if node.chunks.missing(spec["chunks"]):
        return False
    h = hashlib.sha256()
    for chunk_hash in spec["chunks"]:
        h.update(node.chunks.get(chunk_hash))
    if h.hexdigest() != spec["hash"]:
        return False
    with database.atomic():
        _mark_complete(spec["hash"], node.wall_ms())
    return True


def want(node, file_hash: str) -> None:
    """Someone opened a file an on-demand node does not hold: fetch it at the next sync."""
    if spec_of(file_hash) is None:
        raise DomainError("no attached file has this hash on this node", "file")
    with database.atomic():
        FileStateRow.insert(file_hash=file_hash, wanted=True).on_conflict(
            conflict_target=[FileStateRow.file_hash], update={FileStateRow.wanted: True}).execute()


def verify(node) -> dict[str, int]:
    """Re-read every file this node says is complete: chunks and whole hash (motcua verify)."""
    report = {"files": 0, "ok": 0, "damaged": 0, "bytes": 0}
    hashes = [r.file_hash for r in FileStateRow.select(FileStateRow.file_hash).where(FileStateRow.complete)]
    for file_hash in hashes:
        spec = spec_of(file_hash)
        if spec is None:
            continue
        report["files"] += 1
        try:
            data = b"".join(node.chunks.get(h) for h in spec["chunks"])
            good = hashlib.sha256(data).hexdigest() == file_hash
        except (KeyError, ValueError):
            good = False
        report["ok" if good else "damaged"] += 1
        report["bytes"] += spec["size"] if good else 0
        if not good:
            with database.atomic():
                FileStateRow.update(complete=False).where(FileStateRow.file_hash == file_hash).execute()
    return report


def pending(node, peer_id: str = "") -> dict[str, int]:
    """Files and bytes not yet confirmed by ``peer_id`` (up) and wanted but incomplete here (down)."""
    rows = list(AttachmentRow.select(AttachmentRow.file_hash, AttachmentRow.size, AttachmentRow.thumb_hash))
    sizes = {r.file_hash: r.size for r in rows}
    held = {h for h, r in _states(list(sizes)).items() if r.complete}
    confirmed = {r.file_hash for r in FilePeerRow.select(FilePeerRow.file_hash).where(FilePeerRow.peer == peer_id)}
    up = [h for h in held if h not in confirmed] if peer_id else []
    rule = fetch_rule(node)
    wanted = {r.file_hash for r in FileStateRow.select(FileStateRow.file_hash).where(FileStateRow.wanted)}
    down = [h for h in sizes if h not in held and (rule == "all" or h in wanted)]
    return {"files_up": len(up), "bytes_up": sum(sizes[h] for h in up), "files_down": len(down),
            "bytes_down": sum(sizes[h] for h in down)}
