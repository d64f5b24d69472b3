"""Real nodes for scenario tests: each server is its own ``motcua serve`` process on loopback,
each client action a ``motcua`` command, exactly as staff and the scheduler run them.

A process serves one node (the models are bound to one database per process), so scenarios
never run two nodes inside the test process; they read each node's events straight from its
SQLite file with the stdlib ``sqlite3`` module.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tests.factories import sqlite_connect

MOTCUA = [sys.executable, "-m", "node.cli"]
# Health probes of the harness only: the nodes themselves pin the district CA.
INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOTCUA_") and k != "DATABASE_URL"}
    env["PYTHONPATH"] = str(REPO)
    env["XDG_STATE_HOME"] = os.environ.get("SCENARIO_STATE_HOME", "/tmp/motcua-scenario-state")
    env["MOTCUA_LANG"] = "en"  # the scenarios read the CLI's English words (its default is Vietnamese)
    env.update(extra)
    return env


@dataclass
class RealNode:
    name: str
    role: str
    unit: str
    data_dir: Path
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    tokens: dict[str, str] = field(default_factory=dict)  # account role -> API token, made on first use

    @property
    def url(self) -> str:
        scheme = "https" if (self.data_dir / "node.pem").exists() else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "motcua.sqlite3"

    @property
    def node_id(self) -> str:
        return json.loads((self.data_dir / "node.json").read_text())["node_id"]

    def cli(self, *args: str, check: bool = True, timeout: float = 120,
            input: str | None = None) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [*MOTCUA, "--data-dir", str(self.data_dir), *args],
            capture_output=True, text=True, timeout=timeout, env=clean_env(**self.env), check=False, input=input,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"motcua {' '.join(args)} on {self.name} failed:\n{result.stdout}\n{result.stderr}")
        return result

    def init(self, parent: str = "") -> None:
        args = ["init", "--role", self.role, "--unit", self.unit, "--name", self.name]
        if parent:
            args += ["--parent-url", parent]
        self.cli(*args)

    def api_token(self, role: str = "") -> str:
        """A write token of an account of ``role`` on this node (default: the role that does the
        node's work: a head of office, an outreach team member, a district admin), made once
        through ``motcua user add`` and ``motcua token create``."""
        role = role or {"district": "district_admin", "mobile": "mobile"}.get(self.role, "head")
        if role not in self.tokens:
            username = f"api.{role.replace('_', '-')}"
            password = secrets.token_urlsafe(18)
            self.cli("user", "add", "--username", username, "--role", role, "--name", f"Cán bộ {role}",
                     input=f"{password}\n{password}\n")
            out = self.cli("token", "create", "--user", username, "--scope", "write").stdout
            self.tokens[role] = next(line for line in out.split() if line.startswith("mct_"))
        return self.tokens[role]

    def start(self) -> None:
        self.port = self.port or free_port()
        with open(self.data_dir / "serve.log", "ab") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [*MOTCUA, "--data-dir", str(self.data_dir), "serve", "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=clean_env(**self.env), start_new_session=True,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"{self.name} server died: {(self.data_dir / 'serve.log').read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2, context=INSECURE) as r:
                    if json.load(r)["node_id"] == self.node_id:
                        return
            except OSError:
                time.sleep(0.1)
        raise AssertionError(f"{self.name} did not answer /healthz within 30 s")

    def stop(self, sig: int = signal.SIGTERM, wait: float = 20) -> None:
        """Stop the server: SIGTERM waits for open connections; SIGQUIT (gunicorn's quick
        shutdown) drops them at once, as a power cut or a lost link would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=wait)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)

    def events(self) -> set[tuple[str, str, int, str]]:
        """The (origin, scope, seq, hash) set this node holds, read from its database file."""
        con = sqlite_connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            rows = con.execute("SELECT origin, scope, seq, hash FROM event").fetchall()
        finally:
            con.close()
        assert len(rows) == len(set(rows)), f"{self.name} holds duplicate events"
        return set(rows)

    def own_events(self) -> set[tuple[str, str, int, str]]:
        me = self.node_id
        return {e for e in self.events() if e[0] == me}


# The development switch (DEV_OPEN_TRUST), for scenarios about something else than trust that
# need plain http between nodes that have never met; it must be set on both ends.
DEV_OPEN_TRUST = {"MOTCUA_DEV_OPEN_TRUST": "1"}


def certify(node: RealNode, ca) -> RealNode:  # ca: certs.DistrictCA
    """Give ``node`` a certificate of ``ca``, as ``motcua enroll`` leaves it (node.pem, ca.pem),
    without the pairing round trip (tests/scenarios/test_trust.py and the demo cover that). Call
    after ``init`` and before ``start``: the node then serves https and trusts only ``ca``."""
    from datetime import UTC, datetime, timedelta

    from certs import issue_node_certificate
    from certs.identity import certificate_pem
    from tests.factories import load_node_key

    key = load_node_key(node.data_dir)
    cert = issue_node_certificate(key.public_key, node_id=key.node_id, role=node.role, unit=node.unit,
                                  name=node.name[:64], ca=ca, now=datetime.now(UTC), lifetime=timedelta(days=30))
    (node.data_dir / "ca.pem").write_bytes(certificate_pem(ca.certificate))
    (node.data_dir / "node.pem").write_bytes(certificate_pem(cert))
    return node


def call(node: RealNode, method: str, path: str, body: dict | None = None, token: str | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict]:
    """One JSON API call to a served node: (status, decoded answer), errors included. It carries
    ``token``, by default the node's :meth:`RealNode.api_token`; ``token=""`` calls anonymously."""
    data = json.dumps(body).encode() if body is not None else None
    token = node.api_token() if token is None else token
    headers = {"Content-Type": "application/json", **(headers or {})}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(node.url + path, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10, context=INSECURE) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def may_hold(role: str, unit: str, scope: str) -> bool:
    return role == "district" or scope in (unit, "*")
