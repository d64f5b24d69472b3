"""Accounts and sessions of the web UI (reliability.md §4.7, ASVS V2-V4, V8): Argon2id hashes,
throttled sign-in, server-side sessions that logout really ends, CSRF on every form, role
checks, and an access-log row for every read of a citizen's dossier."""

from __future__ import annotations

import pytest

from node import accounts
from node.models import AccessLogRow, LoginAttemptRow, StaffAccountRow, StaffSessionRow
from tests.factories import sample_dossier
from tests.integration.web_helpers import PASSWORD, add, cheap_hashing, give_token, login, make_node, token_of


@pytest.fixture
def client(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    for username, role in (("lan", "clerk"), ("truong", "head"), ("an", "mobile")):
        add(username, role, clock())
    return app.test_client()


def test_passwords_are_stored_as_argon2id_and_policy_is_enforced(client, clock):
    hashes = [r.password_hash for r in StaffAccountRow.select()]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(PASSWORD not in h for h in hashes)
    for bad in ("ngan", "123456789012", "aaaaaaaaaaaaaaaa", "minh12345678minh"):
        with pytest.raises(accounts.AccountError):
            accounts.create_account("minh", "Minh", "clerk", bad, now=clock())
    with pytest.raises(accounts.AccountError, match="U\\+202E"):
        accounts.create_account("minh", "Minh \u202eHoàng", "clerk", PASSWORD, now=clock())


def test_wrong_password_is_refused_with_one_message(client):
    r = login(client, "lan", "mật khẩu sai hoàn toàn")
    assert r.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng." in r.text
    assert "motcua_auth" not in r.headers.get("Set-Cookie", "")
    unknown = login(client, "khongco", "mật khẩu sai hoàn toàn")
    assert unknown.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng." in unknown.text
    assert [a.ok for a in LoginAttemptRow.select().order_by(LoginAttemptRow.id)] == [False, False]
    assert client.get("/mot-cua/").status_code == 302


def test_sign_in_is_throttled_per_account_then_allowed_again(client, clock):
    # 10 failures in a row from an address the account never signed in from: the back-off has
    # grown to its cap (30 s doubling from the 5th failure: 30 s … 15 min)
    for failures in range(1, 11):
        assert login(client, "lan", "sai mật khẩu rồi nhé").status_code == 401
        if failures < 10:
            clock.advance(accounts.backoff_ms(failures))
    blocked = login(client, "lan")  # even the right password, while throttled
    assert blocked.status_code == 429 and "15 phút" in blocked.text
    assert blocked.headers["Retry-After"] == str(accounts._BACKOFF_MAX_MS // 1000)
    assert login(client, "truong").status_code == 302  # another account is not affected
    clock.advance(accounts._BACKOFF_MAX_MS + 1)
    assert login(client, "lan").status_code == 302


def test_sign_in_is_throttled_per_address(client):
    for i in range(accounts._MAX_FAILURES_PER_IP):
        assert login(client, f"doan{i}", "sai mật khẩu rồi nhé", ip="10.9.8.7").status_code == 401
    assert login(client, "lan", ip="10.9.8.7").status_code == 429
    assert login(client, "lan", ip="10.9.8.6").status_code == 302


def test_logout_ends_the_session_so_a_copied_cookie_stops_working(app, client):
    assert login(client, "lan").status_code == 302
    token = client.get_cookie("motcua_auth").value
    thief = app.test_client()
    thief.set_cookie("motcua_auth", token)
    assert thief.get("/mot-cua/").status_code == 200
    r = client.post("/dang-xuat", data={"csrf_token": token_of(client, "/mot-cua/")})
    assert r.status_code == 302
    assert StaffSessionRow.select().count() == 0
    assert thief.get("/mot-cua/").status_code == 302  # to the sign-in page
    assert client.get("/mot-cua/").status_code == 302


def test_each_sign_in_gets_a_new_session_and_the_old_one_ends(client):
    login(client, "lan")
    first = client.get_cookie("motcua_auth").value
    login(client, "lan")
    second = client.get_cookie("motcua_auth").value
    assert first != second and len(second) >= 43  # 256 bits, url-safe
    assert accounts.session_staff(first, now=accounts.StaffSessionRow.select().first().created_at) is None
    assert StaffSessionRow.select().count() == 1
    assert len(StaffSessionRow.select().first().id) == 64  # only a hash of the token is stored


def test_idle_sessions_expire(client, clock):
    login(client, "lan")
    clock.advance(accounts._IDLE_MS + 1000)
    assert client.get("/mot-cua/").status_code == 302


def test_forms_without_csrf_token_are_refused(app, client, sqlite_node):
    page = client.get("/dang-nhap")
    assert client.post("/dang-nhap", data={"username": "lan", "password": PASSWORD}).status_code == 400
    assert "csrf_token" in page.text
    login(client, "lan")
    d = sqlite_node.create_dossier("t", sample_dossier())
    before = sqlite_node.status()["events"]
    r = client.post(f"/mot-cua/ho-so/{d.id}/trang-thai", data={"to": "processing"})
    assert r.status_code == 400 and "Biểu mẫu đã hết hạn" in r.text
    assert sqlite_node.status()["events"] == before
    r = client.post(f"/mot-cua/ho-so/{d.id}/trang-thai", data={"to": "processing", "csrf_token": "forged"})
    assert r.status_code == 400
    ok = client.post(f"/mot-cua/ho-so/{d.id}/trang-thai",
                     data={"to": "processing", "csrf_token": token_of(client, "/mot-cua/")})
    assert ok.status_code == 302 and sqlite_node.get_dossier(d.id).status == "processing"
    # the JSON API: a token needs no CSRF token; a signed-in browser's write needs the header
    api = app.test_client()
    give_token(api, "lan", now=sqlite_node.wall_ms())
    assert api.post("/api/v1/dossiers", json=sample_dossier(name="Lê B")).status_code == 201
    before = sqlite_node.status()["events"]
    r = client.post("/api/v1/dossiers", json=sample_dossier(name="Lê C"))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "csrf_failed"
    assert sqlite_node.status()["events"] == before
    r = client.post("/api/v1/dossiers", json=sample_dossier(name="Lê C"),
                    headers={"X-CSRFToken": token_of(client, "/mot-cua/")})
    assert r.status_code == 201 and r.get_json()["applicant_name"] == "Lê C"


def test_pages_need_a_sign_in(client, app, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    anonymous = app.test_client()
    for path in ("/mot-cua/", f"/mot-cua/ho-so/{d.id}", "/luu-dong/", f"/in/{d.id}/bien-nhan", "/in/so-theo-doi"):
        r = anonymous.get(path)
        assert r.status_code == 302 and "/dang-nhap" in r.headers["Location"], path
    assert anonymous.get("/tra-cuu").status_code == 200
    assert anonymous.get("/").headers["Location"].endswith("/dang-nhap")


def test_roles_are_checked_on_the_server(client, sqlite_node, app):
    d = sqlite_node.create_dossier("t", sample_dossier())
    login(client, "an")  # mobile team member
    assert client.get("/luu-dong/").status_code == 200
    assert client.get(f"/mot-cua/ho-so/{d.id}").status_code == 200
    r = client.post(f"/mot-cua/ho-so/{d.id}/trang-thai",
                    data={"to": "processing", "csrf_token": token_of(client, "/luu-dong/")})
    assert r.status_code == 403
    assert client.post("/mot-cua/xung-dot/x/giai-quyet", data={"csrf_token": token_of(client, "/luu-dong/")}
                       ).status_code == 403
    assert client.get("/quan-tri/dong-bo").status_code == 404  # no district console on a commune


def test_district_console_is_for_district_admins_only(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    hub = make_node(tmp_path, clock, role="district", unit="40")
    app = create_app(hub.settings, node=hub)
    add("quantri", "district_admin", clock())
    add("lan", "clerk", clock())
    c = app.test_client()
    login(c, "lan")
    assert c.get("/quan-tri/dong-bo").status_code == 403
    assert c.get("/mot-cua/").status_code == 404  # no desk on the hub
    login(c, "quantri")
    for path in ("/quan-tri/dong-bo", "/quan-tri/may", "/quan-tri/xung-dot", "/quan-tri/thong-ke", "/quan-tri/tre-han"):
        assert c.get(path).status_code == 200, path
    hub.close()


def test_every_read_of_a_dossier_is_in_the_access_log(client, sqlite_node, app):
    d = sqlite_node.create_dossier("t", sample_dossier())
    login(client, "lan", ip="192.0.2.10")
    client.get(f"/mot-cua/ho-so/{d.id}", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    client.get(f"/in/{d.id}/bien-nhan", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    client.get("/mot-cua/tim-kiem?q=nguyen", environ_base={"REMOTE_ADDR": "192.0.2.10"})
    api = app.test_client()
    give_token(api, "truong", now=sqlite_node.wall_ms())
    api.get(f"/api/v1/dossiers/{d.id}", headers={"X-Motcua-Author": "tich-hop"})  # a claim changes nothing
    rows = list(AccessLogRow.select().order_by(AccessLogRow.id).dicts())
    assert [(r["username"], r["dossier_id"], r["action"]) for r in rows] == [
        ("lan", d.id, "view"), ("lan", d.id, "print:bien-nhan"), ("lan", "", "search"), ("truong", d.id, "api"),
    ]
    assert all(r["at"] > 0 for r in rows) and rows[0]["ip"] == "192.0.2.10"


def test_security_headers_on_pages_with_personal_data(client, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    login(client, "lan")
    r = client.get(f"/mot-cua/ho-so/{d.id}")
    assert r.headers["Cache-Control"] == "no-store"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    cookie = [h for h in r.headers.getlist("Set-Cookie")]
    assert not any("motcua_auth" in h for h in cookie)  # set once at sign-in, not echoed
    signin = login(client, "lan")
    auth_cookie = next(h for h in signin.headers.getlist("Set-Cookie") if h.startswith("motcua_auth="))
    assert "HttpOnly" in auth_cookie and "SameSite=Lax" in auth_cookie


def test_disabling_an_account_ends_its_sessions(client):
    login(client, "lan")
    accounts.set_active("lan", False)
    assert client.get("/mot-cua/").status_code == 302
    assert login(client, "lan").status_code == 401


def test_user_cli_adds_and_lists_accounts(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from node.cli import main

    cheap_hashing(monkeypatch)
    data = tmp_path / "n"
    runner = CliRunner()
    assert runner.invoke(main, ["--data-dir", str(data), "init", "--role", "commune", "--unit", "17272",
                                "--name", "Xã"]).exit_code == 0
    r = runner.invoke(main, ["--data-dir", str(data), "user", "add", "--username", "lan", "--role", "clerk",
                             "--name", "Nguyễn Thị Lan"], input=f"{PASSWORD}\n{PASSWORD}\n")
    assert r.exit_code == 0, r.output
    assert PASSWORD not in r.output
    short = runner.invoke(main, ["--data-dir", str(data), "user", "add", "--username", "b", "--role", "clerk",
                                 "--name", "B"], input="ngan\nngan\n")
    assert short.exit_code != 0
    listed = runner.invoke(main, ["--data-dir", str(data), "user", "list"])
    assert "lan" in listed.output and "clerk" in listed.output and "Nguyễn Thị Lan" in listed.output
    assert "1 account(s)" in listed.output


def test_the_lists_that_name_applicants_are_in_the_access_log(client, sqlite_node):
    """The desk's dashboard and the field laptop's home list today's applicants by name: each
    showing is a read of personal data, logged like a search; an empty list logs nothing."""
    login(client, "lan")
    assert client.get("/mot-cua/").status_code == 200
    assert AccessLogRow.select().where(AccessLogRow.action == "dashboard").count() == 0
    sqlite_node.create_dossier("t", sample_dossier())
    assert client.get("/mot-cua/").status_code == 200
    rows = [(r.username, r.dossier_id, r.action, r.detail) for r in AccessLogRow.select()]
    assert rows == [("lan", "", "dashboard", "1 hồ sơ")]


def test_the_field_laptops_home_is_in_the_access_log(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    laptop = make_node(tmp_path, clock, role="mobile", unit="17272", name="laptop")
    app = create_app(laptop.settings, node=laptop)
    add("an", "mobile", clock())
    c = app.test_client()
    laptop.create_dossier("t", sample_dossier())
    login(c, "an")
    assert c.get("/luu-dong/").status_code == 200
    assert [(r.username, r.action) for r in AccessLogRow.select()] == [("an", "dashboard")]
    laptop.close()


def test_user_add_has_no_password_option(tmp_path):
    """Issue 13.8: a password on the command line is seen in ps and kept in shell history."""
    from click.testing import CliRunner

    from node.cli import main

    data = tmp_path / "n"
    runner = CliRunner()
    runner.invoke(main, ["--data-dir", str(data), "init", "--role", "commune", "--unit", "17272", "--name", "Xã"])
    r = runner.invoke(main, ["--data-dir", str(data), "user", "add", "--username", "lan", "--role", "clerk",
                             "--name", "Lan", "--password", "mật khẩu dài đủ mười hai"])
    assert r.exit_code == 2 and "No such option" in r.output
    assert "--password" not in runner.invoke(main, ["user", "add", "--help"]).output
    assert "--password" not in runner.invoke(main, ["user", "set-password", "--help"]).output
