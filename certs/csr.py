"""Certificate requests: what a node hands the district to get its key certified.

A node asks for a certificate in one of two ways:

* a PKCS#10 CSR (:func:`build_csr`), signed by the node key, subject ``CN=<node id>``: the
  offline path, carried on a USB stick and issued with ``motcua ca issue``;
* an enrollment request with a one-time pairing code (``certs/enrollment.py``): the online path.

Either way the CSR states only the key (and the node id derived from it). Role, unit and name
are decided by the district, never taken from the request.

Invariants: :func:`subject_public_key` accepts a CSR only if its self-signature verifies
(proof that the requester holds the private key) and, when it names a node id, that id is the
hash of its key.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID

from certs.errors import CertificateRejected, Reason
from certs.keys import node_id_of

SubjectKey = x509.CertificateSigningRequest | Ed25519PublicKey | bytes


def build_csr(key: Ed25519PrivateKey) -> x509.CertificateSigningRequest:
    """A CSR for ``key`` with ``CN=<node id>``, self-signed (proof of possession)."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id_of(key))])
    return x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, None)


def csr_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)


def parse_request(data: bytes) -> x509.CertificateSigningRequest | Ed25519PublicKey:
    """Parse a PEM CSR or a PEM/DER Ed25519 public key (what ``motcua ca issue`` reads).

    :raises CertificateRejected: ``MALFORMED`` if the bytes are neither.
    """
    if b"CERTIFICATE REQUEST" in data:
        try:
            return x509.load_pem_x509_csr(data)
        except ValueError as e:
            raise CertificateRejected(Reason.MALFORMED, f"not a valid CSR: {e}") from e
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
        else:
            key = serialization.load_der_public_key(data)
    except ValueError as e:
        raise CertificateRejected(Reason.MALFORMED, "neither a CSR nor a public key") from e
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateRejected(Reason.MALFORMED, "node keys must be Ed25519")
    return key


def subject_public_key(request: SubjectKey) -> Ed25519PublicKey:
    """The Ed25519 key to certify, from a CSR, a public key object or 32 raw bytes.

    :raises CertificateRejected: ``MALFORMED`` (not Ed25519, bad bytes, bad CSR signature) or
        ``ID_MISMATCH`` (the CSR's CN is not the node id of its key).
    """
    if isinstance(request, bytes):
        try:
            return Ed25519PublicKey.from_public_bytes(request)
        except ValueError as e:
            raise CertificateRejected(Reason.MALFORMED, "raw public key must be 32 bytes") from e
    if isinstance(request, Ed25519PublicKey):
        return request
    key = request.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateRejected(Reason.MALFORMED, "node keys must be Ed25519")
    if not request.is_signature_valid:
        raise CertificateRejected(Reason.MALFORMED, "CSR signature does not verify")
    names = request.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if names and names[0].value != node_id_of(key):
        raise CertificateRejected(Reason.ID_MISMATCH, f"CSR names {names[0].value!r}, its key is {node_id_of(key)}")
    return key
