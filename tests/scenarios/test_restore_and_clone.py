"""Restored and cloned nodes: recover before writing; a second history is quarantined, never merged."""

from __future__ import annotations

import shutil

import pytest

from tests.factories import sqlite_connect
from tests.scenarios.harness import RealNode, certify


@pytest.fixture
def hub(tmp_path, district_ca):
    district = RealNode("Hub", "district", "40", tmp_path / "district")
    district.init()
    certify(district, district_ca)
    district.start()
    yield district
    district.stop()


def test_restored_node_recovers_its_own_events_before_writing(hub, tmp_path, district_ca):
    commune = RealNode("Xã Tân Phú", "commune", "17272", tmp_path / "commune")
    commune.init(hub.url)
    certify(commune, district_ca)
    commune.cli("seed-demo", "--count", "4")
    commune.cli("sync")
    backup = tmp_path / "backup"
    shutil.copytree(commune.data_dir, backup)
    commune.cli("seed-demo", "--count", "3")
    commune.cli("sync")
    before = commune.own_events()

    shutil.rmtree(commune.data_dir)
    shutil.copytree(backup, commune.data_dir)  # the PC died; last week's copy is put back
    assert commune.own_events() < before
    refused = commune.cli("seed-demo", "--count", "1", check=False)
    assert refused.returncode != 0 and "khôi phục" in (refused.stdout + refused.stderr)
    assert "FAIL writes blocked (restored)" in commune.cli("doctor", check=False).stdout

    commune.cli("sync")  # brings back seq 5.. from the district
    assert commune.own_events() == before
    commune.cli("seed-demo", "--count", "1")  # writes continue after the recovered head
    commune.cli("sync")
    assert commune.own_events() <= hub.events()
    con = sqlite_connect(hub.db_path)
    assert con.execute("SELECT COUNT(*) FROM quarantine").fetchone()[0] == 0
    con.close()
    assert "FAIL" not in commune.cli("verify").stdout


def test_cloned_laptop_is_detected_quarantined_and_blocked(hub, tmp_path, district_ca):
    laptop = RealNode("Tổ lưu động", "mobile", "17272", tmp_path / "laptop")
    laptop.init(hub.url)
    certify(laptop, district_ca)  # the clone copies its certificate with its key
    laptop.cli("seed-demo", "--count", "2")
    laptop.cli("sync")
    clone = RealNode("Tổ lưu động (bản sao)", "mobile", "17272", tmp_path / "clone",
                     env={"XDG_STATE_HOME": str(tmp_path / "other-pc-state")})
    shutil.copytree(laptop.data_dir, clone.data_dir)
    # on the other PC the copy has no record of its writes: it must sync first
    assert "unverified" in clone.cli("doctor", check=False).stdout
    clone.cli("unblock-writes", "--reason", "technician ignored the warning")
    laptop.cli("seed-demo", "--count", "1")
    clone.cli("seed-demo", "--count", "1")  # same key, same next seq, different content
    laptop.cli("sync")
    accepted = {e for e in hub.events() if e[0] == laptop.node_id}

    result = clone.cli("sync", check=False)
    assert result.returncode != 0 and "fork" in result.stderr
    assert {e for e in hub.events() if e[0] == laptop.node_id} == accepted  # never merged
    con = sqlite_connect(hub.db_path)
    quarantined = con.execute("SELECT origin, reason FROM quarantine").fetchall()
    logged = con.execute("SELECT error_code FROM sync_session WHERE side = 'server' AND outcome = 'failed'").fetchall()
    con.close()
    assert quarantined and all(q == (laptop.node_id, "fork") for q in quarantined)
    assert ("fork",) in logged
    refused = clone.cli("seed-demo", "--count", "1", check=False)
    assert refused.returncode != 0 and "hai lịch sử" in (refused.stdout + refused.stderr)
