"""The real client engine of an enrolled commune against peers crafted in memory, over a transport
that is not HTTP: who may receive its events, and answers it must refuse.

The commune is one real node (with a district CA, so certificates decide roles and units); its
peer exists only as a key, a certificate of that CA and answers signed like ``sync/server.py``
signs them. The transport records every message the engine hands it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from certs import create_ca, issue_node_certificate
from certs.ca import DistrictCA
from certs.identity import certificate_der, certificate_pem, parse_certificate
from node.db import node_store, open_database
from node.services import Node
from sync import codec
from sync.exchange import ExchangeResponse, Reply, response_signing_bytes
from tests.factories import init_node_dir, make_settings, sample_dossier
from tests.sync_helpers import Client, make_client

UNIT = "17272"
URL = "https://hub.example:8750"


@pytest.fixture
def authority(clock) -> DistrictCA:
    return create_ca("40", now=datetime.fromtimestamp(clock() / 1000, UTC), lifetime=timedelta(days=3650))


def issue(authority: DistrictCA, clock, key, node_id: str, role: str, unit: str) -> bytes:
    now = datetime.fromtimestamp(clock() / 1000, UTC)
    return certificate_der(issue_node_certificate(key, node_id=node_id, role=role, unit=unit, name=f"{role} {unit}",
                                                  ca=authority, now=now, lifetime=timedelta(days=365)))


@pytest.fixture
def commune(tmp_path, clock, authority):
    """A commune enrolled with ``authority`` (what ``motcua enroll`` leaves: ca.pem, node.pem)."""
    data_dir = tmp_path / "commune"
    key = init_node_dir(data_dir, role="commune", unit=UNIT)
    settings = make_settings(data_dir, role="commune", unit=UNIT)
    own = issue(authority, clock, key.public_key, key.node_id, "commune", UNIT)
    (data_dir / "ca.pem").write_bytes(certificate_pem(authority.certificate))
    (data_dir / "node.pem").write_bytes(certificate_pem(parse_certificate(own)))
    node = Node(settings, open_database(settings), key, clock)
    assert node.trust.enforced
    for i in range(3):
        node.create_dossier("cán bộ", sample_dossier(name=f"Công Dân {i}", id_number=f"04009000{i:04d}"))
    yield node
    node.close()


def certified(authority: DistrictCA, clock, role: str, unit: str) -> Client:
    peer = make_client(role, unit)
    cert = issue(authority, clock, peer.key.public_key, peer.node_id, role, unit)
    return replace(peer, profile=replace(peer.profile, cert=cert))


class CraftedPeer:
    """A transport whose far end answers as ``peer``: an empty vector, nothing to pull."""

    def __init__(self, peer: Client, clock, *, sign: bool = True) -> None:
        self.peer, self.clock, self.sign = peer, clock, sign
        self.sent: list[dict] = []
        self.held: dict[str, int] = {}

    def exchange(self, message: dict, introduce: bool = False) -> Reply:
        self.sent.append(message)
        for run in message.get("push", []):
            key = f"{run['origin']}:{run['scope']}"
            self.held[key] = run["from"] + len(run["events"]) - 1
        response = ExchangeResponse(session=message["session"], vector=dict(self.held),
                                    node=self.peer.profile if message.get("profiles") else None, time=self.clock())
        body, _ = codec.encode(response.to_wire())
        nonce = secrets.token_urlsafe(16)
        digest = hashlib.sha256(body).digest()
        signature = self.peer.key.sign(response_signing_bytes(self.peer.node_id, nonce, digest)) if self.sign else b""
        return Reply(codec.decode(body), len(str(message)), len(body), 200, nonce, "", signature, digest)

    def close(self) -> None:
        pass


def events_sent(transport: CraftedPeer) -> int:
    return sum(len(r["events"]) for m in transport.sent for r in m.get("push", []))


def test_a_certified_district_gets_the_push_after_it_said_who_it_is(commune, clock, authority):
    transport = CraftedPeer(certified(authority, clock, "district", "40"), clock)
    summary = commune.sync_with(URL, transport=transport)
    assert summary.ok, summary
    assert "push" not in transport.sent[0]  # first contact: the introduction carries no event
    assert events_sent(transport) == summary.events_out > 0
    assert node_store().find_peer_by_url(URL) == transport.peer.node_id


@pytest.mark.parametrize(("role", "unit"), [("commune", "17275"), ("mobile", UNIT)])
def test_a_certified_node_that_may_not_serve_the_commune_gets_no_event(commune, clock, authority, role, unit):
    """The finding of docs/security.md: any certificate of the CA used to get the first push."""
    transport = CraftedPeer(certified(authority, clock, role, unit), clock)
    summary = commune.sync_with(URL, transport=transport)
    assert (summary.outcome, summary.error_code) == ("failed", "untrusted"), summary
    assert len(transport.sent) == 1 and events_sent(transport) == 0
    assert node_store().find_peer_by_url(URL) is None  # not remembered as our peer either


def test_a_revoked_district_node_gets_no_event(commune, clock, authority):
    rogue = certified(authority, clock, "district", "40")
    # as the district's trust.node_revoked event leaves it once received (sync.trust.apply_revocations)
    node_store().put_revocation(rogue.node_id, {}, "key_compromise", clock(), "test")
    transport = CraftedPeer(rogue, clock)
    summary = commune.sync_with(URL, transport=transport)
    assert summary.error_code == "revoked" and events_sent(transport) == 0


def test_an_unsigned_answer_is_refused_on_a_transport_that_is_not_http(commune, clock, authority):
    transport = CraftedPeer(certified(authority, clock, "district", "40"), clock, sign=False)
    summary = commune.sync_with(URL, transport=transport)
    assert summary.error_code == "transport" and "not signed" in summary.error
    assert events_sent(transport) == 0 and node_store().find_peer_by_url(URL) is None
