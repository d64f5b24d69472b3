"""Personal API tokens (issue 10): the ``api_token`` table, local to the node like the accounts
it belongs to; a rebuild never touches it."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node.models import ApiTokenRow

    db.create_tables([ApiTokenRow], safe=True)
