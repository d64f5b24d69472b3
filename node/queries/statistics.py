"""District statistics: per-unit figures for a period, and late dossiers grouped by unit."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

import peewee as pw

from node.domain.dossier import OPEN_STATUSES, PAUSED_STATUSES
from node.domain.vietnam_time import day_start_ms
from node.dossiers import row_to_dict
from node.models import DossierRow
from node.queries.bounds import open_only
from sync.ledger import ProfileRow


def by_unit(now: int, first: date, last: date) -> list[dict[str, Any]]:
    """Per unit: received in the period, resolved among them, still open, open and overdue."""
    start, end = day_start_ms(first), day_start_ms(last + timedelta(days=1))
    in_period = (DossierRow.received_at >= start) & (DossierRow.received_at < end)
    done = DossierRow.status.in_(("resolved", "returned"))
    open_ = DossierRow.status.in_((*OPEN_STATUSES, *PAUSED_STATUSES))
    late = DossierRow.status.in_(OPEN_STATUSES) & (DossierRow.due_at < now)
    query = (
        DossierRow.select(
            DossierRow.scope,
            pw.fn.COUNT(DossierRow.id).alias("received"),
            pw.fn.SUM(pw.Case(None, [(done, 1)], 0)).alias("resolved"),
            pw.fn.SUM(pw.Case(None, [(open_, 1)], 0)).alias("pending"),
            pw.fn.SUM(pw.Case(None, [(late, 1)], 0)).alias("overdue"),
        )
        .where(in_period)
        .group_by(DossierRow.scope)
        .order_by(DossierRow.scope)
    )
    return [{k: (int(v) if k != "scope" else v) for k, v in r.items()} for r in query.dicts()]


def late_by_unit(now: int, limit_per_unit: int = 20) -> list[dict[str, Any]]:
    """Open dossiers past their appointment, grouped by unit, most overdue first."""
    query = open_only(DossierRow.select().where(DossierRow.due_at < now))
    counts = {r["scope"]: r["n"] for r in query.select(DossierRow.scope, pw.fn.COUNT(DossierRow.id).alias("n"))
              .group_by(DossierRow.scope).dicts()}
    out = []
    for scope in sorted(counts, key=lambda s: (-counts[s], s)):
        rows = query.where(DossierRow.scope == scope).order_by(DossierRow.due_at).limit(limit_per_unit).dicts()
        out.append({"scope": scope, "count": counts[scope], "dossiers": [row_to_dict(r) for r in rows]})
    return out


def unit_names(units: Iterable[str]) -> dict[str, str]:
    """Names of units from the node profiles that serve them (first commune node wins)."""
    wanted = set(units)
    names: dict[str, str] = {}
    for r in ProfileRow.select(ProfileRow.unit, ProfileRow.name, ProfileRow.role).order_by(ProfileRow.role):
        if r.unit in wanted and r.unit not in names:
            names[r.unit] = r.name
    return names
