"""Encryption at rest (issue 16): a copied locked data directory reveals nobody; the node
unlocks by a staff sign-in, locks on request and when idle; escrow recovery, rekey, migration."""

from __future__ import annotations

import shutil
import sqlite3
import unicodedata
from pathlib import Path

import pytest
from click.testing import CliRunner

from node.atrest import AtRestError, Keyring, WrongPassword
from node.db import database as db_proxy
from node.db import open_database
from node.domain.text import fold
from node.services import Node, open_node
from node.signing import KEY_FILE, KeyFileError, NodeKey
from node.unlocking import (
    encrypt_plaintext_node,
    escrow_to,
    node_key_password,
    recover,
    rekey,
    set_account_slot,
    unlock_with_password,
)
from tests.factories import init_node_dir, make_settings, sample_dossier
from tests.integration.web_helpers import PASSWORD, cheap_hashing, login

PEOPLE = [("Nguyễn Văn An", "040090001234"), ("Trần Thị Bích Ngọc", "040190005678"),
          ("Lê Hoàng Phúc", "038095002468"), ("Phạm Minh Châu", "001088013579")]


def _node(tmp_path: Path, clock, role: str = "mobile", encrypted: bool = True) -> Node:
    data_dir = tmp_path / "node"
    init_node_dir(data_dir, role=role, encrypted=encrypted)
    settings = make_settings(data_dir, role=role)
    return open_node(settings, clock)


def _with_people(node: Node) -> list[str]:
    ids = []
    for name, number in PEOPLE:
        d = node.create_dossier("lan", sample_dossier(name=name, id_number=number, phone="0912000111",
                                                      address=f"Xóm 3, {name}"))
        ids.append(d.id)
    return ids


def _account(node: Node, username: str = "lan", role: str = "mobile") -> None:
    from node.accounts import create_account

    create_account(username, f"Cán bộ {username}", role, PASSWORD, now=node.wall_ms())
    set_account_slot(node, username, PASSWORD)


def _forms(text: str) -> set[bytes]:
    out = set()
    for form in ("NFC", "NFD"):
        t = unicodedata.normalize(form, text)
        out |= {t.encode("utf-8"), t.encode("utf-16-le"), t.lower().encode("utf-8")}
    out.add(fold(text).encode("utf-8"))  # the search index keeps folded names
    for word in fold(text).split():
        if len(word) >= 4:
            out.add(word.encode("utf-8"))
    return out


def _scan(folder: Path, secrets_: list[str]) -> list[str]:
    found = []
    needles = {n for s in secrets_ for n in _forms(s)}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        raw = path.read_bytes()
        found += [f"{path.name}: {n!r}" for n in needles if n in raw]
        try:  # as a database, where plain SQLite opens it
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            dump = "\n".join(con.iterdump()).encode("utf-8")
            con.close()
        except sqlite3.DatabaseError:
            continue
        found += [f"{path.name} (as SQLite): {n!r}" for n in needles if n in dump]
    return found


def test_a_copied_locked_mobile_data_dir_holds_no_name_and_no_id_number(tmp_path, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    node = _node(tmp_path, clock)
    _account(node)
    ids = _with_people(node)
    node.update_dossier("lan", ids[0], {"note": "Gọi lại cho Nguyễn Văn An"})
    from node.accounts import open_session, record_access

    record_access("lan", ids[1], "view", "127.0.0.1", now=clock())
    open_session(__import__("node.accounts", fromlist=["Staff"]).Staff(1, "lan", "Cán bộ lan", "mobile"),
                 ip="127.0.0.1", user_agent="test", now=clock())
    settings = node.settings
    node.close()
    db_proxy.initialize(None)  # locked: no process holds the key any more
    copy = tmp_path / "stolen"
    shutil.copytree(settings.data_dir, copy)

    assert sorted(p.name for p in copy.iterdir()) >= ["keys.json", "motcua.sqlite3", "node.json", "node.key"]
    secrets_ = [s for person in PEOPLE for s in person] + ["0912000111"]
    assert _scan(copy, secrets_) == []
    # the key files are useless without a password
    with pytest.raises(KeyFileError):
        NodeKey.load(copy / KEY_FILE)
    with pytest.raises(KeyFileError):
        NodeKey.load(copy / KEY_FILE, b"not-the-password")
    ring = Keyring.load(copy)
    assert ring.setup_key is None and ring.kinds() == ["account"]
    with pytest.raises(WrongPassword):
        ring.unwrap_with_password("lan", "a wrong password!!")
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(copy / "motcua.sqlite3").execute("SELECT count(*) FROM sqlite_master").fetchall()
    assert b"secret" not in (copy / "node.json").read_bytes()
    # and with the password the copy opens: nothing was lost
    key = ring.unwrap_with_password("lan", PASSWORD)
    again = open_node(make_settings(copy, role="mobile"), clock, data_key=key)
    assert again.status()["dossiers"] == len(PEOPLE)
    again.close()


@pytest.fixture
def locked_app(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    node = _node(tmp_path, clock)
    _account(node)
    _with_people(node)
    settings = node.settings
    node.close()
    db_proxy.initialize(None)
    app = create_app(settings, wall_ms=clock, locked=True)
    app.config["TESTING"] = True
    yield app
    current = app.extensions["motcua.node"]
    current.close()


def test_a_locked_node_serves_only_sign_in_and_healthz_until_a_staff_sign_in(locked_app, clock):
    c = locked_app.test_client()
    health = c.get("/healthz").get_json()
    assert health["ok"] and health["locked"] is True
    assert c.get("/api/v1/dossiers").status_code == 503
    assert c.get("/api/v1/dossiers").get_json()["error"]["code"] == "node_locked"
    assert c.post("/sync/v1/hello", json={}).status_code == 503
    assert c.get("/tra-cuu").status_code == 302
    page = c.get("/dang-nhap")
    assert page.status_code == 200 and "Máy đang khoá" in page.text
    assert login(c, "lan", "a wrong password!!").status_code == 401  # wrong password: still locked
    assert c.get("/healthz").get_json()["locked"] is True
    assert login(c, "lan").status_code == 302
    assert c.get("/healthz").get_json()["locked"] is False
    assert c.get("/").status_code == 302


def test_motcua_lock_and_the_idle_lock_lock_a_running_server(locked_app, clock):
    from node.lockstate import request_lock

    c = locked_app.test_client()
    assert login(c, "lan").status_code == 302
    settings = locked_app.extensions["motcua.atrest"].settings
    clock.advance(2000)
    request_lock(settings, locked_app.extensions["motcua.node"].node_id)
    clock.advance(2000)
    assert c.get("/api/v1/dossiers").status_code == 503  # locked at the next request
    assert login(c, "lan").status_code == 302
    clock.advance(10 * 60_000)
    assert c.get("/healthz").get_json()["locked"] is False  # /healthz is no activity but 10 min < 15
    clock.advance(6 * 60_000)
    assert c.get("/mobile/").status_code == 302
    assert c.get("/healthz").get_json()["locked"] is True


def test_a_disabled_account_cannot_unlock(locked_app, clock):
    from node.accounts import create_account, set_active

    c = locked_app.test_client()
    assert login(c, "lan").status_code == 302
    node = locked_app.extensions["motcua.node"]
    create_account("hoa", "Cán bộ Hoa", "mobile", PASSWORD, now=clock())
    set_account_slot(node, "hoa", PASSWORD)
    set_active("hoa", False)  # disabled without the CLI: its slot is still there
    assert Keyring.load(node.settings.data_dir).has_slot_for("hoa")
    locked_app.extensions["motcua.atrest"].lock("test")
    assert login(c, "hoa").status_code == 401
    assert c.get("/healthz").get_json()["locked"] is True
    assert not Keyring.load(node.settings.data_dir).has_slot_for("hoa")  # pruned at the try


def test_cli_user_add_makes_the_first_slot_and_disable_removes_one(tmp_path, monkeypatch):
    from node.cli import main

    cheap_hashing(monkeypatch)
    data = tmp_path / "n"

    def motcua(*args, **kw):
        result = CliRunner().invoke(main, ["--data-dir", str(data), *args], **kw)
        return result

    assert motcua("init", "--role", "mobile", "--unit", "17272", "--name", "Máy").exit_code == 0
    assert Keyring.load(data).kinds() == ["setup"]
    for user in ("lan", "hoa"):
        done = motcua("user", "add", "--username", user, "--role", "mobile", "--name", f"Cán bộ {user}",
                      input=f"{PASSWORD}\n{PASSWORD}\n")
        assert done.exit_code == 0, done.output
    assert Keyring.load(data).kinds() == ["account", "account"]
    assert "LOCKED" not in motcua("doctor").output  # unlocked by the first user add on this machine
    done = motcua("user", "disable", "hoa")
    assert done.exit_code == 0 and "key slot is removed" in done.output
    assert motcua("user", "disable", "lan").exit_code != 0  # the last way in, no escrow: refused
    assert motcua("lock").exit_code == 0
    out = motcua("doctor").output
    assert "LOCKED" in out
    assert motcua("unlock", "--user", "hoa", "--password-stdin", input=f"{PASSWORD}\n").exit_code != 0
    assert motcua("unlock", "--user", "lan", "--password-stdin", input="wrong password here\n").exit_code != 0
    assert motcua("unlock", "--user", "lan", "--password-stdin", input=f"{PASSWORD}\n").exit_code == 0
    assert "unlocked here by the unlock cache" in motcua("doctor").output


def test_escrow_recovers_a_node_whose_passwords_are_all_lost_then_rekey(tmp_path, clock, monkeypatch):
    from certs.layout import CaLayout
    from node.atrest import ESCROW_KEY_FILE, ESCROW_PUBLIC_FILE
    from node.enrollment import make_escrow_key

    cheap_hashing(monkeypatch)
    ca = CaLayout(tmp_path / "district-ca")
    ca.create()
    make_escrow_key(ca, b"escrow passphrase 2026")
    node = _node(tmp_path, clock, role="commune")
    _account(node, "lan", "clerk")
    _with_people(node)
    escrow_to(node, (ca.root / ESCROW_PUBLIC_FILE).read_bytes())
    before = node.digest()
    settings = node.settings
    node.close()
    db_proxy.initialize(None)
    escrow_pem = (ca.root / ESCROW_KEY_FILE).read_bytes()
    with pytest.raises(AtRestError):
        recover(settings, escrow_pem, b"wrong passphrase!!", "lan", "mật khẩu mới thật dài", clock())
    ring = recover(settings, escrow_pem, b"escrow passphrase 2026", "lan", "mật khẩu mới thật dài", clock())
    assert ring.generation == 2 and sorted(ring.kinds()) == ["account", "escrow"]
    key = unlock_with_password(settings, "lan", "mật khẩu mới thật dài")
    with pytest.raises(WrongPassword):
        unlock_with_password(settings, "lan", PASSWORD)
    again = open_node(settings, clock, data_key=key)
    assert again.digest() == before
    again.close()
    # rekey: a new data key; the old one opens neither the database nor the node key any more
    ring3 = rekey(settings, key, "lan", "mật khẩu mới thật dài")
    new_key = unlock_with_password(settings, "lan", "mật khẩu mới thật dài")
    assert ring3.generation == 3 and new_key != key and ring3.has_escrow
    with pytest.raises(KeyFileError):
        NodeKey.load(settings.data_dir / KEY_FILE, node_key_password(key))
    with pytest.raises(Exception, match="not a database"):
        open_database(settings, data_key=key, migrate_schema=False)
    again = open_node(settings, clock, data_key=new_key)
    assert again.digest() == before
    again.close()


def test_a_plaintext_node_is_encrypted_in_place_with_nothing_lost(tmp_path, clock):
    from node.db import sqlite_is_plaintext

    node = _node(tmp_path, clock, role="commune", encrypted=False)
    _with_people(node)
    before = node.digest()
    settings = node.settings
    node.close()
    db_proxy.initialize(None)
    assert sqlite_is_plaintext(settings.sqlite_path)
    said: list[str] = []
    _key, digest_before, digest_after = encrypt_plaintext_node(settings, tmp_path / "backups", said.append, clock())
    assert digest_before == before == digest_after
    assert any("backup verified" in m for m in said) and said[-1] == "encrypting: 100%"
    assert not sqlite_is_plaintext(settings.sqlite_path)
    assert list((tmp_path / "backups").glob("motcua-*/manifest.json"))
    assert _scan(settings.data_dir, [s for p in PEOPLE for s in p]) == []
    again = open_node(settings, clock)  # the setup slot until the first account
    assert again.digest() == before
    again.close()
