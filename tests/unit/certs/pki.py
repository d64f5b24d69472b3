"""The test PKI: a fixed clock and a helper that issues node certificates (plain functions).

Time is always passed in: ``NOW`` is a fixed instant, and tests move it by adding timedeltas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from certs.ca import DistrictCA, issue_node_certificate
from certs.keys import generate_private_key, node_id_of

NOW = datetime(2026, 5, 17, 9, 0, tzinfo=UTC)
CA_LIFETIME = timedelta(days=20 * 365)
NODE_LIFETIME = timedelta(days=3 * 365)


@dataclass(frozen=True)
class Node:
    key: Ed25519PrivateKey
    cert: x509.Certificate

    @property
    def node_id(self) -> str:
        return node_id_of(self.key)


def make_node(
    ca: DistrictCA,
    *,
    now: datetime = NOW,
    lifetime: timedelta = NODE_LIFETIME,
    role: str = "commune",
    unit: str = "26734",
    name: str = "UBND xã Tân Lập – quầy 1",
) -> Node:
    key = generate_private_key()
    cert = issue_node_certificate(
        key.public_key(), node_id=node_id_of(key), role=role, unit=unit, name=name, ca=ca, now=now, lifetime=lifetime
    )
    return Node(key, cert)
