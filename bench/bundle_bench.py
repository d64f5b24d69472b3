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
    .venv/bin/python -m bench.bundle_bench --n 10000 --runs 3 --in-process

``--in-process`` measures the same comparison without nodes, for when preparing a commune of N
dossiers through the use cases takes too long (a loaded machine): a commune and a hub as sync
members over memory stores (``tests/inprocess.py``), the dossiers written as one creation and
three status-change events each with the fields of ``bench.sync_nodes.dossier_writes``; the
network's bytes are the compressed bodies of the exchanges the engine would send (each push
batch of the outbox, and each answer), the bundle's the files written; export and import are
timed without the node's projection.
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
from sync.bundler import write_bundles


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


def in_process_run(n: int, seed: int) -> tuple[dict[str, float], dict[str, float]]:
    from bench.dossiers import generate_dossiers
    from bench.sync_nodes import dossier_writes
    from node.sealing import Opener, seal
    from sync import codec
    from sync.bundler import Sealing, apply_payload, open_bundle
    from sync.exchange import ExchangeRequest, ExchangeResponse
    from sync.memory import MemoryStore
    from sync.outbox import local_vector
    from tests.inprocess import make_member

    clock = iter(range(1_780_000_000_000, 1 << 62))

    def now() -> int:
        return next(clock)

    docs = generate_dossiers(n, seed)
    commune = make_member(MemoryStore(), "commune", "17272", now, "commune")
    for start in range(0, n, 1000):
        with commune.log.transaction():  # one head signature per chunk, as the prepared commune
            for i, doc in enumerate(docs[start : start + 1000], start=start):
                w = dossier_writes(doc)
                entity = f"dossier/{i}"
                commune.log.append(scope="17272", entity=entity, type="dossier.received", body=w.data,
                                   author=w.author, parents=())
                for author, _at, to, reason in w.changes:
                    commune.log.append(scope="17272", entity=entity, type="dossier.status_changed",
                                       body={"to": to, "reason": reason}, author=author, parents=())
    # the network: the engine's pushes, batch by batch, and the hub's answers
    hub = make_member(MemoryStore(), "district", "40", now, "hub")
    body, vector = 0, {}
    while True:
        out = commune.replica.outgoing_for(hub.profile, vector)
        if not out.runs:
            break
        request = ExchangeRequest("bench-session-0001", local_vector(commune.store), tuple(out.runs),
                                  tuple(out.profiles))
        body += len(codec.encode(request.to_wire())[0])
        hub.replica.ingest(out.runs, out.profiles, commune.profile, "bench")
        vector = hub.replica.vector_for(commune.profile)
        body += len(codec.encode(ExchangeResponse("bench-session-0001", vector).to_wire())[0])
    # the bundle, for a second hub
    hub2 = make_member(MemoryStore(), "district", "40", now, "hub2")
    sealing = Sealing(sign=commune.key.sign, seal=seal, open=Opener(commune.key.seed()))
    t0 = time.perf_counter()
    parts = write_bundles_for(commune, hub2, sealing, now)
    export_s = time.perf_counter() - t0
    opened = Sealing(sign=hub2.key.sign, seal=seal, open=Opener(hub2.key.seed()))
    t0 = time.perf_counter()
    applied = 0
    for data in parts:
        payload = open_bundle(data, hub2.replica, opened)
        applied += apply_payload(hub2.replica, payload, payload.header.id).events
    (ack,) = write_bundles(hub2.replica, commune.profile, payload.vector, opened, now=now(), bundle_id="a" * 32,
                           kind="ack", ack_of=payload.header.id)
    import_s = time.perf_counter() - t0
    expected = n + sum(len(dossier_writes(d).changes) for d in docs)
    if applied != expected:
        raise RuntimeError(f"bundle applied {applied} events, expected {expected}")
    return ({"body_bytes": float(body), "wire_bytes": float(body), "push_s": 0.0},
            {"bundle_bytes": float(sum(len(p) for p in parts)), "ack_bytes": float(len(ack.data)),
             "export_s": export_s, "import_s": import_s})


def write_bundles_for(src, dst, sealing, now) -> list[bytes]:
    return [w.data for w in write_bundles(src.replica, dst.profile, {}, sealing, now=now(), bundle_id="b" * 32)]


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
        *([f"| network push: wall time | {med(net, 'push_s'):.2f} s |"] if med(net, "push_s") else []),
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
    parser.add_argument("--in-process", action="store_true", help="memory stores, no nodes (see above)")
    args = parser.parse_args(argv)
    net, usb = [], []
    if args.in_process:
        for i in range(args.runs):
            log(f"run {i + 1}/{args.runs}: in process")
            a, b = in_process_run(args.n, args.seed)
            net.append(a)
            usb.append(b)
        print("(in process: memory stores, no projection, no HTTP; wire bytes = compressed bodies)")
        print(render(args.n, args.runs, net, usb))
        return 0
    prepared = prepared_commune(args.n, args.seed, False, args.timeout)
    for i in range(args.runs):
        log(f"run {i + 1}/{args.runs}: network push")
        net.append(network_run(prepared, args.n, args.timeout))
        log(f"run {i + 1}/{args.runs}: bundle export and import")
        usb.append(bundle_run(prepared, args.n))
    print(render(args.n, args.runs, net, usb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
