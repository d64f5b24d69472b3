"""Where the time of a push and a pull goes: one process, no HTTP, stage timers and cProfile.

Responsibility: explain the wall times ``bench.sync_bench`` prints. A commune pushes the
prepared N dossiers to an empty hub, then a fresh commune pulls them, each through the real
:class:`sync.engine.SyncClient` and the real server path (decode, ``request_from_wire``, request
signature, ``Replica.serve_exchange``, encode), but in one process: :class:`InProcessHub`
rebinds the node tables' proxy (``node.db.database``) to the hub's database for the server
half of every exchange and back to the client's afterwards, so both halves run single-threaded
on one core, as the served hub would for one caller.

Two passes on fresh databases: the first with stage timers only (wall times, no profiler
overhead), the second under cProfile with separate client and server profiles. HTTP itself
(gunicorn, requests, the proxy) is left out; compare with the loopback figures of sync_bench.

    python -m bench.sync_profile --n 10000 [--hub-db sqlite|postgresql] [--out DIR] [--top 25]

Nothing outside ``bench/`` is changed: stage timers wrap methods of the node *instances*.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.sync_bench import (
    COMMUNE_UNIT,
    DEFAULT_PG_URL,
    HUB_UNIT,
    PgDatabases,
    copy_node_dir,
    deadline,
    init_node,
    log,
    node_settings,
    open_bench_node,
    prepared_commune,
    snapshot_code,
)


class Timers:
    def __init__(self) -> None:
        self.side = "client"  # which node's code is running (set by InProcessHub)
        self.s: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextlib.contextmanager
    def stage(self, name: str):
        t0 = time.perf_counter()
        try:
            yield
        finally:
            self.s[name] += time.perf_counter() - t0
            self.calls[name] += 1

    def wrap_sided(self, obj: Any, attr: str, name: str) -> Callable[[], None]:
        """Like :meth:`wrap` for code both sides run (the codec): the stage is named per side."""
        had = attr in vars(obj)
        fn: Callable[..., Any] = getattr(obj, attr)

        def timed(*a: Any, **kw: Any) -> Any:
            with self.stage(f"{self.side}: {name}"):
                return fn(*a, **kw)

        setattr(obj, attr, timed)
        return lambda: setattr(obj, attr, fn) if had else vars(obj).pop(attr, None)

    def wrap(self, obj: Any, attr: str, name: str) -> Callable[[], None]:
        """Time every call of ``obj.attr`` (an instance attribute shadows the method); returns the undo."""
        had = attr in vars(obj)
        fn: Callable[..., Any] = getattr(obj, attr)

        def undo() -> None:
            if had:
                setattr(obj, attr, fn)
            else:
                vars(obj).pop(attr, None)

        def timed(*a: Any, **kw: Any) -> Any:
            with self.stage(name):
                return fn(*a, **kw)

        setattr(obj, attr, timed)
        return undo


class _Answer:
    """What :class:`sync.transport.HttpTransport` reads from a ``requests`` response."""

    def __init__(self, content: bytes, headers: Any, status_code: int) -> None:
        self.content = content
        self.headers = headers
        self.status_code = status_code


class InProcessHub:
    """Stands in for the ``requests.Session`` of the real :class:`sync.transport.HttpTransport`:
    each POST goes to the hub's real Flask app (``app.test_client()``) in this process.

    The global model proxy is rebound to the hub's database for the request and back to the
    client's afterwards; the client's profiler pauses while the hub's runs (one per thread).
    """

    def __init__(self, app: Any, hub: Any, client: Any, timers: Timers,
                 client_profile: cProfile.Profile | None = None,
                 server_profile: cProfile.Profile | None = None) -> None:
        self.http = app.test_client()
        self.hub = hub
        self.client = client
        self.timers = timers
        self.client_profile = client_profile
        self.server_profile = server_profile
        self.headers: dict[str, str] = {}

    def post(self, url: str, data: bytes, headers: dict[str, str], timeout: Any = None) -> _Answer:
        from urllib.parse import urlsplit

        from node.db import database

        if self.client_profile:
            self.client_profile.disable()
        database.initialize(self.hub.db)
        self.timers.side = "server"
        try:
            if self.server_profile:
                self.server_profile.enable()
            try:
                with self.timers.stage("server: whole request (Flask + sync blueprint)"):
                    r = self.http.post(urlsplit(url).path, data=data, headers=headers)
            finally:
                if self.server_profile:
                    self.server_profile.disable()
        finally:
            self.timers.side = "client"
            database.initialize(self.client.db)
            if self.client_profile:
                self.client_profile.enable()
        return _Answer(r.get_data(), r.headers, r.status_code)

    def mount(self, *_a: Any) -> None:
        pass

    def close(self) -> None:
        pass


def instrument(node: Any, timers: Timers, side: str) -> list[Callable[[], None]]:
    return [
        timers.wrap(node.replica, "outgoing_for", f"{side}: outgoing_for (read events, compact, sign head)"),
        timers.wrap(node.replica, "ingest", f"{side}: ingest (verify + insert + projection + commit)"),
        timers.wrap(node.replica.ingestor, "on_events", f"{side}:   of which projection (on_events)"),
    ]


def one_pass(n: int, prepared: Path, hub_url: str, profile: bool, timeout_s: float) -> dict[str, Any]:
    """Push then pull in-process; returns timers and (if ``profile``) the four profiles."""
    from node.app import create_app
    from node.models import DossierRow
    from sync import codec
    from sync.transport import HttpTransport

    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="motcua-sync-profile-") as tmp_s:
        tmp = Path(tmp_s)
        init_node(tmp / "hub", "district", HUB_UNIT, "Hub", hub_url)
        init_node(tmp / "fresh", "commune", COMMUNE_UNIT, "Fresh commune")
        copy_node_dir(prepared, tmp / "commune")
        hub = open_bench_node(tmp / "hub", hub_url)
        app = create_app(node_settings(tmp / "hub", hub_url), node=hub)
        try:
            for phase, client_dir in (("push", tmp / "commune"), ("pull", tmp / "fresh")):
                client = open_bench_node(client_dir)  # binds the proxy to the client's database
                timers = Timers()
                instrument(client, timers, "client")
                undo = instrument(hub, timers, "server")
                undo += [timers.wrap_sided(codec, "encode", "codec.encode (JSON + zstd)"),
                         timers.wrap_sided(codec, "decode", "codec.decode (zstd + JSON)")]
                cprof = cProfile.Profile() if profile else None
                sprof = cProfile.Profile() if profile else None
                transport = HttpTransport("http://hub.in-process", client.key, client.wall_ms, read_timeout=timeout_s)
                transport.session = InProcessHub(app, hub, client, timers, cprof, sprof)
                try:
                    with deadline(timeout_s, f"in-process {phase}"):
                        if cprof:
                            cprof.enable()
                        t0 = time.perf_counter()
                        summary = client.sync_with("http://hub.in-process", transport=transport)
                        wall = time.perf_counter() - t0
                        if cprof:
                            cprof.disable()
                    if not summary.ok:
                        raise RuntimeError(f"{phase}: {summary.error_code} {summary.error}")
                    if phase == "pull" and DossierRow.select().count() != n:
                        raise RuntimeError("pull did not bring every dossier")
                finally:
                    client.close()
                    for u in undo:
                        u()
                out[phase] = {"wall": wall, "timers": timers, "exchanges": summary.exchanges,
                              "client_profile": cprof, "server_profile": sprof}
        finally:
            hub.close()
    return out


def print_timers(phase: str, res: dict[str, Any], n: int) -> None:
    t: Timers = res["timers"]
    wall = res["wall"]
    print(f"\n### {phase}: {3 * n:,} events, {res['exchanges']} exchanges, {wall:.2f} s wall in-process "
          "(no HTTP, no profiler)\n")
    print("| stage | seconds | share of wall | calls |\n|---|---|---|---|")
    for name in sorted(t.s, key=lambda k: (k.split(":")[0], -t.s[k])):
        print(f"| {name} | {t.s[name]:.2f} | {t.s[name] / wall:.0%} | {t.calls[name]} |")
    rest = max(0.0, wall - _top_level(t))
    print(f"| (client rest: engine loop, ledger, request self-check, signing) | {rest:.2f} | {rest / wall:.0%} | |")


def _top_level(t: Timers) -> float:
    # The hub's whole request contains its ingest, outgoing_for and codec calls: count it, not them.
    return t.s.get("server: whole request (Flask + sync blueprint)", 0.0) + sum(
        v for k, v in t.s.items() if k.startswith("client: ") and "of which" not in k)


_FOCUS = (
    # (label, module suffix, function name) -- cumulative time of these, from the profile
    ("build_outgoing (outbox)", "sync/outbox.py", "build_outgoing"),
    ("sign_own_head", "sync/replica.py", "sign_own_head"),
    ("codec.encode (json.dumps + zstd)", "sync/codec.py", "encode"),
    ("codec.decode", "sync/codec.py", "decode"),
    ("request_from_wire / response_from_wire", "sync/exchange.py", "request_from_wire"),
    ("response_from_wire", "sync/exchange.py", "response_from_wire"),
    ("Ingestor.apply", "sync/ingest.py", "apply"),
    ("  _prepare (rebuild, hash chain, head signature)", "sync/ingest.py", "_prepare"),
    ("    event_from_dict (incl. validate_event)", "sync/wire.py", "event_from_dict"),
    ("    validate_event", "sync/wire.py", "validate_event"),
    ("    canonical_bytes", "sync/wire.py", "canonical_bytes"),
    ("    hash_bytes", "sync/wire.py", "hash_bytes"),
    ("    check_head (Ed25519 verify)", "sync/chain.py", "check_head"),
    ("  store.insert_events", "sync/store.py", "insert_events"),
    ("  projection.project", "node/projection.py", "project"),
    ("    store.events_for_entities (SELECT + parse_event)", "sync/store.py", "events_for_entities"),
    ("      parse_event (json.loads + event_from_dict + canonical re-encode)", "sync/wire.py", "parse_event"),
    ("    domain.fold", "node/domain/dossier.py", "fold"),
    ("    merge.fold_dossier", "node/domain/merge.py", "fold_dossier"),
    ("    merge.fold_checked (the fold, with authority)", "node/domain/merge.py", "fold_checked"),
    ("    authority.view (certified profiles of the origins)", "node/authority.py", "view"),
    ("    authority.replace (violation rows)", "node/authority.py", "replace"),
    ("    dataclasses.asdict", "dataclasses.py", "asdict"),
    ("    dataclasses.replace", "dataclasses.py", "replace"),
    ("    projection._upsert (peewee insert_many .. on conflict)", "node/projection.py", "_upsert"),
    ("    projection._refresh_duplicates", "node/projection.py", "_refresh_duplicates"),
    ("  apply_revocations", "sync/trust.py", "apply_revocations"),
    ("peewee: building SQL text (Context.sql)", "peewee.py", "sql"),
    ("peewee execute_sql (all SQL)", "peewee.py", "execute_sql"),
    ("psycopg: client-side query parsing (_split_query)", "psycopg/_queries.py", "_split_query"),
    ("Flask test client request (server half total)", "werkzeug/test.py", "open"),
    ("peewee commit", "peewee.py", "commit"),
)


def focus_table(prof: cProfile.Profile) -> str:
    st = pstats.Stats(prof)
    total = st.total_tt  # type: ignore[attr-defined]
    rows = []
    for label, file_suffix, func in _FOCUS:
        cum = 0.0
        calls = 0
        for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
            if name == func and filename.replace("\\", "/").endswith(file_suffix):
                cum += ct
                calls += nc
        if calls:
            rows.append(f"| {label} | {cum:.2f} | {cum / total:.0%} | {calls:,} |")
    return ("| function (cumulative, profiled) | seconds | share | calls |\n|---|---|---|---|\n" + "\n".join(rows)
            + f"\n| total profiled | {total:.2f} | 100% | |")


def top_functions(prof: cProfile.Profile, top: int, sort: str) -> str:
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.strip_dirs().sort_stats(sort).print_stats(top)
    text = buf.getvalue()
    start = text.find("   ncalls")
    return text[start:].rstrip() if start >= 0 else text


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.sync_profile", description=__doc__.splitlines()[0])
    p.add_argument("--n", type=int, default=10_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--hub-db", choices=("sqlite", "postgresql"), default="sqlite")
    p.add_argument("--pg-url", default=DEFAULT_PG_URL)
    p.add_argument("--code-ref", default="", help="profile this git commit instead of the work tree")
    p.add_argument("--top", type=int, default=25, help="functions listed per profile (default 25)")
    p.add_argument("--out", type=Path, default=None, help="write the .prof files here (snakeviz, pstats)")
    p.add_argument("--timeout", type=float, default=900.0)
    args = p.parse_args(argv)
    pg = PgDatabases(args.pg_url) if args.hub_db == "postgresql" else None
    code_dir = Path(tempfile.mkdtemp(prefix="motcua-sync-profile-code-"))
    try:
        snapshot_code(code_dir / "src", args.code_ref)
        prepared = prepared_commune(args.n, args.seed, False, timeout_s=300 + 0.2 * args.n)
        results = {}
        for profile in (False, True):
            url = pg.create() if pg else ""
            log(f"in-process push + pull of N={args.n:,}, hub on {args.hub_db}, "
                f"{'under cProfile' if profile else 'stage timers only'}")
            try:
                results[profile] = one_pass(args.n, prepared, url, profile, args.timeout)
            finally:
                if pg and url:
                    pg.drop(url)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        if pg:
            pg.close()
        shutil.rmtree(code_dir, ignore_errors=True)

    print(f"# In-process sync profile, N={args.n:,}, hub on {args.hub_db}, client on sqlite")
    for phase in ("push", "pull"):
        print_timers(phase, results[False][phase], args.n)
    for phase in ("push", "pull"):
        res = results[True][phase]
        for side in ("server", "client"):
            prof: cProfile.Profile = res[f"{side}_profile"]
            title = "hub: server half of each exchange" if side == "server" else \
                "client: the session minus the server half"
            print(f"\n### cProfile {phase} — {title}\n")
            print(focus_table(prof))
            print(f"\nTop {args.top} by own time (tottime):\n```\n{top_functions(prof, args.top, 'tottime')}\n```")
            if args.out:
                args.out.mkdir(parents=True, exist_ok=True)
                prof.dump_stats(args.out / f"{phase}-{side}-{args.hub_db}.prof")
    return 0


if __name__ == "__main__":
    sys.exit(main())
