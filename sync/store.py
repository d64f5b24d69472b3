"""The event store on peewee: events, feeds, signed heads and known origins.

Models are bound at run time through :data:`database` (a ``DatabaseProxy``) so the same code
serves SQLite on a commune PC and PostgreSQL at the hub, and so ``sync/`` never imports
``node/``. This module is the only code that converts ``EventRow`` to and from
:class:`sync.wire.Event`.

Invariants
----------
* ``(origin, scope, seq)`` is unique: the database itself refuses a duplicate or a second
  history of a feed, whatever the code above does.
* An event row keeps the exact canonical bytes it was hashed and signed over (``raw``); derived
  columns (hlc, entity, type) are copies for indexing and are never trusted by verification.
* ``FeedRow`` holds each feed's head (seq and hash). It is written in the same transaction as
  the events, so ``head_seq`` is always the count of the feed's events on this node.
* Writers hold the database write lock for the whole append (``BEGIN IMMEDIATE`` on SQLite,
  ``SELECT … FOR UPDATE`` on the feed row on PostgreSQL), so two threads can never both take the
  same seq.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import peewee as pw

from sync.chain import SignedHead, StoredEvent
from sync.wire import GENESIS, Event, canonical_bytes, hash_bytes, load_stored_event

database = pw.DatabaseProxy()


class BaseRow(pw.Model):
    class Meta:
        database = database
        legacy_table_names = False


class EventRow(BaseRow):
    """One event, in arrival order (``id`` is this node's local position, never shared)."""

    id = pw.BigAutoField()
    origin = pw.CharField(max_length=32)
    scope = pw.CharField(max_length=40)
    seq = pw.BigIntegerField()
    hash = pw.CharField(max_length=64)
    hlc = pw.BigIntegerField()
    entity = pw.CharField(max_length=200, index=True)
    type = pw.CharField(max_length=80)
    raw = pw.BlobField()

    class Meta:
        table_name = "event"
        indexes = ((("origin", "scope", "seq"), True),)


class FeedRow(BaseRow):
    """Head of one (origin, scope) feed as held on this node."""

    origin = pw.CharField(max_length=32)
    scope = pw.CharField(max_length=40)
    head_seq = pw.BigIntegerField()
    head_hash = pw.CharField(max_length=64)

    class Meta:
        table_name = "feed"
        primary_key = pw.CompositeKey("origin", "scope")


class HeadSignatureRow(BaseRow):
    """An origin's signature over its feed at ``seq``; relays forward these verbatim."""

    origin = pw.CharField(max_length=32)
    scope = pw.CharField(max_length=40)
    seq = pw.BigIntegerField()
    hash = pw.CharField(max_length=64)
    signature = pw.BlobField()

    class Meta:
        table_name = "head_signature"
        primary_key = pw.CompositeKey("origin", "scope", "seq")


class OriginRow(BaseRow):
    """A node whose events we hold: its id and the public key that id is the hash of."""

    node_id = pw.CharField(max_length=32, primary_key=True)
    public_key = pw.BlobField()

    class Meta:
        table_name = "origin"


EVENT_MODELS: tuple[type[BaseRow], ...] = (EventRow, FeedRow, HeadSignatureRow, OriginRow)


@dataclass(frozen=True, slots=True)
class FeedHead:
    origin: str
    scope: str
    seq: int
    hash: str


def as_bytes(value: bytes | memoryview | str) -> bytes:
    """Column value as bytes. A text value in ``raw`` can only come from outside tampering
    (SQLite has dynamic typing); it is encoded so verification reports it instead of crashing.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return bytes(value)


def bulk_insert(
    model: type[BaseRow],
    columns: tuple[str, ...],
    rows: list[tuple],
    *,
    conflict: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
) -> None:
    """Insert many rows with one prepared statement (``executemany``), optionally upserting.

    The hub's ingest budget (DESIGN §7: 10,000 events/s) is spent mostly building SQL text
    when each row goes through the query builder; one parameterised statement executed many
    times costs a fraction, on SQLite and (pipelined by psycopg 3) on PostgreSQL alike.
    """
    if not rows:
        return
    db = database.obj
    table = model._meta.table_name

    def quote(name: str) -> str:
        return f'"{name}"'  # standard SQL identifier quoting, the same in SQLite and PostgreSQL

    marks = ", ".join([db.param] * len(columns))
    sql = f"INSERT INTO {quote(table)} ({', '.join(quote(c) for c in columns)}) VALUES ({marks})"
    if conflict:
        sets = ", ".join(f"{quote(c)} = excluded.{quote(c)}" for c in update)
        sql += f" ON CONFLICT ({', '.join(quote(c) for c in conflict)}) " + (
            f"DO UPDATE SET {sets}" if update else "DO NOTHING"
        )
    cursor = db.cursor()
    if isinstance(db, pw.SqliteDatabase):
        cursor.executemany(sql, rows)
    elif not conflict:
        # PostgreSQL: COPY streams every row in one statement, several times faster than
        # pipelined single-row INSERTs at the hub.
        with cursor.copy(f"COPY {quote(table)} ({', '.join(quote(c) for c in columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        # PostgreSQL upsert: COPY into a session-local scratch table, then one INSERT … SELECT …
        # ON CONFLICT: three statements however many rows.
        scratch = quote(f"_upsert_{table}")
        cols = ", ".join(quote(c) for c in columns)
        cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {scratch} (LIKE {quote(table)}) ON COMMIT DELETE ROWS")
        cursor.execute(f"TRUNCATE {scratch}")
        with cursor.copy(f"COPY {scratch} ({cols}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        on_conflict = sql.partition(f"VALUES ({marks})")[2]
        cursor.execute(f"INSERT INTO {quote(table)} ({cols}) SELECT {cols} FROM {scratch}{on_conflict}")


def write_transaction() -> pw._transaction:
    """A transaction that takes the write lock at BEGIN, so reads inside it are not stale."""
    db = database.obj
    if isinstance(db, pw.SqliteDatabase):
        return db.atomic("IMMEDIATE")
    return db.atomic()


def feed_head(origin: str, scope: str, *, for_update: bool = False) -> FeedHead:
    query = FeedRow.select().where((FeedRow.origin == origin) & (FeedRow.scope == scope))
    if for_update and not isinstance(database.obj, pw.SqliteDatabase):
        query = query.for_update()
    row = query.first()
    if row is None:
        return FeedHead(origin, scope, 0, GENESIS)
    return FeedHead(origin, scope, row.head_seq, row.head_hash)


def insert_events(events: list[Event], raws: list[bytes] | None = None) -> list[str]:
    """Insert events that the caller has already checked to extend their feeds; return hashes.

    Must run inside :func:`write_transaction`. Heads are advanced here, so events and heads
    cannot disagree.
    """
    if not events:
        return []
    raws = raws if raws is not None else [canonical_bytes(e) for e in events]
    hashes = [hash_bytes(r) for r in raws]
    bulk_insert(
        EventRow,
        ("origin", "scope", "seq", "hash", "hlc", "entity", "type", "raw"),
        [
            (e.origin, e.scope, e.seq, h, e.hlc, e.entity, e.type, r)
            for e, r, h in zip(events, raws, hashes, strict=True)
        ],
    )
    heads: dict[tuple[str, str], tuple[int, str]] = {}
    for e, h in zip(events, hashes, strict=True):
        heads[e.feed] = (e.seq, h)
    for (origin, scope), (seq, h) in heads.items():
        (
            FeedRow.insert(origin=origin, scope=scope, head_seq=seq, head_hash=h)
            .on_conflict(
                conflict_target=[FeedRow.origin, FeedRow.scope],
                update={FeedRow.head_seq: seq, FeedRow.head_hash: h},
            )
            .execute()
        )
    return hashes


def put_head_signature(head: SignedHead) -> None:
    OriginRow.insert(node_id=head.origin, public_key=head.public_key).on_conflict_ignore().execute()
    HeadSignatureRow.insert(
        origin=head.origin, scope=head.scope, seq=head.seq, hash=head.hash, signature=head.signature
    ).on_conflict_ignore().execute()


def latest_signed_head(origin: str, scope: str) -> SignedHead | None:
    row = (
        HeadSignatureRow.select()
        .where((HeadSignatureRow.origin == origin) & (HeadSignatureRow.scope == scope))
        .order_by(HeadSignatureRow.seq.desc())
        .first()
    )
    if row is None:
        return None
    key = OriginRow.get_or_none(OriginRow.node_id == origin)
    return SignedHead(
        origin=origin,
        scope=scope,
        seq=row.seq,
        hash=row.hash,
        public_key=bytes(key.public_key) if key else b"",
        signature=bytes(row.signature),
    )


def feeds() -> list[FeedHead]:
    return [
        FeedHead(r.origin, r.scope, r.head_seq, r.head_hash)
        for r in FeedRow.select().order_by(FeedRow.origin, FeedRow.scope)
    ]


def stored_feed(origin: str, scope: str) -> Iterator[StoredEvent]:
    query = (
        EventRow.select(EventRow.seq, EventRow.hash, EventRow.raw)
        .where((EventRow.origin == origin) & (EventRow.scope == scope))
        .order_by(EventRow.seq)
    )
    for row in query.iterator():
        yield StoredEvent(seq=row.seq, hash=row.hash, raw=as_bytes(row.raw))


def events_for_entities(entities: Iterable[str]) -> dict[str, list[Event]]:
    """All events of the given entities, parsed, grouped by entity (one query per 500 ids)."""
    wanted = sorted(set(entities))
    out: dict[str, list[Event]] = {e: [] for e in wanted}
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        for (raw,) in EventRow.select(EventRow.raw).where(EventRow.entity.in_(chunk)).tuples().iterator():
            event = load_stored_event(as_bytes(raw))
            out[event.entity].append(event)
    return out


def held_event_counts(entities: Iterable[str]) -> dict[str, int]:
    """How many events this node holds per entity (one GROUP BY per 500 entities)."""
    wanted = sorted(set(entities))
    out: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        query = (
            EventRow.select(EventRow.entity, pw.fn.COUNT(EventRow.id))
            .where(EventRow.entity.in_(wanted[start : start + 500]))
            .group_by(EventRow.entity)
            .tuples()
        )
        out.update(dict(query))
    return out


def all_entities(kind: str) -> list[str]:
    query = (
        EventRow.select(EventRow.entity)
        .where(EventRow.entity.startswith(kind + "/"))
        .distinct()
        .order_by(EventRow.entity)
    )
    return [r.entity for r in query]


def count_events() -> int:
    return EventRow.select().count()
