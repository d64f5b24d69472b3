"""Every JSON API route on commune, mobile and district nodes refuses anonymous and wrong-role
callers before it reads anything, over http and https, and changes nothing (issue 10).

The routes come from the app's ``url_map``: a route added later without a permission, or one
missing from :data:`tests.api_routes.EXPECTED`, fails these tests.
"""

from __future__ import annotations

import pytest

from node.app import create_app
from node.models import AccessLogRow
from node.tokens import create_token
from sync.store import EventRow
from tests.api_routes import EXPECTED, WRITES, C, D, H, api_calls
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, make_node, token_of
from web import permissions
from web.api_auth import action_of

SCHEMES = ("http", "https")


@pytest.fixture(params=["commune", "mobile", "district"])
def served(request, tmp_path, clock, monkeypatch):
    """A node of each role with its app, one dossier, an account of every staff role and a
    write token for each, plus a read token of a role allowed to read."""
    cheap_hashing(monkeypatch)
    role = request.param
    node = make_node(tmp_path, clock, role=role, unit="40" if role == "district" else "17272")
    app = create_app(node.settings, node=node)
    dossier = node.create_dossier("canbo", sample_dossier())
    tokens = {}
    for staff_role in permissions.ROLES:
        add(f"u.{staff_role.replace('_', '-')}", staff_role, clock())
        tokens[staff_role] = create_token(f"u.{staff_role.replace('_', '-')}", "write", now=clock())[0]
    reader = D if role == "district" else H
    tokens["read"] = create_token(f"u.{reader.replace('_', '-')}", "read", now=clock())[0]
    yield {"role": role, "node": node, "app": app, "dossier": dossier.id, "tokens": tokens, "reader": reader}
    node.close()


def send(client, method, url, body, scheme, headers=None):
    return client.open(url, method=method, json=body, base_url=f"{scheme}://localhost", headers=headers or {})


def snapshot(node) -> tuple:
    return node.digest(), EventRow.select().count(), AccessLogRow.select().count()


def assert_refused(r, status: int, code: str, what: str) -> None:
    assert r.status_code == status, (what, r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_json()
    assert list(body) == ["error"] and body["error"]["code"] == code, (what, body)
    assert body["error"]["message"] and "field" in body["error"]


def test_every_api_route_has_a_permission_and_an_expected_rule(served):
    app = served["app"]
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/")}
    assert endpoints == set(EXPECTED), "classify every API route in EXPECTED (and give it @requires)"
    for endpoint in endpoints:
        action = action_of(app.view_functions[endpoint])
        assert action is not None and permissions.ACTIONS[action.name] is action, endpoint
        assert action.writes == (endpoint in WRITES), endpoint


@pytest.mark.parametrize("scheme", SCHEMES)
def test_anonymous_calls_are_refused_and_change_nothing(served, scheme):
    node, client = served["node"], served["app"].test_client()
    before = snapshot(node)
    for _endpoint, method, url, body in api_calls(served["app"], served["dossier"]):
        r = send(client, method, url, body, scheme)
        assert_refused(r, 401, "unauthenticated", f"{method} {url}")
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        for bad in ("Bearer mct_not-a-token", "Basic dXNlcjpwYXNz", "Bearer", "mct_x"):
            assert_refused(send(client, method, url, body, scheme, {"Authorization": bad}), 401, "unauthenticated",
                           f"{method} {url} with {bad!r}")
        assert_refused(send(client, method, url, body, scheme, {"X-Motcua-Author": "quantri"}), 401,
                       "unauthenticated", f"{method} {url} claiming an author")
        client.set_cookie("motcua_auth", "forged-session-token")
        assert_refused(send(client, method, url, body, scheme), 401, "unauthenticated", f"{method} {url} cookie")
        client.delete_cookie("motcua_auth")
    assert snapshot(node) == before


@pytest.mark.parametrize("scheme", SCHEMES)
def test_wrong_roles_are_refused_and_change_nothing(served, scheme):
    node, app, tokens = served["node"], served["app"], served["tokens"]
    client = app.test_client()
    before = snapshot(node)
    refused = set()
    for endpoint, method, url, body in api_calls(app, served["dossier"]):
        allowed = EXPECTED[endpoint][1 if served["role"] == "district" else 0]
        for role in permissions.ROLES:
            if role in allowed:
                continue
            r = send(client, method, url, body, scheme, {"Authorization": f"Bearer {tokens[role]}"})
            assert_refused(r, 403, "forbidden", f"{role} {method} {url}")
            refused.add(endpoint)
    assert refused == set(EXPECTED)  # a desk account at the hub, a district admin at a commune, at least
    assert snapshot(node) == before


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_read_token_cannot_write(served, scheme):
    node, app = served["node"], served["app"]
    client = app.test_client()
    before = snapshot(node)[:2]
    allowed_column = 1 if served["role"] == "district" else 0
    for endpoint, method, url, body in api_calls(app, served["dossier"]):
        if endpoint in WRITES and served["reader"] in EXPECTED[endpoint][allowed_column]:
            r = send(client, method, url, body, scheme, {"Authorization": f"Bearer {served['tokens']['read']}"})
            assert_refused(r, 403, "forbidden", f"read token {method} {url}")
            assert "read scope" in r.get_json()["error"]["message"]
    assert snapshot(node)[:2] == before  # reads were logged, nothing was written


@pytest.mark.parametrize("scheme", SCHEMES)
def test_allowed_roles_pass_the_gate(served, scheme):
    app, tokens = served["app"], served["tokens"]
    client = app.test_client()
    for endpoint, method, url, body in api_calls(app, served["dossier"]):
        for role in EXPECTED[endpoint][1 if served["role"] == "district" else 0]:
            r = send(client, method, url, body, scheme, {"Authorization": f"Bearer {tokens[role]}"})
            assert r.status_code not in (401, 403), (role, method, url, r.get_json())


def test_a_signed_in_browser_uses_the_api_and_cannot_be_forged_cross_site(served):
    node, app, role = served["node"], served["app"], served["role"]
    user = "u.district-admin" if role == "district" else "u.clerk"
    client = app.test_client()
    assert login(client, user).status_code == 302
    r = client.get(f"/api/v1/dossiers/{served['dossier']}")
    assert r.status_code == 200 and r.get_json()["applicant_name"] == "Nguyễn Văn An"
    before = snapshot(node)[:2]
    url = f"/api/v1/dossiers/{served['dossier']}/status"
    for headers in ({}, {"X-CSRFToken": "forged"}, {"X-Motcua-Author": user}):
        assert_refused(client.post(url, json={"to": "processing"}, headers=headers), 403, "csrf_failed", str(headers))
    assert snapshot(node)[:2] == before
    page = "/quan-tri/dong-bo" if role == "district" else "/mot-cua/"
    r = client.post(url, json={"to": "processing"}, headers={"X-CSRFToken": token_of(client, page)})
    assert r.status_code == 200, r.get_json()
    assert node.timeline(served["dossier"])[-1]["author"] == user


@pytest.mark.parametrize("scheme", SCHEMES)
def test_an_author_header_has_no_effect(served, scheme):
    node, app = served["node"], served["app"]
    writer = D if served["role"] == "district" else C
    client = app.test_client()
    headers = {"Authorization": f"Bearer {served['tokens'][writer]}", "X-Motcua-Author": "quantri"}
    r = send(client, "POST", f"/api/v1/dossiers/{served['dossier']}/status", {"to": "processing"}, scheme, headers)
    assert r.status_code == 200, r.get_json()
    (event,) = [e for e in node.timeline(served["dossier"]) if e["type"] != "dossier.received"]
    assert event["author"] == f"u.{writer.replace('_', '-')}"


def test_api_reads_of_personal_data_are_in_the_access_log(served, clock):
    app, tokens, dossier = served["app"], served["tokens"], served["dossier"]
    reader = served["reader"]
    username = f"u.{reader.replace('_', '-')}"
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens[reader]}"
    client.environ_base["REMOTE_ADDR"] = "192.0.2.44"
    AccessLogRow.delete().execute()
    reads = [
        (f"/api/v1/dossiers/{dossier}", dossier, "api"),
        ("/api/v1/dossiers", "", "api:list"),
        ("/api/v1/dossiers?q=nguyen+van", "", "api:search"),
        ("/api/v1/deadlines", "", "api:deadlines"),
        ("/api/v1/conflicts", "", "api:conflicts"),
        ("/api/v1/reports/bieu-06?from=2026-05-01&to=2026-05-31&format=csv", "", "api:report"),
    ]
    for url, _dossier, _action in reads:
        assert client.get(url).status_code == 200, url
    rows = list(AccessLogRow.select().order_by(AccessLogRow.id).dicts())
    assert [(r["username"], r["dossier_id"], r["action"]) for r in rows] == [(username, d, a) for _u, d, a in reads]
    assert all(r["ip"] == "192.0.2.44" and r["at"] == clock() for r in rows)
    assert "nguyen" not in " ".join(r["detail"] for r in rows)  # the query (maybe an ID number) is not kept
    assert "2026-05-01..2026-05-31 csv" in rows[-1]["detail"]
