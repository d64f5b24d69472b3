"""Idempotency keys (issue 14.2): the ``idempotency_key`` table, local to the node like the
accounts whose writes it remembers; a rebuild never touches it."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node.models import IdempotencyRow

    db.create_tables([IdempotencyRow], safe=True)
