"""motcua backup / restore on real data directories: consistent while a writer runs, checked,
restored behind a closed write gate, and the staleness warning of doctor."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.factories import sqlite_connect
from tests.scenarios.harness import RealNode, certify, clean_env

# A second process writing dossiers as fast as it can until told to stop (bounded in count and
# time): what the desk does while the nightly backup runs.
WRITER = """
import sys, time
from pathlib import Path
from node.config import load_settings
from node.demo_data import seed
from node.services import open_node
node = open_node(load_settings(sys.argv[1]))
stop, deadline, n = Path(sys.argv[2]), time.monotonic() + 120, 0
while not stop.exists() and time.monotonic() < deadline and n < 5000:
    seed(node, 1)
    n += 1
print(n)
"""


def count_events(db: Path) -> int:
    con = sqlite_connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute("SELECT COUNT(*) FROM event").fetchone()[0]
    finally:
        con.close()


def backups_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.name.startswith("motcua-"))


def test_backup_while_writing_is_a_consistent_checked_snapshot(tmp_path):
    commune = RealNode("Xã Tân Phú", "commune", "17272", tmp_path / "commune")
    commune.init()
    commune.cli("seed-demo", "--count", "20")
    stop = tmp_path / "stop"
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(commune.data_dir), str(stop)],
                              env=clean_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        start = count_events(commune.db_path)
        deadline = time.monotonic() + 60
        while count_events(commune.db_path) < start + 5 and time.monotonic() < deadline:
            assert writer.poll() is None, writer.stderr.read()
            time.sleep(0.05)
        for _ in range(3):
            out = commune.cli("backup", "--to", str(tmp_path / "backups"))
            assert "backup written" in out.stdout and "verified" in out.stdout
            time.sleep(1.1)  # backup folders are named by the second
        during = count_events(commune.db_path)
        assert writer.poll() is None, "the writer stopped before the backups were done: nothing was tested"
        # let it write once more before it is told to stop (on a loaded machine a write takes a while)
        deadline = time.monotonic() + 60
        while count_events(commune.db_path) <= during and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.touch()
        _, errors = writer.communicate(timeout=60)
    assert writer.returncode == 0, errors
    assert count_events(commune.db_path) > during  # it kept writing after the last backup

    taken = backups_in(tmp_path / "backups")
    assert len(taken) == 3
    sizes = []
    for folder in taken:
        db = folder / "motcua.sqlite3"
        con = sqlite_connect(f"file:{db}?mode=ro", uri=True)
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        head = con.execute("SELECT MAX(seq) FROM event WHERE origin = ?", (commune.node_id,)).fetchone()[0]
        con.close()
        manifest = json.loads((folder / "manifest.json").read_text())
        assert manifest["own_heads"] == {f"{commune.node_id}:17272": head}  # heads and events of one commit
        sizes.append(count_events(db))
    assert start < sizes[0] <= sizes[1] <= sizes[2] <= during
    # The last one restored and checked as staff would: feeds verify, and the derived tables are
    # those of the same commit as the events (a rebuild changes nothing).
    restored = RealNode("Xã Tân Phú (khôi phục)", "commune", "17272", tmp_path / "restored",
                        env={"XDG_STATE_HOME": str(tmp_path / "new-pc")})
    restored.cli("restore", str(taken[-1]))
    verified = restored.cli("verify").stdout
    assert "FAIL" not in verified and f"{sizes[-1]} events" in verified
    assert "WARNING" not in restored.cli("rebuild").stdout


def test_restore_keeps_writes_blocked_until_a_sync_brings_back_later_events(tmp_path, district_ca):
    # No mDNS announcement: with it, stopping the server takes gunicorn's whole graceful timeout.
    hub = RealNode("Hub", "district", "40", tmp_path / "district", env={"MOTCUA_ADVERTISE": "false"})
    hub.init()
    certify(hub, district_ca)
    hub.start()
    try:
        commune = RealNode("Xã Tân Phú", "commune", "17272", tmp_path / "commune")
        commune.init(hub.url)
        certify(commune, district_ca)  # the backup carries the certificate to the new PC
        commune.cli("seed-demo", "--count", "4")
        commune.cli("sync")
        commune.cli("backup", "--to", str(tmp_path / "backups"))
        commune.cli("seed-demo", "--count", "3")
        commune.cli("sync")
        before = commune.own_events()

        # The PC dies; a new PC (no record of the old one's writes) gets last week's backup.
        new_pc = RealNode("Xã Tân Phú", "commune", "17272", tmp_path / "new-pc",
                          env={"XDG_STATE_HOME": str(tmp_path / "new-pc-state")})
        done = new_pc.cli("restore", str(backups_in(tmp_path / "backups")[0]))
        assert "writes stay blocked" in done.stdout
        assert new_pc.own_events() < before
        refused = new_pc.cli("seed-demo", "--count", "1", check=False)
        assert refused.returncode != 0 and "khôi phục" in (refused.stdout + refused.stderr)
        assert "FAIL writes blocked (restored)" in new_pc.cli("doctor", check=False).stdout

        new_pc.cli("sync")  # brings back seq 5.. from the district and lifts the gate
        assert new_pc.own_events() == before
        new_pc.cli("seed-demo", "--count", "1")
        new_pc.cli("sync")
        assert new_pc.own_events() <= hub.events()
        con = sqlite_connect(hub.db_path)
        assert con.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0
        con.close()
    finally:
        hub.stop()


def test_restore_refuses_a_damaged_or_unfinished_backup_and_an_occupied_data_dir(tmp_path):
    commune = RealNode("Xã", "commune", "17272", tmp_path / "commune")
    commune.init()
    commune.cli("seed-demo", "--count", "2")
    commune.cli("backup", "--to", str(tmp_path / "backups"))
    folder = backups_in(tmp_path / "backups")[0]

    occupied = commune.cli("restore", str(folder), check=False)
    assert occupied.returncode != 0 and "already holds a node" in occupied.stderr

    target = RealNode("Xã", "commune", "17272", tmp_path / "target")
    key = folder / "node.key"
    original = key.read_bytes()
    key.write_bytes(original[:-2] + b"xx")
    damaged = target.cli("restore", str(folder), check=False)
    assert damaged.returncode != 0 and "node.key is missing or differs" in damaged.stderr
    assert not (target.data_dir / "node.json").exists()
    key.write_bytes(original)

    (folder / "manifest.json").rename(folder / "manifest.json.cut")
    unfinished = target.cli("restore", str(folder), check=False)
    assert unfinished.returncode != 0 and "not a motcua backup, or an unfinished one" in unfinished.stderr


def test_doctor_warns_when_the_last_backup_is_older_than_seven_days(tmp_path):
    commune = RealNode("Xã", "commune", "17272", tmp_path / "commune")
    commune.init()
    assert "warn backup: none recorded yet" in commune.cli("doctor").stdout
    commune.cli("backup", "--to", str(tmp_path / "backups"))
    fresh = commune.cli("doctor").stdout
    assert "ok   backup: last" in fresh and "0 day(s) ago" in fresh
    con = sqlite_connect(commune.db_path)
    row = json.loads(con.execute("SELECT value FROM node_state WHERE key = 'last_backup'").fetchone()[0])
    row["at"] -= 8 * 86_400_000
    con.execute("UPDATE node_state SET value = ? WHERE key = 'last_backup'", (json.dumps(row),))
    con.commit()
    con.close()
    stale = commune.cli("doctor")  # a warning, not a failure
    assert "warn backup: the last one is older than 7 days" in stale.stdout and "8 day(s) ago" in stale.stdout


@pytest.mark.postgres
def test_postgresql_district_backup_is_a_pg_dump_that_restores(tmp_path, pg_url):
    import psycopg

    base = os.environ["DATABASE_URL"]
    prefix = base.rpartition("/")[0]
    names = [f"motcua_backup_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "{name}"')
    try:
        source = RealNode("Sở Nội vụ", "district", "40", tmp_path / "district",
                          env={"DATABASE_URL": f"{prefix}/{names[0]}"})
        source.init()
        source.cli("reference", "calendar", "review", "--year", "2026", "--approve")
        source.cli("reference", "publish", "--years", "2026")
        published = source.cli("verify").stdout
        out = source.cli("backup", "--to", str(tmp_path / "backups"))
        assert "(postgresql," in out.stdout and "pg_restore --list" in out.stderr
        folder = backups_in(tmp_path / "backups")[0]
        assert (folder / "motcua.pgdump").stat().st_size > 0 and not (folder / "motcua.sqlite3").exists()

        target = RealNode("Sở Nội vụ", "district", "40", tmp_path / "restored",
                          env={"DATABASE_URL": f"{prefix}/{names[1]}", "XDG_STATE_HOME": str(tmp_path / "new")})
        target.cli("restore", str(folder))
        assert target.cli("verify").stdout == published
        assert "FAIL writes blocked (restored)" in target.cli("doctor", check=False).stdout
    finally:
        with psycopg.connect(base, autocommit=True, connect_timeout=5) as conn:
            for name in names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_backup_records_no_partial_folder_when_it_fails(tmp_path):
    commune = RealNode("Xã", "commune", "17272", tmp_path / "commune")
    commune.init()
    dest = tmp_path / "backups"
    dest.mkdir()
    (commune.data_dir / "motcua.sqlite3").write_bytes(b"not a database")
    failed = commune.cli("backup", "--to", str(dest), check=False)
    assert failed.returncode != 0 and "cannot read the database" in failed.stderr
    assert list(dest.iterdir()) == []
