"""One table of who may do what (web.permissions), and the web UI and the JSON API both obey it:
for each role, the desk's form and the API call of the same action are allowed or refused alike."""

from __future__ import annotations

import pytest

from node.app import create_app
from node.models import STAFF_ROLES, AccessLogRow
from node.tokens import create_token
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, make_node, token_of
from web import permissions


def test_unknown_roles_and_actions_are_refused():
    assert permissions.allows("head", permissions.RESOLVE, "commune")
    assert not permissions.allows("admin", permissions.READ, "commune")
    assert not permissions.allows("head", permissions.Action("resolve", ("head",), True, "x"), "commune")
    assert not permissions.allows("district_admin", permissions.READ, "commune")  # not a commune's account
    assert not permissions.allows("head", permissions.READ, "district")
    assert permissions.roles_for(permissions.PROCESS, "district") == ("district_admin",)
    assert set(permissions.ROLES) == set(STAFF_ROLES)


@pytest.fixture
def desk(tmp_path, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    node = make_node(tmp_path, clock)
    app = create_app(node.settings, node=node)
    for role in ("clerk", "head", "mobile", "district_admin"):
        add(role.replace("_", "-"), role, clock())
    yield node, app
    node.close()


# (action, UI form path, API path, API body) for one dossier id ``{d}``
SAME_ACTION = [
    (permissions.PROCESS, "/mot-cua/ho-so/{d}/trang-thai", "/api/v1/dossiers/{d}/status", {"to": "bogus"}),
    (permissions.PROCESS, "/mot-cua/ho-so/{d}/hen-lai", "/api/v1/dossiers/{d}/apology", {"reason": ""}),
    (permissions.RESOLVE, "/mot-cua/xung-dot/x/giai-quyet", "/api/v1/conflicts/x/resolve", {"choose": "x"}),
]


@pytest.mark.parametrize("role", ["clerk", "head", "mobile"])
def test_the_desk_and_the_api_refuse_the_same_roles(desk, clock, role):
    node, app = desk
    d = node.create_dossier("canbo", sample_dossier()).id
    browser, api = app.test_client(), app.test_client()
    assert login(browser, role).status_code == 302
    api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {create_token(role, 'write', now=clock())[0]}"
    for action, form_path, api_path, body in SAME_ACTION:
        ui = browser.post(form_path.format(d=d), data={"csrf_token": token_of(browser, "/luu-dong/"), "to": "bogus"})
        answer = api.post(api_path.format(d=d), json=body)
        expected = permissions.allows(role, action, "commune")
        assert (ui.status_code != 403) == expected, (role, action.name, ui.status_code)
        assert (answer.status_code != 403) == expected, (role, action.name, answer.get_json())
    # receiving: the field team may, like clerks and heads
    ui = browser.get("/mot-cua/tiep-nhan")
    assert ui.status_code == 200
    assert api.post("/api/v1/dossiers", json=sample_dossier()).status_code == 201


def test_a_district_admin_account_has_no_business_on_a_commune(desk, clock):
    node, app = desk
    d = node.create_dossier("canbo", sample_dossier()).id
    browser = app.test_client()
    login(browser, "district-admin")
    assert browser.get("/mot-cua/").status_code == 403
    assert browser.get(f"/in/{d}/bien-nhan").status_code == 403
    secret = create_token("district-admin", "write", now=clock())[0]
    r = app.test_client().get(f"/api/v1/dossiers/{d}", headers={"Authorization": f"Bearer {secret}"})
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"


def test_printed_forms_need_a_sign_in_even_before_any_account_exists(tmp_path, clock):
    node = make_node(tmp_path, clock)
    d = node.create_dossier("canbo", sample_dossier()).id
    client = create_app(node.settings, node=node).test_client()
    for path in (f"/in/{d}/bien-nhan", "/in/so-theo-doi"):
        r = client.get(path)
        assert r.status_code == 302 and "/dang-nhap" in r.headers["Location"], path
    assert AccessLogRow.select().count() == 0
    node.close()


def test_a_print_is_logged_under_the_signed_in_account(desk):
    node, app = desk
    d = node.create_dossier("canbo", sample_dossier()).id
    browser = app.test_client()
    login(browser, "mobile")
    assert browser.get(f"/in/{d}/bien-nhan").status_code == 200
    assert [(r.username, r.action) for r in AccessLogRow.select()] == [("mobile", "print:bien-nhan")]


def test_the_district_consoles_bieu_06_link_works_with_the_admins_session(tmp_path, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    hub = make_node(tmp_path, clock, role="district", unit="40")
    app = create_app(hub.settings, node=hub)
    add("quantri", "district_admin", clock())
    browser = app.test_client()
    login(browser, "quantri")
    page = browser.get("/quan-tri/thong-ke").get_data(as_text=True)
    link = next(line for line in page.splitlines() if "data-bieu-06" in line)
    href = link.split('href="', 1)[1].split('"', 1)[0].replace("&amp;", "&")
    r = browser.get(href)
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    assert [(a.username, a.action) for a in AccessLogRow.select()] == [("quantri", "api:report")]
    hub.close()
