"""Personal API tokens (issue 10): shown once, stored as a hash, listed without their secret,
revoked at once, expired by the node's clock, dead with their account, and read-only when
their scope says so."""

from __future__ import annotations

import hashlib

import pytest
from click.testing import CliRunner

from node import accounts, tokens
from node.app import create_app
from node.cli import main
from node.models import ApiTokenRow
from node.tokens import DAY_MS, create_token, list_tokens, revoke_token, token_staff
from sync.store import EventRow
from tests.factories import sample_dossier
from tests.integration.web_helpers import PASSWORD, add, cheap_hashing


@pytest.fixture
def hub(node, clock, monkeypatch):
    """A commune node on SQLite and on PostgreSQL (the conftest ``node``), one clerk account."""
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock(), full_name="Nguyễn Thị Lan")
    return node, create_app(node.settings, node=node).test_client()


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def test_the_secret_is_random_and_only_its_hash_is_stored(hub, clock):
    first, row = create_token("lan", "write", now=clock())
    second, _ = create_token("lan", "write", now=clock())
    assert first != second and first.startswith("mct_") and len(first) >= 4 + 43
    assert row.token_hash == hashlib.sha256(first.encode()).hexdigest()
    stored = [str(v) for r in ApiTokenRow.select().dicts() for v in r.values()]
    assert not any(first in v or second in v for v in stored)
    assert token_staff(first, now=clock()).staff.username == "lan"


def test_a_token_acts_as_its_account(hub, clock):
    node, client = hub
    secret, _ = create_token("lan", "write", now=clock())
    r = client.post("/api/v1/dossiers", json=sample_dossier(), headers=bearer(secret))
    assert r.status_code == 201
    assert node.timeline(r.get_json()["id"])[0]["author"] == "lan"


def test_revoked_tokens_stop_at_once_and_never_work_again(hub, clock):
    _node, client = hub
    secret, row = create_token("lan", "write", now=clock())
    assert client.get("/api/v1/dossiers", headers=bearer(secret)).status_code == 200
    revoke_token(row.id, now=clock())
    r = client.get("/api/v1/dossiers", headers=bearer(secret))
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthenticated"
    assert 'error="invalid_token"' in r.headers["WWW-Authenticate"]
    assert [t["state"] for t in list_tokens(now=clock())] == ["revoked"]
    with pytest.raises(accounts.AccountError):
        revoke_token(row.id + 100, now=clock())


def test_tokens_expire_by_the_node_clock(hub, clock):
    _node, client = hub
    secret, row = create_token("lan", "read", now=clock(), expires_days=2)
    assert row.expires_at == clock() + 2 * DAY_MS
    clock.advance(2 * DAY_MS - 1)
    assert client.get("/api/v1/node", headers=bearer(secret)).status_code == 200
    clock.advance(1)
    assert client.get("/api/v1/node", headers=bearer(secret)).status_code == 401
    assert list_tokens(now=clock())[0]["state"] == "expired"
    for bad in (0, 3651):
        with pytest.raises(accounts.AccountError):
            create_token("lan", "read", now=clock(), expires_days=bad)


def test_a_disabled_accounts_tokens_stop_working(hub, clock):
    _node, client = hub
    secret, _ = create_token("lan", "write", now=clock())
    accounts.set_active("lan", False)
    assert client.get("/api/v1/dossiers", headers=bearer(secret)).status_code == 401
    assert list_tokens(now=clock())[0]["state"] == "account disabled"
    with pytest.raises(accounts.AccountError, match="khóa"):
        create_token("lan", "write", now=clock())
    with pytest.raises(accounts.AccountError):
        create_token("khong-co", "write", now=clock())
    with pytest.raises(accounts.AccountError):
        create_token("lan", "admin", now=clock())


def test_a_read_token_reads_but_cannot_write(hub, clock):
    node, client = hub
    d = node.create_dossier("canbo", sample_dossier())
    secret, _ = create_token("lan", "read", now=clock())
    assert client.get(f"/api/v1/dossiers/{d.id}", headers=bearer(secret)).status_code == 200
    before = EventRow.select().count(), node.digest()
    for method, url, body in (("POST", "/api/v1/dossiers", sample_dossier()),
                              ("POST", f"/api/v1/dossiers/{d.id}/status", {"to": "processing"}),
                              ("PATCH", f"/api/v1/dossiers/{d.id}", {"fields": {"note": "x"}}),
                              ("POST", "/api/v1/sync/now", None)):
        r = client.open(url, method=method, json=body, headers=bearer(secret))
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden", (url, r.get_json())
    assert (EventRow.select().count(), node.digest()) == before


def test_last_use_is_recorded_at_most_once_a_minute(hub, clock):
    _node, client = hub
    secret, row = create_token("lan", "read", now=clock())
    client.get("/api/v1/node", headers=bearer(secret))
    first = ApiTokenRow.get_by_id(row.id).last_used_at
    assert first == clock()
    clock.advance(tokens._TOUCH_EVERY_MS // 2)
    client.get("/api/v1/node", headers=bearer(secret))
    assert ApiTokenRow.get_by_id(row.id).last_used_at == first


def test_token_cli_create_shows_the_secret_once_then_list_and_revoke(tmp_path, monkeypatch):
    cheap_hashing(monkeypatch)
    data = tmp_path / "n"
    runner = CliRunner()

    def motcua(*args: str, **kw):
        return runner.invoke(main, ["--data-dir", str(data), *args], **kw)

    assert motcua("init", "--role", "commune", "--unit", "17272", "--name", "Xã").exit_code == 0
    assert motcua("user", "add", "--username", "lan", "--role", "clerk", "--name", "Nguyễn Thị Lan",
                  input=f"{PASSWORD}\n{PASSWORD}\n").exit_code == 0
    made = motcua("token", "create", "--user", "lan", "--scope", "write", "--expires", "30")
    assert made.exit_code == 0, made.output
    secret = next(w for w in made.output.split() if w.startswith("mct_"))
    assert "token 1 for lan (clerk), scope write, expires" in made.output and "not shown again" in made.output
    listed = motcua("token", "list")
    assert listed.exit_code == 0 and secret not in listed.output
    assert "lan" in listed.output and "write" in listed.output and "active" in listed.output
    assert secret[:8] in listed.output and "1 token(s)" in listed.output
    assert motcua("token", "revoke", "1").output.strip() == "token 1 of lan revoked"
    assert "revoked" in motcua("token", "list").output
    for args in (("token", "create", "--user", "khong-co", "--scope", "read"),
                 ("token", "create", "--user", "lan", "--scope", "all"),
                 ("token", "create", "--user", "lan", "--scope", "read", "--expires", "0"),
                 ("token", "revoke", "9")):
        assert motcua(*args).exit_code != 0, args
