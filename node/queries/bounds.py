"""How the read models stay fast on a large node: capped counts and the open-dossier filter."""

from __future__ import annotations

import peewee as pw

from node.domain.dossier import OPEN_STATUSES
from node.models import DossierRow

COUNT_CAP = 10_000  # beyond this a count reads "10000+": nobody acts on the exact number


def capped_count(query: pw.SelectQuery) -> int:
    """The number of rows of ``query``, counting no further than :data:`COUNT_CAP` + 1."""
    return query.select(pw.SQL("1")).limit(COUNT_CAP + 1).count()


def open_only(query: pw.SelectQuery) -> pw.SelectQuery:
    """``query`` restricted to open dossiers (:data:`node.domain.dossier.OPEN_STATUSES`)."""
    # Wrapped in a CASE on purpose: a bare ``status IN (…)`` makes SQLite pick the status index
    # (most dossiers are open, so it matches nearly all) and sort them all by due_at; through the
    # CASE it walks the due_at index in order and stops at the LIMIT (60 ms -> 2 ms at 100,000).
    return query.where(pw.Case(None, [(DossierRow.status.in_(OPEN_STATUSES), 1)], 0) == 1)
