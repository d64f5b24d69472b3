"""Reference data in force, procedures, leased number blocks, issued codes, and the dossier's
timing columns (history, pauses, apology, reference versions): new derived tables and columns.

Derived tables are a function of the events, so this is a rebuild, never a data migration (the
same as ``motcua rebuild``).
"""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node import projection
    from node.models import DERIVED_MODELS

    db.drop_tables(list(DERIVED_MODELS), safe=True)
    db.create_tables(list(DERIVED_MODELS))
    projection.rebuild()
