"""Sync sessions left "running" by a process that died are marked "interrupted" at the next start
of the node, and the district console shows them so (issue 14.4)."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from node import session_recovery
from node.app import create_app
from node.db import node_store
from node.services import open_node
from sync.ledger import SyncSessionRow
from tests.factories import init_node_dir, make_settings
from tests.integration.web_helpers import add, cheap_hashing, login

REPO = Path(__file__).resolve().parents[2]
MINUTE = 60_000


def outcomes() -> dict[str, str]:
    return {r.session: r.outcome for r in SyncSessionRow.select()}


@pytest.fixture
def node_dir(tmp_path):
    data_dir = tmp_path / "hub"
    key = init_node_dir(data_dir, role="district", unit="40")
    settings = make_settings(data_dir, role="district", unit="40")
    yield settings, key
    session_recovery.release(Path(settings.STATE_DIR), key.node_id)


def crash_in_a_session(settings, session: str) -> None:
    """Another process opens the node, opens a session line, and is SIGKILLed in the middle."""
    script = textwrap.dedent(f"""
        import os, signal, time
        from node.config import load_settings
        from node.services import open_node
        from node.db import node_store
        settings = load_settings({str(settings.data_dir)!r}, environ={{}},
                                 overrides={{"ROLE": "district", "UNIT": "40", "SECRET_KEY": "t",
                                            "STATE_DIR": {settings.STATE_DIR!r}}})
        node = open_node(settings)
        node_store().open_session({session!r}, "client", "peer-a", "Xã A", int(time.time() * 1000))
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == -9, done.stderr


def test_a_session_of_a_killed_process_is_interrupted_at_the_next_start(node_dir):
    settings, _key = node_dir
    crash_in_a_session(settings, "s-killed")
    node = open_node(settings)
    try:
        row = SyncSessionRow.get(SyncSessionRow.session == "s-killed")
        assert (row.outcome, row.error_code) == ("interrupted", "interrupted")
        assert row.ended_at == row.started_at and "ended before it finished" in row.error
    finally:
        node.close()


def test_while_another_process_lives_only_idle_sessions_are_marked(node_dir):
    """A ``motcua sync`` still running when ``serve`` starts keeps its line; one idle for longer
    than any exchange takes is a dead process's."""
    settings, key = node_dir
    lock = session_recovery.lock_path(Path(settings.STATE_DIR), key.node_id)
    lock.parent.mkdir(parents=True, exist_ok=True)
    live = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import fcntl, os, sys, time
        fd = os.open({str(lock)!r}, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_SH)  # what a live `motcua sync` holds
        print("held", flush=True)
        time.sleep(60)
    """)], stdout=subprocess.PIPE, text=True)
    try:
        assert live.stdout.readline().strip() == "held"
        node = open_node(settings)
        now = node.wall_ms()
        node_store().open_session("s-live", "client", "peer-a", "Xã A", now - MINUTE)
        node_store().open_session("s-old", "server", "peer-b", "Xã B", now - session_recovery.STALE_MS - MINUTE)
        node_store().open_session("s-done", "server", "peer-b", "Xã B", now - session_recovery.STALE_MS - MINUTE)
        node_store().add_to_session("s-done", "server", now=now - session_recovery.STALE_MS, outcome="ok")
        node.close()
        again = open_node(settings)  # a start while the other process lives
        try:
            assert outcomes() == {"s-live": "running", "s-old": "interrupted", "s-done": "ok"}
            # the live session ends as it would have: its own outcome wins
            node_store().add_to_session("s-live", "client", now=now, outcome="ok")
            assert outcomes()["s-live"] == "ok"
        finally:
            again.close()
    finally:
        live.kill()
        live.communicate(timeout=10)


def test_alone_at_start_every_running_line_is_a_dead_ones(node_dir):
    settings, key = node_dir
    first = open_node(settings)
    node_store().open_session("s-recent", "client", "peer-a", "Xã A", first.wall_ms())
    session_recovery.release(Path(settings.STATE_DIR), key.node_id)  # as if this process had died
    node = open_node(settings)
    try:
        assert outcomes() == {"s-recent": "interrupted"}
    finally:
        node.close()


def test_the_district_console_shows_interrupted_sessions(node_dir, clock, monkeypatch):
    settings, _key = node_dir
    crash_in_a_session(settings, "s-console")
    node = open_node(settings, clock)
    try:
        app = create_app(settings, node=node)
        cheap_hashing(monkeypatch)
        add("quantri", "district_admin", clock())
        c = app.test_client()
        login(c, "quantri")
        page = c.get("/quan-tri/dong-bo?ket_qua=interrupted")
        assert page.status_code == 200 and 'value="interrupted" selected' in page.text  # a filter of its own
        assert re.findall(r'class="badge [a-z]+">([^<]+)</span>', page.text) == ["Bị gián đoạn"]
        row = SyncSessionRow.get(SyncSessionRow.session == "s-console")
        detail = c.get(f"/quan-tri/dong-bo/{row.id}")
        assert 'data-outcome="interrupted"' in detail.text and "Bị gián đoạn" in detail.text
    finally:
        node.close()
