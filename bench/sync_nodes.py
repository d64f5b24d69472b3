"""The sync bench's nodes: the code snapshot under test, deadlines, the PouchDB -> motcua mapping,
and commune nodes created with the ``motcua`` CLI and prepared once into a cache (:mod:`bench.sync_bench`)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.dossiers import catalogue_code_for, citizen_id_for

REPO_ROOT = Path(__file__).resolve().parents[1]

DESIGN_N = 10_000
COMMUNE_UNIT = "17272"
HUB_UNIT = "40"
MAPPING_VERSION = 1  # bump when the PouchDB -> motcua mapping below changes
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/test"
CHUNK = 1000  # dossiers per outer LocalLog transaction while preparing the commune
MIB = 1024 * 1024

# Sources whose change makes a prepared commune stale (wire format, storage, log, mapping).
_FINGERPRINT_FILES = (
    "sync/wire.py", "sync/store.py", "sync/log.py", "sync/chain.py", "sync/clock.py", "sync/ledger.py",
    "node/services.py", "node/writer.py", "node/dossiers.py", "node/projection.py", "node/models.py",
    "node/domain/dossier.py",
    "bench/dossiers.py",
)  # fmt: skip

_T0 = time.monotonic()

# The packages under test. They are snapshotted at start so that the in-process client and every
# hub subprocess run one and the same version of the code, even if the work tree is edited
# during a 20-minute run.
CODE_PACKAGES = ("node", "sync", "web", "certs")
_code_root = REPO_ROOT


def code_root() -> Path:
    """Where the code under test is imported from (the snapshot once :func:`snapshot_code` ran)."""
    return _code_root


def snapshot_code(dest: Path, ref: str = "") -> Path:
    """Copy the packages under test to ``dest`` and import them from there (this process and hubs).

    ``ref`` empty: the work tree as it is now; otherwise that git commit (``git archive``).
    """
    global _code_root
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in CODE_PACKAGES)
    if loaded:
        raise RuntimeError(f"snapshot_code must run before any of {loaded[:3]} is imported")
    dest.mkdir(parents=True, exist_ok=True)
    if ref:
        import io
        import tarfile

        present = [p for p in CODE_PACKAGES if subprocess.run(
            ["git", "-C", str(REPO_ROOT), "cat-file", "-e", f"{ref}:{p}"], capture_output=True, timeout=30,
            check=False).returncode == 0]
        archive = subprocess.run(["git", "-C", str(REPO_ROOT), "archive", "--format=tar", ref, "--", *present],
                                 capture_output=True, timeout=120, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(dest, filter="data")
    else:
        for pkg in CODE_PACKAGES:
            if (REPO_ROOT / pkg).is_dir():
                shutil.copytree(REPO_ROOT / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    sys.path.insert(0, str(dest))  # ahead of the work tree ('' with -m) and the editable finder
    _code_root = dest
    return dest


def log(msg: str) -> None:
    print(f"[sync-bench {time.monotonic() - _T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- deadlines


class PhaseTimeout(Exception):
    """A phase ran past its deadline."""


@contextlib.contextmanager
def deadline(seconds: float, what: str) -> Iterator[None]:
    """Raise :class:`PhaseTimeout` in the main thread if the block runs longer than ``seconds``.

    SIGALRM interrupts blocking socket reads and SQLite busy waits; the exception unwinds
    through the open transaction (rolled back) and the callers' cleanup.
    """

    def on_alarm(_signum: int, _frame: object) -> None:
        raise PhaseTimeout(f"{what} did not finish within {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def sigterm_as_interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt("SIGTERM")


# ----------------------------------------------------------------------------- mapping


def iso_ms(text: str) -> int:
    """``2024-01-01T00:37:00.000Z`` -> epoch milliseconds."""
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


# PouchDB history status -> motcua status. "assigned" starts processing; "in_review" hands the
# dossier to the reviewing officer, a transfer (processing -> processing is allowed).
STATUS_MAP = {"assigned": "processing", "in_review": "processing"}


@dataclass(frozen=True)
class DossierWrites:
    author: str
    at_ms: int
    data: dict[str, Any]
    changes: tuple[tuple[str, int, str, str], ...]  # (author, at_ms, to, reason)


def dossier_writes(doc: dict[str, Any]) -> DossierWrites:
    """The motcua use-case calls that record one PouchDB dossier with the same content.

    Fields motcua models natively go where the domain expects them (procedure, applicant,
    received/due times, note, code = the PouchDB ``_id``); everything else in the document goes
    into ``details`` unchanged. The first history entry ("received") is the creation; the
    others become status changes with the note as the reason and ``by`` as the author.
    """
    a, addr = doc["applicant"], doc["address"]
    history = doc["history"]
    received = history[0]
    data = {
        "code": doc["_id"],
        "procedure": {"code": catalogue_code_for(doc), "name": doc["procedure_label"]},
        "applicant": {
            "name": f"{a['family_name']} {a['given_names']}",
            "id_number": citizen_id_for(doc),
            "phone": a["phone"],
            "address": ", ".join(addr[k] for k in ("hamlet", "village", "commune", "district", "province")),
        },
        "received_at": iso_ms(doc["received_at"]),
        "due_at": iso_ms(doc["due_at"]),
        "channel": "desk",
        "note": received["note"],
        "details": {
            "schema_version": doc["schema_version"],
            "commune_office": doc["commune_office"],
            "birth_date": a["birth_date"],
            "address": dict(addr),
            "fee": dict(doc["fee"]),
            "documents": list(doc["documents"]),
            "assigned_to": doc["assigned_to"],
        },
    }
    changes = tuple((h["by"], iso_ms(h["at"]), STATUS_MAP[h["status"]], h["note"]) for h in history[1:])
    return DossierWrites(received["by"], iso_ms(received["at"]), data, changes)


# ----------------------------------------------------------------------------- nodes


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for ``motcua`` subprocesses: no stray MOTCUA_*/DATABASE_URL, repo importable."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_") and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(_code_root) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


def motcua_cmd() -> list[str]:
    return [sys.executable, "-m", "node.cli"]


def init_node(data_dir: Path, role: str, unit: str, name: str, database_url: str = "", timeout: float = 120) -> str:
    """``motcua init``; returns the node id."""
    env = clean_env(MOTCUA_DATABASE_URL=database_url) if database_url else clean_env()
    proc = subprocess.run(
        [*motcua_cmd(), "--data-dir", str(data_dir), "init", "--role", role, "--unit", unit, "--name", name],
        capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL, check=False,
        cwd=_code_root,  # python -m puts the cwd first on sys.path
    )
    if proc.returncode != 0:
        raise RuntimeError(f"motcua init {role} {unit} failed:\n{proc.stdout}\n{proc.stderr}")
    return json.loads((data_dir / "node.json").read_text())["node_id"]


def node_settings(data_dir: Path, database_url: str = ""):  # -> node.config.Settings
    from node.config import load_settings

    # environ={} so that no MOTCUA_* or DATABASE_URL of the calling shell can redirect a node.
    # DEV_OPEN_TRUST: hub and communes meet without certificates, over plain http as in earlier
    # runs of this bench, so its figures stay comparable (bench/flood_bench.py runs the CA).
    return load_settings(data_dir, environ={}, overrides={"DATABASE_URL": database_url, "DEV_OPEN_TRUST": True})


def open_bench_node(data_dir: Path, database_url: str = "", wall_ms: Callable[[], int] | None = None):  # -> Node
    """Open a node in this process (rebinds the global model proxy to its database)."""
    from node.services import open_node, system_wall_ms

    return open_node(node_settings(data_dir, database_url), wall_ms or system_wall_ms)


class ManualClock:
    """A wall clock the preparation sets to each history entry's time (``None``: system time)."""

    def __init__(self) -> None:
        self.now: int | None = None

    def __call__(self) -> int:
        return self.now if self.now is not None else time.time_ns() // 1_000_000


def copy_node_dir(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)  # keeps modes: the key stays 0600
    return dst


def count_sqlite_events(data_dir: Path) -> int:
    from tests.factories import sqlite_connect  # the node's file is encrypted (issue 16)

    con = sqlite_connect(f"file:{data_dir / 'motcua.sqlite3'}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT count(*) FROM event").fetchone()[0]
    finally:
        con.close()


def code_fingerprint() -> str:
    h = hashlib.sha256(f"mapping {MAPPING_VERSION}\n".encode())
    for rel in _FINGERPRINT_FILES:
        path = (REPO_ROOT if rel.startswith("bench/") else _code_root) / rel
        h.update(rel.encode() + b"\0" + (path.read_bytes() if path.exists() else b"") + b"\0")
    for path in sorted((_code_root / "node" / "migrations").glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def git_revision() -> str:
    """``<short HEAD>`` plus ``+dirty`` when the packages under test have uncommitted changes."""
    try:
        head = subprocess.run(["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", *CODE_PACKAGES],
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def cache_root() -> Path:
    env = os.environ.get("MOTCUA_BENCH_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "motcua" / "sync-bench").resolve()


def generate_commune(data_dir: Path, n: int, seed: int, timeout_s: float) -> float:
    """Create a commune node in ``data_dir`` holding the N dossiers; return the seconds it took."""
    from bench.dossiers import generate_dossiers

    init_node(data_dir, "commune", COMMUNE_UNIT, f"Commune {COMMUNE_UNIT}")
    docs = generate_dossiers(n, seed)
    clock = ManualClock()
    node = open_bench_node(data_dir, wall_ms=clock)
    t0 = time.perf_counter()
    try:
        with deadline(timeout_s, f"preparing {n:,} dossiers"):
            for start in range(0, n, CHUNK):
                with node.log.transaction():  # one commit and one head signature per chunk
                    for doc in docs[start : start + CHUNK]:
                        w = dossier_writes(doc)
                        clock.now = w.at_ms
                        state = node.create_dossier(w.author, w.data)
                        for author, at_ms, to, reason in w.changes:
                            clock.now = at_ms
                            node.change_status(author, state.id, to, reason)
                clock.now = None
                log(f"  prepared {min(start + CHUNK, n):,}/{n:,} dossiers")
    finally:
        node.close()
    return time.perf_counter() - t0


def prepared_commune(n: int, seed: int, rebuild: bool, timeout_s: float) -> Path:
    """The cached commune data directory for N (generated on first use; never written to after)."""
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    target = root / f"commune-n{n}-seed{seed}-{code_fingerprint()}"
    if target.is_dir() and not rebuild:
        try:
            held = count_sqlite_events(target)
        except Exception as e:  # a damaged cache is rebuilt, never trusted
            held = -1
            log(f"cached commune {target} unreadable ({e}); rebuilding")
        if held == 3 * n:
            log(f"using cached commune data for N={n:,}: {target}")
            return target
        log(f"cached commune {target} holds {held} events, expected {3 * n}; rebuilding")
    if target.exists():
        shutil.rmtree(target)
    for stale in root.glob(f"commune-n{n}-seed{seed}-*"):
        if stale != target and stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)
    work = Path(tempfile.mkdtemp(prefix=f".build-n{n}-", dir=root))
    try:
        log(f"preparing commune with N={n:,} dossiers ({3 * n:,} events) in {work} (cached afterwards)")
        secs = generate_commune(work / "node", n, seed, timeout_s)
        held = count_sqlite_events(work / "node")
        if held != 3 * n:
            raise RuntimeError(f"prepared commune holds {held} events, expected {3 * n}")
        log(f"prepared N={n:,} in {secs:.1f} s ({3 * n / secs:,.0f} local events/s)")
        (work / "node").rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target
