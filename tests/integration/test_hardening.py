"""What the browser-facing side of a node really sends (web.hardening): cookie flags in the
actual Set-Cookie headers over http and https, trusted host names against DNS rebinding, HSTS,
and a Content-Security-Policy on every HTML page, printed forms included, that the pages obey."""

from __future__ import annotations

import re
import socket

import pytest

from node.app import create_app
from node.db import open_database
from node.services import Node
from tests.factories import init_node_dir, make_settings, sample_dossier
from tests.integration.web_helpers import PASSWORD, add, cheap_hashing, csrf_from, login
from web.hardening import CSP, HostPolicy, host_policy

HTTPS = "https://localhost"


@pytest.fixture
def client(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock())
    return app.test_client()


def cookie(response, name: str) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert headers, f"no {name} cookie set; got {response.headers.getlist('Set-Cookie')}"
    return headers[-1]


def flags(header: str) -> set[str]:
    return {part.strip().lower() for part in header.split(";")[1:]}


def login_over_https(client, username: str = "lan"):
    page = client.get("/dang-nhap", base_url=HTTPS)
    # Flask-WTF checks the Referer of https form posts (strict SSL mode): send what a browser sends
    return page, client.post("/dang-nhap", base_url=HTTPS, headers={"Referer": f"{HTTPS}/dang-nhap"},
                             data={"username": username, "password": PASSWORD, "csrf_token": csrf_from(page.text)})


def test_cookies_over_http_are_httponly_and_samesite_lax_but_not_secure(client):
    page = client.get("/dang-nhap")
    csrf = cookie(page, "motcua_csrf")  # Flask's cookie, holding the CSRF token: named, not "session"
    signed_in = login(client, "lan")
    auth = cookie(signed_in, "motcua_auth")
    lang = cookie(client.get("/ngon-ngu/en"), "motcua_lang")
    for header in (csrf, auth, lang):
        assert flags(header) >= {"httponly", "samesite=lax"}, header
        assert "secure" not in flags(header), header
    assert not any(h.startswith("session=") for h in page.headers.getlist("Set-Cookie"))


def test_cookies_over_https_are_also_secure(client):
    page, signed_in = login_over_https(client)
    assert signed_in.status_code == 302, signed_in.text
    lang = client.get("/ngon-ngu/en", base_url=HTTPS)
    for header in (cookie(page, "motcua_csrf"), cookie(signed_in, "motcua_auth"), cookie(lang, "motcua_lang")):
        assert flags(header) >= {"httponly", "samesite=lax", "secure"}, header


def test_hsts_only_over_https(client):
    assert "Strict-Transport-Security" not in client.get("/dang-nhap").headers
    for path in ("/dang-nhap", "/tra-cuu", "/api/v1/node", "/healthz"):
        hsts = client.get(path, base_url=HTTPS).headers.get("Strict-Transport-Security", "")
        assert re.fullmatch(r"max-age=\d{7,}", hsts), (path, hsts)


# -- trusted hosts ---------------------------------------------------------------------------


def test_host_names_nobody_configured_are_refused_everywhere_but_addresses_always_work(client):
    for path in ("/dang-nhap", "/tra-cuu", "/healthz", "/khong-co"):
        r = client.get(path, headers={"Host": "evil.example"})
        assert r.status_code == 400 and "TRUSTED_HOSTS" in r.text, path
    api = client.get("/api/v1/node", headers={"Host": "rebind.evil.example:8750"})
    assert api.status_code == 400
    assert api.get_json()["error"] == {"code": "untrusted_host", "field": None, "message": api.get_json()["error"]
                                       ["message"]}
    machine = socket.gethostname()
    for host in ("localhost", "localhost:8750", "127.0.0.1:8750", "192.168.1.10:8750", "10.0.0.5", "[::1]:8750",
                 "[fe80::1]", machine, f"{machine}.local:8750", "LOCALHOST."):
        assert client.get("/dang-nhap", headers={"Host": host}).status_code == 200, host


def test_the_sync_endpoint_is_not_host_checked(client):
    r = client.post("/sync/v1/exchange", data=b"x", headers={"Host": "motcua.huyen.gov.vn"})
    assert r.status_code != 400 or b"untrusted_host" not in r.data
    assert b"TRUSTED_HOSTS" not in r.data


def make_app(tmp_path, clock, **settings):
    data_dir = tmp_path / "n2"
    key = init_node_dir(data_dir)
    s = make_settings(data_dir, **settings)
    node = Node(s, open_database(s), key, clock)
    return create_app(s, node=node).test_client(), node


def test_an_office_adds_its_lan_name_and_a_hub_its_domain(tmp_path, clock):
    c, node = make_app(tmp_path, clock, TRUSTED_HOSTS="motcua.tanphu.lan, .huyen.gov.vn")
    for host in ("motcua.tanphu.lan", "MOTCUA.TANPHU.LAN:8750", "huyen.gov.vn", "hub.huyen.gov.vn"):
        assert c.get("/tra-cuu", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "tanphu.lan", "huyen.gov.vn.evil.example", "xhuyen.gov.vn"):
        assert c.get("/tra-cuu", headers={"Host": host}).status_code == 400, host
    node.close()


def test_star_turns_the_check_off_for_a_proxy_that_checks_host(tmp_path, clock):
    c, node = make_app(tmp_path, clock, TRUSTED_HOSTS="*")
    assert c.get("/tra-cuu", headers={"Host": "anything.example"}).status_code == 200
    node.close()


def test_the_listen_host_and_the_machine_name_are_trusted_automatically():
    policy = host_policy("", "motcua-xa.lan", machine_name="PC-MOTCUA")
    assert policy.allows("motcua-xa.lan:8750") and policy.allows("pc-motcua") and policy.allows("pc-motcua.local")
    assert not policy.allows("") and not policy.allows("evil.example")
    assert HostPolicy(("localhost",)).allows("[2001:db8::1]:443")


# -- Content-Security-Policy on every HTML page ------------------------------------------------

ARGS = {"lang": "vi", "form": "bien-nhan", "conflict_id": "khong-co", "row_id": 1, "filename": "motcua.css"}
INLINE_HANDLER = re.compile(r"\son[a-z]+\s*=", re.I)


def html_pages(app, client, dossier_id: str):
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.rule.startswith(("/api/", "/sync/")) or rule.endpoint.endswith("static"):
            continue
        args = {a: ARGS.get(a, dossier_id) for a in rule.arguments}
        from flask import url_for

        with app.test_request_context():
            path = url_for(rule.endpoint, **args)
        r = client.get(path)
        if r.mimetype == "text/html":
            yield rule.endpoint, r
        r.close()


def check_page_obeys(endpoint: str, r) -> None:
    policy = r.headers.get("Content-Security-Policy", "")
    html = r.get_data(as_text=True)
    assert policy, endpoint
    assert "frame-ancestors 'none'" in policy and "base-uri 'none'" in policy, endpoint
    assert ' style="' not in html, endpoint  # style attributes would be blocked
    assert not INLINE_HANDLER.search(html), endpoint
    if endpoint.startswith("printing."):
        nonce = re.search(r"'nonce-([A-Za-z0-9_-]{16,})'", policy).group(1)
        assert "unsafe-inline" not in policy and "default-src 'none'" in policy
        for tag in re.findall(r"<(?:style|script)\b[^>]*>", html):
            assert f'nonce="{nonce}"' in tag, (endpoint, tag)
    else:
        assert policy == CSP, endpoint
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), endpoint  # no inline script
        assert "<style" not in html, endpoint


def test_every_html_page_of_a_commune_node_has_a_csp_it_obeys(app, client, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    assert login(client, "lan").status_code == 302
    seen = dict(html_pages(app, client, d.id))
    assert {"staff.dashboard", "staff.dossier", "mobile.home", "public.lookup", "printing.print_form",
            "printing.tracking_ledger", "auth.login"} <= set(seen)
    for endpoint, r in seen.items():
        check_page_obeys(endpoint, r)
    for form in ("bo-sung", "tu-choi", "xin-loi", "kiem-soat"):
        check_page_obeys("printing.print_form", client.get(f"/in/{d.id}/{form}"))
    check_page_obeys("none", client.get("/khong-co-trang-nay"))  # Flask's own 404 page too
    nonces = {re.search(r"nonce-([^']+)", client.get(f"/in/{d.id}/bien-nhan").headers["Content-Security-Policy"])
              .group(1) for _ in range(3)}
    assert len(nonces) == 3  # a fresh nonce per response


def test_every_html_page_of_a_district_node_has_a_csp_it_obeys(tmp_path, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    c, hub = make_app(tmp_path, clock, role="district", unit="40")
    add("quantri", "district_admin", clock())
    assert login(c, "quantri").status_code == 302
    d = hub.create_dossier("t", sample_dossier())
    seen = dict(html_pages(c.application, c, d.id))
    assert {"district.sync_log", "district.nodes", "district.statistics", "district.late"} <= set(seen)
    for endpoint, r in seen.items():
        check_page_obeys(endpoint, r)
    hub.close()


def test_non_html_answers_forbid_everything(client):
    assert client.get("/api/v1/node").headers["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
