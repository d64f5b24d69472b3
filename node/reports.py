"""Read models for operators: the sync log and node health, shared by the CLI and the web UI."""

from __future__ import annotations

from typing import Any

from node.domain.vietnam_time import to_vn
from sync.ledger import SyncSessionRow


def format_ms(ms: int | None) -> str:
    """dd/MM/yyyy HH:mm:ss in Vietnam time (the form staff read on every screen)."""
    if not ms:
        return "-"
    return to_vn(ms).strftime("%d/%m/%Y %H:%M:%S")


def sync_sessions(limit: int = 50, peer: str = "", outcome: str | None = None) -> list[dict[str, Any]]:
    query = SyncSessionRow.select()
    if peer:
        query = query.where(SyncSessionRow.peer.startswith(peer))
    if outcome:
        query = query.where(SyncSessionRow.outcome == outcome)
    return list(query.order_by(SyncSessionRow.started_at.desc(), SyncSessionRow.id.desc()).limit(limit).dicts())
