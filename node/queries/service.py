"""Fee totals (Decree 61/2018 art. 22) and satisfaction ratings (Decree 61 art. 31; Circular
01/2018/TT-VPCP arts. 12-14) per unit and period, from the derived ``dossier_service`` table.

A fee belongs to the period its dossier was received in (it is recorded at reception, Rule S1 of
:mod:`node.domain.service`); a rating to the period it was given in. The unit is the receiving
unit (the dossier's scope). Dossiers received before fees were recorded count in no total.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import peewee as pw

from node.domain.service import FEE_STATUSES, RATING_LEVELS
from node.domain.vietnam_time import day_start_ms
from node.models import DossierServiceRow as S


def _bounds(first: date, last: date) -> tuple[int, int]:
    return day_start_ms(first), day_start_ms(last + timedelta(days=1))


def fee_totals(first: date, last: date) -> list[dict[str, Any]]:
    """Per unit: dossiers per fee status, and the đồng collected (paid) and still owed (unpaid)."""
    start, end = _bounds(first, last)
    columns = [pw.fn.SUM(pw.Case(None, [(S.fee_status == s, 1)], 0)).alias(s) for s in FEE_STATUSES]
    query = (
        S.select(
            S.scope, *columns,
            pw.fn.SUM(pw.Case(None, [(S.fee_status == "paid", S.fee_amount_vnd)], 0)).alias("paid_vnd"),
            pw.fn.SUM(pw.Case(None, [(S.fee_status == "unpaid", S.fee_amount_vnd)], 0)).alias("unpaid_vnd"),
        )
        .where((S.received_at >= start) & (S.received_at < end) & (S.fee_status != ""))
        .group_by(S.scope)
        .order_by(S.scope)
    )
    return [{k: (int(v or 0) if k != "scope" else v) for k, v in r.items()} for r in query.dicts()]


def ratings(first: date, last: date) -> list[dict[str, Any]]:
    """Per unit: ratings given in the period per level, their count and the satisfied share (%)."""
    start, end = _bounds(first, last)
    columns = [pw.fn.SUM(pw.Case(None, [(S.rating == level, 1)], 0)).alias(level) for level in RATING_LEVELS]
    query = (
        S.select(S.scope, *columns)
        .where((S.rated_at >= start) & (S.rated_at < end) & (S.rating != ""))
        .group_by(S.scope)
        .order_by(S.scope)
    )
    rows = []
    for r in query.dicts():
        row = {k: (int(v or 0) if k != "scope" else v) for k, v in r.items()}
        row["total"] = sum(row[level] for level in RATING_LEVELS)
        satisfied = row["very_satisfied"] + row["satisfied"]
        row["satisfied_pct"] = round(100 * satisfied / row["total"], 1) if row["total"] else 0.0
        rows.append(row)
    return rows
