"""motcua vs PouchDB on identical dossiers: push, no-op sync and pull, plus hub ingest (DESIGN §7).

Responsibility: one invocation measures motcua and the PouchDB reference peer on the same N
dossiers (``bench.dossiers.generate_dossiers``) and prints one table of medians with the ratios
motcua/PouchDB, the hub's ingest rate on SQLite and PostgreSQL, and one line per DESIGN §7
target saying met or missed and by how much. Progress goes to stderr, the report to stdout.

    python -m bench.sync_bench --n 10000 --runs 3 [--rtt-ms 300] [--skip-pouch] [--json out.json]
    python -m bench.sync_bench --n 1000,10000,50000,100000 --rtt-n 10000   # the N axis, PouchDB alike

``--n`` takes a list: each N is a loopback row of the table (motcua and PouchDB in the same
run) and has its own hub-ingest figures; the slow link runs once, at ``--rtt-n`` (default the
first N). The feeds axis (no-op and first push as the number of feeds grows) is
:mod:`bench.sync_feeds`.

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
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from bench.sync_hub import PgDatabases
from bench.sync_nodes import (
    DEFAULT_PG_URL,
    DESIGN_N,
    REPO_ROOT,
    PhaseTimeout,
    code_fingerprint,
    git_revision,
    log,
    prepared_commune,
    sigterm_as_interrupt,
    snapshot_code,
)
from bench.sync_phases import PHASES, IngestRun, Phase, run_ingest, run_motcua_http, run_pouch
from bench.sync_report import Link, design_targets, fmt_bytes, format_ingest, format_table, median_phase

# ----------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m bench.sync_bench",
        description="motcua vs PouchDB on identical dossiers (DESIGN §7): push, no-op sync, pull, hub ingest.",
    )
    p.add_argument("--n", default=str(DESIGN_N),
                   help=f"dossiers, or a comma-separated list of N (default {DESIGN_N:,}, the DESIGN's)")
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
    try:
        args.ns = [int(x) for x in str(args.n).split(",") if x.strip()]
    except ValueError:
        p.error("--n must be a number or a comma-separated list of numbers")
    if not args.ns or min(args.ns) < 1 or args.runs < 1:
        p.error("--n and --runs must be >= 1")
    args.n = args.ns[0]
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
    previous_term = signal.signal(signal.SIGTERM, sigterm_as_interrupt)
    code_dir = Path(tempfile.mkdtemp(prefix="motcua-sync-bench-code-"))
    pg = PgDatabases(args.pg_url) if args.pg_url != "none" else None
    failures: list[str] = []
    args.failures = failures
    links = [Link(0.0, n, args.runs) for n in args.ns]
    if args.rtt_ms:
        links.append(Link(args.rtt_ms, args.rtt_n, args.rtt_runs))
    ingest_by_n: dict[int, dict[str, list[IngestRun]]] = {n: {"sqlite": [], "postgresql": []} for n in args.ns}
    ingest = ingest_by_n[args.ns[0]]
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
                                      for k, v in phases.items()) + f" | load {os.getloadavg()[0]:.2f}")
            if link.motcua_runs:
                link.motcua = {name: median_phase([Phase(**r[name]) for r in link.motcua_runs])
                               for name, _, _ in PHASES}
        if not args.skip_ingest:
            backends = ["sqlite"] + (["postgresql"] if pg else [])
            for n in args.ns:
                for backend in backends:
                    for i in range(args.runs):
                        log(f"hub ingest on {backend}, N={n:,}, run {i + 1}/{args.runs}")
                        r = with_retries(f"ingest on {backend} N={n:,} run {i + 1}",
                                         lambda backend=backend, n=n: run_ingest(n, prepared[n], backend, pg,
                                                                                 120 + 0.1 * n),
                                         args.retries, failures)
                        if r is None:
                            continue
                        ingest_by_n[n][backend].append(r)
                        log(f"  {r.events_per_s:,.0f} events/s ({r.ingest_s:.2f} s for {r.events:,} events, "
                            f"{r.batches} batches; decode {r.decode_s:.2f} s; load {os.getloadavg()[0]:.2f})")
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
    # the DESIGN's targets are judged on the DESIGN's N when it ran, else on the largest N
    args.ingest_by_n = ingest_by_n
    ingest = ingest_by_n[DESIGN_N if DESIGN_N in ingest_by_n else max(ingest_by_n)]
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
    avg = mean_json_bytes(generate_dossiers(min(args.ns[0], 1000), args.seed))
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
    for n, by_backend in sorted(args.ingest_by_n.items()):
        if any(by_backend.values()):
            out += [format_ingest(by_backend, n), ""]
    note = "" if any(x.n == DESIGN_N for x in links) else \
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
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()
                 if k not in ("pg_url", "ingest_by_n")},
        "ingest_by_n": {str(n): {b: [asdict(r) | {"events_per_s": r.events_per_s} for r in runs]
                                 for b, runs in by.items()} for n, by in args.ingest_by_n.items()},
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
