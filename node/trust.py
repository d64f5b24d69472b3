"""A node's trust material and policy: the district CA, its own certificate, the trusted time.

Implements :class:`sync.trust.Trust` with ``certs``. A node whose data directory holds the
district CA certificate (``ca.pem``: enrolled nodes, and the district that made the CA)
*enforces* it: every profile it admits — a caller, a relayed origin, an answering peer — must
carry a certificate of that CA, valid and unrevoked, and the role, unit and name come from the
certificate, never from what the profile claims. A node without ``ca.pem`` runs open (self-signed
profiles); ``motcua doctor`` reports it.

Trusted time: certificate validity is judged at ``max(PC clock, newest district-stamped time
this node holds)`` (reliability.md §0.4-0.5), so a PC whose clock is years behind still checks
certificates correctly, and a clock set back cannot revive an expired certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import peewee as pw

from certs import CertificateRejected, Reason, verify_node_certificate
from certs.identity import certificate_der, parse_certificate
from certs.layout import NodeLayout
from sync import store
from sync.chain import SignatureVerifier
from sync.clock import physical_ms
from sync.ledger import ProfileRow
from sync.protocol import Code, Profile, ProtocolError
from sync.trust import OpenTrust, refuse_if_revoked, revoked_after


class NodeTrust(OpenTrust):
    def __init__(self, data_dir: Path, verify_signature: SignatureVerifier, wall_ms: Callable[[], int]) -> None:
        super().__init__(verify_signature)
        self.layout = NodeLayout(data_dir)
        self.wall_ms = wall_ms
        self.reload()

    def reload(self) -> None:
        """Read ca.pem and node.pem again (after enrollment)."""
        ca = self.layout.ca_certificate
        own = self.layout.certificate
        self.ca = parse_certificate(ca.read_bytes()) if ca.exists() else None
        self.own = parse_certificate(own.read_bytes()) if own.exists() else None
        self.enforced = self.ca is not None

    @property
    def own_cert_der(self) -> bytes:
        return certificate_der(self.own) if self.own is not None else b""

    def trusted_floor_ms(self) -> int:
        """Newest time a district vouched for: the stamps of district events this node holds."""
        districts = ProfileRow.select(ProfileRow.node_id).where(ProfileRow.role == "district")
        newest = (
            store.EventRow.select(pw.fn.MAX(store.EventRow.hlc)).where(store.EventRow.origin.in_(districts)).scalar()
        )
        return physical_ms(newest) if newest else 0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_ms() / 1000, UTC)

    def floor(self) -> datetime | None:
        ms = self.trusted_floor_ms()
        return datetime.fromtimestamp(ms / 1000, UTC) if ms else None

    def admit(self, profile: Profile) -> Profile:
        admitted = super().admit(profile)
        if not self.enforced:
            return admitted
        if not profile.cert:
            raise ProtocolError(Code.UNTRUSTED, f"node {profile.node_id} has no certificate from this district's CA")
        try:
            identity = verify_node_certificate(
                parse_certificate(profile.cert), self.ca, now=self.now(), trusted_time_floor=self.floor()
            )
        except CertificateRejected as e:
            code = Code.REVOKED if e.reason == Reason.REVOKED else Code.UNTRUSTED
            raise ProtocolError(code, f"certificate of {profile.node_id} refused: {e}") from e
        if identity.node_id != profile.node_id:
            raise ProtocolError(Code.UNTRUSTED, "the certificate names another node")
        return replace(admitted, role=identity.role.value, unit=identity.unit, name=identity.name)

    def revoked_after(self, origin: str, scope: str) -> int | None:
        return revoked_after(origin, scope)

    def check_caller(self, profile: Profile) -> Profile:
        admitted = self.admit(profile)
        refuse_if_revoked(admitted.node_id)
        return admitted


def certified_profile(profile: Profile, trust: NodeTrust) -> Profile:
    """This node's own profile with its certificate attached (when it has one)."""
    return replace(profile, cert=trust.own_cert_der) if trust.own is not None else profile
