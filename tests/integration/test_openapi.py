"""The OpenAPI description of /api/v1 matches the routes the app serves (issue 14.6): every route
documented, every documented route served, the same methods; bearer authentication and the one
error shape declared, and real answers of the API conform to it."""

from __future__ import annotations

import re

import jsonschema_rs
import pytest

from node.app import create_app
from tests.api_routes import WRITES
from tests.factories import sample_dossier
from tests.integration.web_helpers import cheap_hashing, give_token, make_node
from web.openapi import ERROR, ERROR_CODES, OPERATIONS

IGNORED = {"HEAD", "OPTIONS"}


def served_routes(app) -> dict[tuple[str, str], str]:
    """(METHOD, /path/{param}) -> endpoint of every /api/v1 route the app serves."""
    found = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/"):
            path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
            for method in rule.methods - IGNORED:
                found[(method, path)] = rule.endpoint
    return found


@pytest.fixture(params=["commune", "district"])
def served_app(request, tmp_path, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    node = make_node(tmp_path, clock, role=request.param, unit="40" if request.param == "district" else "17272")
    application = create_app(node.settings, node=node)
    yield application
    node.close()


@pytest.fixture
def doc(served_app, clock):
    app = served_app
    client = app.test_client()
    give_token(client, role="district_admin" if app.extensions["motcua.node"].settings.ROLE == "district" else "head",
               now=clock())
    r = client.get("/api/v1/openapi.json")
    assert r.status_code == 200 and r.content_type == "application/json"
    return r.get_json()


def documented(doc) -> dict[tuple[str, str], str]:
    return {(method.upper(), path): op["operationId"]
            for path, ops in doc["paths"].items() for method, op in ops.items()}


def test_every_route_is_documented_and_every_documented_route_is_served(served_app, doc):
    served, written = served_routes(served_app), documented(doc)
    assert sorted(set(served) - set(written)) == [], "routes served but not in web/openapi.py"
    assert sorted(set(written) - set(served)) == [], "documented routes the app does not serve"
    for (method, path), endpoint in served.items():  # and the table names the same views
        assert OPERATIONS[endpoint][:2] == (method.lower(), path), endpoint
    assert len({op for op in written.values()}) == len(written), "operationId must be unique"


def test_authentication_is_a_bearer_token_on_every_operation(doc):
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert {"bearerAuth": []} in doc["security"]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert "security" not in op, f"{method} {path} must not lift the API-wide authentication"
            assert {"401", "403"} <= set(op["responses"]), f"{method} {path}"
    assert "WWW-Authenticate" in doc["components"]["responses"]["E401"]["headers"]


def test_every_refusal_is_documented_in_the_error_shape(doc):
    assert doc["components"]["schemas"]["Error"] == ERROR
    for code, response in doc["components"]["responses"].items():
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, code
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert response == {"$ref": f"#/components/responses/E{status}"}, f"{method} {path} {status}"


def test_every_write_takes_an_idempotency_key(doc):
    ops = {(method, path): op for path, o in doc["paths"].items() for method, op in o.items()}
    for endpoint in WRITES:
        method, path, _op = OPERATIONS[endpoint]
        names = [p["name"] for p in ops[(method, path)].get("parameters", [])]
        assert "Idempotency-Key" in names, endpoint


def test_real_refusals_conform_to_the_documented_error_shape(client, app):
    answers = [app.test_client().get("/api/v1/dossiers")]  # 401
    d = client.post("/api/v1/dossiers", json=sample_dossier()).get_json()
    answers += [
        client.post("/api/v1/dossiers", data="{", content_type="application/json"),  # 400
        client.get("/api/v1/dossiers/nope"),  # 404
        client.get("/api/v1/conflicts/nope"),  # 404
        client.delete("/api/v1/dossiers"),  # 405
        client.post(f"/api/v1/dossiers/{d['id']}/status", json={"to": "returned"}),  # 409
        client.post("/api/v1/dossiers", json={"procedure": {}}),  # 422
        client.post("/api/v1/dossiers", json=sample_dossier(), headers={"Idempotency-Key": ""}),  # 400
    ]
    for r in answers:
        assert r.status_code >= 400 and jsonschema_rs.is_valid(ERROR, r.get_json()), r.get_data(as_text=True)
        assert r.get_json()["error"]["code"] in ERROR_CODES
    assert answers[4].status_code == 405 and answers[4].headers["Allow"] == "GET, HEAD, OPTIONS, POST"


def test_the_description_is_only_for_callers_of_the_api(served_app):
    r = served_app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 401 and r.get_json()["error"]["code"] == "unauthenticated"


def test_every_write_documents_the_storage_refusals(doc):
    for endpoint in WRITES:
        method, path, _op = OPERATIONS[endpoint]
        assert {"503", "507"} <= set(doc["paths"][path][method]["responses"]), endpoint
    assert "read_only" in doc["components"]["responses"]["E503"]["description"]
    assert "storage_full" in doc["components"]["responses"]["E507"]["description"]


def test_a_full_disk_answers_as_documented(client, monkeypatch):
    """(The read-only answer is checked in tests/integration/test_storage_faults.py.)"""
    import sqlite3

    from node import projection

    def full(events):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(projection, "project", full)
    r = client.post("/api/v1/dossiers", json=sample_dossier())
    assert r.status_code == 507 and jsonschema_rs.is_valid(ERROR, r.get_json()), r.get_data(as_text=True)
    assert r.get_json()["error"]["code"] in ERROR_CODES
