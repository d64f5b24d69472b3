"""Opening the node's database and bringing its schema up to date.

SQLite is the embedded default (``<data dir>/motcua.sqlite3``) with WAL and
``synchronous=FULL``: in WAL mode ``NORMAL`` may lose the last commits on power loss, and a
commune node acknowledges batches to laptops that may then drop their copy (reliability.md
§0.1), so a commit the UI or a peer was told about must survive a power cut. PostgreSQL is used
when the ``DATABASE_URL`` setting names one (the district hub in production).

Encryption at rest (:mod:`node.atrest`): a node whose data directory holds a keyring has its
SQLite database encrypted whole by SQLCipher (pages of the database, its WAL and every index),
keyed with the raw 256-bit data key (``PRAGMA key = "x'…'"``, so no passphrase KDF runs at each
connection); the key comes from the caller or, when none is given, from
:func:`node.lockstate.resolve_data_key` (the unlock cache, or the setup slot of a node without
accounts), and :class:`node.atrest.NodeLocked` is raised when neither has it. A node without a
keyring is a plaintext node from before encryption (``motcua encrypt`` converts it).

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
from playhouse.sqlcipher_ext import SqlCipherDatabase

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


SQLITE_HEADER = b"SQLite format 3\x00"


class EncryptedSqliteDatabase(SqlCipherDatabase):
    """SQLCipher keyed with a raw 256-bit key; ``PRAGMA key`` runs before any other statement
    (the pragmas above included), as SQLCipher requires."""

    def __init__(self, database: str, data_key: bytes, **kwargs: object) -> None:
        self._raw_key = data_key.hex()
        super().__init__(database, **kwargs)

    def _connect(self):
        from sqlcipher3 import dbapi2 as sqlcipher

        conn = sqlcipher.connect(self.database, timeout=self._timeout, isolation_level=None,
                                 **self.connect_params)
        try:
            # a wrong key is reported as "file is not a database"; SQLCipher's own log lines
            # on stderr would only repeat it in every CLI error
            conn.execute("PRAGMA cipher_log_level = NONE")
            conn.execute(f"PRAGMA key = \"x'{self._raw_key}'\"")
            self._add_conn_hooks(conn)
        except Exception:
            conn.close()
            raise
        return conn


def sqlite_is_plaintext(path: Path) -> bool:
    """True if ``path`` is an unencrypted SQLite file (its header is readable)."""
    try:
        with open(path, "rb") as f:
            return f.read(16) == SQLITE_HEADER
    except FileNotFoundError:
        return False


def connect_sqlite(path: Path | str, data_key: bytes | None, *, pragmas: dict | None = None,
                   **kwargs: object) -> pw.SqliteDatabase:
    """A peewee database on the SQLite file ``path``: SQLCipher with ``data_key``, or plain."""
    pragmas = SQLITE_PRAGMAS if pragmas is None else pragmas
    if data_key is None:
        return pw.SqliteDatabase(str(path), pragmas=pragmas, check_same_thread=False, **kwargs)
    return EncryptedSqliteDatabase(str(path), data_key, pragmas=pragmas, check_same_thread=False, **kwargs)


def dbapi_connect(path: Path | str, data_key: bytes | None, **kwargs: object):  # -> DB-API connection
    """A bare DB-API connection (backups, integrity checks): SQLCipher keyed with ``data_key``,
    else the standard library's sqlite3."""
    if data_key is None:
        import sqlite3

        return sqlite3.connect(path, **kwargs)
    from sqlcipher3 import dbapi2 as sqlcipher

    con = sqlcipher.connect(path, **kwargs)
    con.execute("PRAGMA cipher_log_level = NONE")
    con.execute(f"PRAGMA key = \"x'{data_key.hex()}'\"")
    return con


def make_database(settings: Settings, data_key: bytes | None = None) -> pw.Database:
    """Create (not yet connect) the database the settings name; see the module docstring for
    where the data key comes from when ``data_key`` is None."""
    url = settings.DATABASE_URL
    if url:
        if not url.startswith(("postgres://", "postgresql://")):
            raise ValueError("DATABASE_URL must be a postgresql:// URL; SQLite is the default without it")
        return connect_url(url)
    path: Path = settings.sqlite_path
    if data_key is None:
        from node.lockstate import resolve_data_key

        data_key = resolve_data_key(settings)
    if read_only_file(path):
        # Opened read-only on purpose, also for root (whom file modes do not stop): the node
        # serves reads and refuses writes with read_only (node.storage) instead of failing to start.
        return connect_sqlite(f"file:{path}?mode=ro", data_key, pragmas={"busy_timeout": 15000}, uri=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    return connect_sqlite(path, data_key)


def read_only_file(path: Path) -> bool:
    """A database file that exists and that nobody may write (its mode), or in a directory or on a
    mount this process cannot write."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False
    return not mode & 0o222 or not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK)


def open_database(settings: Settings, *, migrate_schema: bool = True, data_key: bytes | None = None) -> pw.Database:
    """Bind the models to the configured database and apply pending migrations."""
    db = make_database(settings, data_key)
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
