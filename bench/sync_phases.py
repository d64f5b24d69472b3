"""The measured phases of the sync bench: motcua over HTTP (push, no-op, pull), the hub's ingest in
process, and the PouchDB reference peer (:mod:`bench.sync_bench`)."""

from __future__ import annotations

import contextlib
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.sync_hub import HubServer, PgDatabases, free_port
from bench.sync_nodes import (
    COMMUNE_UNIT,
    HUB_UNIT,
    copy_node_dir,
    deadline,
    init_node,
    log,
    node_settings,
    open_bench_node,
)

# The three phases compared, with the PouchDB phase letter each is compared with.
PHASES: tuple[tuple[str, str, str], ...] = (
    ("push", "A", "initial push of N dossiers"),
    ("noop", "D", "no-op two-way sync"),
    ("pull", "E", "initial pull into an empty node"),
)
COLUMNS = ("requests", "bytes_up", "bytes_down", "bytes_total", "wall_s")


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
            LatencyProxy("127.0.0.1", hub.port, listen_port=free_port(), rtt_ms=rtt_ms,
                         io_timeout_s=max(60.0, timeout_s),
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
    from sync import codec
    from sync.exchange import ExchangeRequest, request_from_wire
    from tests.factories import load_node_key  # the key file is encrypted (issue 16)

    hub_profile = make_profile(load_node_key(hub_dir), node_settings(hub_dir))
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
