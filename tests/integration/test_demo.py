"""``./scripts/demo`` brings three nodes up that answer HTTP within 60 s, and stops them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


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
        for offset, role in enumerate(("district", "commune", "mobile")):
            with urllib.request.urlopen(f"http://127.0.0.1:{base + offset}/healthz", timeout=5) as r:
                assert json.load(r)["role"] == role
        print(f"demo up in {time.monotonic() - started:.1f} s")
        again = subprocess.run([str(ROOT / "scripts" / "demo")], env=env, capture_output=True, text=True,
                               timeout=300, check=False)
        assert again.returncode == 0, "running the demo twice must be safe:\n" + again.stdout + again.stderr
    finally:
        subprocess.run([str(ROOT / "scripts" / "demo"), "stop"], env=env, capture_output=True, timeout=60,
                       check=False)
    status = subprocess.run([str(ROOT / "scripts" / "demo"), "status"], env=env, capture_output=True, text=True,
                            timeout=60, check=False)
    assert status.returncode != 0  # all stopped
