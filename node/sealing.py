"""Encrypting a bundle to its recipient's certified node key (PyNaCl sealed boxes).

**The key.** A bundle is sealed to the X25519 key *derived* from the recipient's Ed25519 node
key (libsodium's ``crypto_sign_ed25519_pk_to_curve25519``; the private half from the node's
seed), not to a second key certified beside it. Why:

* the node certificate (``certs/identity.py``) and the enrollment answer already certify the
  Ed25519 key, and every node learns a peer's certificate where sync does (the profile that
  travels with a peer's runs, or its ``node.pem``): nothing to add to the certificate, to
  enrollment or to the CA, and every certificate issued before bundles existed keeps working;
* a second certified key would need a new certificate field (a private extension, which
  ``certs/identity.py`` rules out) or a second certificate per node, and a re-enrollment of
  every laptop in the field, with no link to do it over;
* using one Ed25519 key pair for both signing and (via the birational map) X25519 is what
  libsodium documents and what age's ``ssh-ed25519`` recipients do; it is proven jointly
  secure (Thormarker, "On using the same key pair for Ed25519 and an X25519 based KEM", 2021).

**The library.** PyNaCl (libsodium), sealed boxes: an ephemeral X25519 key per bundle,
XSalsa20-Poly1305, 48 bytes of overhead; packaged by Debian as ``python3-nacl`` and kept
since 2013. Against pyrage (age): age streams in 64 KiB chunks, which matters for files far
larger than memory, but its ``ssh-ed25519`` recipient wants OpenSSH key strings (we would
re-encode our raw keys to pass them in), its binding is a Rust extension with far fewer users,
and a bundle part is bounded anyway (``--max-size``, a sync batch at most per transaction).
Either way the sealing is anonymous: who wrote the bundle is proven by the Ed25519 signature
*inside* it (:mod:`sync.bundle`), not by the box.

Invariants
----------
* :func:`open_sealed` raises :class:`Unreadable` for anything it cannot open (another
  recipient, altered bytes): it never returns partial plaintext.
"""

from __future__ import annotations

from nacl import bindings
from nacl.exceptions import CryptoError
from nacl.public import PrivateKey, PublicKey, SealedBox


class Unreadable(Exception):
    """The body does not open with this node's key: sealed to another node, or altered."""


def seal(recipient_ed25519: bytes, plaintext: bytes) -> bytes:
    """Encrypt ``plaintext`` to the node whose raw Ed25519 public key is given."""
    try:
        x25519 = bindings.crypto_sign_ed25519_pk_to_curve25519(recipient_ed25519)
    except (CryptoError, ValueError, TypeError) as e:
        raise ValueError(f"not an Ed25519 public key: {e}") from e
    return SealedBox(PublicKey(x25519)).encrypt(plaintext)


class Opener:
    """Opens sealed boxes with this node's key; built from the node key's 32-byte seed."""

    def __init__(self, ed25519_seed: bytes) -> None:
        public, secret = bindings.crypto_sign_seed_keypair(ed25519_seed)
        self.public_key = public
        self._box = SealedBox(PrivateKey(bindings.crypto_sign_ed25519_sk_to_curve25519(secret)))

    def __call__(self, body: bytes) -> bytes:
        return open_sealed(self._box, body)


def open_sealed(box: SealedBox, body: bytes) -> bytes:
    try:
        return box.decrypt(body)
    except (CryptoError, ValueError, TypeError) as e:
        raise Unreadable(str(e)) from e
