"""motcua vs PouchDB on identical dossiers: push, no-op sync and pull, plus hub ingest (DESIGN §7).

Responsibility: one invocation measures motcua and the PouchDB reference peer on the same N
dossiers (``bench.dossiers.generate_dossiers``) and prints one table of medians with the ratios
motcua/PouchDB, the hub's ingest rate on SQLite and PostgreSQL, and one line per DESIGN §7
target saying met or missed and by how much. Progress goes to stderr, the report to stdout.

    python -m bench.sync_bench --n 10000 --runs 3 [--rtt-ms 300] [--skip-pouch] [--json out.json]

What is measured (per run, fresh hub each run):

* **push**: a commune node (unit 17272) holding N dossiers (3 events each: received and two
  status changes, mapped from the PouchDB document and its history) syncs with an empty
  district hub (unit 40) served by ``motcua serve`` (embedded gunicorn) in a subprocess;
* **no-op**: the same commune syncs again with nothing to do;
* **pull**: a freshly initialised commune node (same unit, empty) syncs with the hub.

Every sync goes through :class:`bench.netproxy.LatencyProxy`, with ``rtt_ms=0`` on loopback
(so bytes are counted the same way at both latencies; the proxy's thread hops add a little
time) and with ``--rtt-ms`` added per round trip. Bytes are the proxy's counters (headers
included, as baseline.js counts at the server socket); HTTP requests are the lines of the hub's
access log, cross-checked with the client's exchange count. Wall time is the ``sync_with`` call.

**Hub ingest** is measured in-process and single-threaded: the prepared commune's outgoing
batches are built and encoded exactly as the client sends them, then the models are rebound to
a fresh district database (the node tables go through one proxy, ``node.db.database``, so one
process holds one active node at a time) and ``Replica.ingest`` is timed over every batch: verification (hashes,
chain, head signature), insert, derived-state projection and commit. The decode of the bodies
(zstd + JSON + ``request_from_wire``) is timed separately.

Invariants:

* The commune's prepared data directory is generated once per (N, seed, code fingerprint) into
  ``~/.cache/motcua/sync-bench`` (``MOTCUA_BENCH_CACHE``) with the database closed, and copied
  for each run, so every run starts from identical bytes and the cache is never written to.
* Everything this process starts is cleaned up on success, failure, timeout, Ctrl-C or SIGTERM:
  hub servers are killed by process group, temp dirs removed, throwaway PostgreSQL databases
  (``motcua_bench_<random>_<k>``) dropped. Every phase runs under a deadline.
* Nothing outside ``bench/`` is changed; nodes are created with the ``motcua`` CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
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

# The three phases compared, with the PouchDB phase letter each is compared with.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("push", "A", "initial push of N dossiers"),
    ("noop", "D", "no-op two-way sync"),
    ("pull", "E", "initial pull into an empty node"),
)
COLUMNS = ("requests", "bytes_up", "bytes_down", "bytes_total", "wall_s")

# Sources whose change makes a prepared commune stale (wire format, storage, log, mapping).
_FINGERPRINT_FILES = (
    "sync/wire.py", "sync/store.py", "sync/log.py", "sync/chain.py", "sync/clock.py", "sync/ledger.py",
    "node/services.py", "node/projection.py", "node/models.py", "node/domain/dossier.py",
    "bench/dossiers.py",
)  # fmt: skip

_T0 = time.monotonic()

# The packages under test. They are snapshotted at start so that the in-process client and every
# hub subprocess run one and the same version of the code, even if the work tree is edited
# during a 20-minute run.
CODE_PACKAGES = ("node", "sync", "web", "certs")
_code_root = REPO_ROOT


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


def _sigterm_as_interrupt(_signum: int, _frame: object) -> None:
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
    import sqlite3

    con = sqlite3.connect(f"file:{data_dir / 'motcua.sqlite3'}?mode=ro", uri=True, timeout=30)
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


# ----------------------------------------------------------------------------- PostgreSQL


class PgDatabases:
    """Throwaway PostgreSQL databases, all dropped by :meth:`close` (FORCE ends stray sessions)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"motcua_bench_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def _admin(self):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def create(self) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        with self._admin() as con:
            con.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self._admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        if not self.created:
            return
        try:
            with self._admin() as con:
                for name in list(self.created):
                    con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    self.created.remove(name)
        except Exception as e:
            log(f"WARNING: could not drop PostgreSQL databases {self.created}: {e}")


# ----------------------------------------------------------------------------- hub server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_REQUEST_LINE = re.compile(rb'"[A-Z]+ \S+ HTTP/\d')


class HubServer:
    """A district node served by ``motcua serve`` in its own process group."""

    def __init__(self, data_dir: Path, database_url: str = "", start_timeout: float = 60) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.start_timeout = start_timeout
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"

    def start(self) -> HubServer:
        env = clean_env(MOTCUA_DATABASE_URL=self.database_url) if self.database_url else clean_env()
        env["MOTCUA_DEV_OPEN_TRUST"] = "1"  # see node_settings
        self.node_id = init_node(self.data_dir, "district", HUB_UNIT, "Hub", self.database_url)
        self.port = free_port()
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [*motcua_cmd(), "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                cwd=_code_root,
            )
        import requests

        http = requests.Session()
        http.trust_env = False
        try:
            end = time.monotonic() + self.start_timeout
            while time.monotonic() < end:
                if self.process.poll() is not None:
                    raise RuntimeError(f"hub server died:\n{self.log_tail()}")
                try:
                    r = http.get(f"{self.url}/healthz", timeout=2)
                    if r.ok and r.json().get("node_id") == self.node_id:
                        return self
                except requests.RequestException:
                    pass
                time.sleep(0.1)
        finally:
            http.close()
        raise RuntimeError(f"hub server did not answer /healthz within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def request_count(self) -> int:
        """HTTP requests in the access log so far (gunicorn writes one line per request)."""
        try:
            return len(_REQUEST_LINE.findall(self.log_path.read_bytes()))
        except OSError:
            return 0

    def requests_since(self, before: int, at_least: int, wait_s: float = 3.0) -> int:
        """Requests logged since ``before``; waits briefly for the access log to catch up."""
        end = time.monotonic() + wait_s
        count = self.request_count() - before
        while count < at_least and time.monotonic() < end:
            time.sleep(0.02)
            count = self.request_count() - before
        time.sleep(0.05)  # a late line for a request we did not expect
        return self.request_count() - before

    def stop(self) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def __enter__(self) -> HubServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ----------------------------------------------------------------------------- motcua HTTP phases


@dataclass
class Phase:
    requests: int
    bytes_up: int
    bytes_down: int
    bytes_total: int
    wall_s: float
    exchanges: int = 0
    connections: int = 0
    events_out: int = 0
    events_in: int = 0
    body_bytes_up: int = 0
    body_bytes_down: int = 0


def measured_sync(node: Any, hub: HubServer, proxy: Any, what: str, timeout_s: float) -> Phase:
    """One ``node.sync_with`` through the proxy: wall time, proxy bytes, access-log requests."""
    proxy.reset_stats()
    before = hub.request_count()
    with deadline(timeout_s, what):
        t0 = time.perf_counter()
        summary = node.sync_with(proxy.url(""))
        wall = time.perf_counter() - t0
    if not summary.ok:
        raise RuntimeError(f"{what}: sync {summary.outcome}: {summary.error_code} {summary.error}")
    stats = proxy.stats()
    requests = hub.requests_since(before, summary.exchanges)
    if requests != summary.exchanges:
        log(f"  note: {what}: hub logged {requests} requests for {summary.exchanges} exchanges")
    return Phase(
        requests=requests, bytes_up=stats.bytes_c2s, bytes_down=stats.bytes_s2c,
        bytes_total=stats.bytes_c2s + stats.bytes_s2c, wall_s=wall, exchanges=summary.exchanges,
        connections=stats.connections, events_out=summary.events_out, events_in=summary.events_in,
        body_bytes_up=summary.bytes_out, body_bytes_down=summary.bytes_in,
    )


def run_motcua_http(
    n: int, prepared: Path, rtt_ms: float, hub_db: str, pg: PgDatabases | None, timeout_s: float
) -> dict[str, Phase]:
    """One run of push, no-op and pull against a fresh hub; everything it starts is cleaned up."""
    from bench.netproxy import LatencyProxy

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="motcua-sync-bench-")))
        hub_url = ""
        if hub_db == "postgresql":
            assert pg is not None
            hub_url = pg.create()
            stack.callback(pg.drop, hub_url)
        hub = stack.enter_context(HubServer(tmp / "hub", hub_url))
        proxy = stack.enter_context(
            LatencyProxy("127.0.0.1", hub.port, rtt_ms=rtt_ms, io_timeout_s=max(60.0, timeout_s),
                         idle_timeout_s=max(300.0, timeout_s))
        )
        commune_dir = copy_node_dir(prepared, tmp / "commune")
        fresh_dir = tmp / "fresh"
        init_node(fresh_dir, "commune", COMMUNE_UNIT, f"Commune {COMMUNE_UNIT} (fresh)")
        try:
            return _http_phases(n, hub, proxy, commune_dir, fresh_dir, timeout_s)
        except Exception:
            log(f"run failed; hub log (last lines):\n{hub.log_tail(4000)}")
            raise


def _http_phases(n: int, hub: HubServer, proxy: Any, commune_dir: Path, fresh_dir: Path,
                 timeout_s: float) -> dict[str, Phase]:
    out: dict[str, Phase] = {}
    node = open_bench_node(commune_dir)
    try:
        out["push"] = measured_sync(node, hub, proxy, f"push of {n:,} dossiers", timeout_s)
        if out["push"].events_out != 3 * n:
            raise RuntimeError(f"push sent {out['push'].events_out} events, expected {3 * n}")
        out["noop"] = measured_sync(node, hub, proxy, "no-op sync", timeout_s)
    finally:
        node.close()
    fresh = open_bench_node(fresh_dir)
    try:
        out["pull"] = measured_sync(fresh, hub, proxy, f"pull of {n:,} dossiers", timeout_s)
        from node.models import DossierRow

        dossiers = DossierRow.select().count()
        if out["pull"].events_in != 3 * n or dossiers != n:
            raise RuntimeError(f"pull received {out['pull'].events_in} events / {dossiers} dossiers, "
                               f"expected {3 * n} / {n}")
    finally:
        fresh.close()
    return out


# ----------------------------------------------------------------------------- ingest


@dataclass
class IngestRun:
    backend: str
    events: int
    batches: int
    ingest_s: float
    decode_s: float
    build_s: float
    wire_bytes: int

    @property
    def events_per_s(self) -> float:
        return self.events / self.ingest_s

    @property
    def with_decode_per_s(self) -> float:
        return self.events / (self.ingest_s + self.decode_s)


def build_push_bodies(commune_dir: Path, hub_dir: Path) -> tuple[list[bytes], Any, float]:
    """The compressed request bodies the commune would send an empty hub, and its profile."""
    from node.services import make_profile
    from node.signing import KEY_FILE, NodeKey
    from sync import codec
    from sync.exchange import ExchangeRequest, request_from_wire

    hub_profile = make_profile(NodeKey.load(hub_dir / KEY_FILE), node_settings(hub_dir))
    node = open_bench_node(commune_dir)
    bodies: list[bytes] = []
    try:
        t0 = time.perf_counter()
        vector: dict[str, int] = {}
        session = uuid.uuid4().hex
        while True:
            out = node.replica.outgoing_for(hub_profile, vector)
            if not out.runs:
                break
            profiles = (node.profile, *[p for p in out.profiles if p.node_id != node.node_id])
            request = ExchangeRequest(session=session, vector=node.replica.vector_for(hub_profile),
                                      push=tuple(out.runs), profiles=profiles if not bodies else ())
            wire = request.to_wire()
            request_from_wire(wire)
            bodies.append(codec.encode(wire)[0])
            for r in out.runs:
                vector[r.feed] = r.end
            if not out.more:
                break
        build_s = time.perf_counter() - t0
        return bodies, node.profile, build_s
    finally:
        node.close()


def run_ingest(n: int, prepared: Path, backend: str, pg: PgDatabases | None, timeout_s: float) -> IngestRun:
    from sync import codec
    from sync.exchange import request_from_wire

    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="motcua-ingest-bench-")))
        url = ""
        if backend == "postgresql":
            assert pg is not None
            url = pg.create()
            stack.callback(pg.drop, url)
        init_node(tmp / "hub", "district", HUB_UNIT, "Hub", url)
        commune_dir = copy_node_dir(prepared, tmp / "commune")
        with deadline(timeout_s, f"building the push batches ({backend})"):
            bodies, sender, build_s = build_push_bodies(commune_dir, tmp / "hub")
        hub = open_bench_node(tmp / "hub", url)
        stack.callback(hub.close)
        ingest_s = decode_s = 0.0
        events = 0
        with deadline(timeout_s, f"ingest of {3 * n:,} events on {backend}"):
            for body in bodies:
                t0 = time.perf_counter()
                req = request_from_wire(codec.decode(body))
                t1 = time.perf_counter()
                result = hub.replica.ingest(req.push, req.profiles, sender, req.session)
                t2 = time.perf_counter()
                decode_s += t1 - t0
                ingest_s += t2 - t1
                events += result.applied
        if events != 3 * n:
            raise RuntimeError(f"ingest applied {events} events, expected {3 * n}")
        return IngestRun(backend, events, len(bodies), ingest_s, decode_s, build_s, sum(map(len, bodies)))


# ----------------------------------------------------------------------------- PouchDB


def run_pouch(n: int, runs: int, rtt_ms: float) -> dict[str, Any]:
    from bench.pouch_peer import run_pouch_baseline

    figures = run_pouch_baseline([n], runs, rtt_ms)
    res = figures["results"][n]
    phases = {name: res["phases"][letter] for name, letter, _ in PHASES}
    return {"meta": figures["meta"], "phases": phases, "avg_doc_bytes": res["avg_doc_bytes"],
            "runs": [{name: r["phases"][letter] for name, letter, _ in PHASES} for r in res["runs"]]}


# ----------------------------------------------------------------------------- report


def median_phase(phases: Sequence[Phase]) -> dict[str, float]:
    return {c: statistics.median(getattr(p, c) for p in phases) for c in COLUMNS}


def fmt_bytes(b: float) -> str:
    if b >= MIB:
        return f"{b / MIB:.2f} MiB"
    if b >= 1024:
        return f"{b / 1024:.1f} KiB"
    return f"{b:.0f} B"


def fmt_col(col: str, v: float) -> str:
    if col == "requests":
        return f"{v:g}"
    if col == "wall_s":
        return f"{v:.2f} s"
    return fmt_bytes(v)


def fmt_ratio(m: float, p: float) -> str:
    if not p:
        return "—"
    r = m / p
    return f"{r:.3f}×" if r < 0.1 else f"{r:.2f}×"


@dataclass
class Link:
    rtt_ms: float
    n: int
    runs: int
    motcua: dict[str, dict[str, float]] = field(default_factory=dict)
    motcua_runs: list[dict[str, Any]] = field(default_factory=list)
    pouch: dict[str, Any] | None = None
    pouch_error: str = ""

    @property
    def label(self) -> str:
        return "loopback" if not self.rtt_ms else f"+{self.rtt_ms:g} ms RTT"


def format_table(links: Sequence[Link], hub_db: str) -> str:
    head = ("| link | N | phase | peer | HTTP requests | bytes up | bytes down | total bytes | wall time |\n"
            "|---|---|---|---|---|---|---|---|---|")
    lines = [head]
    for link in links:
        for name, letter, label in PHASES:
            m = link.motcua.get(name)
            if m is None:
                lines.append(f"| {link.label} | {link.n:,} | {label} | motcua (hub {hub_db}) | every run failed "
                             "| | | | |")
            else:
                lines.append(f"| {link.label} | {link.n:,} | {label} | motcua (hub {hub_db}) | "
                             + " | ".join(fmt_col(c, m[c]) for c in COLUMNS) + " |")
            if link.pouch:
                p = link.pouch["phases"][name]
                lines.append(f"| | | | PouchDB ({letter}) | " + " | ".join(fmt_col(c, p[c]) for c in COLUMNS) + " |")
                if m is not None:
                    ratios = " | ".join(fmt_ratio(m[c], p[c]) for c in COLUMNS)
                    lines.append(f"| | | | **motcua/PouchDB** | {ratios} |")
            else:
                lines.append(f"| | | | PouchDB ({letter}) | n/a | n/a | n/a | n/a | {link.pouch_error or 'skipped'} |")
    return "\n".join(lines)


@dataclass
class Target:
    what: str
    value: float | None
    limit: float
    unit: str  # "req", "B", "s", "ev/s"
    higher_is_better: bool = False

    def line(self) -> str:
        def show(v: float) -> str:
            if self.unit == "B":
                return fmt_bytes(v)
            if self.unit == "s":
                return f"{v:.2f} s"
            if self.unit == "ev/s":
                return f"{v:,.0f} events/s"
            return f"{v:g} request{'s' if v != 1 else ''}"

        op = "≥" if self.higher_is_better else "≤"
        if self.value is None:
            return f"- NOT MEASURED  {self.what}: target {op} {show(self.limit)}"
        ok = self.value >= self.limit if self.higher_is_better else self.value <= self.limit
        if ok:
            margin = (f"{self.value / self.limit:.2f}× the target" if self.higher_is_better
                      else f"{self.value / self.limit:.0%} of the budget, {show(self.limit - self.value)} to spare")
            return f"- met     {self.what}: {show(self.value)} (target {op} {show(self.limit)}; {margin})"
        if self.higher_is_better:
            margin = f"{self.value / self.limit:.0%} of the target, needs {self.limit / self.value:.2f}× faster"
        else:
            margin = f"{self.value / self.limit:.2f}× the target, {show(self.value - self.limit)} over"
        return f"- MISSED  {self.what}: {show(self.value)} (target {op} {show(self.limit)}; {margin})"


def design_targets(links: Sequence[Link], ingest: dict[str, list[IngestRun]]) -> list[Target]:
    loop = next((x for x in links if not x.rtt_ms), None)
    slow = next((x for x in links if x.rtt_ms == 300), None)
    noop_link = slow if slow is not None and slow.motcua else loop

    def get(link: Link | None, phase: str, col: str) -> float | None:
        return None if link is None or phase not in link.motcua else link.motcua[phase][col]

    def rate(backend: str) -> float | None:
        runs = ingest.get(backend) or []
        return statistics.median(r.events_per_s for r in runs) if runs else None

    return [
        Target("push: HTTP requests (loopback)", get(loop, "push", "requests"), 20, "req"),
        Target("push: bytes on the wire (loopback)", get(loop, "push", "bytes_total"), 2.6 * MIB, "B"),
        Target("push: wall time on loopback", get(loop, "push", "wall_s"), 2.0, "s"),
        Target("push: wall time at +300 ms RTT", get(slow, "push", "wall_s"), 5.0, "s"),
        Target("no-op sync: HTTP requests", get(noop_link, "noop", "requests"), 1, "req"),
        Target("no-op sync: bytes on the wire", get(noop_link, "noop", "bytes_total"), 1024, "B"),
        Target("no-op sync: wall time at +300 ms RTT", get(slow, "noop", "wall_s"), 0.4, "s"),
        Target("fresh node pulls N dossiers at +300 ms RTT", get(slow, "pull", "wall_s"), 5.0, "s"),
        Target("hub ingest on SQLite (verify + insert + project + commit)", rate("sqlite"), 10_000, "ev/s", True),
        Target("hub ingest on PostgreSQL (verify + insert + project + commit)", rate("postgresql"), 10_000, "ev/s",
               True),
    ]


def format_ingest(ingest: dict[str, list[IngestRun]], n: int) -> str:
    lines = [f"Hub ingest, {3 * n:,} events ({n:,} dossiers × 3), one thread, median of runs:"]
    for backend, runs in ingest.items():
        if not runs:
            continue
        med = statistics.median
        lines.append(
            f"- {backend:<10}: {med(r.events_per_s for r in runs):>9,.0f} events/s ingest "
            f"(verify + insert + projection + commit; {med(r.ingest_s for r in runs):.2f} s, "
            f"{runs[0].batches} batches); {med(r.with_decode_per_s for r in runs):,.0f} events/s with "
            f"zstd+JSON decode ({med(r.decode_s for r in runs):.2f} s); client build+encode "
            f"{med(r.build_s for r in runs):.2f} s for {fmt_bytes(runs[0].wire_bytes)} of bodies"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.sync_bench",
        description="motcua vs PouchDB on identical dossiers (DESIGN §7): push, no-op sync, pull, hub ingest.",
    )
    p.add_argument("--n", type=int, default=DESIGN_N, help=f"dossiers (default {DESIGN_N:,}, the DESIGN's)")
    p.add_argument("--runs", type=int, default=3, help="runs per measurement; medians are reported (default 3)")
    p.add_argument("--rtt-ms", type=float, default=300.0,
                   help="added round trip for the slow-link phases; 0 = loopback only (default 300)")
    p.add_argument("--rtt-n", type=int, default=None, help="dossiers for the slow-link phases (default --n)")
    p.add_argument("--rtt-runs", type=int, default=None, help="runs for the slow-link phases (default --runs)")
    p.add_argument("--skip-pouch", action="store_true", help="do not run the PouchDB reference peer")
    p.add_argument("--skip-ingest", action="store_true", help="do not measure hub ingest")
    p.add_argument("--hub-db", choices=("sqlite", "postgresql"), default="sqlite",
                   help="database of the served hub in the HTTP phases (default sqlite)")
    p.add_argument("--pg-url", default=os.environ.get("MOTCUA_BENCH_PG_URL", DEFAULT_PG_URL),
                   help="PostgreSQL server for throwaway databases (env MOTCUA_BENCH_PG_URL; "
                        f"default {DEFAULT_PG_URL}); 'none' skips PostgreSQL")
    p.add_argument("--seed", type=int, default=0, help="dossier seed (0 = byte-identical to baseline.js)")
    p.add_argument("--phase-timeout", type=float, default=None,
                   help="seconds per phase (default 120 + 0.05 s per dossier)")
    p.add_argument("--rebuild-cache", action="store_true", help="regenerate the prepared commune data")
    p.add_argument("--code-ref", default="",
                   help="measure this git commit (e.g. HEAD) instead of the work tree as it is at start")
    p.add_argument("--retries", type=int, default=1,
                   help="repeat a failed run this many times (failures are listed in the report; default 1)")
    p.add_argument("--json", type=Path, default=None, help="also write every figure, per run, to this file")
    args = p.parse_args(argv)
    if args.n < 1 or args.runs < 1:
        p.error("--n and --runs must be >= 1")
    if args.rtt_ms < 0:
        p.error("--rtt-ms must be >= 0")
    args.rtt_n = args.rtt_n or args.n
    args.rtt_runs = args.rtt_runs or args.runs
    if args.hub_db == "postgresql" and args.pg_url == "none":
        p.error("--hub-db postgresql needs --pg-url")
    return args


def with_retries(what: str, fn: Callable[[], Any], retries: int, failures: list[str]) -> Any:
    """Run ``fn``; repeat a failed run up to ``retries`` times, keeping every failure for the report.

    Returns None if every attempt failed (the run is left out of the medians and the report says
    so). A phase timeout or an interrupt is never retried: it ends the benchmark.
    """
    for attempt in range(retries + 1):
        try:
            return fn()
        except PhaseTimeout:
            raise
        except Exception as e:
            failures.append(f"{what} (attempt {attempt + 1}/{retries + 1}): {type(e).__name__}: {e}")
            log(f"FAILED {what} (attempt {attempt + 1} of {retries + 1}): {type(e).__name__}: {e}")
    log(f"GAVE UP on {what}: left out of the medians")
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    previous_term = signal.signal(signal.SIGTERM, _sigterm_as_interrupt)
    code_dir = Path(tempfile.mkdtemp(prefix="motcua-sync-bench-code-"))
    pg = PgDatabases(args.pg_url) if args.pg_url != "none" else None
    failures: list[str] = []
    args.failures = failures
    links = [Link(0.0, args.n, args.runs)]
    if args.rtt_ms:
        links.append(Link(args.rtt_ms, args.rtt_n, args.rtt_runs))
    ingest: dict[str, list[IngestRun]] = {"sqlite": [], "postgresql": []}
    try:
        args.git = git_revision() if not args.code_ref else subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", args.code_ref], capture_output=True, text=True,
            timeout=10, check=True).stdout.strip()
        snapshot_code(code_dir / "src", args.code_ref)
        args.code_fingerprint = code_fingerprint()
        log(f"code under test snapshotted to {code_dir / 'src'} (fingerprint {args.code_fingerprint})")
        prepared: dict[int, Path] = {}
        for link in links:
            if link.n not in prepared:
                prepared[link.n] = prepared_commune(link.n, args.seed, args.rebuild_cache,
                                                    timeout_s=300 + 0.2 * link.n)
        for link in links:
            timeout_s = args.phase_timeout or (120 + 0.05 * link.n + 0.01 * link.rtt_ms * link.n / 1000)
            for i in range(link.runs):
                log(f"motcua {link.label} N={link.n:,} run {i + 1}/{link.runs} (hub on {args.hub_db})")
                phases = with_retries(
                    f"motcua {link.label} run {i + 1}",
                    lambda link=link, timeout_s=timeout_s: run_motcua_http(
                        link.n, prepared[link.n], link.rtt_ms, args.hub_db, pg, timeout_s),
                    args.retries, failures)
                if phases is None:
                    continue
                link.motcua_runs.append({k: asdict(v) for k, v in phases.items()})
                log("  " + " | ".join(f"{k}: {v.wall_s:.2f} s, {v.requests} req, {fmt_bytes(v.bytes_total)}"
                                      for k, v in phases.items()))
            if link.motcua_runs:
                link.motcua = {name: median_phase([Phase(**r[name]) for r in link.motcua_runs])
                               for name, _, _ in PHASES}
        if not args.skip_ingest:
            backends = ["sqlite"] + (["postgresql"] if pg else [])
            for backend in backends:
                for i in range(args.runs):
                    log(f"hub ingest on {backend}, N={args.n:,}, run {i + 1}/{args.runs}")
                    r = with_retries(f"ingest on {backend} run {i + 1}",
                                     lambda backend=backend: run_ingest(args.n, prepared[args.n], backend, pg,
                                                                        120 + 0.1 * args.n),
                                     args.retries, failures)
                    if r is None:
                        continue
                    ingest[backend].append(r)
                    log(f"  {r.events_per_s:,.0f} events/s ({r.ingest_s:.2f} s for {r.events:,} events, "
                        f"{r.batches} batches; decode {r.decode_s:.2f} s)")
        if not args.skip_pouch:
            for link in links:
                log(f"PouchDB peer {link.label} N={link.n:,}, {link.runs} run(s)")
                try:
                    link.pouch = run_pouch(link.n, link.runs, link.rtt_ms)
                except (RuntimeError, FileNotFoundError) as e:  # PeerToolMissing/PeerRunError are RuntimeErrors
                    link.pouch_error = f"PouchDB failed: {e}".splitlines()[0][:200]
                    log(f"WARNING: {link.pouch_error}")
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        return 130
    except PhaseTimeout as e:
        log(f"TIMEOUT: {e}")
        return 3
    finally:
        if pg:
            pg.close()
        shutil.rmtree(code_dir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous_term)

    args.load_avg = [round(x, 2) for x in os.getloadavg()]
    report = render(args, links, ingest)
    print(report)
    if args.json:
        args.json.write_text(json.dumps(to_json(args, links, ingest), indent=2, default=str) + "\n")
        log(f"wrote {args.json}")
    return 0


def render(args: argparse.Namespace, links: Sequence[Link], ingest: dict[str, list[IngestRun]]) -> str:
    from bench.dossiers import generate_dossiers, mean_json_bytes

    n_runs = ", ".join(f"{x.label}: N={x.n:,}, {x.runs} run(s)" for x in links)
    pouch_meta = next((x.pouch["meta"] for x in links if x.pouch), None)
    peer = (f"PouchDB {pouch_meta['pouchdb']} / express-pouchdb {pouch_meta['express_pouchdb']} on Node "
            f"{pouch_meta['node']}" if pouch_meta else "PouchDB not run")
    avg = mean_json_bytes(generate_dossiers(min(args.n, 1000), args.seed))
    out = [
        f"motcua sync benchmark — medians ({n_runs}; motcua runs that succeeded: "
        f"{', '.join(f'{len(x.motcua_runs)}/{x.runs}' for x in links)}); {peer}",
        f"Same dossiers on both sides (seed {args.seed}, {avg:.0f} B of JSON each; motcua: 1 received + 2 status "
        f"events per dossier). motcua bytes are counted by LatencyProxy (rtt 0 on loopback), PouchDB's at its "
        f"server socket; both include HTTP headers. Hub: motcua district node on {args.hub_db}, served by "
        f"`motcua serve` (gunicorn); PouchDB: express-pouchdb, memory adapter. Machine: {os.cpu_count()} CPU(s), "
        f"load average at the end {args.load_avg[0]:.2f}/{args.load_avg[1]:.2f}/{args.load_avg[2]:.2f} "
        f"(1/5/15 min). Code: git {args.git}, fingerprint {args.code_fingerprint}.",
        "",
        format_table(links, args.hub_db),
        "",
    ]
    if any(ingest.values()):
        out += [format_ingest(ingest, args.n), ""]
    note = "" if all(x.n == DESIGN_N for x in links) else \
        f" (N differs from the DESIGN's {DESIGN_N:,}: indicative only)"
    if args.failures:
        out.append(f"WARNING: {len(args.failures)} attempt(s) failed (each repeated up to --retries times):")
        out += [f"- {f.splitlines()[0][:300]}" for f in args.failures]
        out.append("")
    out.append(f"DESIGN §7 targets{note}:")
    out += [t.line() for t in design_targets(links, ingest)]
    return "\n".join(out)


def to_json(args: argparse.Namespace, links: Sequence[Link], ingest: dict[str, list[IngestRun]]) -> dict[str, Any]:
    return {
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "pg_url"},
        "links": [
            {"rtt_ms": x.rtt_ms, "n": x.n, "runs": x.runs, "motcua_median": x.motcua, "motcua_runs": x.motcua_runs,
             "pouch": x.pouch, "pouch_error": x.pouch_error}
            for x in links
        ],
        "ingest": {b: [asdict(r) | {"events_per_s": r.events_per_s, "with_decode_per_s": r.with_decode_per_s}
                       for r in runs] for b, runs in ingest.items()},
        "targets": [asdict(t) | {"line": t.line()} for t in design_targets(links, ingest)],
    }


if __name__ == "__main__":
    sys.exit(main())
