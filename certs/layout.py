"""The on-disk layout of a district CA directory and of a node's certificate files, in one place.

CA directory (created by ``motcua ca init DIR``; keep it on the district server, backed up)::

    DIR/
      ca.key            CA private key, PKCS#8 PEM, mode 0600, optionally passphrase-encrypted
      ca.pem            CA certificate (self-signed); its SHA-256 is the CA fingerprint
      issued/<SERIAL>.pem
                        every certificate the CA issued, named by serial (upper-case hex)
      revoked.json      revocation ledger: one entry per revoked serial (see registry.py)
      crl.pem           the latest CRL written by ``motcua ca crl``
      pairing.json      pairing-code ledger: scrypt-derived keys of codes, never the codes
      tls-ca.key        the district's TLS CA key (ECDSA P-256: browsers accept no Ed25519), 0600
      tls-ca.pem        the TLS CA certificate (self-signed): what staff browsers trust
      tls-ca.sig        the CA key's Ed25519 signature of tls-ca.pem (certs/tlsca.py), hex
      *.json.lock       one lock file per ledger; every update holds an exclusive flock on it

Node directory (what a node keeps next to its database)::

    DIR/
      node.key          the node's Ed25519 key (the same file node/signing.py uses), 0600
      node.pem          the node's certificate, issued by the district CA
      ca.pem            the district CA certificate (the trust anchor)
      crl.pem           the newest CRL received (optional)
      tls.key           the node's https serving key (ECDSA P-256), 0600
      tls.pem           its https certificate, issued by the district TLS CA, naming host names/IPs
      tls-ca.pem        the district TLS CA certificate (a second TLS anchor, used only if...)
      tls-ca.sig        ...this signature by the district CA of tls-ca.pem verifies under ca.pem

Invariants: paths are derived here and nowhere else; no function in this module touches the
disk except :meth:`CaLayout.create`, which makes the directory tree with mode 0700.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CaLayout:
    """Paths inside a district CA directory."""

    root: Path

    @property
    def key(self) -> Path:
        return self.root / "ca.key"

    @property
    def certificate(self) -> Path:
        return self.root / "ca.pem"

    @property
    def issued_dir(self) -> Path:
        return self.root / "issued"

    def issued(self, serial: int) -> Path:
        return self.issued_dir / f"{serial:X}.pem"

    @property
    def revoked(self) -> Path:
        return self.root / "revoked.json"

    @property
    def crl(self) -> Path:
        return self.root / "crl.pem"

    @property
    def pairing(self) -> Path:
        return self.root / "pairing.json"

    @property
    def tls_key(self) -> Path:
        return self.root / "tls-ca.key"

    @property
    def tls_certificate(self) -> Path:
        return self.root / "tls-ca.pem"

    @property
    def tls_endorsement(self) -> Path:
        return self.root / "tls-ca.sig"

    def create(self) -> None:
        """Create the directory tree (mode 0700: only the CA operator may list it)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        self.issued_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(self.root, 0o700)


@dataclass(frozen=True)
class NodeLayout:
    """Paths of a node's key, certificate and trust anchor."""

    root: Path

    @property
    def key(self) -> Path:
        return self.root / "node.key"

    @property
    def certificate(self) -> Path:
        return self.root / "node.pem"

    @property
    def ca_certificate(self) -> Path:
        return self.root / "ca.pem"

    @property
    def crl(self) -> Path:
        return self.root / "crl.pem"

    @property
    def tls_key(self) -> Path:
        return self.root / "tls.key"

    @property
    def tls_certificate(self) -> Path:
        return self.root / "tls.pem"

    @property
    def tls_ca_certificate(self) -> Path:
        return self.root / "tls-ca.pem"

    @property
    def tls_endorsement(self) -> Path:
        return self.root / "tls-ca.sig"
