"""The cost of encryption at rest (issue 16): plaintext SQLite vs SQLCipher, side by side, one run.

    .venv/bin/python bench/atrest_bench.py [--dossiers 100000] [--runs 3] [--writes 100] [--queries 200]

Fills one plaintext commune node (as before issue 16) with ``--dossiers`` dossiers through the
normal use case, as bench/ui_bench.py does, and makes the encrypted node from a copy of it the
way ``motcua encrypt`` converts a node (``sqlcipher_export``; SQLCipher keyed with the raw data
key, encrypted node key): both hold the same dossiers, events and indexes. Then, ``--runs`` times and
alternating the two so that the machine's load falls on both alike:

Both nodes stay open in the process and every single measured operation alternates between
them (the node tables' proxy is pointed at one, then the other), so a burst of load from the
other programs on a shared machine falls on both alike; per run:

* **dossier write**: ``--writes`` receptions on each, each its own transaction (one fsync'ed
  commit, as at the desk), the same dossier on both: median ms per dossier;
* **search p95**: ``--queries`` searches of the staff search (folded name, code prefix, 12-digit
  ID number; :func:`node.queries.search.search`, server side, no HTTP), after one untimed pass
  over the same queries (a serving node's page cache is warm; the first reads after opening the
  file also decrypt each page once): p95 ms;
* **hub ingest**: every event of the commune pushed into a fresh district hub of the same kind
  (``Replica.ingest`` over the batches the commune would send, as bench/sync_bench.py does):
  events per second.

Prints one table: the median over the runs for each figure, plaintext and encrypted, and the
encrypted figure relative to the plaintext one; the goal is within 20 %. Exits 1 if a figure is
over it. Fill time is shown but not compared (it is the same work as the writes, in bulk).
The plaintext node runs on Python's own ``sqlite3`` (SQLite 3.40 here), the encrypted one on
the SQLite inside ``sqlcipher3`` (3.53): what a node ran before and runs after issue 16.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ui_bench import PROCEDURES, MovingClock, fill, pct, person  # noqa: E402

GOAL = 0.20
KINDS = ("plaintext", "encrypted")


def settings_of(data_dir: Path, role: str = "commune"):  # -> Settings
    from node.config import load_settings

    # environ={}: no MOTCUA_* of the calling shell may redirect a bench node; the hub admits the
    # commune on first use (development trust), as bench/sync_bench.py does.
    return load_settings(data_dir, environ={}, overrides={
        "STATE_DIR": str(data_dir.parent / f"{data_dir.name}-state"),
        "RUNTIME_DIR": str(data_dir.parent / f"{data_dir.name}-run"), "DEV_OPEN_TRUST": True, "ROLE": role})


def make_node_dir(data_dir: Path, kind: str, role: str, unit: str) -> bytes | None:
    """What motcua init leaves (encrypted), or a node from before issue 16 (plaintext)."""
    from node.signing import KEY_FILE, NodeKey
    from node.unlocking import create_node_keys

    data_dir.mkdir(parents=True)
    key = NodeKey.generate()
    node_file = {"role": role, "unit": unit, "name": f"bench {kind} {role}", "node_id": key.node_id}
    data_key = None
    if kind == "encrypted":
        data_key = create_node_keys(data_dir, key)
    else:
        key.save(data_dir / KEY_FILE)
        node_file["secret_key"] = "bench"
    (data_dir / "node.json").write_text(json.dumps(node_file))
    return data_key


def encrypted_copy(plain_dir: Path, target: Path) -> bytes:
    """``target``: an encrypted copy of the plaintext node in ``plain_dir``; returns its data key."""
    from node.atrest import new_data_key, new_keyring, node_key_password
    from node.config import read_node_file
    from node.signing import KEY_FILE, NodeKey
    from node.unlocking import _export_encrypted

    shutil.copytree(plain_dir, target)
    data_key = new_data_key()
    _export_encrypted(target / "motcua.sqlite3", data_key, lambda _m: None)
    key_path = target / KEY_FILE
    NodeKey.load(key_path).rewrap(key_path, node_key_password(data_key))
    new_keyring(str(read_node_file(target)["node_id"]), data_key).save(target)
    return data_key


def open_bench(data_dir: Path, data_key: bytes | None, clock, role: str = "commune"):  # -> Node
    from node.services import open_node

    return open_node(settings_of(data_dir, role), clock, data_key=data_key)


def use(node) -> None:
    """Point the node tables' proxy at ``node`` (both nodes stay open; see the module doc)."""
    from node.db import database

    database.initialize(node.db)


def interleaved(nodes: dict, step, n: int) -> dict[str, list[float]]:
    """``step(kind, node, i)`` timed in ms, ``n`` times per kind, the two kinds alternating at
    every step (and which goes first), so that the shared machine's load falls on both alike."""
    times: dict[str, list[float]] = {k: [] for k in nodes}
    for i in range(n):
        for kind in (KINDS if i % 2 == 0 else KINDS[::-1]):
            use(nodes[kind])
            t = time.perf_counter()
            step(kind, nodes[kind], i)
            times[kind].append((time.perf_counter() - t) * 1000)
    return times


def write_step(clocks: dict, run: int):  # -> step
    def step(kind: str, node, i: int) -> None:
        rng = random.Random(run * 100_000 + i)  # the same dossier on both nodes
        name, id_number = person(rng, 900_000 + i)
        code, title = rng.choice(PROCEDURES)
        clocks[kind].now += 1000
        node.create_dossier("bench", {"procedure": {"code": code, "name": title},
                                      "applicant": {"name": name, "id_number": id_number, "phone": "0912345678",
                                                    "address": "Xóm 1"}})

    return step


def search_step(queries: list[str]):  # -> step
    from node.queries.search import search

    return lambda _kind, _node, i: search(queries[i % len(queries)])


def push_requests(commune, hub_profile) -> list:
    """The requests the commune would push to an empty hub (every event it holds)."""
    from sync.exchange import ExchangeRequest

    use(commune)
    requests = []
    vector: dict[str, int] = {}
    while True:
        out = commune.replica.outgoing_for(hub_profile, vector)
        if not out.runs:
            break
        profiles = (commune.profile, *[p for p in out.profiles if p.node_id != commune.node_id])
        requests.append(ExchangeRequest(session="bench", vector={}, push=tuple(out.runs),
                                        profiles=profiles if not requests else ()))
        for r in out.runs:
            vector[r.feed] = r.end
        if not out.more:
            break
    return requests


def ingest_rates(communes: dict, hub_dirs: dict, hub_keys: dict, hub_templates: dict) -> dict[str, float]:
    """Events per second of a fresh hub of each kind ingesting everything its commune holds,
    the two hubs taking one batch in turn."""
    from node.services import make_profile, system_wall_ms

    hubs, requests, took, events = {}, {}, {}, {}
    for kind in KINDS:
        shutil.rmtree(hub_dirs[kind], ignore_errors=True)
        shutil.copytree(hub_templates[kind], hub_dirs[kind])
        hubs[kind] = open_bench(hub_dirs[kind], hub_keys[kind], system_wall_ms, "district")
        requests[kind] = push_requests(communes[kind], make_profile(hubs[kind].key, hubs[kind].settings))
        took[kind], events[kind] = 0.0, 0
    for i in range(max(len(r) for r in requests.values())):
        for kind in (KINDS if i % 2 == 0 else KINDS[::-1]):
            if i >= len(requests[kind]):
                continue
            req = requests[kind][i]
            use(hubs[kind])
            t = time.perf_counter()
            events[kind] += hubs[kind].replica.ingest(req.push, req.profiles, communes[kind].profile,
                                                      req.session).applied
            took[kind] += time.perf_counter() - t
    for hub in hubs.values():
        hub.close()
    return {k: events[k] / took[k] for k in KINDS}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dossiers", type=int, default=100_000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--writes", type=int, default=100)
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()

    from node.domain.text import fold

    figures: dict[str, dict[str, list[float]]] = {k: {"write": [], "search": [], "ingest": []} for k in KINDS}
    with tempfile.TemporaryDirectory(prefix="motcua-atrest-bench-") as tmp:
        base = Path(tmp)
        keys: dict[str, bytes | None] = {}
        hub_keys: dict[str, bytes | None] = {}
        clocks: dict[str, MovingClock] = {}
        queries: list[str] = []
        # One fill, then the encrypted node made from a copy the way motcua encrypt converts a
        # node in place (sqlcipher_export): the same dossiers, events and indexes byte for byte.
        keys["plaintext"] = make_node_dir(base / "plaintext" / "commune", "plaintext", "commune", "17272")
        for kind in KINDS:
            hub_keys[kind] = make_node_dir(base / kind / "hub-template", kind, "district", "40")
            clocks[kind] = MovingClock(int(time.time() * 1000))
        node = open_bench(base / "plaintext" / "commune", None, clocks["plaintext"])
        print(f"receiving {args.dossiers:,} dossiers …", file=sys.stderr)
        t = time.perf_counter()
        ids = fill(node, clocks["plaintext"], args.dossiers, random.Random(2026))
        fill_s = time.perf_counter() - t
        rng = random.Random(7)
        for i in range(args.queries):
            if i % 3 == 0:
                queries.append(fold(person(random.Random(i % 50), i % 50)[0].split(" ", 1)[1]))
            elif i % 3 == 1:
                queries.append(node.get_dossier(rng.choice(ids)).code[:-2])
            else:
                queries.append(node.get_dossier(rng.choice(ids)).id_number)
        node.close()
        t = time.perf_counter()
        keys["encrypted"] = encrypted_copy(base / "plaintext" / "commune", base / "encrypted" / "commune")
        export_s = time.perf_counter() - t
        for kind in KINDS:
            clocks[kind].now = int(time.time() * 1000)
        nodes = {k: open_bench(base / k / "commune", keys[k], clocks[k]) for k in KINDS}
        for kind in KINDS:  # a serving node's page cache is warm: measure that, not the first reads
            use(nodes[kind])
            for q in queries:
                search_step(queries)(kind, nodes[kind], queries.index(q))
        for run in range(args.runs):
            for kind, ms in interleaved(nodes, write_step(clocks, run), args.writes).items():
                figures[kind]["write"].append(statistics.median(ms))
            for kind, ms in interleaved(nodes, search_step(queries), args.queries).items():
                figures[kind]["search"].append(pct(ms, 95))
            for kind, rate in ingest_rates(nodes, {k: base / k / "hub" for k in KINDS}, hub_keys,
                                           {k: base / k / "hub-template" for k in KINDS}).items():
                figures[kind]["ingest"].append(rate)
            print(f"  run {run + 1}/{args.runs} done", file=sys.stderr)
        for node in nodes.values():
            node.close()

    med = {k: {f: statistics.median(v) for f, v in figures[k].items()} for k in KINDS}
    rows = [
        ("dossier write, median ms (own commit)", "write", False),
        (f"search p95 ms ({args.dossiers:,} dossiers)", "search", False),
        ("hub ingest, events/s", "ingest", True),
    ]
    print(f"\nmotcua encryption at rest: plaintext SQLite vs SQLCipher, {args.dossiers:,} dossiers, median of "
          f"{args.runs} runs, alternating (fill {fill_s:.0f} s; encrypting the copy {export_s:.1f} s)")
    print(f"{'figure':<42} {'plaintext':>10} {'encrypted':>10} {'cost':>8}  goal ≤ +{GOAL:.0%}")
    worst = 0.0
    for label, key, higher_is_better in rows:
        plain, enc = med["plaintext"][key], med["encrypted"][key]
        cost = (plain / enc - 1) if higher_is_better else (enc / plain - 1)
        worst = max(worst, cost)
        print(f"{label:<42} {plain:>10.1f} {enc:>10.1f} {cost:>+8.1%}  {'ok' if cost <= GOAL else 'OVER'}")
    return 0 if worst <= GOAL else 1


if __name__ == "__main__":
    sys.exit(main())
