"""No open hub, with real processes: a district fresh from ``motcua init`` (no CA, no development
switch) refuses a stranger that calls itself a district, push and pull alike; with the
development switch on both ends the same stranger syncs, and ``motcua doctor`` says so."""

from __future__ import annotations

from tests.factories import sqlite_connect
from tests.scenarios.harness import DEV_OPEN_TRUST, RealNode


def count(node: RealNode, sql: str, *args) -> int:
    con = sqlite_connect(f"file:{node.db_path}?mode=ro", uri=True)
    try:
        return con.execute(sql, args).fetchone()[0]
    finally:
        con.close()


def test_a_fresh_district_refuses_a_stranger_until_both_ends_are_in_development_mode(tmp_path):
    district = RealNode("Hub", "district", "40", tmp_path / "district")
    district.init()
    district.cli("seed-demo", "--count", "3")  # citizens' dossiers a stranger must not get
    stranger = RealNode("Hub giả", "district", "41", tmp_path / "stranger")  # calls itself a district
    stranger.init()
    stranger.cli("seed-demo", "--count", "2")
    held, theirs = district.events(), stranger.own_events()
    district.start()
    try:
        result = stranger.cli("sync", "--peer", district.url, check=False)
        assert result.returncode != 0 and "untrusted" in result.stderr, result.stderr
        assert district.events() == held  # nothing stored
        assert stranger.events() == theirs  # nothing served
        for table in ("sync_session", "peer", "node_profile"):
            column = "node_id" if table != "sync_session" else "peer"
            assert count(district, f"SELECT COUNT(*) FROM {table} WHERE {column} = ?", stranger.node_id) == 0
        assert "strangers are refused" in district.cli("doctor", check=False).stdout

        # with the switch on the district only, the district opens up, but the stranger (no
        # switch) does not trust an unknown district in return: it takes nothing from it
        district.stop()
        district.env = DEV_OPEN_TRUST
        district.start()
        result = stranger.cli("sync", "--peer", district.url, check=False)
        assert result.returncode != 0 and "untrusted" in result.stderr, result.stderr
        assert stranger.events() == theirs

        stranger.env = DEV_OPEN_TRUST
        out = stranger.cli("sync", "--peer", district.url).stdout
        assert out.startswith("ok"), out
        assert theirs <= district.events() and held <= stranger.events()
        assert "DEVELOPMENT MODE (DEV_OPEN_TRUST)" in district.cli("doctor", check=False).stdout
    finally:
        district.stop()
