"""``./scripts/demo`` brings three nodes up that answer https within 60 s, enrolled with the demo
district's CA, synced mobile -> commune -> district; running it twice is safe; it stops them."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from tests.factories import sqlite_connect

ROOT = Path(__file__).resolve().parents[2]
# A liveness probe: node certificates name node ids, not hosts (the nodes pin the CA themselves).
INSECURE = ssl.create_default_context()
INSECURE.check_hostname = False
INSECURE.verify_mode = ssl.CERT_NONE


def rows(db: Path, sql: str, *args) -> list[tuple]:
    con = sqlite_connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, args).fetchall()
    finally:
        con.close()


def free_base_port() -> int:
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            base = s.getsockname()[1]
        if base > 65000:
            continue
        try:
            for port in (base + 1, base + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise AssertionError("no three consecutive free ports found")


def test_demo_starts_three_nodes_and_stops_them(tmp_path):
    base = free_base_port()
    env = {**os.environ, "DEMO_BASE_PORT": str(base), "DEMO_DATA_DIR": str(tmp_path / "demo"),
           "XDG_STATE_HOME": str(tmp_path / "state")}
    started = time.monotonic()
    try:
        result = subprocess.run([str(ROOT / "scripts" / "demo")], env=env, capture_output=True, text=True,
                                timeout=300, check=False)
        assert result.returncode == 0, result.stdout + result.stderr
        demo = tmp_path / "demo"
        ids = {}
        for offset, role in enumerate(("district", "commune", "mobile")):
            with urllib.request.urlopen(f"https://127.0.0.1:{base + offset}/healthz", timeout=5, context=INSECURE) as r:
                answer = json.load(r)
                assert answer["role"] == role
                ids[role] = answer["node_id"]
            assert (demo / role / "node.pem").exists() and (demo / role / "ca.pem").exists()
        assert (demo / "district" / "ca" / "ca.pem").exists()
        assert "enrolled commune" in result.stdout and "enrolled mobile" in result.stdout
        # a sync happened, over https, between certified nodes: the laptop's work reached the district
        district_db = demo / "district" / "motcua.sqlite3"
        served = rows(district_db, "SELECT peer, outcome FROM sync_session WHERE side = 'server'")
        assert (ids["commune"], "ok") in served, served
        mobile_db = demo / "mobile" / "motcua.sqlite3"
        mobile_events = rows(mobile_db, "SELECT hash FROM event WHERE origin = ?", ids["mobile"])
        assert mobile_events and set(mobile_events) <= set(rows(district_db, "SELECT hash FROM event"))
        certified = rows(district_db, "SELECT node_id, length(cert) FROM node_profile WHERE node_id IN (?, ?)",
                         ids["commune"], ids["mobile"])
        assert len(certified) == 2 and all(n > 100 for _, n in certified), certified
        print(f"demo up in {time.monotonic() - started:.1f} s")
        again = subprocess.run([str(ROOT / "scripts" / "demo")], env=env, capture_output=True, text=True,
                               timeout=300, check=False)
        assert again.returncode == 0, "running the demo twice must be safe:\n" + again.stdout + again.stderr
        assert "enrolled" not in again.stdout and "created the district CA" not in again.stdout  # done once
        assert "sync commune" in again.stdout and "ok:" in again.stdout
    finally:
        subprocess.run([str(ROOT / "scripts" / "demo"), "stop"], env=env, capture_output=True, timeout=60,
                       check=False)
    status = subprocess.run([str(ROOT / "scripts" / "demo"), "status"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert status.returncode != 0  # all stopped
