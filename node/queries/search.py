"""Fast search of the desk: by ID number, dossier code or name (with or without diacritics)."""

from __future__ import annotations

from typing import Any

import peewee as pw

from node import name_index
from node.binding import database
from node.domain.text import fold as fold_text
from node.dossiers import row_to_dict
from node.models import DossierRow
from node.queries.bounds import COUNT_CAP, capped_count


def classify_query(q: str) -> tuple[str, str]:
    """What a search box text is: ``("id", 12 digits)``, ``("id_prefix", digits)``,
    ``("code", upper-case code prefix)`` or ``("name", folded text)``."""
    q = " ".join(q.split())
    if q.isdigit():
        return ("id", q) if len(q) == 12 else ("id_prefix", q)
    if "-" in q and any(c.isdigit() for c in q) and " " not in q:
        return "code", q.upper()
    return "name", fold_text(q)


def _prefix(field: pw.Field, prefix: str) -> pw.Expression:
    # a range, not LIKE: it uses the index on SQLite (LIKE is case-insensitive there) and PostgreSQL
    return (field >= prefix) & (field < prefix + "\uffff")


def search(q: str, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int, bool]:
    """Dossiers matching ``q`` newest first, the number found (capped) and whether it was capped.

    By a 12-digit ID number (exact), digits (ID number prefix), a dossier code (prefix), or a name
    typed with or without diacritics (any part of the folded name).
    """
    kind, value = classify_query(q)
    query = DossierRow.select()
    if not value:
        return [], 0, False
    limit = max(1, min(limit, 200))
    total = None
    if kind == "id":
        query = query.where(DossierRow.id_number == value)
    elif kind == "id_prefix":
        query = query.where(_prefix(DossierRow.id_number, value))
    elif kind == "code":
        query = query.where(_prefix(DossierRow.code, value))
    else:
        found = name_index.matching(database, value, RARE)
        if found is not None:  # a rare name: the index gave every match in order, fetch the page
            page = DossierRow.select().where(DossierRow.id.in_(found[offset : offset + limit]))
            return [row_to_dict(r) for r in _newest_first(page).dicts()], len(found), False
        # a common name matches so many dossiers that walking them newest first finds a page in
        # a few thousand rows, cheaper than sorting every match; the index then only counts
        query = query.where(DossierRow.applicant_name_folded.contains(value))
        total = name_index.count_matching(database, value, COUNT_CAP)
    rows = [row_to_dict(r) for r in _newest_first(query).limit(limit).offset(offset).dicts()]
    if offset == 0 and len(rows) < limit:
        return rows, len(rows), False
    if total is None:
        total = capped_count(query)
    return rows, min(total, COUNT_CAP), total > COUNT_CAP


RARE = 5_000  # name matches up to this are listed from the index; more walk the dossiers by date


def _newest_first(query: pw.SelectQuery) -> pw.SelectQuery:
    return query.order_by(DossierRow.received_at.desc(), DossierRow.id)


def find_by_code(code: str) -> DossierRow | None:
    code = " ".join(code.split()).upper()
    return DossierRow.get_or_none(DossierRow.code == code) if code else None
