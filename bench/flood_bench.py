"""An authenticated sync under a flood of bogus requests: latency and the hub's peak memory.

Responsibility: one invocation starts a district hub with its CA (``motcua ca init``) under
``motcua serve`` on loopback (https, embedded gunicorn, ``--workers`` threads), enrolls a commune
by pairing code, and for each case measures ``--runs`` syncs of that commune (in this process,
each pushing ``--dossiers`` new dossiers in one exchange), printing one table of medians:

* **quiet**: nothing else hits the hub;
* **flood, known id**: ``--concurrency`` connections (100) keep one bogus request each in flight
  the whole time: 4 KB zstd bodies that expand to 128 MiB of zeros, claiming the enrolled
  commune's node id (so the hub must read the body, hash it and check one signature: the
  dearest refusal), signed with garbage;
* **flood, unknown ids**: the same, each request naming a fresh random node id with no
  certificate (refused from the headers; the address is throttled after 20 refusals).

The hub's peak memory is the high-water mark of its resident set (``VmHWM`` of the gunicorn
worker, which does all the work; and the peak of master + worker sampled every 20 ms); the hub
is restarted for each case so each mark is its own. The flood runs in a separate process, so
the client's timing does not share this process's interpreter lock with 100 flooding threads
(on a small machine they do share the CPU, as an attacker's traffic would).

``--hub-repo DIR`` serves the hub (and runs its CLI) from another checkout, e.g. the code before
a change (``git archive <rev> | tar -x -C DIR``), to compare; the client always runs this one.

    .venv/bin/python -m bench.flood_bench [--runs 5] [--concurrency 100] [--workers 2]

Everything this process starts is stopped (process groups, the flood process) and temporary
directories are removed, on success, failure or Ctrl-C. Nothing outside ``bench/`` is changed.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import http.client
import json
import multiprocessing
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EXCHANGE_PATH = "/sync/v1/exchange"
INSECURE = ssl.create_default_context()  # the flooder does not care whom it floods
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE


def log(msg: str) -> None:
    print(f"[flood-bench] {msg}", file=sys.stderr, flush=True)


def bomb(expanded_mib: int = 128) -> bytes:
    """zstd of zeros: ~32 bytes per 1 MiB, so 128 MiB fit in ~4 KB."""
    import zstandard

    compressor = zstandard.ZstdCompressor(level=3).compressobj()
    zeros = bytes(1 << 20)
    return b"".join(compressor.compress(zeros) for _ in range(expanded_mib)) + compressor.flush()


# ----------------------------------------------------------------------------- processes


def env_for(repo: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_") and k != "DATABASE_URL"}
    # MOTCUA_LANG=en: the pairing code is read from the CLI's English line
    env.update(PYTHONPATH=str(repo), PYTHONDONTWRITEBYTECODE="1", MOTCUA_LANG="en", **extra)
    return env


def motcua(repo: Path, data_dir: Path, *args: str, state: Path) -> str:
    proc = subprocess.run([sys.executable, "-m", "node.cli", "--data-dir", str(data_dir), *args], cwd=repo,
                          env=env_for(repo, XDG_STATE_HOME=str(state)), capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"motcua {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_kib(pid: int, field_name: str = "VmRSS") -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    m = re.search(rf"^{field_name}:\s+(\d+) kB", text, re.M)
    return int(m.group(1)) if m else 0


def children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


class Hub:
    """The district node served by ``motcua serve`` in its own process group."""

    def __init__(self, repo: Path, data_dir: Path, state: Path, workers: int) -> None:
        self.repo, self.data_dir, self.state, self.workers = repo, data_dir, state, workers
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.peak_kib = 0
        self._sampling = False

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def start(self) -> Hub:
        log_file = open(self.data_dir.parent / "hub-serve.log", "ab")  # noqa: SIM115 (the child keeps it)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "node.cli", "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)],
            cwd=self.repo, env=env_for(self.repo, XDG_STATE_HOME=str(self.state), MOTCUA_WORKERS=str(self.workers),
                                       MOTCUA_ADVERTISE="0"),
            stdout=log_file, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
        log_file.close()
        end = time.monotonic() + 60
        while time.monotonic() < end:
            if self.process.poll() is not None:
                raise RuntimeError("the hub died at start: see " + str(self.data_dir.parent / "hub-serve.log"))
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", self.port, timeout=2, context=INSECURE)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and self.worker():
                    conn.close()
                    return self
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError("the hub did not answer /healthz within 60 s")

    def worker(self) -> int:
        kids = children(self.process.pid) if self.process else []
        return kids[0] if kids else 0

    def sample(self) -> None:
        """Track the peak of master + worker resident sets every 20 ms until stop_sampling()."""
        self._sampling = True

        def run() -> None:
            while self._sampling and self.process and self.process.poll() is None:
                total = rss_kib(self.process.pid) + sum(rss_kib(c) for c in children(self.process.pid))
                self.peak_kib = max(self.peak_kib, total)
                time.sleep(0.02)

        self._sampler = threading.Thread(target=run, daemon=True)
        self._sampler.start()

    def stop_sampling(self) -> None:
        self._sampling = False
        self._sampler.join(5)

    def stop(self) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGQUIT)  # quick shutdown: the flood's connections are not waited for
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)


# ----------------------------------------------------------------------------- the flood


def flood_process(port: int, concurrency: int, kind: str, node_id: str, body: bytes, ready: Any, stop: Any,
                  results: Any) -> None:
    """Runs in its own process: ``concurrency`` threads, each keeping one bogus request in flight."""
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    started = threading.Barrier(concurrency + 1)

    def one(conn: http.client.HTTPSConnection) -> int:
        claimed = node_id if kind == "known" else secrets.token_hex(16)
        headers = {
            "Content-Type": "application/x-motcua", "Content-Encoding": "zstd", "X-Motcua-Node": claimed,
            "X-Motcua-Time": str(time.time_ns() // 1_000_000), "X-Motcua-Nonce": secrets.token_urlsafe(16),
            "X-Motcua-Sig": base64.b64encode(os.urandom(64)).decode(),
        }
        conn.request("POST", EXCHANGE_PATH, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        return response.status

    def worker() -> None:
        conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=INSECURE)
        with contextlib.suppress(threading.BrokenBarrierError):
            started.wait(30)
        while not stop.is_set():
            try:
                status = one(conn)
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPSConnection("127.0.0.1", port, timeout=60, context=INSECURE)
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
        conn.close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    started.wait(30)
    t0 = time.monotonic()
    ready.set()
    stop.wait()
    elapsed = time.monotonic() - t0
    for t in threads:
        t.join(70)
    results.put({"statuses": statuses, "seconds": elapsed})


# ----------------------------------------------------------------------------- one case


@dataclass
class Case:
    name: str
    latencies: list[float] = field(default_factory=list)
    worker_hwm_kib: int = 0
    sampled_peak_kib: int = 0
    flood: dict[str, Any] = field(default_factory=dict)


def run_case(name: str, kind: str | None, args: argparse.Namespace, hub_dir: Path, state: Path, client: Any,
             body: bytes) -> Case:
    from node import demo_data

    case = Case(name)
    hub = Hub(args.hub_repo, hub_dir, state, args.workers).start()
    flooder = None
    ctx = multiprocessing.get_context("spawn")
    stop, ready, results = ctx.Event(), ctx.Event(), ctx.Queue()
    try:
        warm = client.sync_with(hub.url)  # the hub's caches, and our peer record for this port
        if not warm.ok:
            raise RuntimeError(f"warm-up sync failed: {warm.error_code} {warm.error}")
        hub.sample()
        if kind:
            flooder = ctx.Process(target=flood_process, daemon=True,
                                  args=(hub.port, args.concurrency, kind, client.node_id, body, ready, stop, results))
            flooder.start()
            if not ready.wait(60):
                raise RuntimeError("the flood did not start within 60 s")
            time.sleep(1.0)  # let the hub's accept queue fill
        for i in range(args.runs):
            demo_data.seed(client, args.dossiers)
            t0 = time.perf_counter()
            summary = client.sync_with(hub.url)
            elapsed = time.perf_counter() - t0
            if not summary.ok:
                raise RuntimeError(f"{name}: sync {i + 1} failed: {summary.error_code} {summary.error}")
            if summary.events_out < args.dossiers:
                raise RuntimeError(f"{name}: sync {i + 1} pushed {summary.events_out} events")
            case.latencies.append(elapsed)
            log(f"  {name}: sync {i + 1}/{args.runs}: {elapsed * 1000:.0f} ms, {summary.events_out} events up")
        if flooder is not None:
            stop.set()
            case.flood = results.get(timeout=120)
            flooder.join(30)
        case.worker_hwm_kib = rss_kib(hub.worker(), "VmHWM")
        hub.stop_sampling()
        case.sampled_peak_kib = hub.peak_kib
    finally:
        stop.set()
        if flooder is not None and flooder.is_alive():
            flooder.terminate()
        hub.stop()
    return case


# ----------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5, help="measured syncs per case (the median is printed)")
    p.add_argument("--concurrency", type=int, default=100, help="bogus requests kept in flight")
    p.add_argument("--workers", type=int, default=2, help="threads of the hub's gunicorn worker (WORKERS)")
    p.add_argument("--dossiers", type=int, default=20, help="new dossiers pushed by each measured sync")
    p.add_argument("--hub-repo", type=Path, default=REPO, help="checkout the hub runs from (default: this one)")
    p.add_argument("--cases", default="quiet,known,unknown", help="comma-separated: quiet, known, unknown")
    args = p.parse_args(argv)
    args.hub_repo = args.hub_repo.resolve()
    body = bomb()
    names = {"quiet": ("quiet", None), "known": ("flood, known id", "known"),
             "unknown": ("flood, unknown ids", "unknown")}
    tmp = Path(tempfile.mkdtemp(prefix="motcua-flood-"))
    cases: list[Case] = []
    try:
        state, hub_dir, client_dir = tmp / "state", tmp / "hub", tmp / "commune"
        log(f"hub from {args.hub_repo}; CA, enrollment of the commune by pairing code")
        motcua(args.hub_repo, hub_dir, "init", "--role", "district", "--unit", "40", "--name", "Hub", state=state)
        motcua(args.hub_repo, hub_dir, "ca", "init", state=state)
        motcua(REPO, client_dir, "init", "--role", "commune", "--unit", "17272", "--name", "Xã Tân Phú", state=state)
        hub = Hub(args.hub_repo, hub_dir, state, args.workers).start()
        try:
            out = motcua(args.hub_repo, hub_dir, "ca", "pair", "--role", "commune", "--unit", "17272", "--name",
                         "Xã Tân Phú", state=state)
            code = re.search(r"pairing code: (\S+)", out).group(1)
            motcua(REPO, client_dir, "enroll", "--district", hub.url, "--code", code, state=state)
        finally:
            hub.stop()
        from node.config import load_settings
        from node.services import open_node

        client = open_node(load_settings(client_dir, environ={"XDG_STATE_HOME": str(state)}))
        try:
            for key in args.cases.split(","):
                name, kind = names[key.strip()]
                log(f"case {name}")
                cases.append(run_case(name, kind, args, hub_dir, state, client, body))
        finally:
            client.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_table(cases, args, len(body))
    return 0


def print_table(cases: list[Case], args: argparse.Namespace, body_len: int) -> None:
    load = os.getloadavg()
    rev = subprocess.run(["git", "-C", str(args.hub_repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                         text=True, check=False).stdout.strip() or str(args.hub_repo)
    print(f"\nmotcua flood benchmark: an enrolled commune's sync ({args.dossiers} new dossiers, one exchange, https) "
          f"to a district hub with its CA, `motcua serve` with {args.workers} threads on loopback; median of "
          f"{args.runs} syncs per case. Flood: {args.concurrency} bogus requests kept in flight, {body_len} B zstd "
          f"bodies expanding to 128 MiB, from a separate process. Hub code: {rev}. Machine: {os.cpu_count()} CPU(s), "
          f"load average at the end {load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}.\n")
    print("| case | sync latency, median | min – max | bogus requests answered | their status codes "
          "| hub peak RSS (worker VmHWM) | hub peak RSS (master + worker, sampled) |")
    print("|---|---|---|---|---|---|---|")
    for c in cases:
        lat = statistics.median(c.latencies)
        flood = "—"
        codes = "—"
        if c.flood:
            n = sum(c.flood["statuses"].values())
            flood = f"{n:,} ({n / max(c.flood['seconds'], 1e-9):,.0f}/s)"
            codes = ", ".join(f"{k or 'conn. error'}: {v:,}" for k, v in sorted(c.flood["statuses"].items()))
        print(f"| {c.name} | {lat * 1000:,.0f} ms | {min(c.latencies) * 1000:,.0f} – {max(c.latencies) * 1000:,.0f} ms "
              f"| {flood} | {codes} | {c.worker_hwm_kib / 1024:,.1f} MiB | {c.sampled_peak_kib / 1024:,.1f} MiB |")
    print(json.dumps({"cases": [c.__dict__ for c in cases]}), file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
