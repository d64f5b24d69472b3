"""Full and read-only disks (issue 14.3): a write the disk refuses answers ``storage_full`` (507)
in the API's error shape and a clear page in the UI, loses nothing acknowledged, and works again
once space returns; the free-space warning of doctor and the dashboard."""

from __future__ import annotations

import errno
import sqlite3

import jsonschema_rs
import pytest

from node import projection, storage
from node.models import DossierRow
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, token_of
from web.openapi import ERROR, ERROR_CODES

FULL = [sqlite3.OperationalError("database or disk is full"), OSError(errno.ENOSPC, "No space left on device")]


def _body() -> dict:
    return sample_dossier()


@pytest.mark.parametrize("error", FULL, ids=["sqlite", "enospc"])
def test_a_full_disk_answers_storage_full_and_writing_resumes_when_space_returns(client, sqlite_node, monkeypatch,
                                                                                 error):
    first = client.post("/api/v1/dossiers", json=_body())
    assert first.status_code == 201, first.text
    real = projection.project

    def full(events):
        raise error

    monkeypatch.setattr(projection, "project", full)  # fails inside the write transaction
    r = client.post("/api/v1/dossiers", json=_body())
    assert r.status_code == 507
    assert r.json["error"]["code"] == "storage_full" and "Ổ đĩa của máy này đã đầy" in r.json["error"]["message"]
    assert DossierRow.select().count() == 1  # the acknowledged one is there, the refused one left nothing
    assert all(f.ok for f in sqlite_node.verify())
    monkeypatch.setattr(projection, "project", real)  # space returns
    again = client.post("/api/v1/dossiers", json=_body())
    assert again.status_code == 201 and DossierRow.select().count() == 2
    assert all(f.ok for f in sqlite_node.verify())


def test_the_ui_shows_the_full_disk_as_a_page_not_a_500(app, clock, sqlite_node, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock(), "Nguyễn Thị Lan")
    c = app.test_client()
    login(c, "lan")
    state = sqlite_node.create_dossier("lan", sample_dossier())

    def full(events):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(projection, "project", full)
    csrf = token_of(c, f"/mot-cua/ho-so/{state.id}")
    r = c.post(f"/mot-cua/ho-so/{state.id}/trang-thai", data={"csrf_token": csrf, "to": "processing"})
    assert r.status_code == 507 and "Ổ đĩa của máy này đã đầy" in r.text


def test_an_unknown_database_error_is_not_dressed_as_a_storage_error():
    assert storage.classify(sqlite3.OperationalError("no such table: x")) is None
    assert storage.classify(OSError(errno.EROFS, "Read-only file system")) == "read_only"
    wrapped = RuntimeError("write failed")
    wrapped.__cause__ = OSError(errno.ENOSPC, "No space left on device")
    assert storage.classify(wrapped) == "storage_full"


def test_the_free_space_warning_follows_the_threshold(tmp_path):
    assert storage.space_warning(tmp_path, 0) == ""
    assert "Ổ đĩa sắp đầy" in storage.space_warning(tmp_path, 10**12)


def test_doctor_and_the_dashboard_warn_when_free_space_is_low(app, clock, sqlite_node, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from node.cli import main

    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock(), "Nguyễn Thị Lan")
    c = app.test_client()
    login(c, "lan")
    assert 'data-warning="disk"' not in c.get("/mot-cua/").text
    monkeypatch.setattr(storage, "free_mb", lambda path: 3)
    assert 'data-warning="disk"' in c.get("/mot-cua/").text and "chỉ còn 3 MB" in c.get("/mot-cua/").text
    cli_dir = str(tmp_path / "cli-node")  # an unlocked node made by motcua init, as test_cli's
    CliRunner().invoke(main, ["--data-dir", cli_dir, "init", "--role", "commune", "--unit", "17272", "--name", "x"])
    out = CliRunner().invoke(main, ["--data-dir", cli_dir, "doctor"])
    assert "warn disk: Ổ đĩa sắp đầy: chỉ còn 3 MB" in out.output, out.output


def test_a_node_on_a_read_only_database_starts_serves_reads_and_refuses_writes(tmp_path, clock, monkeypatch):
    import os

    from node.app import create_app
    from node.db import open_database
    from node.services import Node
    from tests.factories import init_node_dir, make_settings
    from tests.integration.web_helpers import give_token

    cheap_hashing(monkeypatch)
    data_dir = tmp_path / "node"
    key = init_node_dir(data_dir)
    settings = make_settings(data_dir)
    writable = Node(settings, open_database(settings), key, clock)
    state = writable.create_dossier("lan", sample_dossier())
    c = create_app(settings, node=writable).test_client()
    give_token(c, now=clock())
    writable.close()
    os.chmod(settings.sqlite_path, 0o444)  # root ignores file modes; the node opens it read-only itself
    app = create_app(settings, wall_ms=clock)
    app.config["TESTING"] = True
    ro = app.test_client()
    ro.environ_base.update(c.environ_base)
    clock.advance(3_600_000)  # the token's last use is due to be recorded: the log gets it instead
    assert app.extensions["motcua.node"].read_only
    assert ro.get(f"/api/v1/dossiers/{state.id}").status_code == 200
    assert ro.get("/api/v1/dossiers").json["total"] == 1
    r = ro.post("/api/v1/dossiers", json=sample_dossier())
    assert r.status_code == 503 and r.json["error"]["code"] == "read_only", r.text
    assert "chỉ đọc" in r.json["error"]["message"]
    assert jsonschema_rs.is_valid(ERROR, r.json) and r.json["error"]["code"] in ERROR_CODES  # as documented
    app.extensions["motcua.node"].close()


def test_a_full_state_disk_after_the_commit_does_not_turn_a_stored_write_into_an_error(client, sqlite_node,
                                                                                        monkeypatch):
    def full(heads):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(sqlite_node.gate, "save_sentinel", full)
    r = client.post("/api/v1/dossiers", json=_body())
    assert r.status_code == 201 and DossierRow.select().count() == 1  # stored, so answered as stored
