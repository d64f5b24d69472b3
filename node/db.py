"""Opening the node's database and bringing its schema up to date.

SQLite is the embedded default (``<data dir>/motcua.sqlite3``) with WAL and
``synchronous=FULL``: in WAL mode ``NORMAL`` may lose the last commits on power loss, and a
commune node acknowledges batches to laptops that may then drop their copy (reliability.md
§0.1), so a commit the UI or a peer was told about must survive a power cut. PostgreSQL is used
when the ``DATABASE_URL`` setting names one (the district hub in production).

Migrations are numbered modules in :mod:`node.migrations`, recorded in ``schema_migration``
and applied each in its own transaction, so an interrupted upgrade resumes where it stopped.

Binding. The sync machinery (ingest, local log, outbox, ledger) is given a
:class:`sync.store.PeeweeStore` for the node's database (:func:`store_for`) and needs nothing
global. The node's own tables (:class:`NodeRow`: projections, accounts, node state) and node/'s
direct reads of sync tables (the templates of :mod:`sync.rows`) still go through one proxy,
:data:`database`, that :func:`open_database` points at the node's database: one node per
process for those, as before. :func:`node_store` is the store of that current database, for
node/ functions that are not handed one. These live in :mod:`node.binding`, which imports no
migration, so the tables' modules can use them without an import cycle through the migrations.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import peewee as pw
from playhouse.db_url import connect as connect_url

from node.binding import NodeRow, database, node_store, store_for
from node.config import Settings
from node.migrations import MIGRATIONS

__all__ = ["NodeRow", "database", "node_store", "open_database", "store_for"]

SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "synchronous": 2,  # FULL
    "foreign_keys": 1,
    "busy_timeout": 15000,
    "cache_size": -32000,  # 32 MiB
}


class SchemaMigration(NodeRow):
    version = pw.IntegerField(primary_key=True)
    name = pw.CharField(max_length=100)
    applied_at = pw.BigIntegerField()

    class Meta:
        table_name = "schema_migration"


def make_database(settings: Settings) -> pw.Database:
    """Create (not yet connect) the database the settings name."""
    url = settings.DATABASE_URL
    if url:
        if not url.startswith(("postgres://", "postgresql://")):
            raise ValueError("DATABASE_URL must be a postgresql:// URL; SQLite is the default without it")
        return connect_url(url)
    path: Path = settings.sqlite_path
    if read_only_file(path):
        # Opened read-only on purpose, also for root (whom file modes do not stop): the node
        # serves reads and refuses writes with read_only (node.storage) instead of failing to start.
        return pw.SqliteDatabase(f"file:{path}?mode=ro", uri=True, pragmas={"busy_timeout": 15000},
                                 check_same_thread=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    return pw.SqliteDatabase(str(path), pragmas=SQLITE_PRAGMAS, check_same_thread=False)


def read_only_file(path: Path) -> bool:
    """A database file that exists and that nobody may write (its mode), or in a directory or on a
    mount this process cannot write."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not mode & 0o222 or not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK)


def open_database(settings: Settings, *, migrate_schema: bool = True) -> pw.Database:
    """Bind the models to the configured database and apply pending migrations."""
    db = make_database(settings)
    database.initialize(db)
    db.connect(reuse_if_open=True)
    if migrate_schema:
        migrate(db)
    return db


def is_read_only(db: pw.Database) -> bool:
    """Whether :func:`make_database` opened ``db`` read-only (see :func:`read_only_file`)."""
    return isinstance(db, pw.SqliteDatabase) and str(db.database).startswith("file:") and "mode=ro" in db.database


def applied_versions(db: pw.Database) -> set[int]:
    db.create_tables([SchemaMigration], safe=True)
    return {m.version for m in SchemaMigration.select(SchemaMigration.version)}


def migrate(db: pw.Database) -> list[int]:
    """Apply migrations not yet recorded; return the versions applied now."""
    done = applied_versions(db)
    applied = []
    for version, name, apply in MIGRATIONS:
        if version in done:
            continue
        with db.atomic():
            apply(db)
            SchemaMigration.create(version=version, name=name, applied_at=int(time.time() * 1000))
        applied.append(version)
    return applied


def pending_migrations(db: pw.Database) -> list[int]:
    done = applied_versions(db)
    return [v for v, _, _ in MIGRATIONS if v not in done]


def backend_name(db: pw.Database) -> str:
    return "postgresql" if isinstance(db, pw.PostgresqlDatabase) else "sqlite"
