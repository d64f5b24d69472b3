"""Initial schema: event store, sync ledger (profiles, peers, sessions, quarantine), dossiers."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node.models import DERIVED_MODELS
    from sync.ledger import LEDGER_MODELS
    from sync.store import EVENT_MODELS

    db.create_tables([*EVENT_MODELS, *LEDGER_MODELS, *DERIVED_MODELS])
