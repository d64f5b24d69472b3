"""Run the PouchDB reference peer (``shared/bench-peer/baseline.js``) and return its figures.

Responsibility: give ``bench/sync_bench.py`` one call, :func:`run_pouch_baseline`, that yields the
PouchDB figures (requests, bytes up/down, wall time per phase A..F, conflicts) measured on this
machine in the same invocation as motcua's, so every comparison is a ratio from one machine.

Invariants:

- The peer's sources are never used in place: they are copied into a cache directory outside
  the git work tree (default ``~/.cache/motcua/bench-peer``), so ``node_modules`` can never be
  committed and the read-only ``shared/`` folder is never written to.
- ``npm install`` runs at most once per ``package.json`` content: a stamp file holding the hash
  of ``package.json`` is written only after a successful install, so an interrupted install is
  retried on the next call instead of being trusted.
- Every subprocess has a timeout; a missing ``node``/``npm`` raises :class:`PeerToolMissing`.
- Direction names follow the client's view: *up* = client -> server. baseline.js counts at the
  server, so its ``bytesIn`` is our ``bytes_up`` and its ``bytesOut`` our ``bytes_down``.

Locations (environment overrides):

- ``MOTCUA_BENCH_PEER_DIR``: the peer's sources (default ``<repo>/../shared/bench-peer``).
- ``MOTCUA_BENCH_PEER_CACHE``: the working copy with ``node_modules``
  (default ``$XDG_CACHE_HOME/motcua/bench-peer``, i.e. ``~/.cache/motcua/bench-peer``).

CLI: ``python -m bench.pouch_peer --n=1000,10000 --runs=1 --rtt-ms=0 [--json=out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from contextlib import suppress
from pathlib import Path
from typing import Any

from bench.pouch_install import Log, PeerRunError, PeerToolMissing, prepare_peer, require_tool, stderr_log

REPO_ROOT = Path(__file__).resolve().parents[1]

# The peer's phases in the order baseline.js runs them, with the letters DESIGN.md §7 and
# sync-anchors.md §10 use for them.
PHASES: tuple[tuple[str, str], ...] = (
    ("A", "initialPush"),
    ("B", "noopPush"),
    ("C", "firstSync"),
    ("D", "noopSync"),
    ("E", "initialPull"),
    ("F", "conflictSync"),
)
PHASE_LABELS: dict[str, str] = {
    "A": "initial push",
    "B": "no-op push",
    "C": "first sync after push",
    "D": "no-op sync",
    "E": "initial pull (empty DB)",
    "F": "sync after 1% edited on both sides",
}


def estimate_timeout_s(n_list: Sequence[int], runs: int, rtt_ms: float) -> float:
    """A generous upper bound for one baseline.js invocation.

    Calibrated on sync-anchors.md §10: per 1,000 documents a run makes about 140 sequential
    requests over phases A..F and needs about 1 s of CPU on loopback; every request pays
    rtt_ms. Three times that, plus start-up, leaves room for a slower or busier machine.
    """
    per_run = sum(5.0 + (n / 1000.0) * (1.5 + 140 * rtt_ms / 1000.0) + 30 * rtt_ms / 1000.0 for n in n_list)
    return 60.0 + 3.0 * runs * per_run


def _run_group(cmd: list[str], *, cwd: Path, timeout_s: float) -> str:
    """Run ``cmd`` in its own process group, return its stdout; kill the whole group on timeout.

    baseline.js forks an HTTP server child that keeps listening if only its parent is killed,
    so a plain ``subprocess.run(timeout=...)`` would leave an orphan behind.
    """
    # stderr is inherited: baseline.js prints one progress line per run there, which shows a
    # long run is alive.
    proc = subprocess.Popen(
        cmd, cwd=cwd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True, start_new_session=True
    )
    try:
        stdout, _ = proc.communicate(timeout=timeout_s)
    except BaseException as exc:  # timeout, Ctrl-C: never leave the node processes running
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=10)
        if isinstance(exc, subprocess.TimeoutExpired):
            raise PeerRunError(
                f"baseline.js timed out after {timeout_s:.0f} s ({' '.join(cmd[1:])})"
            ) from exc
        raise
    if proc.returncode != 0:
        # The server child may outlive a crashed parent for the same reason as above.
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        raise PeerRunError(f"baseline.js exited {proc.returncode}; stdout:\n{stdout[-4000:]}")
    return stdout


def run_baseline_raw(
    n_list: Sequence[int],
    runs: int = 1,
    rtt_ms: float = 0,
    *,
    timeout_s: float | None = None,
    cache: Path | None = None,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """Run ``node baseline.js`` once and return its ``--json`` output unchanged.

    Shape (as written by baseline.js): ``{node, pouchdb, expressPouchdb, rttMs, results}``
    where ``results[str(n)] = {runs: [per-run], median: {...}}``; see :func:`run_pouch_baseline`
    for a normalised view.
    """
    if not n_list or any(int(n) <= 0 for n in n_list):
        raise ValueError(f"n_list must hold positive document counts, got {list(n_list)!r}")
    if runs < 1:
        raise ValueError(f"runs must be >= 1, got {runs}")
    if rtt_ms < 0:
        raise ValueError(f"rtt_ms must be >= 0, got {rtt_ms}")
    cache = prepare_peer(cache=cache, log=log)
    node = require_tool("node")
    timeout_s = timeout_s if timeout_s is not None else estimate_timeout_s(n_list, runs, rtt_ms)
    ns = ",".join(str(int(n)) for n in n_list)
    # baseline.js takes a number; keep integers integral so its printed header stays tidy.
    rtt_arg = str(int(rtt_ms)) if float(rtt_ms).is_integer() else str(rtt_ms)
    with tempfile.TemporaryDirectory(prefix="motcua-pouch-") as tmp:
        out_json = Path(tmp) / "baseline.json"
        cmd = [
            node,
            "baseline.js",
            f"--n={ns}",
            f"--runs={runs}",
            f"--rtt-ms={rtt_arg}",
            f"--json={out_json}",
        ]
        log(f"running {' '.join(cmd[1:])} (timeout {timeout_s:.0f} s)")
        stdout = _run_group(cmd, cwd=cache, timeout_s=timeout_s)
        if not out_json.is_file():
            raise PeerRunError("baseline.js finished but wrote no --json file")
        raw: dict[str, Any] = json.loads(out_json.read_text())
    raw["table"] = stdout
    return raw


def _phase(d: dict[str, Any], letter: str, name: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "letter": letter,
        "name": name,
        "label": PHASE_LABELS[letter],
        "wall_s": d["ms"] / 1000.0,
        "requests": d["requests"],
        "bytes_up": d["bytesIn"],
        "bytes_down": d["bytesOut"],
        "bytes_total": d["bytesTotal"],
        "by_endpoint": dict(d.get("byType", {})),
    }
    # Per-run entries also carry PouchDB's replication result (docs read/written); medians do not.
    if "result" in d:
        out["result"] = d["result"]
    return out


def _phases(block: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {letter: _phase(block[name], letter, name) for letter, name in PHASES}


def run_pouch_baseline(
    n_list: Sequence[int],
    runs: int = 1,
    rtt_ms: float = 0,
    *,
    timeout_s: float | None = None,
    log: Log = stderr_log,
) -> dict[str, Any]:
    """Run the PouchDB peer for each N and return normalised figures.

    Returns::

        {
          "meta": {"node", "pouchdb", "express_pouchdb", "rtt_ms", "runs", "n_list"},
          "results": {
            n: {                                  # int keys
              "avg_doc_bytes": int,               # mean compact-JSON size of the dossiers
              "phases": {"A": phase, ..., "F": phase},    # median of the runs
              "conflicts": {editedOnBothSides, localDocsWithConflicts, remoteDocsWithConflicts,
                            sameWinnerBothSides, winnerIsDistrictEdit, winnerIsCommuneEdit},
              "runs": [{"phases": {...}, "conflicts": {...}}, ...],   # each run, unaggregated
            },
          },
          "table": str,                           # baseline.js's own Markdown table
          "raw": dict,                            # baseline.js --json output, untouched
        }

    where ``phase = {letter, name, label, wall_s, requests, bytes_up, bytes_down, bytes_total,
    by_endpoint}`` (per-run phases also have ``result``: PouchDB's docs_read/docs_written).
    Medians are taken per column, as baseline.js does.
    """
    raw = run_baseline_raw(n_list, runs, rtt_ms, timeout_s=timeout_s, log=log)
    results: dict[int, dict[str, Any]] = {}
    for key, block in raw["results"].items():
        med = block["median"]
        results[int(key)] = {
            "avg_doc_bytes": med["avgDocBytes"],
            "phases": _phases(med),
            "conflicts": dict(med["conflicts"]),
            "runs": [{"phases": _phases(r), "conflicts": dict(r["conflicts"])} for r in block["runs"]],
        }
    return {
        "meta": {
            "node": raw["node"],
            "pouchdb": raw["pouchdb"],
            "express_pouchdb": raw["expressPouchdb"],
            "rtt_ms": raw["rttMs"],
            "runs": runs,
            "n_list": [int(n) for n in n_list],
        },
        "results": results,
        "table": raw.get("table", ""),
        "raw": {k: v for k, v in raw.items() if k != "table"},
    }


def _fmt_bytes(b: float) -> str:
    if b >= 1048576:
        return f"{b / 1048576:.2f} MiB"
    if b >= 1024:
        return f"{b / 1024:.1f} KiB"
    return f"{b:.0f} B"


def format_table(figures: dict[str, Any]) -> str:
    """A Markdown table of the medians, in the column order of sync-anchors.md §10."""
    meta = figures["meta"]
    lines = [
        f"PouchDB {meta['pouchdb']}, express-pouchdb {meta['express_pouchdb']}, Node {meta['node']}, "
        f"added RTT {meta['rtt_ms']} ms, median of {meta['runs']} run(s)",
        "",
        "| N | phase | HTTP requests | bytes up | bytes down | total bytes | wall time |",
        "|---|---|---|---|---|---|---|",
    ]
    for n, res in sorted(figures["results"].items()):
        for letter, ph in res["phases"].items():
            lines.append(
                f"| {n:,} | {letter} {ph['label']} | {ph['requests']:g} | {_fmt_bytes(ph['bytes_up'])} | "
                f"{_fmt_bytes(ph['bytes_down'])} | {_fmt_bytes(ph['bytes_total'])} | {ph['wall_s']:.2f} s |"
            )
    lines.append("")
    for n, res in sorted(figures["results"].items()):
        c = res["conflicts"]
        lines.append(
            f"- N={n:,}: avg doc {res['avg_doc_bytes']} B; edited on both sides {c['editedOnBothSides']}; "
            f"with _conflicts local/remote {c['localDocsWithConflicts']}/{c['remoteDocsWithConflicts']}; "
            f"same winner {c['sameWinnerBothSides']}; winner district/commune "
            f"{c['winnerIsDistrictEdit']}/{c['winnerIsCommuneEdit']}"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the PouchDB reference peer and print its figures.")
    parser.add_argument("--n", default="1000", help="comma-separated document counts (default 1000)")
    parser.add_argument("--runs", type=int, default=1, help="runs per N; figures are medians (default 1)")
    parser.add_argument("--rtt-ms", type=float, default=0.0, help="added round trip per request (default 0)")
    parser.add_argument(
        "--timeout", type=float, default=None, help="seconds for baseline.js (default: estimated)"
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the normalised figures here")
    parser.add_argument("--prepare-only", action="store_true", help="copy + npm install, then exit")
    args = parser.parse_args(argv)
    try:
        if args.prepare_only:
            print(prepare_peer())
            return 0
        n_list = [int(x) for x in args.n.split(",") if x.strip()]
        figures = run_pouch_baseline(n_list, args.runs, args.rtt_ms, timeout_s=args.timeout)
    except (PeerToolMissing, PeerRunError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(format_table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
