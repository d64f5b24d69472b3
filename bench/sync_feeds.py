"""The feeds axis of the sync bench: a no-op sync and a first push as the number of feeds grows.

Responsibility: measure what depends on the number of feeds (origin, scope) a node holds rather
than on the number of events (:mod:`bench.sync_bench` covers that axis, with PouchDB):

* **no-op**: a commune and its district hub hold the same F feeds; the commune syncs with
  nothing to do, in protocol 2 (the vector's digest, the default between known peers) and, for
  comparison, in protocol 1 (the whole vector, what a node of version 1 sends). Reported:
  exchanges, bytes each way and wall time. The F feeds are feed rows written into both
  databases (what the vector is made of); the exchange reads them exactly as it reads real ones.
* **push**: a first push of F feeds x 3 events to an empty hub: a district node (which may
  write every unit) holds 3 events in each of F units and syncs up to another district hub, so
  every run of the batch is a feed of its own. The events are of a kind the projection does
  not fold (``benchfeed/...``), so the figure is the per-feed cost of sync itself: runs, heads,
  signatures, feed heads, revocations, inserts.

Both nodes run in this process; the client's real engine and ``HttpTransport`` talk to the hub's
real Flask app through its test client (no socket, no gunicorn). Bytes each way are the body plus
the HTTP/1.1 framing the request and answer would have on a socket (request line, Host,
Content-Length and the motcua headers; status line, gunicorn's Server, Date and Connection,
and the answer's headers), computed from the real headers.

    python -m bench.sync_feeds [--feeds 10,100,1000,5000] [--push-feeds 10,100,1000,5000] [--runs 3]

Nothing outside ``bench/`` is changed; nodes are created with the ``motcua`` CLI in a temp dir.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.sync_nodes import init_node, log, open_bench_node

URL = "http://127.0.0.1:24080"
GUNICORN_HEADERS = len("Server: gunicorn\r\nDate: Wed, 02 Dec 2026 12:00:00 GMT\r\nConnection: keep-alive\r\n")


class _Answer:
    def __init__(self, r: Any) -> None:
        self.content, self.headers, self.status_code = r.get_data(), r.headers, r.status_code


class InProcess:
    """The ``requests.Session`` of an ``HttpTransport``, answered by the hub's Flask app; counts
    the bytes each way as they would be on the socket."""

    def __init__(self, hub: Any, client: Any) -> None:
        from node.app import create_app

        self.http = create_app(hub.settings, node=hub).test_client()
        self.hub, self.client = hub, client
        self.headers: dict[str, str] = {}
        self.bytes_out = self.bytes_in = self.exchanges = 0

    def post(self, url: str, data: bytes, headers: dict[str, str], timeout: Any = None) -> _Answer:
        from node.db import database

        path = urlsplit(url).path
        sent = {"Host": urlsplit(url).netloc, "Content-Length": str(len(data)), **headers}
        self.bytes_out += len(f"POST {path} HTTP/1.1\r\n") + sum(len(k) + len(v) + 4 for k, v in sent.items()) + 2
        self.bytes_out += len(data)
        database.initialize(self.hub.db)
        try:
            r = self.http.post(path, data=data, headers=headers)
        finally:
            database.initialize(self.client.db)
        body = r.get_data()
        self.bytes_in += len("HTTP/1.1 200 OK\r\n") + GUNICORN_HEADERS + 2 + len(body)
        self.bytes_in += sum(len(k) + len(v) + 4 for k, v in r.headers.items())
        self.exchanges += 1
        return _Answer(r)

    def mount(self, *_a: Any) -> None:
        pass

    def close(self) -> None:
        pass


def sync_once(hub: Any, client: Any) -> tuple[Any, InProcess, float]:
    from node.db import database
    from sync.transport import HttpTransport

    database.initialize(client.db)
    transport = HttpTransport(URL, client.key, client.wall_ms, read_timeout=600)
    counter = InProcess(hub, client)
    transport.session = counter
    t0 = time.perf_counter()
    summary = client.sync_with(URL, transport=transport)
    wall = time.perf_counter() - t0
    if not summary.ok:
        raise RuntimeError(f"sync failed: {summary.error_code} {summary.error}")
    return summary, counter, wall


def fake_feeds(node: Any, first: int, last: int, scope: str) -> None:
    """Feed rows ``first..last-1`` (random-looking origins, as real node ids are)."""
    from node.db import database
    from sync.store import bulk_insert

    database.initialize(node.db)
    rows = [(hashlib.sha256(b"feed %d" % i).hexdigest()[:32], scope, 0, "") for i in range(first, last)]
    with node.store.write_transaction():
        bulk_insert(node.store.rows.Feed, ("origin", "scope", "head_seq", "head_hash"), rows)


def noop_axis(tmp: Path, feeds: Sequence[int], runs: int) -> list[dict[str, Any]]:
    init_node(tmp / "hub", "district", "40", "Huyện")
    init_node(tmp / "commune", "commune", "17272", "Xã")
    hub, commune = open_bench_node(tmp / "hub"), open_bench_node(tmp / "commune")
    out = []
    try:
        commune.create_dossier("cán bộ", _sample())
        sync_once(hub, commune)  # first contact and the first push
        held = len(commune.store.feeds())
        for f in sorted(feeds):
            if f > held:
                fake_feeds(hub, held, f, "17272")
                fake_feeds(commune, held, f, "17272")
                held = f
            sync_once(hub, commune)  # both hold the same vector now
            for protocol in (2, 1):
                if protocol == 1:
                    commune.replica.digest_refused.add(hub.node_id)  # what a version-1 peer gets
                else:
                    commune.replica.digest_refused.discard(hub.node_id)
                samples = [sync_once(hub, commune) for _ in range(runs)]
                row = {"feeds": f, "protocol": protocol,
                       "exchanges": statistics.median(c.exchanges for _, c, _ in samples),
                       "bytes_out": statistics.median(c.bytes_out for _, c, _ in samples),
                       "bytes_in": statistics.median(c.bytes_in for _, c, _ in samples),
                       "wall_s": statistics.median(w for _, _, w in samples), "load": os.getloadavg()[0]}
                out.append(row)
                log(f"no-op, {f:,} feeds, protocol {protocol}: {row['exchanges']} exchange(s), "
                    f"{row['bytes_out']:,} B out / {row['bytes_in']:,} B in, {row['wall_s'] * 1000:.0f} ms")
    finally:
        hub.close()
        commune.close()
    return out


def _sample() -> dict[str, Any]:
    return {"applicant": {"name": "Nguyễn Văn An", "id_number": "040090001234", "phone": "0912345678",
                          "address": "Thôn 1"}, "procedure": {"code": "1.001022"}}


def push_axis(tmp: Path, feeds: Sequence[int], runs: int) -> list[dict[str, Any]]:
    from node.db import database

    out = []
    for f in sorted(feeds):
        walls, pushed = [], 0
        for i in range(runs):
            base = tmp / f"push-{f}-{i}"
            init_node(base / "hub", "district", "41", "Hub")
            init_node(base / "source", "district", "40", "Nguồn")
            source = open_bench_node(base / "source")
            try:
                for start in range(0, f, 500):
                    with source.log.transaction():  # one commit and one signature per feed per chunk
                        for u in range(start, min(f, start + 500)):
                            for k in range(3):
                                source.log.append(scope=f"u{u:05d}", entity=f"benchfeed/{u}", type=f"bench.step{k}",
                                                  body={"k": k, "tên": "Nguyễn Văn An"}, author="bench")
                hub = open_bench_node(base / "hub")
                database.initialize(source.db)
                try:
                    summary, _, wall = sync_once(hub, source)
                    walls.append(wall)
                    pushed = summary.events_out
                finally:
                    hub.close()
            finally:
                source.close()
            shutil.rmtree(base, ignore_errors=True)
        row = {"feeds": f, "events": pushed, "wall_s": statistics.median(walls), "load": os.getloadavg()[0]}
        out.append(row)
        log(f"first push of {f:,} feeds x 3 events: {row['wall_s']:.2f} s ({pushed:,} events pushed)")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync_feeds", description=__doc__.splitlines()[0])
    p.add_argument("--feeds", default="10,100,1000,5000", help="feed counts for the no-op ('' skips)")
    p.add_argument("--push-feeds", default="10,100,1000,5000", help="feed counts for the first push ('' skips)")
    p.add_argument("--runs", type=int, default=3, help="runs per figure; medians are reported")
    args = p.parse_args(argv)
    axis = [int(x) for x in args.feeds.split(",") if x]
    push = [int(x) for x in args.push_feeds.split(",") if x]
    tmp = Path(tempfile.mkdtemp(prefix="motcua-sync-feeds-"))
    try:
        noop = noop_axis(tmp / "noop", axis, args.runs) if axis else []
        first = push_axis(tmp, push, args.runs) if push else []
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"motcua sync, feeds axis — medians of {args.runs}; machine: {os.cpu_count()} CPU(s), shared "
          "(load average, 1 min, beside each figure)\n")
    if noop:
        print("| feeds | protocol | exchanges | bytes out | bytes in | wall | load |\n|---|---|---|---|---|---|---|")
        for r in noop:
            print(f"| {r['feeds']:,} | {r['protocol']} | {r['exchanges']} | {r['bytes_out']:,} B | {r['bytes_in']:,} B "
                  f"| {r['wall_s'] * 1000:.0f} ms | {r['load']:.2f} |")
        print()
    if first:
        print("| first push | events | wall | load |\n|---|---|---|---|")
        for r in first:
            print(f"| {r['feeds']:,} feeds x 3 | {r['events']:,} | {r['wall_s']:.2f} s | {r['load']:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
