"""A ``motcua sync`` killed in the middle of its session (issue 14.4): its line in the sync log
stays "running" only until the node next starts, which marks it "interrupted"."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

from tests.factories import sqlite_connect
from tests.scenarios.harness import DEV_OPEN_TRUST, MOTCUA, RealNode, clean_env


def client_sessions(node: RealNode) -> list[tuple[str, str]]:
    con = sqlite_connect(f"file:{node.db_path}?mode=ro", uri=True, timeout=30)  # SQLCipher at rest
    try:
        return con.execute("SELECT outcome, error_code FROM sync_session WHERE side = 'client'").fetchall()
    finally:
        con.close()


def test_a_killed_sync_client_leaves_an_interrupted_session_not_a_running_one(tmp_path):
    with socket.socket() as silent:  # a peer that takes the connection and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        laptop = RealNode("Máy lưu động", "mobile", "17272", tmp_path / "laptop", env=dict(DEV_OPEN_TRUST))
        laptop.data_dir.mkdir(parents=True)
        laptop.init()
        sync = subprocess.Popen(
            [*MOTCUA, "--data-dir", str(laptop.data_dir), "sync", "--peer", f"http://127.0.0.1:{silent.getsockname()[1]}"],
            env=clean_env(**laptop.env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and not (laptop.db_path.exists() and client_sessions(laptop)):
                time.sleep(0.1)
            assert client_sessions(laptop) == [("running", "")]
        finally:
            os.killpg(sync.pid, signal.SIGKILL)
            sync.wait(timeout=10)
    assert client_sessions(laptop) == [("running", "")]  # what a crash used to leave for ever
    laptop.cli("sync-log")  # the next start of the node, whatever the command
    assert client_sessions(laptop) == [("interrupted", "interrupted")]
    assert "interrupted" in laptop.cli("sync-log", "--outcome", "interrupted").stdout
