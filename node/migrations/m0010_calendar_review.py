"""Calendar reviews (issue 12.1): the ``calendar_review`` table, local to the district node; a
rebuild never touches it."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node.models import CalendarReviewRow

    db.create_tables([CalendarReviewRow], safe=True)
