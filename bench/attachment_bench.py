"""Scans over a 2G-class link: motcua's chunk exchanges against PouchDB attachments (issue 17).

Responsibility: push ``--dossiers`` dossiers, each with one ``--scan-kb`` scan, from a laptop to a
hub through :class:`bench.netproxy.LatencyProxy` (``--kbps`` each way, ``--rtt-ms``, every
connection reset after ``--cut-kb`` sent upstream), first with motcua (a mobile node in this
process syncing to ``motcua serve`` as a district hub: events, then the file exchanges), then with
PouchDB 9 (a memory PouchDB replicating to express-pouchdb, attachments inline as PouchDB sends
them), in one run, and print one table: time, bytes on the wire (both ways, headers included),
failures (cut exchanges or failed replications), files complete and verified on the hub.

The acceptance point: motcua completes with at most 10% bytes over the files' stored sizes and
never resends more than the chunk in flight at a cut (resent chunks ≤ cuts). The full run (20 ×
1.5 MB at 100 kbit/s) moves 30 MB through a 12.5 KB/s link: about 40 minutes for motcua alone.
``--dossiers 3`` gives the same per-file figures in a few minutes.

Invariants: loopback only (the proxy refuses anything else); every subprocess and wait is bounded
(``--max-minutes``); the scans are incompressible bytes inside a PDF envelope (a scanned JPEG does
not compress either); the hub's files are checked after it stopped, by opening its database.

CLI: ``python -m bench.attachment_bench --dossiers 20 --scan-kb 1500 --kbps 100 --rtt-ms 300
--cut-kb 300 [--no-pouch] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.netproxy import LatencyProxy
from bench.sync_hub import HubServer, free_port
from bench.sync_nodes import init_node, log, open_bench_node

REPO = Path(__file__).resolve().parents[1]
JS = Path(__file__).with_name("pouch_attach.js")


def scan_bytes(size: int, seed: int) -> bytes:
    """An incompressible 'scan' of ``size`` bytes that passes the PDF content check."""
    return b"%PDF-1.4\n" + random.Random(seed).randbytes(max(0, size - 16)) + b"\n%%EOF\n"


def run_motcua(a: argparse.Namespace, work: Path) -> dict[str, Any]:
    from node import files

    size = a.scan_kb * 1000
    init_node(work / "laptop", "mobile", "17272", "Laptop")
    hashes = []
    with HubServer(work / "hub") as hub:
        laptop = open_bench_node(work / "laptop")
        for i in range(a.dossiers):
            d = laptop.create_dossier("bench", {
                "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
                "applicant": {"name": f"Người Nộp {i}", "id_number": f"0400900{i:05d}", "phone": "0912345678",
                              "address": "Xóm 1"}, "channel": "mobile"})
            hashes.append(files.attach(laptop, "bench", d.id, [scan_bytes(size, i)], name=f"scan-{i}.pdf")["file_hash"])
        stored = a.dossiers * size
        proxy = LatencyProxy("127.0.0.1", hub.port, rtt_ms=a.rtt_ms, bandwidth_bps=a.kbps * 1000,
                             cut_after_bytes=a.cut_kb * 1000, cut_direction="c2s", io_timeout_s=120)
        with proxy:
            started, sessions, failed_sessions, summaries = time.monotonic(), 0, 0, []
            deadline = started + a.max_minutes * 60
            while time.monotonic() < deadline:
                s = laptop.sync_with(proxy.url())
                sessions += 1
                if not s.ok:
                    failed_sessions += 1
                elif s.files is not None:
                    summaries.append(s.files)
                if s.ok and files.pending(laptop, hub.node_id)["files_up"] == 0:
                    break
            seconds = time.monotonic() - started
            stats = proxy.stats()
        pending = files.pending(laptop, hub.node_id)["files_up"]
        laptop.close()
    sent = Counter(item for s in summaries for item in s.sent_items)
    hub_node = open_bench_node(work / "hub")
    complete = sum(1 for h in hashes if _verified(hub_node, h))
    hub_node.close()
    wire = stats.bytes_c2s + stats.bytes_s2c
    return {
        "system": "motcua", "seconds": seconds, "bytes_up": stats.bytes_c2s, "bytes_down": stats.bytes_s2c,
        "bytes": wire, "stored": stored, "overhead": wire / stored - 1, "cuts": stats.connections_cut,
        "failures": sum(s.failures for s in summaries) + failed_sessions, "sessions": sessions,
        "requests": sum(s.requests for s in summaries), "resent_chunks": sum(c - 1 for c in sent.values()),
        "complete": complete, "files": a.dossiers, "pending": pending,
    }


def _verified(node, file_hash: str) -> bool:
    import hashlib

    from node import files
    from node.domain.errors import DomainError

    try:
        return hashlib.sha256(files.read(node, file_hash)[0]).hexdigest() == file_hash
    except DomainError:
        return False


def run_pouch(a: argparse.Namespace, work: Path) -> dict[str, Any]:
    from bench.pouch_install import prepare_peer

    cache = prepare_peer()
    shutil.copy(JS, cache / JS.name)
    port = free_port()
    server = subprocess.Popen(["node", JS.name, "server", f"--port={port}"], cwd=cache, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    try:
        assert server.stdout is not None
        if server.stdout.readline().strip() != b"ready":
            raise RuntimeError("the PouchDB hub did not start")
        with LatencyProxy("127.0.0.1", port, rtt_ms=a.rtt_ms, bandwidth_bps=a.kbps * 1000,
                          cut_after_bytes=a.cut_kb * 1000, cut_direction="c2s", io_timeout_s=120) as proxy:
            out = subprocess.run(
                ["node", JS.name, "client", f"--url={proxy.url('/hub')}", f"--check=http://127.0.0.1:{port}/hub",
                 f"--n={a.dossiers}", f"--size={a.scan_kb * 1000}", f"--attempts={a.pouch_attempts}"],
                cwd=cache, capture_output=True, text=True, timeout=a.max_minutes * 60, check=True,
            )
            stats = proxy.stats()
    finally:
        os.killpg(server.pid, 15)
        server.wait(timeout=10)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    stored = a.dossiers * a.scan_kb * 1000
    wire = stats.bytes_c2s + stats.bytes_s2c
    return {"system": "PouchDB 9", "seconds": result["seconds"], "bytes_up": stats.bytes_c2s,
            "bytes_down": stats.bytes_s2c, "bytes": wire, "stored": stored, "overhead": wire / stored - 1,
            "cuts": stats.connections_cut, "failures": result["failures"], "complete": result["complete"],
            "files": a.dossiers, "note": result.get("lastError", "")}


def table(rows: list[dict[str, Any]], a: argparse.Namespace) -> str:
    head = (f"{a.dossiers} dossiers x {a.scan_kb} KB scan, laptop -> hub, {a.kbps} kbit/s, {a.rtt_ms:.0f} ms RTT, "
            f"cut every {a.cut_kb} KB upstream")
    lines = [head, "", "| system | time | bytes on the wire | over stored | cuts | failures | resent chunks | "
             "files complete on the hub |", "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['system']} | {r['seconds']:.0f} s | {r['bytes'] / 1e6:.2f} MB | {r['overhead']:+.1%} | "
                     f"{r['cuts']} | {r['failures']} | {r.get('resent_chunks', '-')} | {r['complete']}/{r['files']} |")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dossiers", type=int, default=20)
    p.add_argument("--scan-kb", type=int, default=1500)
    p.add_argument("--kbps", type=float, default=100.0)
    p.add_argument("--rtt-ms", type=float, default=300.0)
    p.add_argument("--cut-kb", type=int, default=300)
    p.add_argument("--pouch-attempts", type=int, default=5, help="replications PouchDB may retry after cuts")
    p.add_argument("--max-minutes", type=float, default=90.0)
    p.add_argument("--no-pouch", action="store_true")
    p.add_argument("--no-motcua", action="store_true")
    p.add_argument("--json", type=Path)
    a = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory(prefix="motcua-attach-") as tmp:
        if not a.no_motcua:
            log("motcua: attaching and pushing")
            rows.append(run_motcua(a, Path(tmp)))
        if not a.no_pouch:
            log("PouchDB: attaching and replicating")
            rows.append(run_pouch(a, Path(tmp)))
    print(table(rows, a))
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2))
    motcua = next((r for r in rows if r["system"] == "motcua"), None)
    if motcua and not (motcua["complete"] == motcua["files"] and motcua["overhead"] <= 0.10
                       and motcua["resent_chunks"] <= motcua["cuts"]):
        print("motcua did NOT meet the acceptance bound", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
