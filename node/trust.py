"""A node's trust material and policy: the district CA, its own certificate, the trusted time.

Implements :class:`sync.trust.Trust` with ``certs``. A node whose data directory holds the
district CA certificate (``ca.pem``: enrolled nodes, and the district that made the CA)
*enforces* it: every profile it admits — a caller, a relayed origin, an answering peer — must
carry a certificate of that CA, valid and unrevoked, and the role, unit and name come from the
certificate, never from what the profile claims. A node without ``ca.pem`` admits only nodes it
already knows, unless the development switch ``DEV_OPEN_TRUST`` opens it to self-signed profiles
(:class:`sync.trust.OpenTrust`); ``motcua doctor`` reports which.

At the sync endpoint a first-contact caller is identified before its body is read by the
certificate it sends in ``X-Motcua-Cert``: parsed (a few hundred bytes), its key must hash to the
caller's node id, the request signature must verify with that key, and only then is the chain to
the CA checked (:meth:`NodeTrust.identify`, :meth:`NodeTrust.vouch`). A known caller needs no
header: its certified profile is in the ledger.

TLS anchors: sync pins ``ca.pem``, plus the district TLS CA (``tls-ca.pem``, which issues the
ECDSA P-256 certificates nodes serve https with, for browsers) only while the district CA's
signature of it (``tls-ca.sig``) verifies under ``ca.pem``: see :attr:`NodeTrust.pinned_ca_files`
and ``node/https.py``.

Trusted time: certificate validity is judged at ``max(PC clock, newest district-stamped time
this node holds)`` (reliability.md §0.4-0.5), so a PC whose clock is years behind still checks
certificates correctly, and a clock set back cannot revive an expired certificate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from certs import CertificateRejected, CertsError, Reason, verify_node_certificate
from certs.identity import ca_fingerprint, certificate_der, node_id_from_certificate, parse_certificate
from certs.layout import NodeLayout
from certs.tlsca import check_endorsement, read_endorsement
from sync.chain import SignatureVerifier
from sync.clock import physical_ms
from sync.protocol import Code, Profile, ProtocolError
from sync.store import PeeweeStore
from sync.trust import OpenTrust, refuse_if_revoked

MAX_CERT_BYTES = 4096  # a node certificate is ~500 bytes of DER; anything far larger is not one


class NodeTrust(OpenTrust):
    def __init__(self, data_dir: Path, verify_signature: SignatureVerifier, wall_ms: Callable[[], int],
                 store: PeeweeStore, dev_open_trust: bool = False) -> None:
        super().__init__(verify_signature, store, open_to_strangers=dev_open_trust)
        self.store: PeeweeStore = store
        self.dev_open_trust = dev_open_trust
        self.layout = NodeLayout(data_dir)
        self.wall_ms = wall_ms
        self.reload()

    def reload(self) -> None:
        """Read ca.pem, node.pem and the TLS CA again (after enrollment or a TLS request)."""
        ca = self.layout.ca_certificate
        own = self.layout.certificate
        self.ca = parse_certificate(ca.read_bytes()) if ca.exists() else None
        self.own = parse_certificate(own.read_bytes()) if own.exists() else None
        self.enforced = self.ca is not None
        # The development switch never weakens a node that holds a CA.
        self.open_to_strangers = self.dev_open_trust and not self.enforced
        self.tls_ca, self.tls_endorsement = self._endorsed_tls_ca()

    def _endorsed_tls_ca(self) -> tuple[Any, bytes]:  # (x509.Certificate | None, endorsement)
        """tls-ca.pem and its signature, if the district CA signed it; else (None, b"")."""
        if self.ca is None or not self.layout.tls_ca_certificate.exists():
            return None, b""
        try:
            tls_ca = parse_certificate(self.layout.tls_ca_certificate.read_bytes())
            endorsement = read_endorsement(self.layout.tls_endorsement)
            check_endorsement(tls_ca, endorsement, self.ca)
        except (OSError, CertsError):
            return None, b""  # motcua doctor says so; sync pins ca.pem alone meanwhile
        return tls_ca, endorsement

    @property
    def pinned_ca_files(self) -> list[str]:
        """The TLS anchors of sync: the district CA, and its TLS CA once endorsed."""
        if self.ca is None:
            return []
        files = [str(self.layout.ca_certificate)]
        if self.tls_ca is not None:
            files.append(str(self.layout.tls_ca_certificate))
        return files

    @property
    def ca_fingerprint(self) -> str:
        """The district CA's fingerprint ("" without a CA), as mDNS advertises it."""
        return ca_fingerprint(self.ca) if self.ca is not None else ""

    @property
    def own_cert_der(self) -> bytes:
        return certificate_der(self.own) if self.own is not None else b""

    def trusted_floor_ms(self) -> int:
        """Newest time a district vouched for: the stamps of district events this node holds."""
        P = self.store.rows.Profile
        districts = [node_id for (node_id,) in P.select(P.node_id).where(P.role == "district").tuples()]
        newest = self.store.max_hlc(districts)
        return physical_ms(newest) if newest else 0

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.wall_ms() / 1000, UTC)

    def floor(self) -> datetime | None:
        ms = self.trusted_floor_ms()
        return datetime.fromtimestamp(ms / 1000, UTC) if ms else None

    def admit(self, profile: Profile) -> Profile:
        if not self.enforced:
            return super().admit(profile)
        if not profile.cert:
            raise ProtocolError(Code.UNTRUSTED, f"node {profile.node_id} has no certificate from this district's CA")
        # The certificate binds key, id, role, unit and name; the profile's self-signature adds
        # nothing to it, and no longer covers a stored profile whose fields were taken from it.
        identity = self._verify_certificate(profile.node_id, profile.cert)
        return replace(profile, role=identity.role.value, unit=identity.unit, name=identity.name)

    def _verify_certificate(self, node_id: str, der: bytes):  # -> certs.NodeIdentity
        try:
            identity = verify_node_certificate(
                parse_certificate(der), self.ca, now=self.now(), trusted_time_floor=self.floor()
            )
        except CertificateRejected as e:
            code = Code.REVOKED if e.reason == Reason.REVOKED else Code.UNTRUSTED
            raise ProtocolError(code, f"certificate of {node_id} refused: {e}") from e
        if identity.node_id != node_id:
            raise ProtocolError(Code.UNTRUSTED, "the certificate names another node")
        return identity

    def identify(self, node_id: str, cert: bytes, key: bytes) -> Profile:
        if not self.enforced:
            return super().identify(node_id, cert, key)
        if cert:
            if len(cert) > MAX_CERT_BYTES:
                raise ProtocolError(Code.UNTRUSTED, f"X-Motcua-Cert over {MAX_CERT_BYTES} bytes is no node certificate")
            try:
                parsed = parse_certificate(cert)
                key_id = node_id_from_certificate(parsed)
            except CertificateRejected as e:
                raise ProtocolError(Code.UNTRUSTED, f"X-Motcua-Cert: {e}") from e
            if key_id != node_id:
                raise ProtocolError(Code.UNTRUSTED, "X-Motcua-Cert certifies another node's key")
            raw = parsed.public_key().public_bytes_raw()
            # Role, unit and name are filled by vouch(), from the certificate once it verified.
            return Profile(node_id, raw, "", "", "", cert=cert)
        known = self.known(node_id)
        if known is not None and known.cert:
            return known
        if key:  # it introduced itself, with no certificate to show
            raise ProtocolError(Code.UNTRUSTED, f"node {node_id} has no certificate from this district's CA")
        raise ProtocolError(Code.UNKNOWN_NODE, f"node {node_id} is not known here: present your certificate "
                            "(X-Motcua-Cert)")

    def vouch(self, identified: Profile) -> Profile:
        if not self.enforced:
            return super().vouch(identified)
        identity = self._verify_certificate(identified.node_id, identified.cert)
        refuse_if_revoked(self.store, identified.node_id)
        return replace(identified, role=identity.role.value, unit=identity.unit, name=identity.name)


def certified_profile(profile: Profile, trust: NodeTrust) -> Profile:
    """This node's own profile with its certificate attached (when it has one)."""
    return replace(profile, cert=trust.own_cert_der) if trust.own is not None else profile
