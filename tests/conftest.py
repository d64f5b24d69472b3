"""Shared fixtures: settings in a temp dir, nodes on SQLite and (when DATABASE_URL is set) on
PostgreSQL, a fake clock, the Flask app and client.

PostgreSQL: each test session creates its own database next to the one ``DATABASE_URL`` names
and drops it at the end; each test starts from an empty schema. When ``DATABASE_URL`` is not
set the PostgreSQL variants are skipped *with that reason printed* (``-ra``); when it is set but
the server does not answer, they fail with a message saying so — never a silent pass.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.db import open_database
from tests.factories import FakeClock, init_node_dir, make_settings, reset_postgres

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("MOTCUA_"):
            monkeypatch.delenv(name)
    # unlock caches of in-process CLI runs stay in the test's folder, not in /dev/shm
    monkeypatch.setenv("MOTCUA_RUNTIME_DIR", str(tmp_path / "motcua-run"))
    # the CLI speaks Vietnamese by default; the tests that read its English words ask for English
    # (tests/integration/test_cli_language.py deletes this to check the default)
    monkeypatch.setenv("MOTCUA_LANG", "en")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    base = os.environ.get("DATABASE_URL")
    if not base:
        pytest.skip("DATABASE_URL is not set: PostgreSQL storage tests not run (CI sets it in .ci/run)")
    import psycopg

    name = f"motcua_test_{uuid.uuid4().hex[:10]}"
    try:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as e:
        pytest.fail(f"DATABASE_URL is set but PostgreSQL does not answer: {e}")
    prefix, _, _ = base.rpartition("/")
    yield f"{prefix}/{name}"
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def node(backend: str, tmp_path: Path, clock: FakeClock, request: pytest.FixtureRequest):
    """A commune node on the parametrised backend, with a fake clock."""
    from node.services import Node

    extra = {}
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
        reset_postgres(url)
        extra["DATABASE_URL"] = url
    data_dir = tmp_path / "node"
    key = init_node_dir(data_dir)
    settings = make_settings(data_dir, **extra)
    db = open_database(settings)
    n = Node(settings, db, key, clock)
    yield n
    n.close()


@pytest.fixture
def sqlite_node(tmp_path: Path, clock: FakeClock):
    from node.services import Node

    data_dir = tmp_path / "node"
    key = init_node_dir(data_dir)
    settings = make_settings(data_dir)
    n = Node(settings, open_database(settings), key, clock)
    yield n
    n.close()


@pytest.fixture
def app(sqlite_node):
    from node.app import create_app

    application = create_app(sqlite_node.settings, node=sqlite_node)
    application.config["TESTING"] = True
    return application


@pytest.fixture
def client(app, clock, monkeypatch):
    """A test client of ``app`` that calls the JSON API as a head of office (``canbo.lan``) with a
    write token; web UI pages still need a sign-in."""
    from tests.integration.web_helpers import cheap_hashing, give_token

    cheap_hashing(monkeypatch)
    c = app.test_client()
    give_token(c, now=clock())
    return c


@pytest.fixture(scope="session")
def district_ca():
    """One district CA per test session, so that real nodes sync the way production nodes do
    (certificates, https) without a pairing round trip each (``tests.scenarios.harness.certify``)."""
    from datetime import UTC, datetime, timedelta

    from certs import create_ca

    return create_ca("40", now=datetime.now(UTC) - timedelta(minutes=5), lifetime=timedelta(days=365))


@pytest.fixture(autouse=True)
def _cheap_key_slots(monkeypatch: pytest.MonkeyPatch) -> None:
    """Key slots derived with tiny Argon2 parameters in-process (the real ones cost 64 MiB and
    a few hundred ms per slot), as cheap_hashing does for the password hashes."""
    from node import atrest

    monkeypatch.setattr(atrest, "KDF", atrest.KdfParams(t=1, m=8, p=1))
