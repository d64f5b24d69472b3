"""Idempotency keys on the JSON API (issue 14.2): a retry answers as the first time and writes
nothing; another body under the same key is refused; two concurrent retries make one write."""

from __future__ import annotations

import threading

import pytest

from node.app import create_app
from node.models import IdempotencyRow
from sync.store import EventRow
from tests.factories import sample_dossier
from tests.integration.web_helpers import cheap_hashing, give_token
from web import idempotency


def events() -> int:
    return EventRow.select().count()


def post(client, url, body, key, method="POST"):
    return client.open(url, method=method, json=body, headers={"Idempotency-Key": key})


def test_a_retry_with_the_same_key_and_body_returns_the_first_answer_and_writes_nothing(client):
    first = post(client, "/api/v1/dossiers", sample_dossier(), "k-1")
    assert first.status_code == 201
    before = events()
    again = post(client, "/api/v1/dossiers", sample_dossier(), "k-1")
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert events() == before
    assert client.get("/api/v1/dossiers").get_json()["total"] == 1


def test_every_write_of_the_api_takes_a_key(client):
    d = post(client, "/api/v1/dossiers", sample_dossier(), "c").get_json()
    calls = [
        ("POST", f"/api/v1/dossiers/{d['id']}/status", {"to": "processing", "reason": "chuyển"}),
        ("PATCH", f"/api/v1/dossiers/{d['id']}", {"fields": {"applicant.phone": "0900 000 000"}}),
        ("POST", f"/api/v1/dossiers/{d['id']}/apology", {"reason": "chậm", "new_due_at": "2030-01-01 09:00"}),
    ]
    for i, (method, url, body) in enumerate(calls):
        first = post(client, url, body, f"w-{i}", method)
        assert first.status_code == 200, first.get_json()
        before = events()
        again = post(client, url, body, f"w-{i}", method)
        assert (again.status_code, again.get_json()) == (200, first.get_json()), url
        assert events() == before, url
    # without the key, the status change would now be refused as a repeated transition
    assert len(client.get(f"/api/v1/dossiers/{d['id']}").get_json()["timeline"]) == 4


def test_the_same_key_with_another_body_is_refused_and_writes_nothing(client):
    assert post(client, "/api/v1/dossiers", sample_dossier(), "k-2").status_code == 201
    before = events()
    r = post(client, "/api/v1/dossiers", sample_dossier(name="Trần Thị Bích"), "k-2")
    assert r.status_code == 422
    assert r.get_json()["error"] == {"code": "idempotency_key_reused", "field": "Idempotency-Key",
                                     "message": r.get_json()["error"]["message"]}
    d = client.get("/api/v1/dossiers").get_json()["items"][0]
    r = post(client, f"/api/v1/dossiers/{d['id']}/status", {"to": "processing"}, "k-2")  # another route
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "idempotency_key_reused"
    assert events() == before


def test_key_order_and_spacing_of_the_body_do_not_make_another_request(client):
    body = sample_dossier()
    assert post(client, "/api/v1/dossiers", body, "k-3").status_code == 201
    shuffled = dict(reversed(list(body.items())))
    assert post(client, "/api/v1/dossiers", shuffled, "k-3").headers.get("Idempotent-Replayed") == "true"


def test_keys_belong_to_their_account(client, app, clock):
    other = app.test_client()
    give_token(other, "canbo.khac", now=clock())
    assert post(client, "/api/v1/dossiers", sample_dossier(), "shared").status_code == 201
    r = post(other, "/api/v1/dossiers", sample_dossier(), "shared")
    assert r.status_code == 201 and "Idempotent-Replayed" not in r.headers
    assert client.get("/api/v1/dossiers").get_json()["total"] == 2


def test_a_refused_request_is_not_kept_so_the_corrected_retry_runs(client):
    r = post(client, "/api/v1/dossiers", sample_dossier(id_number="12ab"), "k-4")
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "invalid_input"
    assert IdempotencyRow.select().count() == 0
    assert post(client, "/api/v1/dossiers", sample_dossier(), "k-4").status_code == 201
    r = post(client, "/api/v1/sync/now", {}, "k-5")  # no scheduler: refused without writing
    assert r.status_code == 409 and IdempotencyRow.select().count() == 1


@pytest.mark.parametrize("key", ["", "x" * 256, "khóa", "a b", "tab\there"])
def test_a_malformed_key_is_refused_in_the_error_shape(client, key):
    header = key.encode().decode("latin-1")  # as a client's bytes arrive
    r = client.post("/api/v1/dossiers", json=sample_dossier(), headers={"Idempotency-Key": header})
    assert r.status_code == 400 and r.get_json()["error"]["code"] == "bad_idempotency_key"
    assert events() == 0


def test_keys_are_forgotten_after_some_days(client, clock):
    assert post(client, "/api/v1/dossiers", sample_dossier(), "old").status_code == 201
    clock.advance(idempotency.KEEP_DAYS * idempotency.DAY_MS + 1)
    assert post(client, "/api/v1/dossiers", sample_dossier(), "new").status_code == 201
    assert [r.key for r in IdempotencyRow.select()] == ["new"]


def test_every_state_changing_api_route_is_idempotent(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.methods - {"GET", "HEAD", "OPTIONS"}:
            assert getattr(app.view_functions[rule.endpoint], "idempotent", False), rule.rule


@pytest.fixture
def any_backend_app(node, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    application = create_app(node.settings, node=node)
    application.config["TESTING"] = True
    return application


def test_concurrent_retries_with_one_key_make_one_dossier(any_backend_app, node, clock):
    """Two threads send the same write with the same key at once (a client retrying while the
    first request is still running): one dossier, and both get its answer."""
    app = any_backend_app
    secret = give_token(app.test_client(), now=clock())
    barrier = threading.Barrier(4)
    answers: list = []

    def send(key: str) -> None:
        c = app.test_client()
        barrier.wait()
        r = c.post("/api/v1/dossiers", json=sample_dossier(), headers={"Idempotency-Key": key,
                                                                        "Authorization": f"Bearer {secret}"})
        answers.append((key, r.status_code, r.get_json()))

    threads = [threading.Thread(target=send, args=(k,)) for k in ("same", "same", "same", "other")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    same = [a for a in answers if a[0] == "same"]
    assert len(answers) == 4 and {a[1] for a in answers} == {201}
    assert len({a[2]["id"] for a in same}) == 1
    node.db.connect(reuse_if_open=True)
    assert node.list_dossiers()[1] == 2


def test_a_retry_after_an_answer_lost_past_the_commit_gets_the_stored_answer(client, sqlite_node):
    """The crash window of issue 14: the write is committed, then the answer never leaves (here
    the process fails right after the commit). The retry finds the key and answers as the first
    call should have: one dossier."""
    original = sqlite_node.log.after_commit

    def crash_after_commit(heads):
        original(heads)
        raise ConnectionResetError("the answer was lost")

    sqlite_node.log.after_commit = crash_after_commit
    with pytest.raises(ConnectionResetError):
        post(client, "/api/v1/dossiers", sample_dossier(), "lost-1")
    sqlite_node.log.after_commit = original
    assert client.get("/api/v1/dossiers").get_json()["total"] == 1  # committed without an answer
    again = post(client, "/api/v1/dossiers", sample_dossier(), "lost-1")
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert client.get("/api/v1/dossiers").get_json()["total"] == 1


def test_a_key_claimed_by_another_process_meanwhile_answers_with_its_answer(client, monkeypatch):
    """PostgreSQL's path for two processes: the second one does not see the first one's row
    when it looks, then its claim of the key, made before it writes anything, fails on the
    primary key once the first one committed; it answers with the first one's answer."""
    first = post(client, "/api/v1/dossiers", sample_dossier(), "race")
    real = idempotency._previous
    calls = []

    def not_yet_visible(account, key):
        calls.append(key)
        return None if len(calls) == 1 else real(account, key)

    monkeypatch.setattr(idempotency, "_previous", not_yet_visible)
    before = events()
    again = post(client, "/api/v1/dossiers", sample_dossier(), "race")
    assert len(calls) == 2 and again.status_code == 201 and again.get_json() == first.get_json()
    assert events() == before
