"""The JSON API end to end through Flask: every write lands in the event log."""

from __future__ import annotations

from sync.store import EventRow
from tests.factories import sample_dossier


def create(client, **kw):
    r = client.post("/api/v1/dossiers", json=sample_dossier(**kw))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def test_healthz_names_the_node(client, sqlite_node):
    data = client.get("/healthz").get_json()
    assert data["ok"] and data["node_id"] == sqlite_node.node_id and data["role"] == "commune"


def test_create_read_and_timeline(client):
    d = create(client)
    assert d["status"] == "received" and d["national_code"] == 2
    assert d["code"].startswith("TAM-")
    got = client.get(f"/api/v1/dossiers/{d['id']}").get_json()
    assert got["applicant_name"] == "Nguyễn Văn An"
    assert [e["type"] for e in got["timeline"]] == ["dossier.received"]
    assert got["timeline"][0]["author"] == "canbo.lan"


def test_status_change_and_refusal(client):
    d = create(client)
    r = client.post(f"/api/v1/dossiers/{d['id']}/status", json={"to": "processing", "reason": "chuyển"})
    assert r.status_code == 200 and r.get_json()["status"] == "processing"
    r = client.post(f"/api/v1/dossiers/{d['id']}/status", json={"to": "returned"})
    assert r.status_code == 409
    assert r.get_json()["error"]["code"] == "invalid_transition"
    timeline = client.get(f"/api/v1/dossiers/{d['id']}").get_json()["timeline"]
    assert len(timeline) == 2
    assert timeline[1]["parents"] == [timeline[0]["ref"]]


def test_search_without_diacritics_by_id_number_and_by_code(client):
    a = create(client, name="Trần Thị Bích Ngọc", id_number="040195004567")
    create(client, name="Lê Văn Đức", id_number="040201007890")
    by_name = client.get("/api/v1/dossiers?q=tran thi bich").get_json()
    assert [i["id"] for i in by_name["items"]] == [a["id"]]
    assert client.get("/api/v1/dossiers?q=le van duc").get_json()["total"] == 1
    assert client.get("/api/v1/dossiers?q=040195004567").get_json()["items"][0]["id"] == a["id"]
    assert client.get(f"/api/v1/dossiers?q={a['code']}").get_json()["total"] == 1
    assert client.get("/api/v1/dossiers").get_json()["total"] == 2


def test_bad_input_gets_a_clear_error_and_changes_nothing(client):
    before = EventRow.select().count()
    cases = [
        (client.post("/api/v1/dossiers", data="not json", content_type="application/json"), 400),
        (client.post("/api/v1/dossiers", json={"procedure": {"code": "x"}}), 422),
        (client.post("/api/v1/dossiers", json=sample_dossier(id_number="12ab")), 422),
        (client.post("/api/v1/dossiers", json=sample_dossier(name="")), 422),
        (client.post("/api/v1/dossiers", json={**sample_dossier(), "channel": "fax"}), 422),
        (client.post("/api/v1/dossiers", json={**sample_dossier(), "due_at": 1.5}), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, response.get_json()
        assert response.get_json()["error"]["message"]
    assert EventRow.select().count() == before


def test_unknown_dossier_is_404(client):
    r = client.get("/api/v1/dossiers/nope")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"


def test_update_fields(client):
    d = create(client)
    r = client.patch(f"/api/v1/dossiers/{d['id']}", json={"fields": {"applicant.phone": "0900 000 000"}})
    assert r.status_code == 200 and r.get_json()["phone"] == "0900 000 000"
    r = client.patch(f"/api/v1/dossiers/{d['id']}", json={"fields": {"status": "returned"}})
    assert r.status_code == 422


def test_an_author_header_has_no_effect(client):
    # the author is the account the token belongs to (the conftest client's canbo.lan), whatever a
    # caller claims; the header once named the author (issue 10 removed it)
    for claim in ("chị Lan".encode().decode("latin-1"), "quantri", ""):
        r = client.post("/api/v1/dossiers", json=sample_dossier(), headers={"X-Motcua-Author": claim})
        d = r.get_json()
        r = client.post(f"/api/v1/dossiers/{d['id']}/status", json={"to": "processing"},
                        headers={"X-Motcua-Author": claim})
        assert r.status_code == 200
        got = client.get(f"/api/v1/dossiers/{d['id']}").get_json()
        assert [e["author"] for e in got["timeline"]] == ["canbo.lan", "canbo.lan"]


def test_unknown_api_routes_and_methods_answer_json(client):
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "not_found"
    r = client.delete("/api/v1/dossiers")
    assert r.status_code == 405 and r.get_json()["error"]["code"] == "method_not_allowed"
