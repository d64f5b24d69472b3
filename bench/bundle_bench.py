"""USB bundles (issue 18) against the network sync of the same dossiers: bytes, export and import.

For N dossiers (default 10,000; the commune of ``bench/sync_nodes.py``, cached), one run is:

* the network push of the commune to a fresh served hub (``bench.sync_phases.run_motcua_http``,
  loopback, no added latency): the compressed request and answer bodies, and every byte the
  proxy saw (headers included);
* the same commune exported as a bundle for a fresh hub (``node.bundles.export``: outbox, zstd,
  signature, sealed box), then imported there (``node.bundles.import_bundle``: open, verify,
  ingest in batches, write the acknowledgement), each timed in this process.

The table gives medians over ``--runs`` runs, and the bundle's size against the network's bytes
(goal: at most 5 % larger). Nodes meet with ``DEV_OPEN_TRUST`` as in the sync benchmark (no CA,
so the recipient's profile is handed over in-process, as its ``node.pem`` would be on a stick).

    .venv/bin/python -m bench.bundle_bench --n 10000 --runs 3
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.sync_nodes import (
    copy_node_dir,
    init_node,
    log,
    open_bench_node,
    prepared_commune,
)


def bundle_run(prepared: Path, n: int) -> dict[str, float]:
    from node.bundles import export, import_bundle

    with tempfile.TemporaryDirectory(prefix="motcua-bundle-bench-") as tmp:
        commune_dir = copy_node_dir(prepared, Path(tmp) / "commune")
        hub_dir = Path(tmp) / "hub"
        init_node(hub_dir, "district", "40", "Hub 40")
        hub = open_bench_node(hub_dir)
        hub_profile = hub.replica.me
        hub.close()
        commune = open_bench_node(commune_dir)
        try:
            commune.replica.keep_profiles([hub_profile])  # what --for hub/node.pem does
            t0 = time.perf_counter()
            result, parts = export(commune, Path(tmp) / "stick.bundle", hub_profile.node_id)
            export_s = time.perf_counter() - t0
        finally:
            commune.close()
        if result.events != 3 * n:
            raise RuntimeError(f"bundle carries {result.events} events, expected {3 * n}")
        hub = open_bench_node(hub_dir)
        try:
            data = (Path(tmp) / "stick.bundle").read_bytes()
            t0 = time.perf_counter()
            imported = import_bundle(hub, data, Path(tmp) / "stick.bundle.ack")
            import_s = time.perf_counter() - t0
        finally:
            hub.close()
        if imported.events != 3 * n:
            raise RuntimeError(f"import applied {imported.events} events, expected {3 * n}")
        return {"bundle_bytes": float(sum(len(p) for p in parts)), "ack_bytes": float(len(imported.ack)),
                "export_s": export_s, "import_s": import_s}


def network_run(prepared: Path, n: int, timeout_s: float) -> dict[str, float]:
    from bench.sync_phases import run_motcua_http

    push = run_motcua_http(n, prepared, 0.0, "sqlite", None, timeout_s)["push"]
    return {"body_bytes": float(push.body_bytes_up + push.body_bytes_down), "wire_bytes": float(push.bytes_total),
            "push_s": push.wall_s}


def render(n: int, runs: int, net: list[dict[str, float]], usb: list[dict[str, float]]) -> str:
    def med(rows: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rows)

    body, wire = med(net, "body_bytes"), med(net, "wire_bytes")
    size, ack = med(usb, "bundle_bytes"), med(usb, "ack_bytes")
    lines = [
        f"USB bundle vs network sync, N={n:,} dossiers ({3 * n:,} events), median of {runs} run(s)",
        "",
        "| measure | value |",
        "|---|---|",
        f"| network push: compressed bodies, both ways | {body:,.0f} B |",
        f"| network push: bytes on the wire (headers included) | {wire:,.0f} B |",
        f"| network push: wall time | {med(net, 'push_s'):.2f} s |",
        f"| bundle (data) | {size:,.0f} B |",
        f"| acknowledgement bundle | {ack:,.0f} B |",
        f"| bundle + ack vs network bodies | {100 * ((size + ack) / body - 1):+.1f} % |",
        f"| bundle + ack vs network wire bytes | {100 * ((size + ack) / wire - 1):+.1f} % |",
        f"| export (outbox, zstd, sign, seal, write) | {med(usb, 'export_s'):.2f} s |",
        f"| import (open, verify, ingest, acknowledge) | {med(usb, 'import_s'):.2f} s |",
        "",
        f"goal: bundle at most 5 % larger than the network's bytes -> "
        f"{'met' if size + ack <= 1.05 * wire else 'MISSED'} (against the wire bytes)",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    args = parser.parse_args(argv)
    prepared = prepared_commune(args.n, args.seed, False, args.timeout)
    net, usb = [], []
    for i in range(args.runs):
        log(f"run {i + 1}/{args.runs}: network push")
        net.append(network_run(prepared, args.n, args.timeout))
        log(f"run {i + 1}/{args.runs}: bundle export and import")
        usb.append(bundle_run(prepared, args.n))
    print(render(args.n, args.runs, net, usb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
