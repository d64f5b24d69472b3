"""The event store on peewee: :class:`PeeweeStore`, one instance per database.

A store binds its own copy of the sync tables (:func:`sync.rows.bind_rows`) to the database it is
given, so SQLite on a commune PC, PostgreSQL at the hub, and two nodes' databases in one test
process all work alike, and ``sync/`` never imports ``node/``. This module is the only code that
converts ``EventRow`` to and from :class:`sync.wire.Event`. The ledger half of the interface
(profiles, peers, sessions, quarantine, nonces, revocations) is :class:`sync.ledger.PeeweeLedger`.

Invariants (those of :mod:`sync.eventstore`, and how this implementation keeps them)
------------------------------------------------------------------------------------
* ``(origin, scope, seq)`` is unique: the database itself refuses a duplicate or a second
  history of a feed, whatever the code above does.
* An event row keeps the exact canonical bytes it was hashed and signed over (``raw``); derived
  columns (hlc, entity, type) are copies for indexing and are never trusted by verification.
* ``FeedRow`` holds each feed's head (seq and hash). It is written in the same transaction as
  the events, so ``head_seq`` is always the count of the feed's events on this node.
* Writers hold the database write lock for the whole append (``BEGIN IMMEDIATE`` on SQLite;
  on PostgreSQL an advisory lock on the feed and ``SELECT … FOR UPDATE`` on its row, taken by
  ``feed_head(..., for_update=True)``), so two threads can never both take the same seq.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import peewee as pw

from sync.chain import SignedHead, StoredEvent
from sync.eventstore import FeedHead, StoreIntegrityError
from sync.ledger import PeeweeLedger
from sync.rows import (
    EVENT_MODELS,
    BaseRow,
    EventRow,
    FeedRow,
    HeadSignatureRow,
    OriginRow,
    bind_rows,
)
from sync.wire import GENESIS, Event, canonical_bytes, hash_bytes, load_stored_event

__all__ = [
    "EVENT_MODELS", "BaseRow", "EventRow", "FeedHead", "FeedRow", "HeadSignatureRow", "OriginRow", "PeeweeStore",
    "as_bytes", "bulk_insert",
]


def as_bytes(value: bytes | memoryview | str) -> bytes:
    """Column value as bytes. A text value in ``raw`` can only come from outside tampering
    (SQLite has dynamic typing); it is encoded so verification reports it instead of crashing.
    """
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return bytes(value)


def real_database(db: pw.Database) -> pw.Database:
    """The database behind a ``DatabaseProxy`` (or ``db`` itself)."""
    return db.obj if isinstance(db, pw.DatabaseProxy) else db


def bulk_insert(
    model: type[pw.Model],
    columns: tuple[str, ...],
    rows: list[tuple],
    *,
    conflict: tuple[str, ...] = (),
    update: tuple[str, ...] = (),
) -> None:
    """Insert many rows of ``model`` (on its own database) with one prepared statement.

    The hub's ingest budget (DESIGN §7: 10,000 events/s) is spent mostly building SQL text
    when each row goes through the query builder; one parameterised statement executed many
    times costs a fraction, on SQLite and (pipelined by psycopg 3) on PostgreSQL alike.
    """
    if not rows:
        return
    db = real_database(model._meta.database)
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


class PeeweeStore(PeeweeLedger):
    """:class:`sync.eventstore.Store` on one peewee database (SQLite or PostgreSQL).

    The schema is the application's to migrate (``node/db.py``); :meth:`create_tables` makes
    the sync tables on an empty database (tools and tests).
    """

    def __init__(self, db: pw.Database) -> None:
        self.db = db
        self.rows = bind_rows(db)
        super().__init__()

    def __repr__(self) -> str:
        return f"PeeweeStore({real_database(self.db).database!r})"

    @property
    def is_sqlite(self) -> bool:
        return isinstance(real_database(self.db), pw.SqliteDatabase)

    def create_tables(self) -> None:
        self.db.create_tables(list(self.rows.all()), safe=True)

    def write_transaction(self) -> Any:
        """A transaction that takes the write lock at BEGIN, so reads inside it are not stale."""
        db = real_database(self.db)
        if isinstance(db, pw.SqliteDatabase):
            return db.atomic("IMMEDIATE")
        return db.atomic()

    # -- feeds ------------------------------------------------------------------------------

    def feed_head(self, origin: str, scope: str, *, for_update: bool = False) -> FeedHead:
        Feed = self.rows.Feed
        query = Feed.select().where((Feed.origin == origin) & (Feed.scope == scope))
        if for_update and not self.is_sqlite:
            # FOR UPDATE locks nothing while the feed has no row yet: two writers of a new feed
            # would both take seq 1. A transaction-scoped advisory lock on the feed's name
            # serialises them too (SQLite needs neither: BEGIN IMMEDIATE locks the database).
            self.db.execute_sql("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{origin}:{scope}",))
            query = query.for_update()
        row = query.first()
        if row is None:
            return FeedHead(origin, scope, 0, GENESIS)
        return FeedHead(origin, scope, row.head_seq, row.head_hash)

    def feed_heads(self, feeds: Iterable[tuple[str, str]], *,
                   for_update: bool = False) -> dict[tuple[str, str], FeedHead]:
        """Heads of many feeds in one query per 500 origins (an ingest reads them once per batch)."""
        wanted = sorted(set(feeds))
        out = {f: FeedHead(f[0], f[1], 0, GENESIS) for f in wanted}
        if not wanted:
            return out
        db = real_database(self.db)
        if for_update and not self.is_sqlite:
            # as in feed_head: an advisory lock per feed, taken in one order (no deadlock between
            # two batches), then the rows locked
            db.execute_sql(
                "SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) FROM "
                "(SELECT k FROM unnest(%s::text[]) AS k ORDER BY k) AS keys",
                ([f"{o}:{s}" for o, s in wanted],),
            )
        origins = sorted({o for o, _ in wanted})
        table = self.rows.Feed._meta.table_name
        for start in range(0, len(origins), 500):
            part = origins[start : start + 500]
            lock = " FOR UPDATE" if for_update and not self.is_sqlite else ""
            sql = (f'SELECT origin, scope, head_seq, head_hash FROM "{table}" WHERE origin IN '
                   f'({", ".join([db.param] * len(part))})' + lock)
            for origin, scope, seq, h in db.execute_sql(sql, part).fetchall():
                if (origin, scope) in out:
                    out[(origin, scope)] = FeedHead(origin, scope, seq, h)
        return out

    def feeds(self) -> list[FeedHead]:
        table = self.rows.Feed._meta.table_name
        return [FeedHead(o, s, seq, h) for o, s, seq, h in self._sql(
            f'SELECT origin, scope, head_seq, head_hash FROM "{table}" ORDER BY origin, scope', ())]

    def insert_events(self, events: list[Event], raws: list[bytes] | None = None,
                      hashes: list[str] | None = None) -> list[str]:
        """Insert events that the caller has already checked to extend their feeds; return hashes.

        Must run inside :meth:`write_transaction`. Heads are advanced here, so events and heads
        cannot disagree. ``hashes`` are those of ``raws`` when the caller computed them already.
        """
        if not events:
            return []
        raws = raws if raws is not None else [canonical_bytes(e) for e in events]
        hashes = hashes if hashes is not None else [hash_bytes(r) for r in raws]
        try:
            bulk_insert(
                self.rows.Event,
                ("origin", "scope", "seq", "hash", "hlc", "entity", "type", "raw"),
                [
                    (e.origin, e.scope, e.seq, h, e.hlc, e.entity, e.type, r)
                    for e, r, h in zip(events, raws, hashes, strict=True)
                ],
            )
        except Exception as e:
            # the raw cursor raises the driver's own class (sqlite3, psycopg), not peewee's
            if not any(c.__name__ == "IntegrityError" for c in type(e).__mro__):
                raise
            raise StoreIntegrityError(f"a feed position is already taken: {e}") from e
        heads: dict[tuple[str, str], tuple[int, str]] = {}
        for e, h in zip(events, hashes, strict=True):
            heads[e.feed] = (e.seq, h)
        # one statement for every feed of the batch (a first push of many small feeds has one
        # head per three events)
        bulk_insert(self.rows.Feed, ("origin", "scope", "head_seq", "head_hash"),
                    [(origin, scope, seq, h) for (origin, scope), (seq, h) in sorted(heads.items())],
                    conflict=("origin", "scope"), update=("head_seq", "head_hash"))
        return hashes

    def _in_feed(self, origin: str, scope: str) -> pw.Expression:
        Event = self.rows.Event
        return (Event.origin == origin) & (Event.scope == scope)

    def _sql(self, sql: str, params: tuple) -> list[tuple]:
        """A hand-written query: the outbox asks a few per feed, and building each through the
        query builder cost more than running it (a first push of 1,000 feeds spent 8 s there)."""
        db = real_database(self.db)
        return db.execute_sql(sql.replace("?", db.param), params).fetchall()

    def hash_at(self, origin: str, scope: str, seq: int) -> str:
        if seq <= 0:
            return ""
        rows = self._sql(f'SELECT hash FROM "{self.rows.Event._meta.table_name}" WHERE origin = ? AND scope = ? '
                         "AND seq = ?", (origin, scope, seq))
        return rows[0][0] if rows else ""

    def held_hashes(self, origin: str, scope: str, first: int, last: int) -> dict[int, str]:
        Event = self.rows.Event
        rows = Event.select(Event.seq, Event.hash).where(
            self._in_feed(origin, scope) & (Event.seq >= first) & (Event.seq <= last)
        ).tuples()
        return dict(rows)

    def stored_feed(self, origin: str, scope: str, start: int = 1) -> Iterator[StoredEvent]:
        db = real_database(self.db)
        cursor = db.execute_sql(
            f'SELECT seq, hash, raw FROM "{self.rows.Event._meta.table_name}" WHERE origin = {db.param} '
            f"AND scope = {db.param} AND seq >= {db.param} ORDER BY seq", (origin, scope, start))
        while batch := cursor.fetchmany(500):
            for seq, h, raw in batch:
                yield StoredEvent(seq=seq, hash=h, raw=as_bytes(raw))

    def max_hlc(self, origins: Iterable[str]) -> int:
        Event = self.rows.Event
        wanted = sorted(set(origins))
        if not wanted:
            return 0
        return Event.select(pw.fn.MAX(Event.hlc)).where(Event.origin.in_(wanted)).scalar() or 0

    # -- signed heads -----------------------------------------------------------------------

    def put_head_signature(self, head: SignedHead) -> None:
        Origin, Sig = self.rows.Origin, self.rows.HeadSignature
        Origin.insert(node_id=head.origin, public_key=head.public_key).on_conflict_ignore().execute()
        Sig.insert(
            origin=head.origin, scope=head.scope, seq=head.seq, hash=head.hash, signature=head.signature
        ).on_conflict_ignore().execute()

    def put_head_signatures(self, heads: list[SignedHead]) -> None:
        keys = sorted({(h.origin, bytes(h.public_key)) for h in heads})
        bulk_insert(self.rows.Origin, ("node_id", "public_key"), keys, conflict=("node_id",))
        first = {}
        for h in heads:
            first.setdefault((h.origin, h.scope, h.seq), (h.origin, h.scope, h.seq, h.hash, bytes(h.signature)))
        bulk_insert(self.rows.HeadSignature, ("origin", "scope", "seq", "hash", "signature"),
                    [first[k] for k in sorted(first)], conflict=("origin", "scope", "seq"))

    def head_signature(self, origin: str, scope: str, seq: int) -> bytes | None:
        rows = self._sql(f'SELECT signature FROM "{self.rows.HeadSignature._meta.table_name}" WHERE origin = ? '
                         "AND scope = ? AND seq = ?", (origin, scope, seq))
        return bytes(rows[0][0]) if rows else None

    def signed_seqs(self, origin: str, scope: str, after: int) -> list[int]:
        rows = self._sql(f'SELECT seq FROM "{self.rows.HeadSignature._meta.table_name}" WHERE origin = ? '
                         "AND scope = ? AND seq > ? ORDER BY seq", (origin, scope, after))
        return [seq for (seq,) in rows]

    def latest_signed_head(self, origin: str, scope: str) -> SignedHead | None:
        Sig, Origin = self.rows.HeadSignature, self.rows.Origin
        row = (
            Sig.select()
            .where((Sig.origin == origin) & (Sig.scope == scope))
            .order_by(Sig.seq.desc())
            .first()
        )
        if row is None:
            return None
        key = Origin.get_or_none(Origin.node_id == origin)
        return SignedHead(
            origin=origin,
            scope=scope,
            seq=row.seq,
            hash=row.hash,
            public_key=bytes(key.public_key) if key else b"",
            signature=bytes(row.signature),
        )

    # -- entities ---------------------------------------------------------------------------

    def events_for_entities(self, entities: Iterable[str]) -> dict[str, list[Event]]:
        """All events of the given entities, parsed, grouped by entity (one query per 500 ids)."""
        Event = self.rows.Event
        wanted = sorted(set(entities))
        out: dict[str, list[Event]] = {e: [] for e in wanted}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            for (raw,) in Event.select(Event.raw).where(Event.entity.in_(chunk)).tuples().iterator():
                event = load_stored_event(as_bytes(raw))
                out[event.entity].append(event)
        return out

    def held_event_counts(self, entities: Iterable[str]) -> dict[str, int]:
        """How many events this node holds per entity (one GROUP BY per 500 entities)."""
        Event = self.rows.Event
        wanted = sorted(set(entities))
        out: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            query = (
                Event.select(Event.entity, pw.fn.COUNT(Event.id))
                .where(Event.entity.in_(wanted[start : start + 500]))
                .group_by(Event.entity)
                .tuples()
            )
            out.update(dict(query))
        return out

    def all_entities(self, kind: str) -> list[str]:
        Event = self.rows.Event
        query = (
            Event.select(Event.entity)
            .where(Event.entity.startswith(kind + "/"))
            .distinct()
            .order_by(Event.entity)
            .tuples()
        )
        return [entity for (entity,) in query]

    def count_events(self) -> int:
        return self.rows.Event.select().count()
