"""The desk dashboard and the district console warn when the node's last backup is older than
seven days (or when there is none); a fresh backup silences them."""

from __future__ import annotations

from node.backup import record_backup
from tests.integration.web_helpers import add, cheap_hashing, login, make_node

DAY = 86_400_000
NOTICE = 'data-notice="backup"'


def test_desk_dashboard_warns_until_a_recent_backup_exists(app, sqlite_node, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock())
    c = app.test_client()
    login(c, "lan")
    never = c.get("/mot-cua/").text
    assert NOTICE in never and "chưa được sao lưu lần nào" in never

    record_backup(clock(), sqlite_node.settings.data_dir / "b", 1000)
    assert NOTICE not in c.get("/mot-cua/").text
    clock.advance(7 * DAY)
    assert NOTICE not in c.get("/mot-cua/").text  # seven days is still within the rule
    clock.advance(DAY + 1)
    login(c, "lan")  # a day later: a new session
    stale = c.get("/mot-cua/").text
    assert NOTICE in stale and "trong 8 ngày qua" in stale
    c.get("/ngon-ngu/en")
    assert "No backup of this node's data in the last 8 days" in c.get("/mot-cua/").text


def test_district_console_shows_the_same_warning(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    hub = make_node(tmp_path, clock, role="district", unit="40", name="hub")
    try:
        c = create_app(hub.settings, node=hub).test_client()
        add("quantri", "district_admin", clock())
        login(c, "quantri")
        assert NOTICE in c.get("/quan-tri/dong-bo").text
        record_backup(clock(), tmp_path / "b", 1000)
        assert NOTICE not in c.get("/quan-tri/dong-bo").text
    finally:
        hub.close()
