"""Receptions in one day through the use case (issue 15.5): the rate must not fall as the day fills.

    .venv/bin/python -m bench.reception_bench [--n 100000] [--runs 3] [--checkpoints 1000,10000,100000]
                                              [--commit each|batch] [--plaintext]

A district leases a commune (SQLCipher, WAL, synchronous=FULL, as ``motcua init`` leaves it) a
block of 9,999 numbers for the day, the most a day's code can hold; the commune then receives
``--n`` dossiers on that one day through :meth:`node.services.Node.create_dossier` (a signed
event, the derived row, the name index and the issued-code row each). The first 9,999 get final
codes, the rest provisional ones: both are issued by :class:`node.codes.HeldNumbers`, an indexed
``MAX``, so the 100,000th reception should cost what the 1,000th does.

``--commit each`` (default) commits every reception as the desk does (one fsync each: the disk
sets that rate); ``--commit batch`` wraps 1,000 receptions in one outer transaction, which
leaves the CPU cost of the use case. At each checkpoint the table shows the rate over all
receptions so far and over the last 1,000 (the marginal cost, which is what must stay flat);
medians over ``--runs`` runs, and the load average when the run reached it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

AGENCY = "000.17.22.H56"
WINDOW = 1000


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def one_run(n: int, checkpoints: list[int], batch: bool, encrypted: bool, workdir: Path) -> dict[int, tuple]:
    from node.db import open_database
    from node.domain.vietnam_time import VIETNAM
    from node.services import Node
    from tests.factories import FakeClock, init_node_dir, make_settings, sample_dossier
    from tests.multinode import carry, use

    start = int(datetime(2026, 5, 18, 7, tzinfo=VIETNAM).timestamp() * 1000)
    clock = FakeClock(start)

    def node(name: str, role: str, **extra: object) -> Node:
        data_dir = workdir / name
        key = init_node_dir(data_dir, role, "40" if role == "district" else "17272", encrypted=encrypted)
        settings = make_settings(data_dir, role=role, unit="40" if role == "district" else "17272",
                                 DEV_OPEN_TRUST=True, **extra)
        return Node(settings, open_database(settings), key, clock)

    district, commune = node("district", "district"), node("commune", "commune", AGENCY_ID=AGENCY)
    use(district)
    district.lease_codes("admin", commune.node_id, days=1, size=9999, agency_id=AGENCY, unit="17272")
    carry(district, commune)
    district.close()
    use(commune)
    step = (14 * 3600 * 1000) // n  # the whole day's receptions between 07:00 and 21:00
    out: dict[int, tuple] = {}
    t0 = last = time.perf_counter()
    done = 0
    while done < n:
        chunk = min(WINDOW, n - done)
        ctx = commune.log.transaction() if batch else _Nothing()
        with ctx:
            for i in range(done, done + chunk):
                clock.now = start + i * step
                commune.create_dossier("bench", sample_dossier(name=f"Người {i}", id_number=f"040{i:09d}"))
        done += chunk
        now = time.perf_counter()
        if done in checkpoints:
            out[done] = (done / (now - t0), chunk / (now - last), load())
        last = now
    from node.models import DossierRow

    held = [r.code for r in DossierRow.select(DossierRow.code)]
    assert len(held) == len(set(held)) == n, "a code was issued twice"
    commune.close()
    return out


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--checkpoints", default="1000,10000,100000")
    ap.add_argument("--commit", choices=("each", "batch"), default="each")
    ap.add_argument("--plaintext", action="store_true", help="plain SQLite instead of SQLCipher")
    args = ap.parse_args()
    checkpoints = sorted({int(c) for c in args.checkpoints.split(",") if 0 < int(c) <= args.n} | {args.n})
    runs = []
    for run in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="motcua-reception-") as tmp:
            runs.append(one_run(args.n, checkpoints, args.commit == "batch", not args.plaintext, Path(tmp)))
        print(f"run {run + 1}: " + ", ".join(f"{k:,}: {v[1]:,.0f}/s" for k, v in runs[-1].items()), file=sys.stderr)
    db = "plaintext SQLite" if args.plaintext else "SQLCipher"
    print(f"\nreceptions in one day through Node.create_dossier ({db}, commit {args.commit}, "
          f"median of {args.runs}; load average 1/5/15 min at the checkpoint, {os.cpu_count()} cores)\n")
    print(f"| {'receptions':>10} | {'rate so far /s':>14} | {'last 1,000 /s':>13} | load average |")
    print(f"|{'-' * 12}|{'-' * 16}|{'-' * 15}|{'-' * 14}|")
    for k in checkpoints:
        total = statistics.median(r[k][0] for r in runs)
        window = statistics.median(r[k][1] for r in runs)
        print(f"| {k:>10,} | {total:>14,.0f} | {window:>13,.0f} | {runs[-1][k][2]} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
