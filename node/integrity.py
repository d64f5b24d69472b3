"""Integrity of a node: verify every feed it holds, rebuild and digest the derived state.

:func:`verify_feeds` checks what :mod:`sync.chain` guarantees (hash chains, order, completeness,
origin signatures) for the store it is given, so a backup's copy is checked the same way.
:func:`rebuild` recomputes the derived tables from the events (the name search index with them);
:func:`digest` hashes them in a canonical order, equal on replicas holding the same events;
:func:`search_index_problems` checks the index holds exactly the current names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node import projection
from node.context import NodeContext
from node.models import DossierRow
from node.signing import verify_signature
from sync.chain import ChainError, verify_stored_feed
from sync.eventstore import EventStore


@dataclass(frozen=True)
class FeedReport:
    origin: str
    scope: str
    events: int
    ok: bool
    reason: str = ""
    ref: str = ""
    detail: str = ""


def verify_feeds(store: EventStore) -> list[FeedReport]:
    """Verify every feed of ``store``; a backup's copy is checked the same way."""
    reports = []
    for head in store.feeds():
        signed = store.latest_signed_head(head.origin, head.scope)
        try:
            n = verify_stored_feed(
                head.origin, head.scope, store.stored_feed(head.origin, head.scope), signed, verify_signature
            )
        except ChainError as e:
            reports.append(FeedReport(head.origin, head.scope, 0, False, e.reason.value, e.ref, e.detail))
            continue
        if n != head.seq:
            reports.append(FeedReport(head.origin, head.scope, n, False, "truncated", "", f"feed head says {head.seq}"))
        else:
            reports.append(FeedReport(head.origin, head.scope, n, True))
    return reports


def rebuild(node: NodeContext, progress: Callable[[int, int], None] | None = None) -> int:
    """Drop and recompute the derived tables from the events, under the write lock.

    Not gated: it records no event, and repairing derived state must work on a node whose writes
    wait for a sync."""
    with node.writer.transaction(gated=False):
        return projection.rebuild(progress)


def digest() -> str:
    return projection.derived_digest()


def search_index_problems() -> list[str]:
    """What is wrong with the name search index (:func:`node.name_index.problems`); a rebuild
    recreates it."""
    from node import name_index
    from node.binding import database

    return name_index.problems(database)


def status(node: NodeContext, write_block: str) -> dict[str, Any]:
    """Who this node is and what it holds (``motcua doctor``, the health endpoint)."""
    return {
        "node_id": node.node_id,
        "role": node.settings.ROLE,
        "unit": node.settings.UNIT,
        "name": node.settings.NAME,
        "events": node.store.count_events(),
        "dossiers": DossierRow.select().count(),
        "feeds": len(node.store.feeds()),
        "write_block": write_block,
    }
