"""Mutual TLS with node certificates: the files a server or client needs, the ``ssl`` contexts,
and the identity check to run once the handshake is done.

Key type: here the TLS certificate *is* the node certificate, and its key is the node's Ed25519
event-signing key. OpenSSL (1.1.1 and later; 3.0 here) accepts Ed25519 certificates in TLS
1.3 between two nodes (tested on loopback in ``tests/unit/certs/test_tls.py``). Browsers do not:
what ``motcua serve`` presents to them is an ECDSA P-256 certificate of the district TLS CA
(``certs/tlsca.py``), and an enrolled node without one falls back to its node certificate.

Two steps, on purpose
---------------------
1. The handshake (OpenSSL): both sides present a certificate, and each must chain to the
   district CA (``CERT_REQUIRED``, the CA certificate as the only trust anchor, TLS 1.3 only).
   Hostnames are not checked: a peer is identified by node id, not by its DHCP address.
   Dates are *not* checked here (``X509_V_FLAG_NO_CHECK_TIME``): OpenSSL only knows the local
   clock, which on a commune PC may be years off (reliability.md §0.5).
2. :func:`verify_peer` right after the handshake: the full policy of
   :func:`certs.verify.verify_node_certificate` (validity at the trusted-time floor, CRL,
   usage, node id binding). Close the connection if it raises, before reading any request.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.errors import CertificateRejected, PkiError, Reason
from certs.identity import NodeIdentity, certificate_pem, parse_certificate
from certs.keys import load_private_key, raw_public_key, save_private_key
from certs.layout import NodeLayout
from certs.storage import replace_file
from certs.verify import verify_node_certificate

X509_V_FLAG_NO_CHECK_TIME = 0x200000  # OpenSSL >= 1.1.0; Python's ssl does not name it


@dataclass(frozen=True)
class TlsFiles:
    """Paths handed to ``SSLContext.load_cert_chain`` and ``load_verify_locations``."""

    certificate: str
    key: str
    ca_certificate: str


def write_tls_files(
    layout: NodeLayout,
    *,
    certificate: x509.Certificate,
    ca_certificate: x509.Certificate,
    key: Ed25519PrivateKey | None = None,
) -> TlsFiles:
    """Write a node's certificate and CA certificate (replacing older ones), and its key if new.

    If ``key`` is ``None`` the key file must already exist (a node's ``node.key``). Either way
    the key must be the one the certificate certifies.

    :raises PkiError: the key and the certificate do not belong together.
    """
    layout.root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if key is not None and not layout.key.exists():
        save_private_key(key, layout.key)
    on_disk = load_private_key(layout.key)
    cert_key = certificate.public_key()
    if not isinstance(cert_key, Ed25519PublicKey) or raw_public_key(on_disk) != raw_public_key(cert_key):
        raise PkiError(f"{layout.key} is not the key certified by this certificate")
    replace_file(layout.certificate, certificate_pem(certificate))
    replace_file(layout.ca_certificate, certificate_pem(ca_certificate))
    return TlsFiles(str(layout.certificate), str(layout.key), str(layout.ca_certificate))


def _context(files: TlsFiles, *, server_side: bool) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER if server_side else ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT | X509_V_FLAG_NO_CHECK_TIME
    ctx.load_verify_locations(cafile=files.ca_certificate)
    ctx.load_cert_chain(files.certificate, files.key)
    return ctx


def server_context(files: TlsFiles) -> ssl.SSLContext:
    """A TLS 1.3 server context that demands a client certificate from the district CA."""
    return _context(files, server_side=True)


def client_context(files: TlsFiles) -> ssl.SSLContext:
    """A TLS 1.3 client context that presents our certificate and trusts only the district CA."""
    return _context(files, server_side=False)


def peer_certificate(conn: ssl.SSLSocket | ssl.SSLObject) -> x509.Certificate:
    """The certificate the peer presented in the handshake."""
    der = conn.getpeercert(binary_form=True)
    if not der:
        raise CertificateRejected(Reason.UNTRUSTED, "the peer presented no certificate")
    return parse_certificate(der)


def verify_peer(
    conn: ssl.SSLSocket | ssl.SSLObject,
    ca_certificate: x509.Certificate,
    *,
    crl: x509.CertificateRevocationList | None = None,
    now: datetime,
    trusted_time_floor: datetime | None = None,
) -> NodeIdentity:
    """Apply the full certificate policy to the peer of an established TLS connection."""
    return verify_node_certificate(
        peer_certificate(conn), ca_certificate, crl=crl, now=now, trusted_time_floor=trusted_time_floor
    )
