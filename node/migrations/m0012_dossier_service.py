"""Fees and satisfaction ratings (issue 12, points 9-10): the derived ``dossier_service`` table.

Derived tables are never migrated as data: the table is created and filled from the events by a
rebuild. A node holding only older events gets an empty table, which adds nothing to the derived
digest (:data:`node.models.ADDED_DERIVED_MODELS`).
"""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node import projection
    from node.models import DossierServiceRow

    db.create_tables([DossierServiceRow], safe=True)
    projection.rebuild()
