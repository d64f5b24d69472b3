"""Derived state: fold events into ``DossierRow`` (the only code converting between the two).

Invariants
----------
* :func:`project` recomputes every touched dossier from *all* of its stored events, so the row
  is the same whatever order the events arrived in (Rule 1 of :mod:`node.domain.dossier`). A
  dossier has a handful of events; refolding them is cheaper than reasoning about increments.
* :func:`project` runs inside the caller's write transaction: an event and the state derived
  from it commit together or not at all.
* :func:`derived_digest` hashes the derived tables in a canonical order, so two replicas with
  the same events, or one node before and after :func:`rebuild`, give the same digest.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import asdict

from node.domain import dossier as domain
from node.models import DERIVED_MODELS, DossierRow
from sync import store
from sync.wire import Event, canonical_json


def _row(state: domain.DossierState) -> dict:
    data = asdict(state)
    data["heads"] = " ".join(state.heads)
    data["national_code"] = state.national_code
    return data


def project(events: Iterable[Event]) -> int:
    """Bring the derived rows of the entities these events touch up to date; return the count."""
    entities = {e.entity for e in events if e.entity_kind == domain.KIND}
    if not entities:
        return 0
    grouped = store.events_for_entities(entities)
    rows = []
    for entity, evs in grouped.items():
        state = domain.fold(entity.split("/", 1)[1], evs)
        if state is not None:
            rows.append(_row(state))
    for start in range(0, len(rows), 50):
        chunk = rows[start : start + 50]
        DossierRow.insert_many(chunk).on_conflict(
            conflict_target=[DossierRow.id],
            preserve=[f for f in DossierRow._meta.sorted_field_names if f != "id"],
        ).execute()
    return len(rows)


def rebuild(progress: Callable[[int, int], None] | None = None, chunk: int = 500) -> int:
    """Drop and recompute every derived table from the events; return dossiers rebuilt."""
    db = store.database.obj
    with store.write_transaction():
        db.drop_tables(list(DERIVED_MODELS), safe=True)
        db.create_tables(list(DERIVED_MODELS))
        entities = store.all_entities(domain.KIND)
        total, done = len(entities), 0
        for start in range(0, total, chunk):
            part = entities[start : start + chunk]
            grouped = store.events_for_entities(part)
            project(e for evs in grouped.values() for e in evs)
            done += len(part)
            if progress:
                progress(done, total)
    return total


def derived_digest() -> str:
    """SHA-256 over every derived row in primary-key order, canonically encoded."""
    h = hashlib.sha256()
    for model in DERIVED_MODELS:
        h.update(model._meta.table_name.encode() + b"\x00")
        for row in model.select().order_by(model._meta.primary_key).dicts().iterator():
            h.update(canonical_json(row) + b"\n")
    return h.hexdigest()
