"""What a node certificate says: the :class:`NodeIdentity` it binds, and where each field lives.

Encoding (one place, standard X.520 attributes only, no private OIDs or extensions)::

    subject  CN          = node id (32 lower-case hex: sync.wire.node_id_from_public_key)
             OU          = role    ("commune" | "mobile" | "district")
             L           = unit    (administrative unit code, same shape as a sync scope)
             description = name    (human label, e.g. "UBND xã Tân Lập – quầy 1"; UTF-8)
             O           = "motcua"
    key      Ed25519 (the node's event-signing key)

``openssl x509 -noout -subject`` and ``ssl.getpeercert()`` show all of it; nothing hides in a
SAN. Hostnames are not used: peers are identified by node id, not by DNS name or IP (which on
a commune LAN change with DHCP).

Invariants
----------
* The node id in CN equals the hash of the certificate's own public key. A certificate that
  says otherwise is refused (:attr:`Reason.ID_MISMATCH`), so a certificate cannot lend its
  identity to another key.
* :func:`identity_from_certificate` only *reads*; it does not check who signed the certificate.
  Use :func:`certs.verify.verify_node_certificate` for anything received from a peer.
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import NameOID

from certs.errors import CertificateRejected, Reason
from certs.keys import node_id_of

ORGANIZATION = "motcua"
DESCRIPTION_OID = x509.ObjectIdentifier("2.5.4.13")  # X.520 "description"
NODE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
UNIT_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,39}$")  # a sync scope, minus the shared "*"
MAX_NAME = 64  # X.520 upper bound for name-like attributes; plenty for a label


class Role(enum.Enum):
    """What kind of node a certificate is for."""

    COMMUNE = "commune"
    MOBILE = "mobile"
    DISTRICT = "district"


@dataclass(frozen=True)
class NodeIdentity:
    """The facts a verified node certificate vouches for."""

    node_id: str
    role: Role
    unit: str
    name: str
    not_after: datetime
    serial: int

    @property
    def display(self) -> str:
        return f"{self.name} ({self.role.value}, {self.unit}, {format_node_id(self.node_id)})"


def format_node_id(node_id: str) -> str:
    """Display form of a node id: eight groups of four, easy to compare aloud."""
    return "-".join(node_id[i : i + 4] for i in range(0, len(node_id), 4))


def check_binding(role: Role | str, unit: str, name: str) -> tuple[Role, str]:
    """Validate what a certificate binds besides the node id; return the :class:`Role` and NFC name.

    :raises ValueError: a field has the wrong shape.
    """
    role = Role(role)
    if not UNIT_RE.match(unit):
        raise ValueError(f"unit code {unit!r} must be 1-40 characters of [0-9A-Za-z._-]")
    name = unicodedata.normalize("NFC", name).strip()
    if not 0 < len(name) <= MAX_NAME:
        raise ValueError(f"name must be 1-{MAX_NAME} characters")
    return role, name


def check_identity_fields(node_id: str, role: Role | str, unit: str, name: str) -> tuple[Role, str]:
    """:func:`check_binding` plus the node id's shape."""
    if not NODE_ID_RE.match(node_id):
        raise ValueError(f"node id {node_id!r} is not 32 lower-case hex characters")
    return check_binding(role, unit, name)


def build_node_subject(node_id: str, role: Role, unit: str, name: str) -> x509.Name:
    """The subject name of a node certificate (see the module docstring)."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.LOCALITY_NAME, unit),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role.value),
            x509.NameAttribute(DESCRIPTION_OID, name),
            x509.NameAttribute(NameOID.COMMON_NAME, node_id),
        ]
    )


def _single(name: x509.Name, oid: x509.ObjectIdentifier, label: str) -> str:
    attrs = name.get_attributes_for_oid(oid)
    if len(attrs) != 1 or not isinstance(attrs[0].value, str):
        raise CertificateRejected(Reason.MALFORMED, f"subject must carry exactly one {label}")
    return attrs[0].value


def node_id_from_certificate(cert: x509.Certificate) -> str:
    """The node id of the certificate's *public key* (whatever its subject claims)."""
    key = cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateRejected(Reason.MALFORMED, "node certificates must carry an Ed25519 key")
    return node_id_of(key)


def identity_from_certificate(cert: x509.Certificate) -> NodeIdentity:
    """Read the identity a node certificate claims; check shapes and the key/id binding only.

    :raises CertificateRejected: ``MALFORMED`` (missing/duplicate/ill-formed fields, not
        Ed25519) or ``ID_MISMATCH`` (CN is not the hash of the certificate's key).
    """
    subject = cert.subject
    node_id = _single(subject, NameOID.COMMON_NAME, "CN (node id)")
    role = _single(subject, NameOID.ORGANIZATIONAL_UNIT_NAME, "OU (role)")
    unit = _single(subject, NameOID.LOCALITY_NAME, "L (unit)")
    name = _single(subject, DESCRIPTION_OID, "description (name)")
    try:
        role_value, name = check_identity_fields(node_id, role, unit, name)
    except ValueError as e:
        raise CertificateRejected(Reason.MALFORMED, str(e)) from e
    key_id = node_id_from_certificate(cert)
    if key_id != node_id:
        raise CertificateRejected(Reason.ID_MISMATCH, f"certificate names node {node_id} but its key is node {key_id}")
    return NodeIdentity(node_id, role_value, unit, name, cert.not_valid_after_utc, cert.serial_number)


def ca_fingerprint(ca_cert: x509.Certificate) -> str:
    """SHA-256 of the CA certificate's DER, lower-case hex (published in zeroconf TXT records)."""
    return hashlib.sha256(ca_cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def parse_certificate(data: bytes) -> x509.Certificate:
    """Parse one certificate from PEM or DER bytes.

    :raises CertificateRejected: ``MALFORMED`` if the bytes are neither.
    """
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as e:
        raise CertificateRejected(Reason.MALFORMED, f"not an X.509 certificate: {e}") from e


def certificate_pem(cert: x509.Certificate) -> bytes:
    """PEM bytes of a certificate."""
    return cert.public_bytes(serialization.Encoding.PEM)


def certificate_der(cert: x509.Certificate) -> bytes:
    """DER bytes of a certificate (what travels in a sync profile)."""
    return cert.public_bytes(serialization.Encoding.DER)


def require_utc(now: datetime) -> datetime:
    """Return ``now`` in UTC; refuse a naive datetime (its meaning depends on the PC's zone)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("times passed to certs must be timezone-aware (use datetime.now(UTC))")
    return now.astimezone(UTC)
