"""The desk's dashboard: today's intake, dossiers due soon and overdue, a day's receptions, and the
appointment shown before reception."""

from __future__ import annotations

import functools
from typing import Any

from node.domain.deadline import Duration, appointment_at
from node.domain.vietnam_time import day_start_ms, to_vn, vn_day
from node.dossiers import row_to_dict
from node.models import DossierRow
from node.queries.bounds import COUNT_CAP, capped_count, open_only
from node.reference import ReferenceData

DUE_SOON_MS = 2 * 24 * 3600 * 1000
LIST_LIMIT = 10


@functools.cache
def compute_appointment(reference: ReferenceData, received_ms: int, duration: Duration) -> int:
    """The appointment shown before reception: the same rule and calendar in force that
    reception applies (node.reception), so the screen and the receipt cannot disagree."""
    received = to_vn(received_ms)
    due = appointment_at(reference.calendar(), received, duration)
    return int(due.timestamp() * 1000)


def dashboard(now: int, soon_ms: int = DUE_SOON_MS, limit: int = LIST_LIMIT) -> dict[str, Any]:
    """Today's intake, dossiers due soon and overdue: counts and the first few of each."""
    start = day_start_ms(vn_day(now))
    today = DossierRow.select().where(DossierRow.received_at >= start)
    soon = open_only(DossierRow.select().where((DossierRow.due_at >= now) & (DossierRow.due_at < now + soon_ms)))
    overdue = open_only(DossierRow.select().where(DossierRow.due_at < now))
    return {
        "today_count": capped_count(today),
        "today": [row_to_dict(r) for r in today.order_by(DossierRow.received_at.desc()).limit(limit).dicts()],
        "soon_count": capped_count(soon),
        "soon": [row_to_dict(r) for r in soon.order_by(DossierRow.due_at).limit(limit).dicts()],
        "overdue_count": capped_count(overdue),
        "overdue": [row_to_dict(r) for r in overdue.order_by(DossierRow.due_at).limit(limit).dicts()],
        "count_cap": COUNT_CAP,
    }


def received_between(first_ms: int, end_ms: int, channel: str = "", limit: int = 200,
                     origin: str = "") -> list[dict[str, Any]]:
    """Dossiers received in ``[first_ms, end_ms)``; ``origin`` keeps those received on that node
    (the outreach team's own intake, not what syncing brought from the commune's desk)."""
    query = DossierRow.select().where((DossierRow.received_at >= first_ms) & (DossierRow.received_at < end_ms))
    if channel:
        query = query.where(DossierRow.channel == channel)
    if origin:
        query = query.where(DossierRow.origin == origin)
    return [row_to_dict(r) for r in query.order_by(DossierRow.received_at.desc()).limit(limit).dicts()]
