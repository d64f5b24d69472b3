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
* Besides dossiers (and the codes their events issued, :mod:`node.codes`), the projection keeps
  the reference data in force (:mod:`node.reference`), the leased number blocks and the authority
  violations (:mod:`node.authority`); each is a function of the events of its own entities and
  of the authority view (the certified role and unit of their origins), nothing else.
* Authority comes from the origin's certificate, never from an event body (Rules A1-A6 of
  :mod:`node.domain.authority`): an event without it is kept, changes nothing, and gets a
  ``ViolationRow`` instead.
* Events a district revoked (after the origin's cut-off) count nowhere. A revocation that
  arrives re-projects at once every entity the revoked origin's later events touched, of every
  kind, so the derived state after it equals a :func:`rebuild`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import asdict, fields
from types import SimpleNamespace

import peewee as pw

from node import authority, codes, reference
from node.binding import database, node_store
from node.domain import dossier as domain
from node.domain.attachment import ATTACHED
from node.domain.attachment import attachments as fold_attachments
from node.domain.authority import Authority
from node.domain.conflict import Conflict, Folded, find_duplicates
from node.domain.merge import fold_checked
from node.models import ADDED_DERIVED_MODELS, DERIVED_MODELS, AttachmentRow, ConflictRow, DossierRow, DossierServiceRow
from sync import store
from sync.rows import RevocationRow
from sync.trust import REVOKED
from sync.wire import Event, canonical_json

SERVICE_FIELDS = ("fee_status", "fee_amount_vnd", "fee_receipt", "rating", "rated_at", "rating_channel",
                  "rating_comment")


def _service_row(state: domain.DossierState) -> dict | None:
    """The dossier's fee and rating row, or None when it has neither (an older dossier)."""
    if not state.fee_status and not state.rating:
        return None
    return {"dossier_id": state.id, "scope": state.scope, "received_at": state.received_at,
            **{name: getattr(state, name) for name in SERVICE_FIELDS}}


def _row(folded: Folded) -> dict:
    state = folded.state
    # flat: asdict's deep copy is slow; fees and ratings go to their own table (_service_row)
    data = {f.name: getattr(state, f.name) for f in fields(state) if f.name not in SERVICE_FIELDS}
    data["heads"] = " ".join(state.heads)
    data["national_code"] = state.national_code
    data["foreign_resolutions"] = json.dumps(folded.resolutions, sort_keys=True, ensure_ascii=False)
    data["history"] = json.dumps(state.history, separators=(",", ":"))
    data["pauses"] = json.dumps(state.pauses, separators=(",", ":"))
    return data


def _conflict_row(c: Conflict, scope: str) -> dict:
    data = asdict(c)
    data["scope"] = scope
    data["winner_value"] = json.dumps(c.winner_value, ensure_ascii=False, sort_keys=True)
    data["loser_value"] = json.dumps(c.loser_value, ensure_ascii=False, sort_keys=True)
    return data


def _upsert(model, rows: list[dict]) -> None:
    """Insert or replace rows by primary key with one prepared statement."""
    if not rows:
        return
    columns = tuple(model._meta.sorted_field_names)
    key = model._meta.primary_key.name
    store.bulk_insert(
        model, columns, [tuple(r[c] for c in columns) for r in rows],
        conflict=(key,), update=tuple(c for c in columns if c != key),
    )


def _events_of(entities: set[str], events: list[Event]) -> dict[str, list[Event]]:
    """All events of ``entities``: the ones in hand, plus those stored before (read only for
    dossiers that had any). A hub receiving new dossiers reads nothing back."""
    in_hand: dict[str, list[Event]] = {}
    for e in events:
        if e.entity in entities:
            in_hand.setdefault(e.entity, []).append(e)
    held = node_store().held_event_counts(entities)
    complete = {entity for entity, evs in in_hand.items() if held.get(entity, 0) == len(evs)}
    grouped = {entity: in_hand[entity] for entity in complete}
    grouped.update(node_store().events_for_entities(entities - complete))
    return grouped


TRUST_KIND = "node"  # revocations and any other trust material (Rule A4)
SHARED_KINDS = (reference.ENTITY_KIND, codes.BLOCK_KIND, TRUST_KIND)


def project(events: Iterable[Event]) -> int:
    """Bring the derived rows of the entities these events touch up to date; return the count."""
    return _project(list(events), follow_revocations=True)


def _project(events: list[Event], follow_revocations: bool) -> int:
    entities = {e.entity for e in events if e.entity_kind in (domain.KIND, *SHARED_KINDS)}
    if follow_revocations:
        entities |= _entities_hit_by_revocations(events)
    if not entities:
        return 0
    lock_keys("entity", entities)
    grouped = without_revoked(_events_of(entities, events))
    view = authority.view({e.origin for evs in grouped.values() for e in evs})
    by_kind: dict[str, dict[str, list[Event]]] = {}
    for entity, evs in grouped.items():
        by_kind.setdefault(entity.split("/", 1)[0], {})[entity] = evs
    violations = []
    if reference.ENTITY_KIND in by_kind:
        violations += reference.project(by_kind[reference.ENTITY_KIND], view)
    if codes.BLOCK_KIND in by_kind:
        violations += codes.project_blocks(by_kind[codes.BLOCK_KIND], view)
    for evs in by_kind.get(TRUST_KIND, {}).values():
        # revocations themselves are applied at ingest (sync.trust.apply_revocations) by the same rule
        violations += [view.violation(e, reason) for e in evs if (reason := view.on_shared(e.origin))]
    dossiers = by_kind.get(domain.KIND, {})
    count = _project_dossiers(dossiers, view, violations)
    authority.replace(grouped, violations)
    return count


def lock_keys(kind: str, keys: Iterable[object]) -> None:
    """On PostgreSQL, hold a transaction-scoped advisory lock on each key, taken in sorted order.

    A hub runs several worker processes (node.wsgi), and two of them may ingest events of the same
    dossier at once, from two feeds (a commune PC and its laptop). Under READ COMMITTED each
    would fold the events it sees, without the other's uncommitted ones, and the last to commit
    would overwrite the row: a derived state no rebuild gives. With the lock the second waits for
    the first to commit, and its reads (each statement sees what is committed when it starts) then
    include the first's events. ``kind`` keeps the namespaces apart (entities, duplicate keys);
    sorted order, and entities always before duplicate keys within a projection, keeps two
    projections from waiting for each other in a cycle (a transaction projecting twice might
    still; ingest then runs it again, sync.ingest). SQLite needs none: a writer holds the whole
    database (BEGIN IMMEDIATE).
    """
    db = database.obj
    if db is None or isinstance(db, pw.SqliteDatabase):
        return
    names = sorted({f"{kind}:{k}" for k in keys})
    if names:
        db.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM unnest(%s::text[]) AS k "
                       "ORDER BY k", (names,))


def _project_dossiers(grouped: dict[str, list[Event]], view: Authority, violations: list) -> int:
    rows, conflicts, ids, refused, gone, services, files = [], [], [], [], [], [], []
    with_files: list[str] = []  # dossiers whose attachment rows are replaced (an attach may have lost effect)
    for entity, evs in grouped.items():
        folded, without = fold_checked(entity.split("/", 1)[1], evs, view)
        refused.extend(without)
        if folded is None:
            gone.append(entity.split("/", 1)[1])  # e.g. its reception was revoked: no dossier any more
            continue
        ids.append(folded.state.id)
        rows.append(_row(folded))
        if (service := _service_row(folded.state)) is not None:
            services.append(service)
        conflicts.extend(_conflict_row(c, folded.state.scope) for c in folded.conflicts)
        if any(e.type == ATTACHED for e in evs):
            with_files.append(folded.state.id)
            files.extend(_attachment_rows(folded.state, evs, {v.ref for v in without}))
    codes.project_issued(grouped, frozenset(v.ref for v in refused))
    violations.extend(refused)
    keys = {(r["id_number"], r["procedure_code"]) for r in rows if r["id_number"]}
    keys |= _drop_dossiers(gone)
    _upsert(DossierRow, rows)
    for start in range(0, len(ids), 500):
        DossierServiceRow.delete().where(DossierServiceRow.dossier_id.in_(ids[start : start + 500])).execute()
    _upsert(DossierServiceRow, services)
    for start in range(0, len(ids), 500):
        ConflictRow.delete().where(
            ConflictRow.dossier_id.in_(ids[start : start + 500]) & (ConflictRow.kind != "duplicate")
        ).execute()
    _upsert(ConflictRow, conflicts)
    _refresh_duplicates(keys)
    stale = gone + with_files
    if stale:
        for start in range(0, len(stale), 500):
            AttachmentRow.delete().where(AttachmentRow.dossier_id.in_(stale[start : start + 500])).execute()
        _upsert(AttachmentRow, files)
    return len(rows)


def _attachment_rows(state, events: list[Event], refused: set[str]) -> list[dict]:
    """Rows of the files a dossier's events attached (Rules F1-F3 of node.domain.attachment)."""
    rows = []
    for a in fold_attachments(events, refused):
        spec, thumb = a["file"], a["thumb"]
        rows.append({
            "ref": a["ref"], "dossier_id": state.id, "scope": state.scope, "received_at": state.received_at,
            "kind": a["kind"], "component": a["component"], "name": a["name"], "file_hash": spec["hash"],
            "media_type": spec["media_type"], "size": spec["size"], "original_size": a["original_size"],
            "pages": a["pages"], "chunk_size": spec["chunk_size"], "chunks": json.dumps(spec["chunks"]),
            "thumb_hash": thumb["hash"] if thumb else "", "thumb": json.dumps(thumb, sort_keys=True) if thumb else "",
            "at": a["at"], "author": a["author"], "origin": a["origin"],
        })
    return rows


def _drop_dossiers(ids: list[str]) -> set[tuple[str, str]]:
    """Delete the rows of dossiers that no longer fold (their duplicate keys, to refresh)."""
    keys: set[tuple[str, str]] = set()
    for start in range(0, len(ids), 500):
        part = ids[start : start + 500]
        keys |= {(n, p) for n, p in DossierRow.select(DossierRow.id_number, DossierRow.procedure_code)
                 .where(DossierRow.id.in_(part)).tuples() if n}
        DossierRow.delete().where(DossierRow.id.in_(part)).execute()
        DossierServiceRow.delete().where(DossierServiceRow.dossier_id.in_(part)).execute()
        ConflictRow.delete().where(ConflictRow.dossier_id.in_(part)).execute()
    return keys


def reproject_origins(origins: list[str], chunk: int = 500) -> None:
    """Derive again every entity these origins' events touch: their certified role or unit
    changed, and authority was judged with the old ones. Runs in the caller's transaction."""
    entities = sorted({r.entity for r in store.EventRow.select(store.EventRow.entity)
                       .where(store.EventRow.origin.in_(sorted(origins))).distinct()})
    for start in range(0, len(entities), chunk):
        grouped = node_store().events_for_entities(entities[start : start + chunk])
        _project([e for evs in grouped.values() for e in evs], follow_revocations=False)


def fold(dossier_id: str, events: list[Event]) -> Folded | None:
    """One dossier folded with this node's authority view (reads that bypass the derived row)."""
    return fold_checked(dossier_id, events, authority.view({e.origin for e in events}))[0]


def without_revoked(grouped: dict[str, list[Event]]) -> dict[str, list[Event]]:
    """Drop events a district revoked (after the origin's cut-off): they never count (also for
    what is folded when read, such as ID-card registrations, :mod:`node.id_cards`)."""
    cutoffs = {r.node_id: json.loads(r.after) for r in RevocationRow.select()}
    if not cutoffs:
        return grouped
    return {
        entity: [e for e in evs if e.origin not in cutoffs or e.seq <= cutoffs[e.origin].get(e.scope, 0)]
        for entity, evs in grouped.items()
    }


def _entities_hit_by_revocations(events: list[Event]) -> set[str]:
    """Entities (of every kind) with events that a revocation among ``events`` just made invalid:
    they are projected again at once, so the derived state equals a rebuild."""
    named = (e.body.get("node_id") for e in events if e.type == REVOKED and isinstance(e.body, dict))
    revoked = sorted({n for n in named if isinstance(n, str)})
    hit: set[str] = set()
    for row in RevocationRow.select().where(RevocationRow.node_id.in_(revoked)) if revoked else ():
        after = json.loads(row.after)
        valid = pw.Value(False)
        for scope, seq in after.items():
            valid |= (store.EventRow.scope == scope) & (store.EventRow.seq <= seq)
        query = store.EventRow.select(store.EventRow.entity).where(
            (store.EventRow.origin == row.node_id) & ~valid
        ).distinct()
        hit.update(r.entity for r in query)
    return hit


def _refresh_duplicates(keys: set[tuple[str, str]]) -> None:
    """Recompute duplicate-application conflicts for the (ID number, procedure) keys touched."""
    if not keys:
        return
    # another worker may be committing a dossier under the same key right now (see lock_keys)
    lock_keys("duplicate", (f"{n}\x1f{p}" for n, p in keys))
    # only keys held more than once can be duplicates: one GROUP BY instead of reading every row
    candidates = sorted({k[0] for k in keys})
    id_numbers = []
    for start in range(0, len(candidates), 500):
        query = (
            DossierRow.select(DossierRow.id_number, DossierRow.procedure_code)
            .where(DossierRow.id_number.in_(candidates[start : start + 500]))
            .group_by(DossierRow.id_number, DossierRow.procedure_code)
            .having(pw.fn.COUNT(DossierRow.id) > 1)
            .tuples()
        )
        id_numbers.extend(n for n, p in query if (n, p) in keys)
    id_numbers = sorted(set(id_numbers))
    for start in range(0, len(id_numbers), 500):
        members = [
            r for r in DossierRow.select().where(DossierRow.id_number.in_(id_numbers[start : start + 500]))
            if (r.id_number, r.procedure_code) in keys
        ]
        ids = [r.id for r in members]
        resolutions: dict = {}
        for r in members:
            resolutions.update({k: tuple(v) for k, v in json.loads(r.foreign_resolutions).items()})
        states = [SimpleNamespace(**{f: getattr(r, f) for f in (
            "id", "id_number", "procedure_code", "status", "origin", "received_at", "code", "scope")})
            for r in members]
        ConflictRow.delete().where(
            (ConflictRow.kind == "duplicate") & (ConflictRow.winner.in_(ids) | ConflictRow.loser.in_(ids))
        ).execute()
        scope_of = {s.id: s.scope for s in states}
        _upsert(ConflictRow, [_conflict_row(c, scope_of[c.loser]) for c in find_duplicates(states, resolutions)])


def rebuild(progress: Callable[[int, int], None] | None = None, chunk: int = 500) -> int:
    """Drop and recompute every derived table from the events; return dossiers rebuilt."""
    db, events = database.obj, node_store()
    with events.write_transaction():
        db.drop_tables(list(DERIVED_MODELS), safe=True)
        db.create_tables(list(DERIVED_MODELS))
        for kind in SHARED_KINDS:
            shared = events.all_entities(kind)
            for start in range(0, len(shared), chunk):
                grouped = events.events_for_entities(shared[start : start + chunk])
                _project([e for evs in grouped.values() for e in evs], follow_revocations=False)
        entities = events.all_entities(domain.KIND)
        total, done = len(entities), 0
        for start in range(0, total, chunk):
            part = entities[start : start + chunk]
            grouped = events.events_for_entities(part)
            _project([e for evs in grouped.values() for e in evs], follow_revocations=False)
            done += len(part)
            if progress:
                progress(done, total)
    return total


def derived_digest() -> str:
    """SHA-256 over every derived row in primary-key order, canonically encoded."""
    h = hashlib.sha256()
    for model in DERIVED_MODELS:
        if model in ADDED_DERIVED_MODELS and not model.select().exists():
            continue  # an empty table added after release: the digest of older events is unchanged
        h.update(model._meta.table_name.encode() + b"\x00")
        for row in model.select().order_by(model._meta.primary_key).dicts().iterator():
            h.update(canonical_json(row) + b"\n")
    return h.hexdigest()
