"""The stores the contract suite runs on: memory, SQLite (a file, WAL) and PostgreSQL.

PostgreSQL follows the rule of ``tests/conftest.py``: without ``DATABASE_URL`` its cases are
skipped with that reason printed (``-ra``); with it set and the server silent they fail. And
when the run asks for PostgreSQL (``-m postgres``) a missing ``DATABASE_URL`` fails too: a run
that asked for the PostgreSQL contract never passes without running it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import peewee as pw
import pytest
from playhouse.db_url import connect as connect_url

from sync.eventstore import Store
from sync.memory import MemoryStore
from sync.store import PeeweeStore
from tests.factories import reset_postgres

STORES = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

MakeStore = Callable[[], Store]


def sqlite_database(path: Path) -> pw.SqliteDatabase:
    # what node/db.py opens, minus what only matters on a real PC (synchronous=FULL, cache)
    return pw.SqliteDatabase(str(path), pragmas={"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 15000},
                             check_same_thread=False)


@pytest.fixture(params=STORES)
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeStore]:
    """A factory of empty stores of the parametrised kind (each call: a new database)."""
    kind = request.param
    opened: list[pw.Database] = []

    def make() -> Store:
        if kind == "memory":
            return MemoryStore()
        if kind == "sqlite":
            db: pw.Database = sqlite_database(tmp_path / f"store{len(opened)}.sqlite3")
        else:
            if opened:
                raise NotImplementedError("one PostgreSQL store per test")
            if not os.environ.get("DATABASE_URL") and "postgres" in (request.config.option.markexpr or ""):
                pytest.fail("the PostgreSQL contract was asked for (-m postgres) but DATABASE_URL is not set")
            url = request.getfixturevalue("pg_url")
            reset_postgres(url)
            db = connect_url(url)
        opened.append(db)
        store = PeeweeStore(db)
        db.connect(reuse_if_open=True)
        store.create_tables()
        return store

    yield make
    for db in opened:
        db.close()


@pytest.fixture
def store(make_store: MakeStore) -> Store:
    return make_store()
