"""The district TLS CA: ECDSA P-256 https certificates that browsers accept.

Why a second CA
---------------
Node certificates (``certs/ca.py``) certify each node's Ed25519 key, and the district CA key is
Ed25519 too. Chromium (and Chrome, Edge, Firefox) do not accept Ed25519 in TLS: neither as the
server's handshake key nor as a signature in the certificate chain. So https is served with a
separate chain, of ECDSA P-256 keys and ECDSA-SHA256 signatures:

    TLS CA (self-signed, P-256, ``CN=motcua district TLS CA <unit>``)  ← staff browsers trust it
      └ TLS certificate of a node (P-256 key, SAN = the node's host names and IP addresses)

The TLS chain proves nothing about *who* a node is: its node id, role and unit stay in the
Ed25519 node certificate, and sync still signs every request and answer with the node key. A
TLS certificate names the node id in its subject only for people reading it.

How the TLS CA is tied to the district CA
-----------------------------------------
The district CA key signs the TLS CA certificate (:func:`endorse`; a detached Ed25519
signature over its DER, domain-separated, stored as ``tls-ca.sig`` next to ``tls-ca.pem``). A
node adds ``tls-ca.pem`` to the anchors it pins for sync only if that signature verifies under
the ``ca.pem`` it already trusts (:func:`check_endorsement`), so the district CA remains the one
root of trust, and a TLS CA can reach a node over any channel (an enrollment answer, a peer's
``/sync/v1/tls-ca``) without that channel being trusted. It is not an X.509 cross-certificate
on purpose: the district CA certificate has ``pathLen 0`` (it signs only leaves), so OpenSSL
would refuse a chain through an intermediate under it, and re-issuing it would change the CA
fingerprint every node pins.

What a node may be named (:func:`check_names`)
----------------------------------------------
Staff browsers trust the TLS CA for every name, so a node that asks the district for a
certificate may only be given names that belong on an office LAN: IP addresses that are
private, loopback or link-local; ``localhost``; single-label machine names; names under
``.local`` (mDNS), ``.lan``, ``.home.arpa``, ``.internal``; and names under suffixes the district
lists (its ``TRUSTED_HOSTS`` entries starting with a dot). A district issuing its *own*
certificate (``motcua ca init``, ``motcua tls request`` on the district) is its operator's
decision and may also name public addresses and names.

Invariants
----------
* Time is passed in; nothing here reads the clock. ``not_before`` is ``now`` minus the clock
  skew allowance, as for node certificates; nothing outlives the certificate that issued it.
* The TLS CA is a CA (basicConstraints CA, pathLen 0, keyUsage keyCertSign + cRLSign); a TLS
  certificate is a leaf (CA false, keyUsage digitalSignature, extendedKeyUsage serverAuth) with
  at least one subjectAltName. Browsers ignore the subject CN; only the SAN counts.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.ca import CLOCK_SKEW_ALLOWANCE, DistrictCA, self_signed_ca_certificate
from certs.errors import CertificateRejected, KeyFileError, PkiError, Reason
from certs.identity import (
    ORGANIZATION,
    UNIT_RE,
    NodeIdentity,
    certificate_pem,
    parse_certificate,
    require_utc,
)
from certs.keys import generate_tls_key, load_tls_key, save_private_key
from certs.layout import CaLayout
from certs.storage import replace_file, write_new_file

TLS_LEAF_LIFETIME = timedelta(days=2 * 365)
MAX_NAMES = 32
LAN_SUFFIXES = ("local", "lan", "home.arpa", "internal", "localhost")
_ENDORSEMENT_PREFIX = b"motcua/tls-ca/v1\x00"
_REQUEST_PREFIX = b"motcua/tls-request/v1\x00"
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")

_CA_USAGE = x509.KeyUsage(
    digital_signature=False, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=True, crl_sign=True, encipher_only=False, decipher_only=False,
)
_LEAF_USAGE = x509.KeyUsage(
    digital_signature=True, content_commitment=False, key_encipherment=False, data_encipherment=False,
    key_agreement=False, key_cert_sign=False, crl_sign=False, encipher_only=False, decipher_only=False,
)


@dataclass(frozen=True)
class TlsCA:
    """The TLS CA key and its self-signed certificate (both stay on the district server)."""

    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _is_p256(key: object) -> bool:
    return isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and isinstance(
        key.curve, ec.SECP256R1
    )


def create_tls_ca(unit: str, *, now: datetime, lifetime: timedelta,
                  key: ec.EllipticCurvePrivateKey | None = None) -> TlsCA:
    """A self-signed P-256 TLS CA for the district ``unit``, valid from ``now`` for ``lifetime``."""
    now = require_utc(now)
    if not UNIT_RE.match(unit):
        raise ValueError(f"unit code {unit!r} must be 1-40 characters of [0-9A-Za-z._-]")
    key = key or generate_tls_key()
    cert = self_signed_ca_certificate(key, unit, f"motcua district TLS CA {unit}", _CA_USAGE, hashes.SHA256(),
                                      now=now, lifetime=lifetime)
    return TlsCA(key, cert)


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def endorse(tls_ca_certificate: x509.Certificate, ca: DistrictCA) -> bytes:
    """The district CA's signature of a TLS CA certificate (see the module docstring)."""
    return ca.key.sign(_ENDORSEMENT_PREFIX + _der(tls_ca_certificate))


def check_endorsement(tls_ca_certificate: x509.Certificate, endorsement: bytes,
                      ca_certificate: x509.Certificate) -> None:
    """Refuse a TLS CA certificate the district CA did not sign, or that is no P-256 CA.

    :raises CertificateRejected: ``UNTRUSTED`` (signature), ``WRONG_USAGE`` (not a CA, not P-256).
    """
    ca_key = ca_certificate.public_key()
    if not isinstance(ca_key, Ed25519PublicKey):
        raise CertificateRejected(Reason.UNTRUSTED, "the district CA certificate has no Ed25519 key")
    try:
        ca_key.verify(endorsement, _ENDORSEMENT_PREFIX + _der(tls_ca_certificate))
    except InvalidSignature as e:
        raise CertificateRejected(Reason.UNTRUSTED, "this TLS CA is not signed by the district CA") from e
    constraints = _extension(tls_ca_certificate, x509.BasicConstraints)
    if not (isinstance(constraints, x509.BasicConstraints) and constraints.ca) or not _is_p256(
        tls_ca_certificate.public_key()
    ):
        raise CertificateRejected(Reason.WRONG_USAGE, "a TLS CA must be a CA certificate with an ECDSA P-256 key")


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as e:
        raise CertificateRejected(Reason.MALFORMED, f"bad extensions: {e}") from e


# -- names ----------------------------------------------------------------------------------


def _lan_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_link_local or (ip.is_private and not ip.is_unspecified and not ip.is_multicast)


def _under(name: str, suffix: str) -> bool:
    suffix = suffix.strip(".").lower()
    return bool(suffix) and (name == suffix or name.endswith("." + suffix))


def check_names(names: Iterable[str], *, lan_only: bool = True, suffixes: Iterable[str] = ()) -> list[str]:
    """The names of a TLS certificate, normalised (lower case, no trailing dot, no duplicates).

    ``lan_only`` (a node asking the district) admits only what belongs on an office LAN (module
    docstring); ``suffixes`` adds domains the district vouches for (``.huyen.gov.vn`` or
    ``huyen.gov.vn``: both admit the name and its subdomains). A leading ``*.`` makes a
    wildcard name, judged by the rest.

    :raises ValueError: no name, too many, one ill-formed or not admitted.
    """
    allowed = (*LAN_SUFFIXES, *suffixes)
    out: list[str] = []
    for raw in names:
        if not isinstance(raw, str) or not raw.strip():
            raise ValueError("a name must be a non-empty string")
        name = raw.strip().lower().rstrip(".")
        if name.startswith("[") and name.endswith("]"):
            name = name[1:-1]
        try:
            ip = ipaddress.ip_address(name)
        except ValueError:
            ip = None
        if ip is not None:
            if lan_only and not _lan_address(ip):
                raise ValueError(f"{raw!r}: only private, loopback or link-local addresses may be certified")
            name = str(ip)
        else:
            labels = name.removeprefix("*.").split(".")
            if len(name) > 253 or not all(_LABEL.match(label) for label in labels):
                raise ValueError(f"{raw!r} is not a host name")
            base = name.removeprefix("*.")
            if lan_only and "." in base and not any(_under(base, s) for s in allowed):
                raise ValueError(f"{raw!r}: the district certifies only LAN names (.local, .lan, ...) and "
                                 f"names under its own domains")
            if name.startswith("*.") and "." not in base:
                raise ValueError(f"{raw!r}: a wildcard needs a domain")
        if name not in out:
            out.append(name)
    if not out:
        raise ValueError("a TLS certificate needs at least one host name or address")
    if len(out) > MAX_NAMES:
        raise ValueError(f"at most {MAX_NAMES} names")
    return out


def _general_names(names: Sequence[str]) -> list[x509.GeneralName]:
    result: list[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            result.append(x509.DNSName(name))
    return result


def names_of(cert: x509.Certificate) -> list[str]:
    """The host names and addresses a TLS certificate is valid for (its SAN)."""
    san = _extension(cert, x509.SubjectAlternativeName)
    if not isinstance(san, x509.SubjectAlternativeName):
        return []
    return [str(n.value) for n in san if isinstance(n, x509.DNSName | x509.IPAddress)]


# -- issuing --------------------------------------------------------------------------------


def issue_tls_certificate(
    public_key: ec.EllipticCurvePublicKey,
    *,
    identity: NodeIdentity,
    names: Sequence[str],
    tls_ca: TlsCA,
    now: datetime,
    lifetime: timedelta = TLS_LEAF_LIFETIME,
) -> x509.Certificate:
    """An https certificate for ``public_key`` (P-256), naming ``names`` (already checked).

    :raises ValueError: not a P-256 key, no names, or the TLS CA is not valid at ``now``.
    """
    now = require_utc(now)
    if not _is_p256(public_key):
        raise ValueError("a TLS key must be ECDSA P-256")
    if not names:
        raise ValueError("a TLS certificate needs at least one host name or address")
    ca_cert = tls_ca.certificate
    if not (ca_cert.not_valid_before_utc <= now <= ca_cert.not_valid_after_utc):
        raise ValueError("the TLS CA certificate is not valid at the issuing time")
    subject = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
        x509.NameAttribute(NameOID.LOCALITY_NAME, identity.unit),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, identity.role.value),
        x509.NameAttribute(NameOID.COMMON_NAME, identity.node_id),
    ])
    ca_ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(max(now - CLOCK_SKEW_ALLOWANCE, ca_cert.not_valid_before_utc))
        .not_valid_after(min(now + lifetime, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_LEAF_USAGE, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(_general_names(names)), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski), critical=False)
        .sign(tls_ca.key, hashes.SHA256())
    )


def check_tls_certificate(cert: x509.Certificate, tls_ca_certificate: x509.Certificate,
                          key: ec.EllipticCurvePrivateKey | None = None) -> None:
    """Refuse a TLS certificate not issued by this TLS CA (or not for ``key``).

    :raises CertificateRejected: ``UNTRUSTED`` or ``WRONG_USAGE``.
    """
    try:
        cert.verify_directly_issued_by(tls_ca_certificate)
    except (ValueError, InvalidSignature, TypeError, UnsupportedAlgorithm) as e:
        raise CertificateRejected(Reason.UNTRUSTED, "the TLS certificate is not issued by the district TLS CA") from e
    if key is not None and cert.public_key() != key.public_key():
        raise CertificateRejected(Reason.WRONG_USAGE, "the TLS certificate is not for this key")
    if not names_of(cert):
        raise CertificateRejected(Reason.WRONG_USAGE, "the TLS certificate names no host")


# -- the CA directory -----------------------------------------------------------------------


def save_tls_ca(tls_ca: TlsCA, endorsement: bytes, layout: CaLayout, *, passphrase: bytes | None = None) -> None:
    """Write the TLS CA into a CA directory; refuse if one is already there."""
    if layout.tls_key.exists() or layout.tls_certificate.exists():
        raise PkiError(f"{layout.root} already holds a TLS CA; refusing to replace it")
    save_private_key(tls_ca.key, layout.tls_key, passphrase=passphrase)
    write_new_file(layout.tls_certificate, certificate_pem(tls_ca.certificate), mode=0o644)
    replace_file(layout.tls_endorsement, endorsement.hex().encode("ascii") + b"\n")


def load_tls_ca(layout: CaLayout, *, passphrase: bytes | None = None) -> TlsCA:
    """The TLS CA of a CA directory; refuse a key that is not the certificate's."""
    try:
        cert = parse_certificate(layout.tls_certificate.read_bytes())
        key = load_tls_key(layout.tls_key, passphrase=passphrase)
    except OSError as e:
        raise PkiError(f"no TLS CA in {layout.root}: {e.strerror}") from e
    except KeyFileError as e:
        raise PkiError(str(e)) from e
    if cert.public_key() != key.public_key():
        raise PkiError(f"{layout.tls_key} is not the key of {layout.tls_certificate}")
    return TlsCA(key, cert)


def read_endorsement(path: Any) -> bytes:
    """The endorsement stored at ``path`` (hex text)."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError, UnicodeDecodeError) as e:
        raise PkiError(f"{path} is not a TLS CA signature: {e}") from e


def ensure_tls_ca(layout: CaLayout, ca: DistrictCA, *, now: datetime,
                  passphrase: bytes | None = None) -> TlsCA:
    """The CA directory's TLS CA, created (valid as long as the district CA) if it has none yet:
    a CA directory made before the TLS CA existed gets one the first time it is needed."""
    if layout.tls_certificate.exists():
        return load_tls_ca(layout, passphrase=passphrase)
    lifetime = ca.certificate.not_valid_after_utc - require_utc(now)
    tls_ca = create_tls_ca(ca.unit or "district", now=now, lifetime=lifetime)
    save_tls_ca(tls_ca, endorse(tls_ca.certificate, ca), layout, passphrase=passphrase)
    return tls_ca
