"""The sync bench's district hub: ``motcua serve`` in its own process group, and throwaway PostgreSQL
databases; both always cleaned up (:mod:`bench.sync_bench`)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path

from bench.sync_nodes import HUB_UNIT, clean_env, code_root, init_node, log, motcua_cmd

# ----------------------------------------------------------------------------- PostgreSQL


class PgDatabases:
    """Throwaway PostgreSQL databases, all dropped by :meth:`close` (FORCE ends stray sessions)."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url = admin_url
        self.prefix = f"motcua_bench_{secrets.token_hex(4)}"
        self.created: list[str] = []

    def _admin(self):  # -> psycopg.Connection
        import psycopg

        return psycopg.connect(self.admin_url, autocommit=True, connect_timeout=10)

    def create(self) -> str:
        name = f"{self.prefix}_{len(self.created)}"
        with self._admin() as con:
            con.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = self.admin_url.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self._admin() as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if name in self.created:
            self.created.remove(name)

    def close(self) -> None:
        if not self.created:
            return
        try:
            with self._admin() as con:
                for name in list(self.created):
                    con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                    self.created.remove(name)
        except Exception as e:
            log(f"WARNING: could not drop PostgreSQL databases {self.created}: {e}")


# ----------------------------------------------------------------------------- hub server


def free_port() -> int:
    """A free loopback port: the first free one of ``MOTCUA_BENCH_PORTS`` ("24100-24999") when
    set (a shared machine gives each user a range), else one the OS picks."""
    low, _, high = os.environ.get("MOTCUA_BENCH_PORTS", "").partition("-")
    candidates = range(int(low), int(high) + 1) if low and high else [0]
    for port in candidates:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise RuntimeError(f"no free port in MOTCUA_BENCH_PORTS={os.environ.get('MOTCUA_BENCH_PORTS')}")


_REQUEST_LINE = re.compile(rb'"[A-Z]+ \S+ HTTP/\d')


class HubServer:
    """A district node served by ``motcua serve`` in its own process group."""

    def __init__(self, data_dir: Path, database_url: str = "", start_timeout: float = 60, port: int = 0,
                 env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.database_url = database_url
        self.start_timeout = start_timeout
        self.port = port  # 0: a free one
        self.extra_env = dict(env or {})
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"

    def start(self) -> HubServer:
        env = clean_env(MOTCUA_DATABASE_URL=self.database_url) if self.database_url else clean_env()
        env["MOTCUA_DEV_OPEN_TRUST"] = "1"  # see node_settings
        env.update(self.extra_env)
        if (self.data_dir / "node.json").exists():  # initialised (and filled) by the caller
            self.node_id = json.loads((self.data_dir / "node.json").read_text())["node_id"]
        else:
            self.node_id = init_node(self.data_dir, "district", HUB_UNIT, "Hub", self.database_url)
        self.port = self.port or free_port()
        with open(self.log_path, "ab") as out:
            self.process = subprocess.Popen(
                [*motcua_cmd(), "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, start_new_session=True,
                cwd=code_root(),
            )
        import requests

        http = requests.Session()
        http.trust_env = False
        try:
            end = time.monotonic() + self.start_timeout
            while time.monotonic() < end:
                if self.process.poll() is not None:
                    raise RuntimeError(f"hub server died:\n{self.log_tail()}")
                try:
                    r = http.get(f"{self.url}/healthz", timeout=2)
                    if r.ok and r.json().get("node_id") == self.node_id:
                        return self
                except requests.RequestException:
                    pass
                time.sleep(0.1)
        finally:
            http.close()
        raise RuntimeError(f"hub server did not answer /healthz within {self.start_timeout:.0f} s:\n{self.log_tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log_tail(self, n: int = 3000) -> str:
        try:
            return self.log_path.read_bytes()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def request_count(self) -> int:
        """HTTP requests in the access log so far (gunicorn writes one line per request)."""
        try:
            return len(_REQUEST_LINE.findall(self.log_path.read_bytes()))
        except OSError:
            return 0

    def requests_since(self, before: int, at_least: int, wait_s: float = 3.0) -> int:
        """Requests logged since ``before``; waits briefly for the access log to catch up."""
        end = time.monotonic() + wait_s
        count = self.request_count() - before
        while count < at_least and time.monotonic() < end:
            time.sleep(0.02)
            count = self.request_count() - before
        time.sleep(0.05)  # a late line for a request we did not expect
        return self.request_count() - before

    def stop(self) -> None:
        p = self.process
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(timeout=10)

    def __enter__(self) -> HubServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()
