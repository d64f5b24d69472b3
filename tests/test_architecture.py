"""The layer rules of style.md §3.1, enforced on the source with ``ast``.

* The pure core (domain rules, wire format, clock, chain verification, merge) imports only the
  standard library, well-kept pure data libraries, and other core modules.
* cryptography enters through ``node/signing.py`` (signatures), ``node/atrest.py`` (key slots and
  escrow of the data key: issue 16) and ``certs/`` only; requests through the
  sync transport; zeroconf through discovery; flask and click only in delivery modules.
* No import cycle between our modules (``node``, ``sync``, ``web``, ``certs``, ``bench``), deferred
  function-level imports included, unless one is listed in :data:`DEFERRED_CYCLE_EXEMPT` with the
  reason it is harmless; imports under ``if TYPE_CHECKING:`` never run and do not count.
* ``node`` imports ``web`` only in the app factory (``node/app.py``).
* No module over :data:`MAX_MODULE_LINES` lines outside data and tests, unless listed in
  :data:`SIZE_EXEMPT` with a reason.

Each rule's checker has its own tests on violating snippets written to ``tmp_path``.
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
    "cryptography": ("node/signing.py", "node/atrest.py", "certs/"),
    "requests": ("sync/transport.py", "bench/", "tests/"),
    "zeroconf": ("sync/discovery.py", "tests/"),
    "flask": ("web/", "sync/server.py", "node/app.py", "node/wsgi.py", "node/cli/", "tests/"),
    "click": ("node/cli/", "certs/cli.py", "tests/"),
    "nacl": ("node/sealing.py",),  # bundles sealed to a recipient (issue 18)
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


# -- import cycles, the web door, module size (issue 11) ----------------------------------------

PACKAGES = ("node", "sync", "web", "certs", "bench")
MAX_MODULE_LINES = 400
# module -> why it may stay over MAX_MODULE_LINES (nothing is exempt today; a reason must be written here)
SIZE_EXEMPT: dict[str, str] = {}
# (importer, imported) -> why a deferred, function-level import that closes a cycle is acceptable
DEFERRED_CYCLE_EXEMPT: dict[tuple[str, str], str] = {}
# node/ imports web/ only where the application is assembled (style.md §3.1, composition roots),
# and where the CLI reads the UI's message catalogue (one catalogue for both, issue 13.5)
WEB_DOOR_IN_NODE = ("node/app.py", "node/cli/i18n.py")  # the latter imports web.catalogue only


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking_block(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def import_statements(source: str, module: str, is_package: bool = False) -> list[tuple[str, list[str], bool]]:
    """(imported module, names taken from it, deferred?) for every import that runs: top-level and
    inside functions; ``if TYPE_CHECKING:`` blocks never run and are skipped. Relative imports are
    resolved against ``module``."""
    found: list[tuple[str, list[str], bool]] = []

    def visit(node: ast.AST, deferred: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if _is_type_checking_block(child):
                continue
            inner = deferred or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if isinstance(child, ast.Import):
                found.extend((alias.name, [], deferred) for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    package = module.split(".") if is_package else module.split(".")[:-1]
                    package = package[: len(package) - (child.level - 1)]
                    base = ".".join([*package, base] if base else package)
                found.append((base, [a.name for a in child.names], deferred))
            visit(child, inner)

    visit(ast.parse(source), False)
    return found


def import_graph(files: dict[str, tuple[str, bool]]) -> dict[str, dict[str, bool]]:
    """module -> {imported module of ours: True if every import of it is deferred}. ``files`` maps
    a module name to (source, is_package). ``from a import b`` points at ``a.b`` when that is a
    module of ours, else at ``a``."""
    graph: dict[str, dict[str, bool]] = {}
    for module, (source, is_package) in files.items():
        edges: dict[str, bool] = {}
        for base, names, deferred in import_statements(source, module, is_package):
            targets = [f"{base}.{n}" for n in names if f"{base}.{n}" in files]
            if len(targets) < len(names) or not names:
                targets.append(base)
            for target in targets:
                if target in files and target != module:
                    edges[target] = edges.get(target, True) and deferred
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, dict[str, bool]],
                  exempt: dict[tuple[str, str], str] | None = None) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), after dropping the deferred
    edges listed in ``exempt``; each group sorted, the list sorted."""
    exempt = exempt or {}
    edges = {m: [t for t, deferred in out.items() if not (deferred and (m, t) in exempt)] for m, out in graph.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for v in sorted(edges):
        if v not in index:
            connect(v)
    return sorted(groups)


def tree_files(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES) -> dict[str, tuple[str, bool]]:
    return {
        module_name(p, root): (p.read_text(encoding="utf-8"), p.name == "__init__.py")
        for folder in packages
        for p in sorted((root / folder).rglob("*.py"))
    }


def web_imports_in_node(files: dict[str, tuple[str, bool]]) -> list[str]:
    """Modules of ``node`` (outside the app factory) importing ``web``, deferred imports included."""
    offenders = []
    for module, (source, is_package) in files.items():
        rel = module.replace(".", "/") + ("/__init__.py" if is_package else ".py")
        if module.split(".")[0] != "node" or rel in WEB_DOOR_IN_NODE:
            continue
        if any(base.split(".")[0] == "web" for base, _, _ in import_statements(source, module, is_package)):
            offenders.append(module)
    return sorted(offenders)


def oversized(root: Path = ROOT, packages: tuple[str, ...] = PACKAGES, limit: int = MAX_MODULE_LINES,
              exempt: dict[str, str] | None = None) -> dict[str, int]:
    exempt = SIZE_EXEMPT if exempt is None else exempt
    sizes = {}
    for folder in packages:
        for p in sorted((root / folder).rglob("*.py")):
            rel = p.relative_to(root).as_posix()
            lines = len(p.read_text(encoding="utf-8").splitlines())
            if lines > limit and rel not in exempt and "/data/" not in rel:
                sizes[rel] = lines
    return sizes


def test_no_import_cycles():
    assert import_cycles(import_graph(tree_files()), DEFERRED_CYCLE_EXEMPT) == []


def test_node_imports_web_only_in_the_app_factory():
    assert web_imports_in_node(tree_files()) == []


def test_no_module_over_the_size_limit():
    assert oversized() == {}


def test_every_exemption_has_a_reason_and_still_applies():
    for path, reason in SIZE_EXEMPT.items():
        assert reason.strip() and len((ROOT / path).read_text(encoding="utf-8").splitlines()) > MAX_MODULE_LINES, path
    graph = import_graph(tree_files())
    for (importer, imported), reason in DEFERRED_CYCLE_EXEMPT.items():
        assert reason.strip() and graph.get(importer, {}).get(imported) is True, (importer, imported)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.mark.parametrize(
    "files",
    [
        {"node/a.py": "from node import b\n", "node/b.py": "import node.a\n"},
        {"node/a.py": "from node.b import f\n", "node/b.py": "def g():\n    from node.a import h\n"},
        {"node/a.py": "from . import b\n", "node/b.py": "from .c import x\n", "node/c.py": "from node.a import y\n"},
        {"node/p/__init__.py": "from node.p import q\n", "node/p/q.py": "from node.p import r\n",
         "node/p/r.py": "import node.p.q\n"},
    ],
    ids=["top-level", "deferred", "relative-three", "package"],
)
def test_the_cycle_checker_catches_a_cycle(tmp_path, files):
    _write(tmp_path, {"node/__init__.py": "", **files})
    assert import_cycles(import_graph(tree_files(tmp_path, ("node",))))


def test_the_cycle_checker_allows_a_documented_deferred_import_and_type_checking(tmp_path):
    _write(tmp_path, {
        "node/__init__.py": "",
        "node/a.py": "from node import b\n",
        "node/b.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from node.a import A\n"
                     "def f():\n    from node import a\n",
    })
    graph = import_graph(tree_files(tmp_path, ("node",)))
    assert import_cycles(graph)
    assert import_cycles(graph, {("node.b", "node.a"): "documented"}) == []
    assert import_cycles(graph, {("node.a", "node.b"): "a top-level import is never exempt"})


def test_the_web_door_checker_catches_node_importing_web(tmp_path):
    _write(tmp_path, {
        "node/__init__.py": "",
        "node/app.py": "from web import auth\n",
        "node/x.py": "def f():\n    from web.accounts import y\n",
        "node/y.py": "import web\n",
        "node/z.py": "from node import app\n",
    })
    assert web_imports_in_node(tree_files(tmp_path, ("node",))) == ["node.x", "node.y"]


def test_the_size_checker_catches_a_long_module(tmp_path):
    _write(tmp_path, {"node/__init__.py": "", "node/long.py": "x = 1\n" * 401, "node/ok.py": "x = 1\n" * 400,
                      "node/data/big.py": "x = 1\n" * 900})
    assert oversized(tmp_path, ("node",), exempt={}) == {"node/long.py": 401}
    assert oversized(tmp_path, ("node",), exempt={"node/long.py": "why"}) == {}


# -- sync never reads certificates; its sans-IO modules do no I/O ---------------------------------
# Kept apart from the tables above on purpose (issue 11: other rules of this file grow in parallel).

SANS_IO = ["sync/exchange.py", "sync/auth.py", "sync/session.py", "sync/bundle.py"]


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
