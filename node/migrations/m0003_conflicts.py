"""Conflict records and stage owners in the derived state: drop, recreate and rebuild it.

Derived tables are a function of the events, so a schema change to them is a rebuild, never a
data migration (and the rebuild is what ``motcua rebuild`` does).
"""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node import projection
    from node.models import DERIVED_MODELS

    db.drop_tables(list(DERIVED_MODELS), safe=True)
    db.create_tables(list(DERIVED_MODELS))
    projection.rebuild()
