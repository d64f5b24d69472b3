"""The layer rules of style.md §3.1, enforced on the source with ``ast``.

* The pure core (domain rules, wire format, clock, chain verification, merge) imports only the
  standard library, well-kept pure data libraries, and other core modules.
* cryptography enters through ``node/signing.py`` and ``certs/`` only; requests through the
  sync transport; zeroconf through discovery; flask and click only in delivery modules.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ["node/domain", "sync/wire.py", "sync/clock.py", "sync/chain.py", "sync/merge.py", "sync/protocol.py"]
FORBIDDEN_IN_CORE = {"flask", "peewee", "playhouse", "requests", "zeroconf", "cryptography", "werkzeug", "click"}
PURE_DATA_LIBS = {"holidays", "vietnam_provinces"}

# library -> where it may be imported (file or folder prefixes, relative to the repo root)
DOORS = {
    "cryptography": ("node/signing.py", "certs/"),
    "requests": ("sync/transport.py", "bench/", "tests/"),
    "zeroconf": ("sync/discovery.py", "tests/"),
    "flask": ("web/", "sync/server.py", "node/app.py", "node/wsgi.py", "node/cli/", "tests/"),
    "click": ("node/cli/", "certs/cli.py", "tests/"),
}


def imported_roots(source: str) -> set[str]:
    roots = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def imported_modules(source: str) -> set[str]:
    mods = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            mods.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            mods.add(node.module)
            mods.update(f"{node.module}.{a.name}" for a in node.names)
    return mods


def core_files() -> list[Path]:
    files = []
    for entry in CORE:
        path = ROOT / entry
        if path.is_dir():
            files.extend(sorted(path.rglob("*.py")))
        elif path.exists():
            files.append(path)
    return files


def is_core_module(module: str) -> bool:
    path = module.replace(".", "/")
    folders = [c for c in CORE if not c.endswith(".py")]
    return f"{path}.py" in CORE or any(path == f or path.startswith(f + "/") for f in folders)


def core_violations(source: str) -> list[str]:
    bad = []
    for module in imported_modules(source):
        root = module.split(".")[0]
        if root in FORBIDDEN_IN_CORE:
            bad.append(module)
        elif root in ("node", "sync", "web", "certs"):
            parent = module.rsplit(".", 1)[0]
            if not (is_core_module(module) or is_core_module(parent)):
                bad.append(module)
        elif root not in sys.stdlib_module_names and root not in PURE_DATA_LIBS and root != "__future__":
            bad.append(module)
    return sorted(bad)


def test_core_exists():
    names = {p.relative_to(ROOT).as_posix() for p in core_files()}
    assert {"sync/wire.py", "sync/clock.py", "sync/chain.py", "node/domain/dossier.py"} <= names


@pytest.mark.parametrize("path", core_files(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_pure_core_imports_no_framework_or_adapter(path):
    assert core_violations(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize(
    "snippet",
    [
        "import flask",
        "from peewee import Model",
        "import requests.adapters",
        "from zeroconf import Zeroconf",
        "from cryptography.hazmat.primitives import hashes",
        "from sync import store",
        "from node.services import Node",
        "import numpy",
    ],
)
def test_the_checker_catches_violations(snippet):
    assert core_violations(snippet), snippet


@pytest.mark.parametrize("snippet", ["import json", "from sync.wire import Event", "from node.domain.errors import X"])
def test_the_checker_allows_core_and_stdlib(snippet):
    assert core_violations(snippet) == []


def all_sources() -> list[Path]:
    return [
        p
        for folder in ("node", "sync", "web", "certs")
        for p in sorted((ROOT / folder).rglob("*.py"))
    ]


@pytest.mark.parametrize("library", sorted(DOORS))
def test_libraries_enter_through_their_doors(library):
    offenders = []
    for path in all_sources():
        rel = path.relative_to(ROOT).as_posix()
        if library in imported_roots(path.read_text(encoding="utf-8")) and not rel.startswith(DOORS[library]):
            offenders.append(rel)
    assert offenders == []


def test_sync_engine_does_not_depend_on_the_node_application():
    offenders = [
        p.relative_to(ROOT).as_posix()
        for p in sorted((ROOT / "sync").rglob("*.py"))
        if {"node", "web"} & imported_roots(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


# -- sync never reads certificates; its sans-IO modules do no I/O ---------------------------------
# Kept apart from the tables above on purpose (issue 11: other rules of this file grow in parallel).

SANS_IO = ["sync/exchange.py", "sync/auth.py", "sync/session.py"]


def sync_to_certs_violations(source: str) -> list[str]:
    """Imports of ``certs`` in a module of ``sync``: certificate material reaches sync as values
    (DER bytes, a fingerprint, a trust policy object built by ``node``), never as an import."""
    return sorted(m for m in imported_modules(source) if m.split(".")[0] == "certs")


@pytest.mark.parametrize("snippet", ["import certs", "from certs.identity import ca_fingerprint",
                                     "def f():\n    from certs import verify_node_certificate\n"])
def test_the_sync_to_certs_checker_catches_imports(snippet):
    assert sync_to_certs_violations(snippet), snippet


def test_sync_never_imports_certs():
    offenders = {
        p.relative_to(ROOT).as_posix(): sync_to_certs_violations(p.read_text(encoding="utf-8"))
        for p in sorted((ROOT / "sync").rglob("*.py"))
    }
    assert {path: bad for path, bad in offenders.items() if bad} == {}


def sans_io_violations(source: str) -> list[str]:
    """What a sans-IO sync module may not import: frameworks, adapters, I/O, or sync modules
    that are not pure themselves."""
    pure = {p.removesuffix(".py").replace("/", ".") for p in SANS_IO + [c for c in CORE if c.startswith("sync/")]}
    io = FORBIDDEN_IN_CORE | {"node", "web", "certs", "socket", "sqlite3", "urllib", "http", "ssl"}

    def impure(module: str) -> bool:
        root = module.split(".")[0]
        if root == "sync":
            return module != "sync" and module not in pure and module.rsplit(".", 1)[0] not in pure
        return root in io

    return sorted(m for m in imported_modules(source) if impure(m))


@pytest.mark.parametrize("snippet", ["import requests", "from sync import ledger", "from sync.transport import X",
                                     "import socket", "from certs import ca"])
def test_the_sans_io_checker_catches_violations(snippet):
    assert sans_io_violations(snippet), snippet


@pytest.mark.parametrize("path", SANS_IO)
def test_the_sync_session_and_request_authentication_do_no_io(path):
    assert sans_io_violations((ROOT / path).read_text(encoding="utf-8")) == []
