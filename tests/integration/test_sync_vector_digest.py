"""Protocol 2: a sync with nothing to do carries the vector's digest, not the vector, so its bytes
do not grow with the feeds held; a changed peer answers the mismatch and the caller asks again
with its vector; an older peer that refuses protocol 2 is asked again in protocol 1.

Two real nodes in one process; the commune's real engine and ``HttpTransport`` talk to the
district's real Flask app through its test client (no socket)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from node.app import create_app
from sync import exchange as exchange_module
from sync.transport import HttpTransport
from tests.factories import approve_calendar, sample_dossier
from tests.multinode import make_node, use

URL = "http://hub.in-process"


class _Answer:
    def __init__(self, r: Any) -> None:
        self.content, self.headers, self.status_code = r.get_data(), r.headers, r.status_code


class InProcess:
    """The ``requests.Session`` of an ``HttpTransport``, answered by the hub's Flask app."""

    def __init__(self, hub, client) -> None:
        self.http, self.hub, self.client = create_app(hub.settings, node=hub).test_client(), hub, client
        self.headers: dict[str, str] = {}
        self.sent: list[bytes] = []

    def post(self, url: str, data: bytes, headers: dict[str, str], timeout: Any = None) -> _Answer:
        self.sent.append(data)
        use(self.hub)
        try:
            return _Answer(self.http.post(urlsplit(url).path, data=data, headers=headers))
        finally:
            use(self.client)

    def mount(self, *_a: Any) -> None:
        pass

    def close(self) -> None:
        pass


@pytest.fixture
def pair(tmp_path, clock):
    hub = make_node(tmp_path, "hub", clock, role="district", unit="40")
    commune = make_node(tmp_path, "commune", clock)
    yield hub, commune
    for n in (hub, commune):
        n.close()


def sync(hub, commune, messages: list[dict]):
    use(commune)
    transport = HttpTransport(URL, commune.key, commune.wall_ms, read_timeout=10)
    transport.session = InProcess(hub, commune)
    real = transport.exchange

    def recording(message: dict, introduce: bool = False):
        messages.append(message)
        return real(message, introduce)

    transport.exchange = recording  # type: ignore[method-assign]
    summary = commune.sync_with(URL, transport=transport)
    assert summary.ok, summary
    return summary


def test_a_no_op_carries_a_digest_and_costs_the_same_with_many_feeds(pair):
    hub, commune = pair
    use(commune)
    commune.create_dossier("cán bộ", sample_dossier())
    sync(hub, commune, [])
    first: list[dict] = []
    summary = sync(hub, commune, first)
    assert summary.exchanges == 1 and len(first) == 1
    assert first[0]["protocol"] == 2 and "vector" not in first[0] and len(first[0]["vector_digest"]) == 32
    small = summary.bytes_out + summary.bytes_in
    # the hub now holds 400 more feeds the commune may hold: after one sync to fetch them, the
    # no-op costs what it cost with two
    use(hub)
    for i in range(400):
        hub.store.rows.Feed.insert(origin=f"{i:032x}", scope="*", head_seq=0, head_hash="").execute()
    use(commune)
    for i in range(400):
        commune.store.rows.Feed.insert(origin=f"{i:032x}", scope="*", head_seq=0, head_hash="").execute()
    sync(hub, commune, [])
    again: list[dict] = []
    summary = sync(hub, commune, again)
    assert summary.exchanges == 1 and "vector" not in again[0]
    assert summary.bytes_out + summary.bytes_in <= small + 8  # digest and compression noise only
    assert commune.store.peer_state(hub.node_id).vector == hub.replica.vector_for(commune.profile)


def test_a_mismatch_brings_the_vector_and_the_news_in_a_second_exchange(pair):
    hub, commune = pair
    use(commune)
    commune.create_dossier("cán bộ", sample_dossier())
    sync(hub, commune, [])
    use(hub)
    approve_calendar(hub)  # publishing requires the district's calendar review (issue 12.1)
    hub.publish_reference("admin")  # news at the hub
    news = hub.store.count_events()
    messages: list[dict] = []
    summary = sync(hub, commune, messages)
    assert [m["protocol"] for m in messages] == [2, 1] and "vector" in messages[1]
    assert summary.events_in == news - 1  # everything but the commune's own dossier event
    use(commune)
    assert commune.store.count_events() == news
    quiet: list[dict] = []
    assert sync(hub, commune, quiet).exchanges == 1 and "vector_digest" in quiet[0]


def test_an_older_peer_is_asked_again_in_protocol_1(pair, monkeypatch):
    hub, commune = pair
    use(commune)
    commune.create_dossier("cán bộ", sample_dossier())
    sync(hub, commune, [])
    from sync import server
    from sync.protocol import Code, ProtocolError

    def version_1_only(message):  # the hub parses as a node of protocol 1 did
        if message.get("protocol") != 1:
            raise ProtocolError(Code.UNSUPPORTED_VERSION, "protocol 2 is not supported; this node speaks 1")
        return exchange_module.request_from_wire(message)

    monkeypatch.setattr(server, "request_from_wire", version_1_only)
    messages: list[dict] = []
    summary = sync(hub, commune, messages)
    assert [m["protocol"] for m in messages] == [2, 1] and summary.exchanges == 2
    later: list[dict] = []
    assert sync(hub, commune, later).exchanges == 1 and [m["protocol"] for m in later] == [1]
