"""Node-local state that is not derived from events (the write gate)."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node.writegate import NodeStateRow

    db.create_tables([NodeStateRow])
