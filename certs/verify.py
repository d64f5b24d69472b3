"""Verify a peer's node certificate against the district CA, at a trusted time, with a CRL.

:func:`verify_node_certificate` is the one place that decides whether a certificate is
accepted. It raises :class:`~certs.errors.CertificateRejected` with a :class:`Reason`; it never
returns a boolean. The checks run in this order, so the reason names the first rule broken
and nothing from an unauthenticated certificate is ever interpreted:

1. CA: the anchor must be a CA certificate (basicConstraints CA, keyUsage keyCertSign), else
   ``UNTRUSTED``.
2. Chain: the certificate's issuer is the CA's subject and its signature verifies under the
   CA key (``Certificate.verify_directly_issued_by``: our PKI has one level), else ``UNTRUSTED``.
3. Usage: a leaf (not a CA), keyUsage digitalSignature, extendedKeyUsage clientAuth *and*
   serverAuth, else ``WRONG_USAGE``.
4. Identity: subject fields well formed (``MALFORMED``), CN = hash of the key (``ID_MISMATCH``).
5. Time: ``NOT_YET_VALID`` / ``EXPIRED`` for the leaf and for the CA, judged at the
   *effective time* (below).
6. Revocation: if a CRL is given, its signature is checked against the CA first
   (``UNTRUSTED``), then the serial (``REVOKED``).

Trusted-time policy (reliability.md §0.4-0.5)
----------------------------------------------
Commune PCs have wrong clocks, some by years. The caller passes ``now`` (the local clock) and,
when it has one, ``trusted_time_floor``: the newest time it has seen vouched for by the
district (e.g. the ``last_update`` of a verified CRL or a district-signed timestamp). Every
validity check uses ``effective = max(now, trusted_time_floor)``:

* *not yet valid* means ``effective < not_before``. A clock ten years behind, with a recent
  floor, therefore accepts a certificate the district issued last week;
* *expired* means ``effective > not_after``. Because the floor can only move time forward, a
  clock that is behind cannot bring an expired certificate back to life: the floor, not the
  wrong clock, decides;
* a clock that is *ahead* is not corrected (the floor never moves time backwards); certificates
  then look expired early, and the error message shows the local and effective times so the
  operator sees the clock is wrong. Failing closed is the right side to fail on.

Call this after the TLS handshake (``certs/tls.py``): OpenSSL checks the chain there, but is
told not to check dates, because it only knows the local clock.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs.errors import CertificateRejected, Reason
from certs.identity import NodeIdentity, ca_fingerprint, identity_from_certificate, require_utc
from certs.revocation import check_not_revoked

__all__ = ["ca_fingerprint", "effective_time", "identity_from_certificate", "verify_node_certificate"]


def effective_time(now: datetime, trusted_time_floor: datetime | None = None) -> datetime:
    """The time validity is judged at: the later of the local clock and the trusted floor."""
    now = require_utc(now)
    if trusted_time_floor is None:
        return now
    return max(now, require_utc(trusted_time_floor))


def _extension(cert: x509.Certificate, kind: type[x509.ExtensionType]) -> x509.ExtensionType | None:
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as e:  # duplicate or undecodable extension
        raise CertificateRejected(Reason.MALFORMED, f"bad extensions: {e}") from e


def _check_anchor(ca_cert: x509.Certificate) -> None:
    constraints = _extension(ca_cert, x509.BasicConstraints)
    usage = _extension(ca_cert, x509.KeyUsage)
    if not (isinstance(constraints, x509.BasicConstraints) and constraints.ca):
        raise CertificateRejected(Reason.UNTRUSTED, "the trust anchor is not a CA certificate")
    if not (isinstance(usage, x509.KeyUsage) and usage.key_cert_sign):
        raise CertificateRejected(Reason.UNTRUSTED, "the trust anchor may not sign certificates")


def _check_chain(cert: x509.Certificate, ca_cert: x509.Certificate) -> None:
    try:
        cert.verify_directly_issued_by(ca_cert)
    except ValueError as e:  # issuer name differs
        raise CertificateRejected(Reason.UNTRUSTED, "certificate was not issued by this district CA") from e
    except (InvalidSignature, TypeError, UnsupportedAlgorithm) as e:
        raise CertificateRejected(Reason.UNTRUSTED, "certificate signature does not verify under the CA key") from e


def _check_usage(cert: x509.Certificate) -> None:
    constraints = _extension(cert, x509.BasicConstraints)
    usage = _extension(cert, x509.KeyUsage)
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if isinstance(constraints, x509.BasicConstraints) and constraints.ca:
        raise CertificateRejected(Reason.WRONG_USAGE, "a CA certificate cannot identify a node")
    if not (isinstance(usage, x509.KeyUsage) and usage.digital_signature):
        raise CertificateRejected(Reason.WRONG_USAGE, "keyUsage must include digitalSignature")
    needed = {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}
    if not (isinstance(eku, x509.ExtendedKeyUsage) and needed <= set(eku)):
        raise CertificateRejected(Reason.WRONG_USAGE, "extendedKeyUsage must include clientAuth and serverAuth")


def _check_validity(cert: x509.Certificate, what: str, at: datetime, now: datetime) -> None:
    clock = f"(judged at {at.isoformat()}; local clock {now.isoformat()})"
    if at < cert.not_valid_before_utc:
        raise CertificateRejected(
            Reason.NOT_YET_VALID, f"{what} valid only from {cert.not_valid_before_utc.isoformat()} {clock}"
        )
    if at > cert.not_valid_after_utc:
        raise CertificateRejected(Reason.EXPIRED, f"{what} expired on {cert.not_valid_after_utc.isoformat()} {clock}")


def verify_node_certificate(
    cert: x509.Certificate,
    ca_cert: x509.Certificate,
    *,
    crl: x509.CertificateRevocationList | None = None,
    now: datetime,
    trusted_time_floor: datetime | None = None,
) -> NodeIdentity:
    """Accept ``cert`` as a node of the district whose CA is ``ca_cert``, or raise.

    :param now: the local clock (timezone-aware).
    :param trusted_time_floor: newest district-vouched time known; see the module docstring.
    :raises CertificateRejected: with the reason of the first rule that failed.
    """
    at = effective_time(now, trusted_time_floor)
    _check_anchor(ca_cert)
    _check_chain(cert, ca_cert)
    _check_usage(cert)
    identity = identity_from_certificate(cert)
    _check_validity(ca_cert, "the CA certificate", at, require_utc(now))
    _check_validity(cert, f"certificate of node {identity.node_id}", at, require_utc(now))
    if crl is not None:
        check_not_revoked(cert, crl, ca_cert)
    return identity
