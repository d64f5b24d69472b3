"""A province's communes syncing at once into one hub: session times, hub CPU, throughput.

Responsibility: ``--communes`` commune data directories (default 150), each holding
``--events`` new dossiers (default 300 events, one ``dossier.received`` each) of its own unit, are
prepared in this one process (a key, a SQLite event store, events built, hashed and signed by
:class:`sync.log.LocalLog`: no ``motcua init`` per commune). For each backend a fresh district hub
(``motcua init`` + ``motcua serve``, :class:`bench.sync_hub.HubServer`) is started on loopback;
``--client-procs`` client processes then open their share of the communes, one thread per commune,
and at one signal every commune runs one sync session (:class:`sync.engine.SyncClient` over
:class:`sync.transport.HttpTransport`, as ``motcua sync`` does), pushing its events.

Printed, one row per backend: sessions ok / total, p50, p95 and max of a session's wall time
(from the signal to the end of that commune's session), the wave's wall time (signal to the last
session's end), events stored per second of wave, the hub's CPU seconds (user + system of every
process of its group, read from /proc before and after) and that CPU over the wave's wall time,
the hub's worker processes, and the load average at the end (the machine is shared: read the
figures beside it).

``--profile`` also ingests the same push batches in this process into a fresh hub database on
the first backend, serially, under cProfile, and prints the top functions: where the hub's CPU
goes, without HTTP in the way.

    .venv/bin/python -m bench.hub_load --communes 150 --events 300 --pg-url postgresql://…/h19 --port 28100

The PostgreSQL database named by ``--pg-url`` (default ``$DATABASE_URL``) is EMPTIED (its public
schema dropped) before each run: give it a database of its own. Every process this bench starts
is stopped and its temporary directories are removed, on success, failure or Ctrl-C.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench.sync_hub import HubServer
from bench.sync_nodes import log

KEY_FILE, STORE_FILE, UNIT_FILE = "node.key", "events.sqlite3", "unit"
BASE_MS = 1_779_000_000_000


# ----------------------------------------------------------------------------- communes


def commune_unit(i: int) -> str:
    return f"{20000 + i:05d}"


def prepare_communes(root: Path, communes: int, events: int) -> list[Path]:
    """``communes`` data directories of ``events`` new dossiers each, made in this process."""
    import peewee as pw

    from node.domain.dossier import validate_received
    from node.signing import NodeKey
    from sync.log import LocalLog
    from sync.store import PeeweeStore
    from sync.wire import make_ref

    t0 = time.perf_counter()
    dirs = []
    for i in range(communes):
        d = root / f"commune-{i:03d}"
        d.mkdir(parents=True)
        key = NodeKey.generate()
        key.save(d / KEY_FILE)
        unit = commune_unit(i)
        (d / UNIT_FILE).write_text(unit)
        db = pw.SqliteDatabase(str(d / STORE_FILE), pragmas={"journal_mode": "wal", "synchronous": 1})
        store = PeeweeStore(db)
        store.create_tables()
        clock = iter(range(BASE_MS + i, BASE_MS + i + 10 * events * communes, communes))
        log_ = LocalLog(store, key, clock.__next__)
        with log_.transaction():
            for seq in range(1, events + 1):
                body = validate_received({
                    "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
                    "applicant": {"name": f"Người Thử {i} {seq}", "id_number": f"04{i:04d}{seq:06d}",
                                  "phone": "0912345678", "address": f"Xóm {seq % 9}, xã {unit}"},
                    "received_at": BASE_MS + seq, "code": f"H-{unit}-{seq:05d}", "note": "",
                })
                log_.append(scope=unit, entity=f"dossier/{make_ref(key.node_id, unit, seq)}",
                            type="dossier.received", body=body, author="cán bộ một cửa")
        db.close()
        dirs.append(d)
    log(f"prepared {communes} communes x {events} events in {time.perf_counter() - t0:.1f} s")
    return dirs


def open_commune(d: Path, wall_ms: Any) -> tuple[Any, Any]:
    """(replica, key) of a prepared commune; it admits the hub's self-signed profile (dev trust)."""
    import peewee as pw

    from node.signing import NodeKey, verify_signature
    from sync.log import LocalLog
    from sync.protocol import Profile
    from sync.replica import Replica
    from sync.store import PeeweeStore
    from sync.trust import OpenTrust

    key = NodeKey.load(d / KEY_FILE)
    unit = (d / UNIT_FILE).read_text()
    store = PeeweeStore(pw.SqliteDatabase(str(d / STORE_FILE), pragmas={"journal_mode": "wal"},
                                          check_same_thread=False))
    unsigned = Profile(key.node_id, key.public_key, "commune", unit, f"Xã {unit}")
    profile = Profile(key.node_id, key.public_key, "commune", unit, unsigned.name, key.sign(unsigned.statement()))
    trust = OpenTrust(verify_signature, store, open_to_strangers=True)
    replica = Replica(store, profile, LocalLog(store, key, wall_ms), verify_signature, lambda _e: None, wall_ms,
                      trust=trust)
    return replica, key


def client_process(dirs: list[str], url: str, go: Any, out: Any, timeout_s: float) -> None:
    """Open the communes, report ready, wait for ``go``, sync all at once, report each session."""
    from sync.engine import SyncClient
    from sync.transport import HttpTransport

    def wall_ms() -> int:
        return time.time_ns() // 1_000_000

    opened = [open_commune(Path(d), wall_ms) for d in dirs]
    out.put(("ready", len(opened)))
    go.wait(timeout=600)
    t0 = time.time()

    def one(replica: Any, key: Any) -> None:
        transport = HttpTransport(url, key, wall_ms, read_timeout=timeout_s)
        try:
            summary = SyncClient(replica, transport, url).sync()
            out.put(("session", t0, time.time(), summary.ok, summary.events_out,
                     f"{summary.error_code}: {summary.error}" if not summary.ok else ""))
        except Exception as e:  # reported as a failed session, never lost
            out.put(("session", t0, time.time(), False, 0, f"{type(e).__name__}: {e}"))
        finally:
            transport.close()

    threads = [threading.Thread(target=one, args=pair, daemon=True) for pair in opened]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout_s * 3)


# ----------------------------------------------------------------------------- hub


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of every live process in the process group ``pgid`` (and of its
    reaped children, cutime/cstime)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:  # fields[2] is the pgrp (4th field of stat)
            total += sum(int(f) for f in fields[11:15])
    return total / tick


def group_processes(pgid: int) -> int:
    n = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                n += int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[2]) == pgid
    return n


def reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as con:
        con.execute("DROP SCHEMA IF EXISTS public CASCADE")
        con.execute("CREATE SCHEMA public")


def run_case(backend: str, prepared: list[Path], work: Path, args: argparse.Namespace) -> dict[str, Any]:
    case = work / backend
    dirs = [shutil.copytree(d, case / d.name) for d in prepared]
    url = args.pg_url if backend == "postgresql" else ""
    if url:
        reset_postgres(url)
    env = {"MOTCUA_WORKERS": str(args.threads), "MOTCUA_ADVERTISE": "false"}
    if args.processes:
        env["MOTCUA_PROCESSES"] = str(args.processes)
    ctx = multiprocessing.get_context("fork")
    with HubServer(case / "hub", url, port=args.port, env=env) as hub:
        go, out = ctx.Event(), ctx.Queue()
        shares = [[str(d) for d in dirs[k :: args.client_procs]] for k in range(args.client_procs)]
        procs = [ctx.Process(target=client_process, args=(share, hub.url, go, out, args.timeout), daemon=True)
                 for share in shares if share]
        for p in procs:
            p.start()
        try:
            ready = 0
            while ready < len(dirs):
                ready += out.get(timeout=300)[1]
            workers = group_processes(hub.process.pid) - 1  # the master
            cpu0 = group_cpu_seconds(hub.process.pid)
            go.set()
            sessions = [out.get(timeout=args.timeout * 3) for _ in dirs]
            cpu = group_cpu_seconds(hub.process.pid) - cpu0
        finally:
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.kill()
    size = database_bytes_per_event(url) if url else 0.0
    start = min(s[1] for s in sessions)
    times = sorted(s[2] - s[1] for s in sessions)
    wall = max(s[2] for s in sessions) - start
    errors = [s[5] for s in sessions if not s[3]]
    for e in sorted(set(errors))[:5]:
        log(f"  {backend}: failed session: {e}")
    events = sum(s[4] for s in sessions)
    return {
        "backend": backend, "workers": workers, "ok": len(sessions) - len(errors), "sessions": len(sessions),
        "p50": statistics.median(times), "p95": times[max(0, math.ceil(0.95 * len(times)) - 1)], "max": times[-1],
        "wall": wall, "events": events, "rate": events / wall if wall else 0.0, "cpu": cpu,
        "cpu_pct": 100 * cpu / wall if wall else 0.0, "load": os.getloadavg(), "db_bytes_per_event": size,
    }


def database_bytes_per_event(url: str) -> float:
    """The hub schema's size (tables, indexes, TOAST) per stored event, for sizing."""
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as con:
        con.execute("VACUUM ANALYZE")
        size = con.execute("SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c JOIN pg_namespace n "
                           "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'").fetchone()[0]
        events = con.execute("SELECT count(*) FROM event").fetchone()[0]
    return float(size) / events if events else 0.0


# ----------------------------------------------------------------------------- profile


def profile_ingest(prepared: list[Path], work: Path, backend: str, args: argparse.Namespace, top: int = 25) -> None:
    """The hub's ingest of every commune's push, serially in this process, under cProfile."""
    import cProfile
    import pstats

    from node.config import load_settings
    from node.db import open_database
    from node.services import Node
    from node.signing import NodeKey

    data_dir = work / "profile-hub"
    data_dir.mkdir(parents=True)
    key = NodeKey.generate()
    key.save(data_dir / KEY_FILE)
    url = args.pg_url if backend == "postgresql" else ""
    if url:
        reset_postgres(url)
    (data_dir / "node.json").write_text(f'{{"role": "district", "unit": "40", "name": "Hub", '
                                        f'"node_id": "{key.node_id}"}}')
    settings = load_settings(data_dir, environ={}, overrides={"DATABASE_URL": url, "DEV_OPEN_TRUST": True})
    hub = Node(settings, open_database(settings, data_key=None), key)
    batches = []
    for d in prepared:
        replica, _ = open_commune(d, lambda: time.time_ns() // 1_000_000)
        out = replica.outgoing_for(hub.profile, {}, 1 << 30)
        batches.append((out.runs, out.profiles, replica.me))
        replica.store.db.close()
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    for runs, profiles, sender in batches:
        hub.replica.ingest(runs, profiles, sender, os.urandom(8).hex())
    profiler.disable()
    secs = time.perf_counter() - t0
    hub.close()
    events = sum(len(r.events) for runs, _, _ in batches for r in runs)
    print(f"\nprofile: {backend} hub ingest of {len(batches)} pushes, {events} events, in one thread: "
          f"{secs:.2f} s ({events / secs:,.0f} events/s)\n")
    pstats.Stats(profiler, stream=sys.stdout).sort_stats("cumulative").print_stats(top)


# ----------------------------------------------------------------------------- main


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\nhub load: {args.communes} communes x {args.events} events syncing at once, clients on this machine "
          f"({args.client_procs} client processes, {os.cpu_count()} cores, shared)\n")
    print("| hub database | worker processes | sessions ok | p50 s | p95 s | max s | wave s | events/s "
          "| hub CPU s | hub CPU % of one core | load avg (1/5/15 min) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        load = " / ".join(f"{v:.1f}" for v in r["load"])
        print(f"| {r['backend']} | {r['workers']} | {r['ok']}/{r['sessions']} | {r['p50']:.2f} | {r['p95']:.2f} "
              f"| {r['max']:.2f} | {r['wall']:.2f} | {r['rate']:,.0f} | {r['cpu']:.1f} | {r['cpu_pct']:.0f} "
              f"| {load} |")
    for r in rows:
        if r["db_bytes_per_event"]:
            print(f"\n{r['backend']} hub database: {r['db_bytes_per_event']:,.0f} bytes per stored event "
                  "(every table of the schema with its indexes and TOAST: events, derived dossiers, ledger)")
    print(f"\ntarget: every session ok, p95 <= 2 s. {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--communes", type=int, default=150)
    p.add_argument("--events", type=int, default=300)
    p.add_argument("--backend", choices=("postgresql", "sqlite", "both"), default="both")
    p.add_argument("--pg-url", default=os.environ.get("DATABASE_URL", ""),
                   help="PostgreSQL database to EMPTY and use (default $DATABASE_URL)")
    p.add_argument("--port", type=int, default=0, help="hub port (default: a free one)")
    p.add_argument("--processes", type=int, default=0, help="hub worker processes on PostgreSQL (0: the default)")
    p.add_argument("--threads", type=int, default=4, help="threads per hub worker (WORKERS)")
    p.add_argument("--client-procs", type=int, default=4)
    p.add_argument("--timeout", type=float, default=120.0, help="read timeout of a session's requests")
    p.add_argument("--profile", action="store_true", help="also profile the hub's ingest in this process")
    args = p.parse_args(argv)
    backends = ["postgresql", "sqlite"] if args.backend == "both" else [args.backend]
    if "postgresql" in backends and not args.pg_url:
        p.error("PostgreSQL needs --pg-url or DATABASE_URL (a database of its own: it is emptied)")
    work = Path(tempfile.mkdtemp(prefix="motcua-hub-load-"))
    try:
        prepared = prepare_communes(work / "prepared", args.communes, args.events)
        rows = []
        for backend in backends:
            log(f"{backend}: {args.communes} sessions at once")
            rows.append(run_case(backend, prepared, work, args))
        print_table(rows, args)
        if args.profile:
            profile_ingest(prepared, work, backends[0], args)
        return 0 if all(r["ok"] == r["sessions"] for r in rows) else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
