"""Retention of attached files: what a purge would remove, and the purge (issue 17).

Nothing is deleted silently. The rule is local to a node (``FILES_RETENTION_DAYS``, 0: never):
the chunks of files attached to dossiers that ended refused (``refused``) or stopped (``stopped``,
withdrawn or stopped processing) more than that many days ago may be removed from this node's
chunk store. :func:`preview` lists exactly what :func:`purge` would remove, and the admin runs the
purge only after reading it (``motcua files purge`` previews; ``--apply`` purges).

Invariants
----------
* Events are never touched: the signed attach event, its hash and chunk list stay, so the file
  can be fetched again from a node that kept it; the file shows "purged" here.
* A file or chunk shared with a dossier that is still kept (identical content, stored once) is
  never removed: only files and chunks no kept dossier references go.
* The age counts from the status change that ended the dossier (its last history entry).
"""

from __future__ import annotations

import json
from typing import Any

from node.binding import database
from node.filerows import FileStateRow
from node.models import AttachmentRow, DossierRow

ENDED = ("refused", "stopped")
DAY_MS = 86_400_000


def _ended_at(row: DossierRow) -> int:
    history = json.loads(row.history or "[]")
    return history[-1][1] if history else row.updated_at


def preview(node) -> dict[str, Any]:
    """The files a purge would remove now, with their dossiers and sizes."""
    days = int(node.settings.FILES_RETENTION_DAYS)
    if days <= 0:
        return {"days": 0, "items": [], "files": 0, "bytes": 0}
    cutoff = node.wall_ms() - days * DAY_MS
    rows = list(AttachmentRow.select())
    dossiers = {d.id: d for d in DossierRow.select().where(DossierRow.id.in_(sorted({r.dossier_id for r in rows})))} \
        if rows else {}
    expired = {d for d, row in dossiers.items() if row.status in ENDED and _ended_at(row) <= cutoff}
    kept_chunks, kept_files = set(), set()
    for r in rows:
        if r.dossier_id not in expired:
            kept_files.add(r.file_hash)
            kept_chunks.update(json.loads(r.chunks))
            if r.thumb:
                kept_chunks.update(json.loads(r.thumb)["chunks"])
    purged = {s.file_hash for s in FileStateRow.select(FileStateRow.file_hash).where(FileStateRow.purged_at > 0)}
    items = []
    for r in rows:
        if r.dossier_id in expired and r.file_hash not in purged and r.file_hash not in kept_files:
            d = dossiers[r.dossier_id]
            removable = [h for h in json.loads(r.chunks) if h not in kept_chunks]
            items.append({"dossier_id": d.id, "code": d.code, "status": d.status, "ended_at": _ended_at(d),
                          "name": r.name, "file_hash": r.file_hash, "size": r.size, "chunks": removable,
                          "thumb": json.loads(r.thumb) if r.thumb else None})
    return {"days": days, "items": items, "files": len(items), "bytes": sum(i["size"] for i in items)}


def purge(node, expected_files: int) -> dict[str, Any]:
    """Remove what :func:`preview` lists; refused unless the caller saw the same count."""
    plan = preview(node)
    if plan["files"] != expected_files:
        raise ValueError(f"the preview now lists {plan['files']} files, not {expected_files}: preview again")
    removed = 0
    now = node.wall_ms()
    for item in plan["items"]:
        for h in item["chunks"]:
            removed += node.chunks.remove(h)
        with database.atomic():
            FileStateRow.insert(file_hash=item["file_hash"], complete=False, purged_at=now).on_conflict(
                conflict_target=[FileStateRow.file_hash],
                update={FileStateRow.complete: False, FileStateRow.purged_at: now, FileStateRow.wanted: False},
            ).execute()
    return {**plan, "chunks_removed": removed}
