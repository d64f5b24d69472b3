"""The request a certified node sends the district for an https certificate (see
:mod:`certs.tlsca` for the TLS CA and the names a node may be given).

The node signs, with its Ed25519 node key, the P-256 public key it wants certified and the
names; the district checks the node certificate against the district CA before anything else,
then the signature, then the key type. Nothing here reads the clock: ``now`` is passed in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.identity import NodeIdentity, parse_certificate
from certs.tlsca import _REQUEST_PREFIX, MAX_NAMES, _der, _is_p256
from certs.verify import verify_node_certificate


def _request_digest(tls_public_key: bytes, names: Sequence[str]) -> bytes:
    text = json.dumps([tls_public_key.hex(), list(names)], separators=(",", ":"), ensure_ascii=True)
    return _REQUEST_PREFIX + hashlib.sha256(text.encode("ascii")).digest()


@dataclass(frozen=True)
class TlsRequest:
    """What a certified node sends to get an https certificate: its node certificate, the P-256
    public key (SubjectPublicKeyInfo DER) and the names, signed with its Ed25519 node key."""

    certificate: bytes  # node certificate, DER
    tls_public_key: bytes
    names: tuple[str, ...]
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {"v": 1, "certificate": self.certificate.hex(), "tls_public_key": self.tls_public_key.hex(),
                "names": list(self.names), "signature": self.signature.hex()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> TlsRequest:
        """Parse the wire form; ``ValueError`` if malformed."""
        try:
            if d.get("v") != 1 or set(d) != {"v", "certificate", "tls_public_key", "names", "signature"}:
                raise ValueError("unexpected fields or version")
            names = d["names"]
            if not isinstance(names, list) or not all(isinstance(n, str) for n in names) or len(names) > MAX_NAMES:
                raise ValueError(f"names must be a list of at most {MAX_NAMES} strings")
            return cls(bytes.fromhex(d["certificate"]), bytes.fromhex(d["tls_public_key"]), tuple(names),
                       bytes.fromhex(d["signature"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"malformed TLS certificate request: {e}") from e


def build_tls_request(node_key: Ed25519PrivateKey, node_certificate: x509.Certificate,
                      tls_key: ec.EllipticCurvePrivateKey, names: Sequence[str]) -> TlsRequest:
    """Node side: ask for an https certificate for ``tls_key`` naming ``names``."""
    spki = tls_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return TlsRequest(_der(node_certificate), spki, tuple(names), node_key.sign(_request_digest(spki, names)))


def check_tls_request(
    request: TlsRequest,
    ca_certificate: x509.Certificate,
    *,
    now: datetime,
    trusted_time_floor: datetime | None = None,
    crl: x509.CertificateRevocationList | None = None,
) -> tuple[NodeIdentity, ec.EllipticCurvePublicKey]:
    """District side: the requester's identity and TLS key, once its node certificate verifies
    against the district CA and the request is signed by that certificate's key.

    :raises CertificateRejected: the node certificate is refused (any :class:`Reason`).
    :raises ValueError: the TLS key is no P-256 key, or the signature does not verify.
    """
    node_cert = parse_certificate(request.certificate)
    identity = verify_node_certificate(node_cert, ca_certificate, crl=crl, now=now,
                                       trusted_time_floor=trusted_time_floor)
    node_key = node_cert.public_key()
    assert isinstance(node_key, Ed25519PublicKey)  # verify_node_certificate checked it
    try:
        node_key.verify(request.signature, _request_digest(request.tls_public_key, request.names))
    except InvalidSignature as e:
        raise ValueError("the request is not signed by the certified node key") from e
    try:
        tls_key = serialization.load_der_public_key(request.tls_public_key)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise ValueError("tls_public_key is not a public key") from e
    if not _is_p256(tls_key):
        raise ValueError("the TLS key must be ECDSA P-256")
    assert isinstance(tls_key, ec.EllipticCurvePublicKey)
    return identity, tls_key

