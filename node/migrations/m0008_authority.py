"""Authority from certificates in the fold: the ``authority_violation`` table, and a rebuild.

The fold no longer reads the office and role an event body claims; it takes them from the
origin's certified profile, and events without authority stop having effect. Every derived
table may change, so this recomputes them all from the events (the same as ``motcua rebuild``):
derived tables are never migrated as data.
"""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node import projection
    from node.models import DERIVED_MODELS

    db.drop_tables(list(DERIVED_MODELS), safe=True)
    db.create_tables(list(DERIVED_MODELS))
    projection.rebuild()
