"""A commune restored in minutes: a new PC pulls its unit's whole history over a slow link.

Responsibility: one invocation

1. makes a commune node (``motcua init``) and its install-time backup (``motcua backup``);
2. makes a district hub (``motcua init``, SQLite or ``--pg-url``) holding that commune's
   history: ``--n`` dossiers of the bench's documents (bench/dossiers.py: a reception and two
   status changes each, so 3 x N events), appended in this process with the commune's own key by
   :class:`sync.log.LocalLog` straight into the hub's event store, one head signature per 1,000
   dossiers as the commune's syncs would have left them (the hub's derived tables are not built:
   serving a pull reads events only);
3. serves the hub (``motcua serve``) behind :class:`bench.netproxy.LatencyProxy` at ``--mbit``
   Mbit/s each way and ``--rtt-ms`` round trip;
4. on a "new PC": ``motcua restore`` of the install backup (the write gate closes), then
   ``motcua sync`` through the proxy, timed; with ``--cut`` the first ``motcua sync`` runs over a
   link that resets every connection after ``--cut`` of the expected bytes, and a second one
   after the link is back (the table shows what each pulled: the second only the rest);
5. ``motcua verify`` and ``motcua doctor`` on the new PC (verification, gate lifted).

    .venv/bin/python -m bench.restore_bench --n 2000 --port 28200            # quick
    .venv/bin/python -m bench.restore_bench --n 100000 --cut 0.5 --port 28200 # the target: <= 180 s

The table goes to stdout, progress to stderr. Everything started is stopped and temporary
directories removed. The PostgreSQL database of ``--pg-url`` is EMPTIED first.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.netproxy import LatencyProxy
from bench.sync_hub import HubServer
from bench.sync_nodes import COMMUNE_UNIT, HUB_UNIT, clean_env, code_root, init_node, log, motcua_cmd

CHUNK = 1000  # dossiers per signed head (the hub can cut its batches there)


def motcua(data_dir: Path, *args: str, env: dict[str, str], timeout: float = 3600,
           check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([*motcua_cmd(), "--data-dir", str(data_dir), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, stdin=subprocess.DEVNULL, cwd=code_root(), check=False)
    if check and proc.returncode != 0:
        raise RuntimeError(f"motcua {' '.join(args)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return proc


def fill_hub(hub_dir: Path, commune_dir: Path, n: int, seed: int, database_url: str) -> int:
    """Store the commune's N dossiers (3 events each) in the hub, as its syncs would have left
    them: events chained and signed with the commune's key, a head signature per chunk."""
    from bench.dossiers import generate_dossiers
    from bench.sync_nodes import dossier_writes, open_bench_node
    from node.domain import dossier as domain
    from sync.chain import SignedHead
    from sync.clock import pack
    from sync.wire import GENESIS, build_event, canonical_bytes, hash_bytes, head_message, make_ref

    commune = open_bench_node(commune_dir)
    key = commune.key
    commune.close()
    hub = open_bench_node(hub_dir, database_url)
    store, office = hub.store, {"office": COMMUNE_UNIT, "role": "commune"}
    docs = generate_dossiers(n, seed)
    seq, prev = 0, GENESIS
    t0 = time.perf_counter()

    def event(entity: str, type_: str, body: dict, author: str, at: int, parents: tuple[str, ...] = ()):
        nonlocal seq, prev
        seq += 1
        e = build_event(origin=key.node_id, scope=COMMUNE_UNIT, seq=seq, prev=prev, hlc=pack(at, seq % 1000),
                        at=at, author=author, entity=entity, type=type_, body=body, parents=parents)
        raw = canonical_bytes(e)
        prev = hash_bytes(raw)
        return e, raw

    try:
        for start in range(0, n, CHUNK):
            events, raws = [], []
            for doc in docs[start : start + CHUNK]:
                w = dossier_writes(doc)
                entity = f"{domain.KIND}/{make_ref(key.node_id, COMMUNE_UNIT, seq + 1)}"
                e, raw = event(entity, domain.RECEIVED, {**domain.validate_received(w.data), **office}, w.author,
                               w.at_ms)
                events.append(e)
                raws.append(raw)
                status = "received"
                for author, at_ms, to, reason in w.changes:
                    body = {"from": status, "to": to, "reason": reason, **office}
                    e, raw = event(entity, domain.STATUS_CHANGED, body, author, at_ms, (events[-1].ref,))
                    events.append(e)
                    raws.append(raw)
                    status = to
            with store.write_transaction():
                store.insert_events(events, raws)
                signature = key.sign(head_message(key.node_id, COMMUNE_UNIT, seq, prev))
                store.put_head_signature(SignedHead(key.node_id, COMMUNE_UNIT, seq, prev, key.public_key, signature))
            if (start // CHUNK) % 10 == 9 or start + CHUNK >= n:
                log(f"  hub holds {min(start + CHUNK, n):,}/{n:,} dossiers ({seq:,} events)")
    finally:
        hub.close()
    log(f"filled the hub with {seq:,} events in {time.perf_counter() - t0:.1f} s")
    return seq


_SYNC_LINE = re.compile(r"^(\w+): session \S+ with \S+: sent (\d+) events, received (\d+), (\d+) exchange")


def sync_once(new_pc: Path, url: str, env: dict[str, str], proxy: LatencyProxy | None = None,
              cut_after: int = 0, profile: Path | None = None) -> dict[str, Any]:
    """``motcua sync --peer url`` on the new PC, timed. ``cut_after`` > 0: the session's connection
    is reset after that many bytes down and every later connection is refused (the engine's
    immediate retry included), as when the link dies; the proxy is healed afterwards."""
    cmd = [*motcua_cmd(), "--data-dir", str(new_pc), "sync", "--peer", url]
    if profile is not None:
        cmd[1:3] = ["-m", "cProfile", "-o", str(profile), "-m", "node.cli"]
    base = proxy.stats().connections if proxy is not None else 0
    if cut_after and proxy is not None:
        proxy.configure(cut_after_bytes=cut_after, cut_direction="s2c", cut_connection=base + 1)
    t0 = time.perf_counter()
    with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                          stdin=subprocess.DEVNULL, cwd=code_root()) as proc:
        if cut_after and proxy is not None:
            while proxy.stats().connections <= base and proc.poll() is None:
                time.sleep(0.01)  # the session's connection is accepted: refuse every later one
            proxy.configure(drop_connections=True)
        stdout, stderr = proc.communicate(timeout=3600)
    secs = time.perf_counter() - t0
    if proxy is not None:
        proxy.configure(cut_after_bytes=None, drop_connections=False)
    m = _SYNC_LINE.search(stdout)
    if not m:
        raise RuntimeError(f"motcua sync printed no summary ({proc.returncode}):\n{stdout}\n{stderr}")
    return {"outcome": m.group(1), "received": int(m.group(3)), "exchanges": int(m.group(4)), "secs": secs,
            "error": stderr.strip().splitlines()[-1] if proc.returncode else ""}


def run(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    env = clean_env(MOTCUA_DEV_OPEN_TRUST="1", MOTCUA_ADVERTISE="false", XDG_STATE_HOME=str(work / "state"))
    if args.pg_url:
        from bench.hub_load import reset_postgres

        reset_postgres(args.pg_url)
    commune_dir, hub_dir, new_pc = work / "old-pc", work / "hub", work / "new-pc"
    init_node(commune_dir, "commune", COMMUNE_UNIT, f"Xã {COMMUNE_UNIT}")
    motcua(commune_dir, "backup", "--to", str(work / "backups"), env=env)
    backup = next((work / "backups").iterdir())
    init_node(hub_dir, "district", HUB_UNIT, "Hub", args.pg_url)
    events = fill_hub(hub_dir, commune_dir, args.n, args.seed, args.pg_url)
    shutil.rmtree(commune_dir)  # the old PC is dead
    new_env = {**env, "XDG_STATE_HOME": str(work / "new-pc-state")}  # no record of the old PC's writes
    restored = motcua(new_pc, "restore", str(backup), env=new_env)
    log(restored.stdout.strip().splitlines()[-1])
    out: dict[str, Any] = {"n": args.n, "events": events, "sessions": []}
    hub_env = {"MOTCUA_ADVERTISE": "false", "MOTCUA_SYNC_BATCH_BYTES": str(int(args.batch_mib * 1024 * 1024))}
    with HubServer(hub_dir, args.pg_url, port=args.port, env=hub_env) as hub:
        bps = args.mbit * 1e6
        with LatencyProxy("127.0.0.1", hub.port, rtt_ms=args.rtt_ms, bandwidth_bps=bps,
                          listen_port=args.port + 1 if args.port else 0) as proxy:
            url = f"http://127.0.0.1:{proxy.port}"
            t0 = time.perf_counter()
            if args.cut:
                first = sync_once(new_pc, url, new_env, proxy, int(args.cut * args.expect_bytes_per_event * events))
                first["bytes"] = proxy.stats().bytes_s2c
                out["sessions"].append(first)
                log(f"cut session: {first}")
            before = proxy.stats().bytes_s2c
            last = sync_once(new_pc, url, new_env, profile=work / "sync.prof" if args.profile else None)
            last["bytes"] = proxy.stats().bytes_s2c - before
            out["sessions"].append(last)
            out["wall"] = time.perf_counter() - t0
            out["bytes"] = proxy.stats().bytes_s2c
    t0 = time.perf_counter()
    verified = motcua(new_pc, "verify", env=new_env, check=False)
    out["verify_s"] = time.perf_counter() - t0
    out["verify_ok"] = verified.returncode == 0
    doctor = motcua(new_pc, "doctor", env=new_env, check=False).stdout
    out["gate_lifted"] = "writes blocked" not in doctor
    out["load"] = os.getloadavg()
    if args.profile:
        import pstats

        print("\nprofile of the (last) motcua sync on the new PC, by cumulative time:")
        pstats.Stats(str(work / "sync.prof"), stream=sys.stdout).sort_stats("cumulative").print_stats(30)
    return out


def print_table(r: dict[str, Any], args: argparse.Namespace) -> None:
    print(f"\nrestore by pull: {r['n']:,} dossiers, {r['events']:,} events, over {args.mbit:g} Mbit/s and "
          f"{args.rtt_ms:g} ms RTT (bench/netproxy.py), hub on {'PostgreSQL' if args.pg_url else 'SQLite'}\n")
    print("| session | outcome | events received | exchanges | bytes down | wall s |")
    print("|---|---|---|---|---|---|")
    for i, s in enumerate(r["sessions"], 1):
        print(f"| {i} | {s['outcome']} | {s['received']:,} | {s['exchanges']} | {s['bytes']:,} | {s['secs']:.1f} |")
    load = " / ".join(f"{v:.1f}" for v in r["load"])
    print("\n| restore total s | events/s | bytes/event | verify s | verify ok | write gate lifted | load avg |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {r['wall']:.1f} | {r['events'] / r['wall']:,.0f} | {r['bytes'] / max(1, r['events']):.0f} "
          f"| {r['verify_s']:.1f} | {r['verify_ok']} | {r['gate_lifted']} | {load} |")
    print(f"\ntarget: 100,000 dossiers within 180 s. {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=2000, help="dossiers (3 events each); the target is 100000")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mbit", type=float, default=2.0)
    p.add_argument("--rtt-ms", type=float, default=300.0)
    p.add_argument("--cut", type=float, default=0.0, help="cut the first sync after this fraction of the bytes")
    p.add_argument("--expect-bytes-per-event", type=float, default=36.0, help="to place the cut")
    p.add_argument("--batch-mib", type=float, default=16.0, help="the hub's SYNC_BATCH_BYTES (MiB, uncompressed): "
                   "what a cut can lose")
    p.add_argument("--profile", action="store_true", help="run the last motcua sync under cProfile; print it")
    p.add_argument("--port", type=int, default=0, help="hub port; the proxy listens on the next one")
    p.add_argument("--pg-url", default="", help="serve the hub from this PostgreSQL database (EMPTIED first)")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="motcua-restore-"))
    try:
        result = run(args, work)
        print_table(result, args)
        ok = result["verify_ok"] and result["gate_lifted"] and result["sessions"][-1]["outcome"] == "ok"
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
