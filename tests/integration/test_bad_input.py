"""Every bad input gets a 4xx, never a 500, and changes nothing (brief: data safety first).

Thrown at every JSON API route (found from the URL map, so a new route is covered or this test
fails) and every form and page of the web UI: huge numbers (``due_at`` of 10**30), floats and
NaN, lone surrogates, deep JSON, 5,000-digit integers, bidirectional and invisible characters,
NUL, bodies that are not JSON objects or not UTF-8, report periods from year 1 to 9999 and
malformed dates in query strings; then random JSON bodies and form texts from hypothesis.

API calls authenticate through :func:`api_auth` (a head of office's write token).
"""

from __future__ import annotations

import json

import pytest
from flask import url_for
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from node.app import create_app
from node.db import open_database
from node.services import Node
from tests.factories import init_node_dir, make_settings, sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login

CLOCK_MS = 1_779_000_000_000
HEALTH = [HealthCheck.function_scoped_fixture, HealthCheck.too_slow]


def api_auth(app) -> dict[str, str]:
    """Headers that authenticate a JSON API call on ``app``'s node as a head of office, who may
    do everything the desk's routes offer: an account and a write token, made once per app."""
    token = app.extensions.get("test.api_token")
    if token is None:
        from node.models import StaffAccountRow
        from node.tokens import create_token

        with app.app_context():
            if not StaffAccountRow.select().where(StaffAccountRow.username == "truong.bophan").exists():
                add("truong.bophan", "head", CLOCK_MS)
            token, _row = create_token("truong.bophan", "write", now=CLOCK_MS)
        app.extensions["test.api_token"] = token
    return {"Authorization": f"Bearer {token}"}


def assert_error_shape(r) -> None:
    assert 400 <= r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:300])
    body = r.get_json(silent=True)
    assert isinstance(body, dict) and set(body) == {"error"}, r.get_data(as_text=True)[:300]
    error = body["error"]
    assert set(error) == {"code", "message", "field"}
    assert isinstance(error["code"], str) and isinstance(error["message"], str)
    assert error["field"] is None or isinstance(error["field"], str)


@pytest.fixture
def world(sqlite_node, app):
    app.config["TESTING"] = False  # a crash must show as the 500 a client would get, not raise here
    d = sqlite_node.create_dossier("t", sample_dossier())
    return app, app.test_client(), sqlite_node, d


def fingerprint(node: Node) -> tuple[str, int]:
    return node.digest(), node.status()["events"]


# -- the JSON API ------------------------------------------------------------------------------

# A valid body per write route: the bad values are put at each of its leaves in turn.
TEMPLATES = {
    ("POST", "/api/v1/dossiers"): {**sample_dossier(), "due_at": CLOCK_MS + 86_400_000, "note": "ghi chú",
                                   "channel": "desk", "details": {"components": [{"name": "Tờ khai", "quantity": 1}]}},
    ("PATCH", "/api/v1/dossiers/<dossier_id>"): {"fields": {"note": "bổ sung", "applicant.phone": "0912000111"}},
    ("POST", "/api/v1/dossiers/<dossier_id>/status"): {"to": "processing", "reason": "chuyển", "target_office": ""},
    ("POST", "/api/v1/dossiers/<dossier_id>/apology"): {"reason": "chậm", "new_due_at": CLOCK_MS + 30 * 86_400_000},
    # multipart only (tests/integration/test_files_web.py): any JSON body is refused as "no file was chosen"
    ("POST", "/api/v1/dossiers/<dossier_id>/files"): {},
    ("POST", "/api/v1/conflicts/<conflict_id>/resolve"): {"choose": "x", "reason": "giữ bản này"},
    ("POST", "/api/v1/sync/now"): {},
}
DEEP = "[" * 100_000 + "]" * 100_000
# Raw JSON texts for a leaf, each of which no route may accept (checked: 4xx and nothing changed).
UNSTORABLE_LEAVES = [
    "1" + "0" * 30,  # 10**30: overflows a SQLite integer
    "-" + "9" * 40,
    "1.5",
    "NaN",
    "Infinity",
    "1e400",
    '"\\ud800"',  # a lone surrogate
    '"ab\\udfffcd"',
    '"L\\u00ea \\u202eV\\u0103n"',  # a right-to-left override
    '"x\\u2066y"',
    '"zero\\u200bwidth"',
    '"nul\\u0000"',
    "[" * 40 + "1" + "]" * 40,  # nested past the bound
]
BAD_BODIES = [
    b"", b"null", b"[]", b"1", b'"text"', b"not json", b"{", b'{"a": 1,}', b"\xff\xfe\x00{", b"\xc3\x28",
    DEEP.encode(), b'{"a": ' + b"9" * 5000 + b"}", b'{"a": NaN}', b'{"\\ud800": 1}', b'{"a": "\\ud800"}',
    b'{"a": [' + b"1," * 600_000 + b"1]}",  # over the 1 MiB bound
]
QUERY_PARAMS = ("limit", "offset", "q", "status", "from", "to", "format", "unit")
BAD_QUERY_VALUES = ("", "abc", "-1", "9" * 5000, str(10**30), "0001-01-01", "9999-12-31", "2026-02-30",
                    "31/12/2026", "\u202e", "\x00", "1e3", "١٢")


def api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule


def path_of(app, rule, dossier_id: str) -> str:
    with app.test_request_context():
        return url_for(rule.endpoint, **{a: dossier_id if a == "dossier_id" else "khong-co" for a in rule.arguments})


def leaves(value, path=()):
    """Every (path, value) of a JSON value; the paths of its objects' keys."""
    if isinstance(value, dict):
        if not value:
            yield path, value
        for k, v in value.items():
            yield from leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from leaves(v, (*path, i))
    else:
        yield path, value


def with_raw_leaf(template: dict, path: tuple, raw: str) -> bytes:
    """``template`` as JSON text with the leaf at ``path`` replaced by the raw JSON text ``raw``."""
    marker = "@@LEAF@@"
    copy = json.loads(json.dumps(template))
    if not path:
        copy["extra"] = marker
    else:
        target = copy
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = marker
    return json.dumps(copy).replace(json.dumps(marker), raw).encode()


def test_every_write_route_has_a_template(world):
    app = world[0]
    writes = {(m, r.rule) for m, r in api_rules(app) if m in ("POST", "PATCH", "PUT", "DELETE")}
    assert writes == set(TEMPLATES), "a new API write route: add a valid body to TEMPLATES"


def test_no_route_accepts_a_malformed_body(world):
    app, client, node, d = world
    before = fingerprint(node)
    for method, rule in api_rules(app):
        if method == "GET":
            continue
        path = path_of(app, rule, d.id)
        for body in BAD_BODIES:
            r = client.open(path, method=method, data=body, content_type="application/json", headers=api_auth(app))
            if rule.rule == "/api/v1/sync/now":
                assert r.status_code == 409  # it reads no body; no background sync here
                continue
            assert_error_shape(r)
        r = client.open(path, method=method, data=b'{"a": 1}', content_type="text/plain", headers=api_auth(app))
        assert 400 <= r.status_code < 500
    assert fingerprint(node) == before


def test_an_unstorable_value_at_any_field_of_any_route_is_refused_and_changes_nothing(world):
    app, client, node, d = world
    before = fingerprint(node)
    for (method, rule), template in TEMPLATES.items():
        path = path_of(app, next(r for m, r in api_rules(app) if r.rule == rule and m == method), d.id)
        for where, _value in [((), None), *leaves(template)]:
            for raw in UNSTORABLE_LEAVES:
                r = client.open(path, method=method, data=with_raw_leaf(template, where, raw),
                                content_type="application/json", headers=api_auth(app))
                if rule == "/api/v1/sync/now":
                    assert r.status_code == 409
                    continue
                assert_error_shape(r)
                if r.status_code == 422 and where:
                    field = r.get_json()["error"]["field"]
                    assert field and field.split(".")[0].split("[")[0] == str(where[0]), (rule, where, raw, field)
    assert fingerprint(node) == before


def test_named_cases_from_the_issue(world):
    app, client, node, d = world
    before = fingerprint(node)
    h = api_auth(app)
    r = client.post("/api/v1/dossiers", json={**sample_dossier(), "due_at": 10**30}, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "due_at"
    r = client.post(f"/api/v1/dossiers/{d.id}/apology", json={"reason": "x", "new_due_at": 10**30}, headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "new_due_at"
    r = client.post(f"/api/v1/dossiers/{d.id}/apology", json={"reason": "x", "new_due_at": "9999-12-31 23:00"},
                    headers=h)
    assert r.status_code == 422
    r = client.post("/api/v1/dossiers", data=b'{"procedure": {"code": "1.001193"}, "applicant": {"name": "\\udc00"}}',
                    content_type="application/json", headers=h)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "applicant.name"
    r = client.post("/api/v1/dossiers", data=DEEP, content_type="application/json", headers=h)
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_json"
    r = client.post("/api/v1/dossiers", json={**sample_dossier(name="Lê \u202eVăn")}, headers=h)
    assert r.status_code == 422 and "U+202E" in r.get_json()["error"]["message"]
    for period in ("from=0001-01-01&to=9999-12-31", "from=2000-01-01&to=2099-12-31", "from=2026-05-01&to=2026-04-01",
                   "from=2026-13-01&to=2026-12-31", "from=&to=", "from=9999-12-31&to=9999-12-31"):
        r = client.get(f"/api/v1/reports/bieu-06?{period}", headers=h)
        assert r.status_code == 422, period
        assert_error_shape(r)
    r = client.post("/api/v1/dossiers", data=b"{" + b'"a":1,' * 200_000 + b'"b":1}', content_type="application/json",
                    headers=h)
    assert r.status_code == 413 and r.get_json()["error"]["code"] == "too_large"
    assert fingerprint(node) == before
    assert client.get("/api/v1/reports/bieu-06?from=2026-01-01&to=2026-12-31", headers=h).status_code == 200


def test_query_strings_never_crash_a_read(world):
    app, client, node, d = world
    before = fingerprint(node)
    for method, rule in api_rules(app):
        if method != "GET":
            continue
        path = path_of(app, rule, d.id)
        for name in QUERY_PARAMS:
            for value in BAD_QUERY_VALUES:
                r = client.get(path, query_string={name: value}, headers=api_auth(app))
                assert r.status_code < 500, (path, name, value, r.get_data(as_text=True)[:200])
                if r.status_code >= 400:
                    assert_error_shape(r)
    assert fingerprint(node) == before


JSON_TEXT = st.text(max_size=30) | st.sampled_from(["\ud800", "a\u202eb", "\x00", "\u2069", "\ufeff", "Nguyễn"])
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**40), max_value=10**40) | st.floats() | JSON_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(JSON_TEXT, inner, max_size=3), max_leaves=12)


@settings(max_examples=120, deadline=None, suppress_health_check=HEALTH)
@given(route=st.sampled_from(sorted(k for k in TEMPLATES if k[1] != "/api/v1/sync/now")), data=st.data())
def test_random_values_in_any_field_never_cause_a_server_error(world, route, data):
    app, client, _node, d = world
    template = TEMPLATES[route]
    where, _ = data.draw(st.sampled_from([((), None), *leaves(template)]))
    raw = json.dumps(data.draw(JSON_VALUES), ensure_ascii=True)  # surrogates as \udXXX escapes, NaN as NaN
    path = route[1].replace("<dossier_id>", d.id).replace("<conflict_id>", "khong-co")
    r = client.open(path, method=route[0], data=with_raw_leaf(template, where, raw), content_type="application/json",
                    headers=api_auth(app))
    assert r.status_code < 500, (route, where, raw, r.get_data(as_text=True)[:300])
    if r.status_code >= 400:
        assert_error_shape(r)


# -- the web UI ----------------------------------------------------------------------------------

FORM_FIELDS = ("thu_tuc", "component", "sets", "name", "id_number", "phone", "email", "address", "delivery", "note",
               "step", "back", "request", "birth_date", "to", "reason", "target_office", "keep", "peer", "username",
               "password")
PAGE_PARAMS = ("tu", "den", "trang", "q", "ma", "kiem_tra", "ket_qua", "may", "dinh_dang", "thu_tuc", "trang_thai",
               "moi", "next")
BAD_TEXTS = ("\u202eevil", "nul\x00", "zero\u200bwidth", "9" * 5000, str(10**30), "-1", "31/12/9999", "0001-01-01",
             "9999-12-31", "x" * 20_000, "", "%00", "\ufffd")


def ui_client(app, node, clock_ms, role, username):
    app.config["TESTING"] = False
    app.config["WTF_CSRF_ENABLED"] = False  # CSRF has its own tests; here every form must be reachable
    add(username, role, clock_ms)
    c = app.test_client()
    assert login(c, username).status_code == 302
    return c


def ui_rules(app, method):
    for rule in app.url_map.iter_rules():
        if method in rule.methods and not rule.rule.startswith(("/api/", "/sync/")) and not rule.endpoint.endswith(
                "static") and rule.endpoint != "auth.logout":
            yield rule


def ui_path(app, rule, dossier_id):
    values = {"dossier_id": dossier_id, "form": "bien-nhan", "lang": "vi", "conflict_id": "khong-co", "row_id": 1}
    with app.test_request_context():
        return url_for(rule.endpoint, **{a: values.get(a, "x") for a in rule.arguments})


def throw_at_every_form_and_page(app, c, node, d):
    before = fingerprint(node)
    posts = list(ui_rules(app, "POST"))
    assert posts
    for rule in posts:
        path = ui_path(app, rule, d.id)
        for text in BAD_TEXTS:
            for procedure in ("ho-tich.khai-sinh", text):
                form = {f: text for f in FORM_FIELDS} | {"thu_tuc": procedure, "component": ["0", text]}
                r = c.post(path, data=form)
                assert r.status_code < 500, (rule.endpoint, text[:20], r.get_data(as_text=True)[:300])
    for rule in ui_rules(app, "GET"):
        path = ui_path(app, rule, d.id)
        for text in BAD_TEXTS:
            r = c.get(path, query_string={p: text for p in PAGE_PARAMS})
            assert r.status_code < 500, (rule.endpoint, text[:20], r.get_data(as_text=True)[:300])
            r.close()
    return before


def test_every_form_and_page_of_a_commune_node(world, clock, monkeypatch):
    app, _, node, d = world
    cheap_hashing(monkeypatch)
    monkeypatch.setattr("web.mobile._discover", lambda seconds: [])  # no real mDNS listening in a test
    c = ui_client(app, node, clock(), "head", "truong")
    before = throw_at_every_form_and_page(app, c, node, d)
    assert fingerprint(node) == before  # every one of those was refused


def test_a_forbidden_character_in_a_desk_form_is_refused_in_vietnamese(world, clock, monkeypatch):
    app, _, node, d = world
    cheap_hashing(monkeypatch)
    c = ui_client(app, node, clock(), "head", "truong")
    before = fingerprint(node)
    form = {"thu_tuc": "ho-tich.khai-sinh", "component": ["0", "1"], "sets": "1", "name": "Lê \u202eVăn",
            "id_number": "040090001234", "delivery": "desk"}
    r = c.post("/mot-cua/tiep-nhan/luu", data=form)
    assert r.status_code == 422 and "ký tự ẩn hoặc ký tự điều khiển hướng chữ" in r.get_data(as_text=True)
    r = c.post(f"/mot-cua/ho-so/{d.id}/trang-thai", data={"to": "processing", "reason": "chuyển\u2067"},
               follow_redirects=True)
    assert "“Lý do / nội dung” có ký tự ẩn hoặc ký tự điều khiển hướng chữ (U+2067)" in r.get_data(as_text=True)
    assert fingerprint(node) == before


def test_every_form_and_page_of_a_district_node(tmp_path, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    data_dir = tmp_path / "hub"
    key = init_node_dir(data_dir, role="district", unit="40")
    s = make_settings(data_dir, role="district", unit="40")
    hub = Node(s, open_database(s), key, clock)
    app = create_app(s, node=hub)
    d = hub.create_dossier("t", sample_dossier())
    c = ui_client(app, hub, clock(), "district_admin", "quantri")
    before = throw_at_every_form_and_page(app, c, hub, d)
    assert fingerprint(hub) == before
    hub.close()


@settings(max_examples=60, deadline=None, suppress_health_check=HEALTH)
@given(fields=st.dictionaries(st.sampled_from(FORM_FIELDS), st.text(max_size=40), max_size=8))
def test_random_form_texts_never_cause_a_server_error(world, clock, monkeypatch, fields):
    app, _, node, d = world
    if not hasattr(app, "_bad_input_client"):
        cheap_hashing(monkeypatch)
        app._bad_input_client = ui_client(app, node, clock(), "head", "truong")
    c = app._bad_input_client
    for path in ("/mot-cua/tiep-nhan/luu", "/mot-cua/tiep-nhan/xac-nhan", f"/mot-cua/ho-so/{d.id}/trang-thai",
                 "/luu-dong/tiep-nhan", "/luu-dong/can-cuoc"):
        r = c.post(path, data={"thu_tuc": "ho-tich.khai-sinh", **fields})
        assert r.status_code < 500, (path, fields, r.get_data(as_text=True)[:300])
