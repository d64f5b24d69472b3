"""The seam itself stays plain: the interface and the memory store import no database library,
and sync's machinery reaches storage only through a store it is given (no module-level
database, no peewee model of its own)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLAIN = ["sync/eventstore.py", "sync/memory.py"]
GIVEN_A_STORE = ["sync/ingest.py", "sync/log.py", "sync/outbox.py", "sync/replica.py", "sync/engine.py",
                 "sync/server.py", "sync/trust.py"]


def imports(path: str) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse((ROOT / path).read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


@pytest.mark.parametrize("path", PLAIN)
def test_the_interface_and_the_memory_store_import_no_database_library(path):
    assert not {m for m in imports(path) if m.split(".")[0] in {"peewee", "playhouse", "psycopg", "sqlite3"}}


@pytest.mark.parametrize("path", GIVEN_A_STORE)
def test_sync_machinery_never_imports_the_peewee_store_or_its_tables(path):
    reached = imports(path) & {"peewee", "sync.store", "sync.rows"}
    assert not reached, f"{path} imports {reached}: it must use the store it is given"


def test_sync_holds_no_database_proxy():
    for path in sorted((ROOT / "sync").glob("*.py")):
        assert "DatabaseProxy()" not in path.read_text(), path
