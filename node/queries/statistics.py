"""District statistics: per-unit figures for a period, and late dossiers grouped by unit.

The per-unit figures are the unit subtotal rows of Biểu 06 for the same period
(:func:`node.reporting.build`), so the page and the form cannot disagree: one definition of each
status group (received in the period, carried over, resolved, pending, overdue = pending past its
due time, withdrawn), judged as of the period's end or now, whichever is earlier.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

import peewee as pw

from node import reporting
from node.dossiers import row_to_dict
from node.models import DossierRow
from node.queries.bounds import open_only
from node.reference import ReferenceData
from sync.ledger import ProfileRow

STAT_FIELDS = ("received", "carried_over", "resolved", "pending", "overdue", "withdrawn")


def by_unit(reference: ReferenceData, now: int, first: date, last: date) -> list[dict[str, Any]]:
    """Per unit held: Biểu 06's cols 4+5 (received in the period), 6, 7, 11, 13 and withdrawn."""
    result = reporting.build(reporting.period_of(first, last, now), reference.calendar(), reference.catalogue(),
                             reference.status_mapping())
    return [
        {"scope": row.unit, "received": row.received_new, "carried_over": row.carried_over,
         "resolved": row.resolved_total, "pending": row.pending_total, "overdue": row.pending_overdue,
         "withdrawn": row.withdrawn}
        for row in result.report.rows if row.unit is not None and row.sector is None
    ]


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
