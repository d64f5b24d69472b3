"""The district certificate authority: create it, issue node certificates, keep it on disk.

A district has one CA: an Ed25519 key and a self-signed certificate, ``CN=motcua district CA
<unit>``. It signs node certificates (binding node id, role, unit, name and validity; see
``certs/identity.py``) and CRLs (``certs/revocation.py``). Nothing else.

Invariants
----------
* Time is passed in (``now``, timezone-aware); nothing here reads the clock.
* ``not_before`` is ``now`` minus :data:`CLOCK_SKEW_ALLOWANCE`, so a peer whose clock is a few
  minutes behind the district's does not see a fresh certificate as "not yet valid".
* A node certificate is issued only if the node id given equals the hash of the key being
  certified, and it never outlives the CA certificate.
* The CA certificate is a CA (basicConstraints CA, pathLen 0: it signs only leaves) with
  keyUsage keyCertSign + cRLSign. Node certificates are leaves (CA false) with keyUsage
  digitalSignature and extendedKeyUsage clientAuth + serverAuth (every node is both a TLS
  client and a TLS server: communes sync with laptops and with the district).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.csr import SubjectKey, subject_public_key
from certs.errors import CertificateRejected, KeyFileError, PkiError, Reason
from certs.identity import (
    ORGANIZATION,
    UNIT_RE,
    Role,
    build_node_subject,
    ca_fingerprint,
    certificate_pem,
    check_identity_fields,
    parse_certificate,
    require_utc,
)
from certs.keys import generate_private_key, load_private_key, node_id_of, raw_public_key, save_private_key
from certs.layout import CaLayout
from certs.storage import write_new_file

CLOCK_SKEW_ALLOWANCE = timedelta(minutes=5)

_CA_KEY_USAGE = x509.KeyUsage(
    digital_signature=False,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=True,
    crl_sign=True,
    encipher_only=False,
    decipher_only=False,
)
_NODE_KEY_USAGE = x509.KeyUsage(
    digital_signature=True,
    content_commitment=False,
    key_encipherment=False,
    data_encipherment=False,
    key_agreement=False,
    key_cert_sign=False,
    crl_sign=False,
    encipher_only=False,
    decipher_only=False,
)
NODE_EXTENDED_KEY_USAGE = (ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH)


@dataclass(frozen=True)
class DistrictCA:
    """A CA key and its certificate (the key never leaves the district server)."""

    key: Ed25519PrivateKey
    certificate: x509.Certificate

    @property
    def fingerprint(self) -> str:
        return ca_fingerprint(self.certificate)

    @property
    def unit(self) -> str:
        attrs = self.certificate.subject.get_attributes_for_oid(NameOID.LOCALITY_NAME)
        return str(attrs[0].value) if attrs else ""


def self_signed_ca_certificate(key: Any, unit: str, common_name: str, usage: x509.KeyUsage,
                               algorithm: hashes.HashAlgorithm | None, *, now: datetime,
                               lifetime: timedelta) -> x509.Certificate:
    """The self-signed certificate of a district CA (this one, Ed25519, ``algorithm`` None; the TLS
    CA of :mod:`certs.tlsca`, P-256 with SHA-256): a CA that signs only leaves (pathLen 0), valid
    from ``now`` less the skew allowance for ``lifetime``."""
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.LOCALITY_NAME, unit),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW_ALLOWANCE)
        .not_valid_after(now + lifetime)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(ski, critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False)
        .sign(key, algorithm)
    )


def create_ca(unit: str, *, now: datetime, lifetime: timedelta, key: Ed25519PrivateKey | None = None) -> DistrictCA:
    """Create a district CA valid from ``now`` (less the skew allowance) for ``lifetime``."""
    now = require_utc(now)
    if not UNIT_RE.match(unit):
        raise ValueError(f"unit code {unit!r} must be 1-40 characters of [0-9A-Za-z._-]")
    key = key or generate_private_key()
    cert = self_signed_ca_certificate(key, unit, f"motcua district CA {unit}", _CA_KEY_USAGE, None,
                                      now=now, lifetime=lifetime)
    return DistrictCA(key, cert)


def issue_node_certificate(
    request: SubjectKey,
    *,
    node_id: str,
    role: Role | str,
    unit: str,
    name: str,
    ca: DistrictCA,
    now: datetime,
    lifetime: timedelta,
    serial: int | None = None,
) -> x509.Certificate:
    """Certify a node's Ed25519 key (from a CSR, a public key or 32 raw bytes).

    :raises CertificateRejected: ``ID_MISMATCH`` if ``node_id`` is not the hash of the key,
        ``MALFORMED`` if the request is not a valid Ed25519 CSR/key.
    :raises ValueError: bad role/unit/name, or a validity the CA certificate does not cover.
    """
    now = require_utc(now)
    public_key = subject_public_key(request)
    actual = node_id_of(public_key)
    if node_id != actual:
        raise CertificateRejected(Reason.ID_MISMATCH, f"node id {node_id} is not the id of this key ({actual})")
    role, name = check_identity_fields(node_id, role, unit, name)
    not_before, not_after = now - CLOCK_SKEW_ALLOWANCE, now + lifetime
    if not (ca.certificate.not_valid_before_utc <= now <= ca.certificate.not_valid_after_utc):
        raise ValueError("the CA certificate is not valid at the issuing time")
    if not_after > ca.certificate.not_valid_after_utc:
        raise ValueError("a node certificate may not outlive the CA certificate; shorten the lifetime")
    ca_ski = ca.certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(build_node_subject(node_id, role, unit, name))
        .issuer_name(ca.certificate.subject)
        .public_key(public_key)
        .serial_number(serial or x509.random_serial_number())
        .not_valid_before(max(not_before, ca.certificate.not_valid_before_utc))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_NODE_KEY_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage(list(NODE_EXTENDED_KEY_USAGE)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(ca.key, None)
    )


def save_ca(ca: DistrictCA, layout: CaLayout, *, passphrase: bytes | None = None) -> None:
    """Write a new CA directory; refuse if a CA key or certificate is already there."""
    layout.create()
    if layout.key.exists() or layout.certificate.exists():
        raise PkiError(f"{layout.root} already holds a CA; refusing to replace it")
    save_private_key(ca.key, layout.key, passphrase=passphrase)
    write_new_file(layout.certificate, certificate_pem(ca.certificate), mode=0o644)


def load_ca_certificate(layout: CaLayout) -> x509.Certificate:
    """The CA certificate of a CA directory."""
    try:
        return parse_certificate(layout.certificate.read_bytes())
    except OSError as e:
        raise PkiError(f"no CA certificate at {layout.certificate}: {e.strerror}") from e


def load_ca(layout: CaLayout, *, passphrase: bytes | None = None) -> DistrictCA:
    """Load the CA key and certificate; refuse if they do not belong together."""
    cert = load_ca_certificate(layout)
    try:
        key = load_private_key(layout.key, passphrase=passphrase)
    except KeyFileError as e:
        raise PkiError(str(e)) from e
    cert_key = cert.public_key()
    if not isinstance(cert_key, Ed25519PublicKey) or raw_public_key(key) != raw_public_key(cert_key):
        raise PkiError(f"{layout.key} is not the key of {layout.certificate}")
    return DistrictCA(key, cert)
