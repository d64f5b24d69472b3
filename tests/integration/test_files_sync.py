"""Files between nodes over the file exchange: cuts, tampering, on-demand fetch, the HTTP route."""

from __future__ import annotations

from collections import Counter

import pytest

from node import files, filesync
from node.domain.attachment import CHUNK_SIZE
from sync import chunkwire
from tests.factories import sample_dossier
from tests.files_helpers import random_bytes_pdf, scan_jpeg
from tests.filesync_helpers import CuttingLink
from tests.multinode import carry, make_node, use


@pytest.fixture
def nodes(tmp_path, clock):
    made = {
        "laptop": make_node(tmp_path, "laptop", clock, role="mobile", unit="17272"),
        "commune": make_node(tmp_path, "commune", clock, role="commune", unit="17272"),
        "hub": make_node(tmp_path, "hub", clock, role="district", unit="40"),
    }
    yield made
    for n in made.values():
        n.close()


def attach(node, data: bytes, **kw) -> dict:
    use(node)
    d = node.create_dossier("cán bộ", sample_dossier(**kw))
    return files.attach(node, "cán bộ", d.id, [data])


def run_until_done(caller, peer, link, direction="push", rounds=400):
    """Sessions until nothing is left (each sync resumes where the cut left it)."""
    use(caller)
    summaries = []
    for _ in range(rounds):
        s = filesync.sync_files(caller, link, peer.profile, direction=direction, monotonic=link.clock)
        summaries.append(s)
        if s.ok and s.failures == 0:
            break
    return summaries


def test_a_file_attached_offline_arrives_byte_identical_after_50_random_cuts(nodes):
    laptop, hub = nodes["laptop"], nodes["hub"]
    pdf = random_bytes_pdf(1_500_000, seed=5)
    a = attach(laptop, pdf)
    assert carry(laptop, hub) > 0  # events first
    link = CuttingLink(laptop, hub, cuts=50, every=0.7)
    summaries = run_until_done(laptop, hub, link)
    assert link.cuts == 50
    use(hub)
    assert files.read(hub, a["file_hash"])[0] == pdf
    assert files.listing(hub, a["dossier_id"])[0]["state"] == "complete"
    sent = Counter(i for s in summaries for i in s.sent_items)
    resent = sum(c - 1 for c in sent.values())
    assert resent <= link.cuts  # a cut costs at most the chunk in flight (one chunk at 2G speeds)
    chunk_bytes = sum(s.chunk_bytes_sent for s in summaries)
    assert chunk_bytes <= a["size"] + link.cuts * CHUNK_SIZE
    use(laptop)
    assert files.pending(laptop, hub.node_id)["files_up"] == 0


def test_a_tampered_chunk_is_refused_and_the_file_never_shows_complete(nodes, monkeypatch):
    laptop, hub = nodes["laptop"], nodes["hub"]
    a = attach(laptop, random_bytes_pdf(200_000, seed=2))
    carry(laptop, hub)
    original_get = laptop.chunks.get

    def tampered(chunk_hash):
        data = bytearray(original_get(chunk_hash))
        data[10] ^= 0xFF
        return bytes(data)

    monkeypatch.setattr(laptop.chunks, "get", tampered)
    use(laptop)
    s = filesync.sync_files(laptop, CuttingLink(laptop, hub), hub.profile, direction="push")
    assert s.refused == s.chunks_sent > 0 and s.files_delivered == 0
    use(hub)
    assert hub.chunks.count() == 0
    assert files.listing(hub, a["dossier_id"])[0]["state"] != "complete"
    with pytest.raises(files.DomainError):
        files.read(hub, a["file_hash"])


def test_a_mobile_node_gets_thumbnails_and_fetches_a_file_on_demand(nodes):
    commune, laptop = nodes["commune"], nodes["laptop"]
    a = attach(commune, scan_jpeg(seed=9))
    carry(commune, laptop)
    use(laptop)
    link = CuttingLink(laptop, commune)
    filesync.sync_files(laptop, link, commune.profile, direction="pull", monotonic=link.clock)
    listed = files.listing(laptop, a["dossier_id"])[0]
    assert listed["state"] == "not_fetched" and listed["thumb_hash"]  # the thumbnail came, not the PDF
    files.want(laptop, a["file_hash"])
    s = filesync.sync_files(laptop, link, commune.profile, direction="pull", monotonic=link.clock)
    assert s.files_completed == 1
    use(commune)
    original = files.read(commune, a["file_hash"])[0]
    use(laptop)
    assert files.read(laptop, a["file_hash"])[0] == original


def test_a_commune_pulls_every_file_and_the_hub_answers_unknown_before_the_events(nodes):
    commune, hub = nodes["commune"], nodes["hub"]
    from node.queries.network import files_arriving_by_origin

    a = attach(commune, random_bytes_pdf(70_000, seed=4))
    use(commune)
    s = filesync.sync_files(commune, CuttingLink(commune, hub), hub.profile, direction="push")
    assert s.chunks_sent == 0 and s.files_delivered == 0  # the hub holds no event naming the file yet
    carry(commune, hub)
    use(hub)
    assert files_arriving_by_origin() == {commune.node_id: (1, 70_000)}  # the district console's column
    use(commune)
    s = filesync.sync_files(commune, CuttingLink(commune, hub), hub.profile, direction="push")
    assert s.files_delivered == 1 and s.chunks_sent == 3
    use(hub)
    assert files_arriving_by_origin() == {}
    assert files.read(hub, a["file_hash"])[0] == random_bytes_pdf(70_000, seed=4)


def test_the_http_route_authenticates_before_parsing(nodes):
    from node.app import create_app

    hub = nodes["hub"]
    use(hub)
    client = create_app(hub.settings, node=hub).test_client()
    frame = chunkwire.encode({"op": "ask", "files": []})
    r = client.post(chunkwire.FILES_PATH, data=frame, headers={"Content-Type": chunkwire.CONTENT_TYPE})
    header, _ = chunkwire.decode(r.data)
    assert r.status_code == 401 and header["error"]["code"] == "unauthenticated"
    r = client.post(chunkwire.FILES_PATH, data=b"garbage", headers={"X-Motcua-Node": "0" * 32})
    assert r.status_code in (401, 403) and "error" in chunkwire.decode(r.data)[0]


def test_a_signed_request_through_the_route_gets_a_signed_answer(nodes):
    import base64
    import hashlib

    from node.app import create_app
    from node.signing import verify_signature
    from sync.exchange import request_signing_bytes, response_signing_bytes

    laptop, hub = nodes["laptop"], nodes["hub"]
    a = attach(laptop, random_bytes_pdf(10_000, seed=8))
    carry(laptop, hub)
    use(hub)
    client = create_app(hub.settings, node=hub).test_client()
    body = chunkwire.encode({"op": "ask", "files": [a["file_hash"], "f" * 64]})
    now, nonce = hub.wall_ms(), "abcdefghijklmnop1234"
    sig = laptop.key.sign(request_signing_bytes(laptop.node_id, now, nonce, chunkwire.FILES_PATH,
                                                hashlib.sha256(body).digest()))
    headers = {"Content-Type": chunkwire.CONTENT_TYPE, "X-Motcua-Node": laptop.node_id, "X-Motcua-Time": str(now),
               "X-Motcua-Nonce": nonce, "X-Motcua-Sig": base64.b64encode(sig).decode(),
               "X-Motcua-Key": base64.b64encode(laptop.key.public_key).decode()}
    r = client.post(chunkwire.FILES_PATH, data=body, headers=headers)
    assert r.status_code == 200, r.data
    verify_signature(hub.key.public_key, response_signing_bytes(hub.node_id, nonce, hashlib.sha256(r.data).digest()),
                     base64.b64decode(r.headers["X-Motcua-Sig"]))
    answer = chunkwire.decode(r.data)[0]["files"]
    assert answer[a["file_hash"]] == {"state": "missing", "need": [0]} and answer["f" * 64] == {"state": "unknown"}
    replay = client.post(chunkwire.FILES_PATH, data=body, headers=headers)
    assert replay.status_code != 200 and chunkwire.decode(replay.data)[0]["error"]["code"] == "replayed"


class _FlaskSession:
    """What :class:`sync.transport.HttpTransport` needs of ``requests.Session``, answered by the
    hub's Flask app in this process (so the real route, authentication and signatures run)."""

    def __init__(self, caller, hub, app) -> None:
        self.caller, self.hub, self.client = caller, hub, app.test_client()
        self.headers: dict = {}

    def post(self, url, data, headers, timeout):
        from types import SimpleNamespace

        use(self.hub)
        try:
            r = self.client.post(url.split("8750", 1)[1], data=data, headers=headers)
        finally:
            use(self.caller)
        return SimpleNamespace(content=r.data, headers=r.headers, status_code=r.status_code)

    def close(self) -> None:
        pass


def test_a_sync_with_the_hub_carries_the_events_then_the_files(nodes):
    from node.app import create_app
    from sync.transport import HttpTransport

    laptop, hub = nodes["laptop"], nodes["hub"]
    pdf = random_bytes_pdf(100_000, seed=11)
    a = attach(laptop, pdf)
    use(hub)
    app = create_app(hub.settings, node=hub)
    use(laptop)
    transport = HttpTransport("http://hub:8750", laptop.key, laptop.wall_ms)
    transport.session = _FlaskSession(laptop, hub, app)
    summary = laptop.sync_with("http://hub:8750", transport=transport)
    assert summary.ok and summary.events_out > 0, summary
    assert summary.files.files_delivered == 1 and summary.files.chunks_sent == 4
    assert files.pending(laptop, hub.node_id)["files_up"] == 0
    lines = laptop.store.rows.SyncSession.select().where(laptop.store.rows.SyncSession.side == "client")
    assert sorted((r.events_out > 0, r.bytes_out > 100_000, r.outcome) for r in lines) == [
        (False, True, "ok"), (True, False, "ok")]  # the events session, then the files' own line
    use(hub)
    assert files.read(hub, a["file_hash"])[0] == pdf
