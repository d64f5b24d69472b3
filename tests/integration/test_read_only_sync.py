"""A node whose database is read-only still serves sync pulls (issue 14.3): that is how its data
is rescued. Its peers pull every event it holds through the real endpoint; a push to it is refused
with ``read_only`` (503) in the sync error shape and changes nothing; no sync endpoint answers a 500.

The read-only node is a real commune node whose database file was made read-only after it was
written (``node.db.read_only_file``: it opens it ``mode=ro``); the pullers are crafted in memory
(``tests.sync_helpers``) or are whole in-memory participants (``tests.inprocess``) driving the
real client engine over a transport that posts to the Flask test client.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets

import pytest

from node.app import create_app
from node.db import open_database
from node.services import Node
from sync import codec
from sync.engine import SyncClient
from sync.exchange import EXCHANGE_PATH, Reply, request_from_wire, response_signing_bytes
from sync.memory import MemoryStore
from sync.store import EventRow
from tests.factories import init_node_dir, make_settings, sample_dossier
from tests.inprocess import make_member
from tests.integration.web_helpers import cheap_hashing, give_token
from tests.sync_helpers import (
    Client,
    make_client,
    make_request,
    make_run,
    post_body,
    post_exchange,
    signed_headers,
    stored_state,
)

UNIT = "17272"
DOSSIERS = 4


@pytest.fixture
def read_only_server(tmp_path, clock, monkeypatch):
    """A commune holding a few dossiers, reopened on a read-only database file. Development trust
    (no CA), so the self-signed peers crafted here are admitted: certificates are not the point."""
    cheap_hashing(monkeypatch)
    data_dir = tmp_path / "node"
    key = init_node_dir(data_dir)
    settings = make_settings(data_dir, DEV_OPEN_TRUST=True)
    writable = Node(settings, open_database(settings), key, clock)
    for i in range(DOSSIERS):
        writable.create_dossier("lan", sample_dossier(name=f"Công Dân {i}", id_number=f"04009000{i:04d}"))
    token = {}
    give_token(token_holder := create_app(settings, node=writable).test_client(), now=clock())
    token.update(token_holder.environ_base)
    writable.close()
    os.chmod(settings.sqlite_path, 0o444)  # root ignores file modes; the node opens it read-only itself
    app = create_app(settings, wall_ms=clock)  # TESTING off: a crash must show as the 500 a peer gets
    node = app.extensions["motcua.node"]
    assert node.read_only
    client = app.test_client()
    client.token = token  # the API's bearer token, made while the database was writable
    yield client
    node.close()


def held_events() -> int:
    return EventRow.select().count()


class FlaskTransport:
    """``HttpTransport``'s signing, over the Flask test client instead of a socket."""

    def __init__(self, test_client, member) -> None:
        self.test_client, self.member = test_client, member

    def exchange(self, message: dict, introduce: bool = False) -> Reply:
        body, _ = codec.encode(message)
        nonce = secrets.token_urlsafe(16)
        now = self.test_client.application.extensions["motcua.replica"].wall_ms()
        headers = signed_headers(Client(self.member.key, self.member.profile), body, now, nonce=nonce,
                                 introduce=introduce)
        r = self.test_client.post(EXCHANGE_PATH, data=body, headers=headers)
        content = r.get_data()
        assert r.status_code != 500, r.status_code
        return Reply(codec.decode(content), len(body), len(content), r.status_code, nonce,
                     r.headers.get("X-Motcua-Node", ""), base64.b64decode(r.headers.get("X-Motcua-Sig", "")),
                     hashlib.sha256(content).digest())

    def close(self) -> None:
        pass


def test_a_laptop_pulls_every_event_of_a_read_only_commune_through_the_client_engine(read_only_server, clock):
    before = stored_state()
    laptop = make_member(MemoryStore(), "mobile", UNIT, clock, "máy lưu động")
    summary = SyncClient(laptop.replica, FlaskTransport(read_only_server, laptop), "http://xa.test").sync()
    assert summary.ok, summary
    assert summary.events_in == held_events() >= DOSSIERS  # every event the commune holds, none left behind
    assert len(laptop.received) == held_events()
    again = SyncClient(laptop.replica, FlaskTransport(read_only_server, laptop), "http://xa.test").sync()
    assert again.ok and again.events_in == 0  # the second session finds nothing new
    assert stored_state() == before


def test_a_laptop_with_its_own_work_still_pulls_and_keeps_what_it_could_not_push(read_only_server, clock):
    before = stored_state()
    laptop = make_member(MemoryStore(), "mobile", UNIT, clock, "máy lưu động")
    laptop.write(UNIT, "dossier/own-1", "dossier.received", {"i": 1})
    summary = SyncClient(laptop.replica, FlaskTransport(read_only_server, laptop), "http://xa.test").sync()
    assert (summary.outcome, summary.error_code) == ("partial", "read_only"), summary
    assert summary.events_in == held_events() and summary.events_out == 0
    assert "read-only" in summary.error
    assert stored_state() == before  # nothing of the laptop's reached the read-only node
    assert summary.exchanges <= 3  # introduced once: its profile kept in memory, not refused each batch


def test_a_district_pulls_in_several_batches_from_a_read_only_node(read_only_server):
    hub = make_client("district", "40")
    vector: dict[str, int] = {}
    pulled, more, rounds = 0, True, 0
    while more and rounds < 50:
        rounds += 1
        request = make_request(hub, [], vector=vector)
        wire = request.to_wire()
        wire["max_bytes"] = 2048  # several batches: the read-only node answers each without writing
        status, message = post_exchange(read_only_server, hub, wire)
        assert status == 200 and message is not None and "error" not in message, (status, message)
        pulled += sum(len(r["events"]) for r in message.get("pull", []))
        for run in message.get("pull", []):  # what the hub now holds
            vector[f"{run['origin']}:{run['scope']}"] = run["from"] + len(run["events"]) - 1
        more = bool(message.get("more"))
    assert rounds > 1 and pulled == held_events()


def test_a_push_to_a_read_only_node_is_refused_with_read_only_and_changes_nothing(read_only_server):
    before = stored_state()
    laptop = make_client("mobile", UNIT)
    status, message = post_exchange(read_only_server, laptop, make_request(laptop, [make_run(laptop, UNIT, 1, 2)]))
    assert status == 503, (status, message)
    assert message["error"]["code"] == "read_only" and message["error"]["message"]
    assert message["vector"] == {}
    assert stored_state() == before


def test_a_replayed_request_is_still_refused_on_a_read_only_node(read_only_server):
    hub = make_client("district", "40")
    body = codec.encode(make_request(hub, [], vector={}).to_wire())[0]
    now = read_only_server.application.extensions["motcua.replica"].wall_ms()
    headers = signed_headers(hub, body, now)
    assert post_body(read_only_server, body, headers)[0] == 200
    status, message = post_body(read_only_server, body, headers)  # the same nonce again
    assert status == 401 and message["error"]["code"] == "replayed"


def test_no_sync_endpoint_answers_a_500_on_a_read_only_database(read_only_server):
    hub = make_client("district", "40")
    now = read_only_server.application.extensions["motcua.replica"].wall_ms()
    answers = {
        "exchange, garbage": post_body(read_only_server, b"garbage", signed_headers(hub, b"garbage", now))[0],
        "exchange, unsigned": read_only_server.post(EXCHANGE_PATH, data=b"x").status_code,
        "enroll": read_only_server.post("/sync/v1/enroll", json={"code": "x"}).status_code,
        "tls-cert": read_only_server.post("/sync/v1/tls-cert", json={}).status_code,
        "tls-ca": read_only_server.get("/sync/v1/tls-ca").status_code,
    }
    api = read_only_server.application.test_client()
    api.environ_base.update(read_only_server.token)
    status = api.get("/api/v1/sync/status")
    assert status.status_code == 200, status.text
    for name, headers in (("sync now", {}), ("sync now, idempotent", {"Idempotency-Key": "k1"})):
        r = api.post("/api/v1/sync/now", headers=headers)
        answers[name] = r.status_code
        assert r.status_code in (409, 503) and r.json["error"]["code"] in ("no_scheduler", "read_only"), r.text
    assert answers["exchange, garbage"] == 400  # authenticated (nonce remembered in memory), then refused
    assert 500 not in answers.values(), answers


def test_a_read_only_node_syncing_as_a_client_fails_cleanly_with_read_only(read_only_server, clock):
    """It may not take in what its parent sends: the session ends ``read_only``, not with an exception."""
    hub = make_member(MemoryStore(), "district", "40", clock, "huyện")
    hub.write(UNIT, "dossier/hub-1", "dossier.received", {"i": 1})  # something the commune lacks
    node = read_only_server.application.extensions["motcua.node"]

    class ToHub:
        def exchange(self, message: dict, introduce: bool = False) -> Reply:
            req = request_from_wire(message)
            caller = hub.replica.resolve_caller(node.profile, req.profiles)
            response, _ = hub.replica.serve_exchange(req, caller, 0)
            body = codec.encode(response.to_wire())[0]
            nonce = "n" * 22
            signature = hub.key.sign(response_signing_bytes(hub.node_id, nonce, hashlib.sha256(body).digest()))
            return Reply(codec.decode(body), 0, len(body), 200, nonce, "", signature, hashlib.sha256(body).digest())

        def close(self) -> None:
            pass

    before = stored_state()
    summary = SyncClient(node.replica, ToHub(), "http://huyen.test").sync()
    assert (summary.outcome, summary.error_code) == ("failed", "read_only"), summary
    assert stored_state() == before
