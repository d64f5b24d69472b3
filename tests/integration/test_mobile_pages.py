"""Issue 13.6 through the Flask test client: the outreach laptop's home lists the team's own
intake, and "sync now" says whether a LAN node belongs to this district's CA and offers no sync
with a foreign one (the button is gone and a crafted post is refused)."""

from __future__ import annotations

import pytest

from node.models import DossierRow
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, token_of

MINE = "f" * 64


@pytest.fixture
def client(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("an", "mobile", clock(), "Phạm Văn An")
    c = app.test_client()
    login(c, "an")
    return c


def test_home_lists_only_what_this_machine_received(client, sqlite_node):
    own = sqlite_node.create_dossier("an", sample_dossier(name="Vàng A Dế"))
    desk = sqlite_node.create_dossier("lan", sample_dossier(name="Người ở xã", id_number="040090001111"))
    # as if synced down from the commune's desk: received on another node
    DossierRow.update(origin="c" * 32).where(DossierRow.id == desk.id).execute()
    page = client.get("/luu-dong/").text
    assert "Vàng A Dế" in page and own.code in page
    assert "Người ở xã" not in page and 'data-own-count>1<' in page


def heard(monkeypatch, ca_of_peer: str):
    from sync.discovery import ServiceRecord
    from web import mobile

    record = ServiceRecord("a" * 32, "commune", "17272", "UBND xã Tân Phú", "127.0.0.1", 8751,
                           ca_fingerprint=ca_of_peer)
    monkeypatch.setattr(mobile, "_discover", lambda seconds: [record])


def find(client):
    client.post("/luu-dong/dong-bo/tim-may", data={"csrf_token": token_of(client, "/luu-dong/dong-bo")})
    return client.get("/luu-dong/dong-bo").text


@pytest.fixture
def with_ca(monkeypatch, sqlite_node):
    monkeypatch.setattr(type(sqlite_node.trust), "ca_fingerprint", property(lambda self: MINE))


def test_a_peer_of_the_same_ca_is_offered(client, monkeypatch, with_ca):
    heard(monkeypatch, MINE)
    page = find(client)
    assert 'data-ca="same"' in page and "Cùng cơ quan cấp chứng chỉ" in page
    assert 'name="peer" value="0"' in page


def test_a_foreign_peer_is_shown_but_cannot_be_synced_with(client, app, monkeypatch, with_ca):
    heard(monkeypatch, "0" * 64)
    page = find(client)
    assert 'data-ca="foreign"' in page and "Cơ quan cấp chứng chỉ khác" in page
    assert 'name="peer" value="0"' not in page  # no button
    r = client.post("/luu-dong/dong-bo", data={"csrf_token": token_of(client, "/luu-dong/dong-bo"), "peer": "0"},
                    follow_redirects=True)
    assert "thuộc cơ quan cấp chứng chỉ khác" in r.text
    assert app.extensions["motcua.web_sync"].snapshot()["started_at"] == 0  # nothing started


def test_a_development_node_says_it_cannot_tell(client, monkeypatch):
    heard(monkeypatch, "")
    assert 'data-ca="unchecked"' in find(client)
