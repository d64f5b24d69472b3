"""Initial schema: event store (events, feeds, signed heads, origins) and derived dossiers."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node.models import DERIVED_MODELS
    from sync.store import EVENT_MODELS

    db.create_tables([*EVENT_MODELS, *DERIVED_MODELS])
