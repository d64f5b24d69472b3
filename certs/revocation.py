"""Revocation: the CRL the district signs, the check against it, and the notice for the event log.

A node is revoked in two complementary forms (DESIGN §5):

* a :class:`RevocationNotice` — "node X revoked after its seq N" — which the district puts in
  a shared-scope event, so it gossips to every node like any data: events of X up to seq N
  stay valid, anything later is refused, even by nodes that never see a CRL;
* a CRL listing the serials of X's certificates, which :func:`check_not_revoked` (and so
  :func:`certs.verify.verify_node_certificate`) uses to refuse X's TLS connections.

Invariants
----------
* :func:`check_not_revoked` verifies the CRL's signature and issuer against the CA *before*
  reading a single entry; a CRL from another CA is refused (``UNTRUSTED``), never ignored.
* A stale CRL (past ``next_update``) is still used: revocations are never undone, and an
  offline commune must keep refusing what it knows is revoked. Staleness is reported by
  :func:`crl_is_stale` for the operator; it is not a reason to accept anyone.
* Revocation dates and notices carry times given by the caller (``now``), never the clock.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from certs.ca import DistrictCA
from certs.errors import CertificateRejected, Reason
from certs.identity import NODE_ID_RE, require_utc

NOTICE_FORMAT = 1


class RevocationReason(enum.Enum):
    """Why a node was revoked (a subset of RFC 5280 CRLReason, with stable string values)."""

    UNSPECIFIED = "unspecified"
    KEY_COMPROMISE = "key_compromise"
    SUPERSEDED = "superseded"  # replaced by a new device or key
    CESSATION_OF_OPERATION = "cessation_of_operation"  # device retired, lost, unit merged

    @property
    def crl_flag(self) -> x509.ReasonFlags:
        return x509.ReasonFlags[self.value]


@dataclass(frozen=True)
class RevokedSerial:
    """One CRL entry: a certificate serial and when it was revoked."""

    serial: int
    revoked_at: datetime
    reason: RevocationReason = RevocationReason.UNSPECIFIED


def build_crl(
    ca: DistrictCA,
    revoked: Iterable[RevokedSerial],
    *,
    now: datetime,
    next_update_in: timedelta,
    crl_number: int,
) -> x509.CertificateRevocationList:
    """A CRL signed by ``ca`` listing ``revoked``; ``crl_number`` must grow with each CRL."""
    now = require_utc(now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + next_update_in)
        .add_extension(x509.CRLNumber(crl_number), critical=False)
    )
    for entry in sorted(revoked, key=lambda e: e.serial):
        entry_builder = (
            x509.RevokedCertificateBuilder().serial_number(entry.serial).revocation_date(require_utc(entry.revoked_at))
        )
        if entry.reason is not RevocationReason.UNSPECIFIED:  # RFC 5280 5.3.1: omit "unspecified"
            entry_builder = entry_builder.add_extension(x509.CRLReason(entry.reason.crl_flag), critical=False)
        builder = builder.add_revoked_certificate(entry_builder.build())
    return builder.sign(ca.key, None)


def crl_pem(crl: x509.CertificateRevocationList) -> bytes:
    return crl.public_bytes(serialization.Encoding.PEM)


def parse_crl(data: bytes) -> x509.CertificateRevocationList:
    """Parse a PEM or DER CRL; raise ``CertificateRejected(MALFORMED)`` on anything else."""
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError as e:
        raise CertificateRejected(Reason.MALFORMED, f"not a CRL: {e}") from e


def crl_number(crl: x509.CertificateRevocationList) -> int:
    """The CRL's sequence number (0 if it carries none)."""
    try:
        return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    except x509.ExtensionNotFound:
        return 0


def check_crl_signature(crl: x509.CertificateRevocationList, ca_cert: x509.Certificate) -> None:
    """Raise ``CertificateRejected(UNTRUSTED)`` unless ``ca_cert`` issued and signed ``crl``."""
    ca_key = ca_cert.public_key()
    if crl.issuer != ca_cert.subject:
        raise CertificateRejected(Reason.UNTRUSTED, "CRL was issued by another authority")
    if not isinstance(ca_key, Ed25519PublicKey) or not crl.is_signature_valid(ca_key):
        raise CertificateRejected(Reason.UNTRUSTED, "CRL signature does not verify under the CA key")


def check_not_revoked(cert: x509.Certificate, crl: x509.CertificateRevocationList, ca_cert: x509.Certificate) -> None:
    """Raise ``CertificateRejected(REVOKED)`` if ``crl`` lists ``cert``; verify the CRL first."""
    check_crl_signature(crl, ca_cert)
    if cert.issuer != crl.issuer:
        raise CertificateRejected(Reason.UNTRUSTED, "certificate and CRL come from different authorities")
    entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
    if entry is not None:
        raise CertificateRejected(
            Reason.REVOKED, f"serial {cert.serial_number:X} revoked on {entry.revocation_date_utc.isoformat()}"
        )


def crl_is_stale(crl: x509.CertificateRevocationList, now: datetime) -> bool:
    """True when ``now`` is past the CRL's next update (fetch a newer one; keep using this one)."""
    next_update = crl.next_update_utc
    return next_update is not None and require_utc(now) > next_update


@dataclass(frozen=True)
class RevocationNotice:
    """The statement for the district's event log: node X is revoked after its seq N.

    ``after_seq`` = N: the node's events with ``seq <= N`` stay valid; later ones are refused.
    ``revoked_at`` is epoch milliseconds, like ``sync.wire.Event.at``.
    """

    node_id: str
    after_seq: int
    reason: RevocationReason
    revoked_at: int

    def __post_init__(self) -> None:
        if not NODE_ID_RE.match(self.node_id):
            raise ValueError(f"node id {self.node_id!r} is not 32 lower-case hex characters")
        if type(self.after_seq) is not int or self.after_seq < 0:
            raise ValueError("after_seq must be a non-negative integer")
        if type(self.revoked_at) is not int or not 0 <= self.revoked_at < 2**53:
            raise ValueError("revoked_at must be epoch milliseconds")
        if not isinstance(self.reason, RevocationReason):
            raise ValueError("reason must be a RevocationReason")

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": NOTICE_FORMAT,
            "node_id": self.node_id,
            "after_seq": self.after_seq,
            "reason": self.reason.value,
            "revoked_at": self.revoked_at,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RevocationNotice:
        """Rebuild a notice; raise ``ValueError`` on unknown format, missing or extra fields."""
        if not isinstance(d, Mapping) or set(d) != {"v", "node_id", "after_seq", "reason", "revoked_at"}:
            raise ValueError("a revocation notice has exactly v, node_id, after_seq, reason, revoked_at")
        if d["v"] != NOTICE_FORMAT:
            raise ValueError(f"unknown revocation notice format {d['v']!r}")
        if not isinstance(d["node_id"], str):
            raise ValueError("node_id must be a string")
        return cls(d["node_id"], d["after_seq"], RevocationReason(d["reason"]), d["revoked_at"])
