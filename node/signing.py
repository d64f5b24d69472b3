"""The node's Ed25519 key: the one door (with ``certs/``) through which cryptography enters.

Invariants
----------
* The private key file is created with mode 0600 before a single key byte is written (no
  window in which another local user could read it) and is never overwritten: a node's identity
  is its key, and replacing it silently would fork every feed it ever wrote.
* The key file is PKCS#8 PEM encrypted with a password derived from the node's data key
  (:func:`node.atrest.file_password`), so a copied data directory does not give the signing
  key; :meth:`NodeKey.rewrap` re-encrypts the same key (after a rekey) by an atomic rename.
* Verification raises :class:`SignatureInvalid`; it never returns a boolean that a caller could
  forget to check.
* Secrets a node needs besides signing (:meth:`NodeKey.derive_secret`: the lookup check codes,
  the provisional code name) are derived from the key, one per purpose, so they live exactly as
  long as the identity, need no file of their own, and reveal nothing about each other or the key.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.wire import node_id_from_public_key

KEY_FILE = "node.key"


class SignatureInvalid(Exception):
    """Raised when a signature does not verify under the given public key."""


class KeyFileError(Exception):
    """Raised when the key file is missing, unreadable, too widely readable or not Ed25519."""


class NodeKey:
    """A node's signing key and the identity derived from it."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._private = private_key
        self.public_key: bytes = private_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.node_id: str = node_id_from_public_key(self.public_key)

    @classmethod
    def generate(cls) -> NodeKey:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def seed(self) -> bytes:
        """The raw 32-byte Ed25519 seed, for :class:`node.sealing.Opener` (bundles sealed to this
        node's key); never written anywhere by that use."""
        return self._private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )

    def derive_secret(self, purpose: str) -> bytes:
        """A 32-byte secret for ``purpose``: HMAC-SHA256 keyed by the private key's seed over a
        domain-separated label (an HKDF-Expand step), so no derived secret helps to sign."""
        seed = self._private.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return hmac.new(seed, b"motcua/derived-secret/v1\x00" + purpose.encode("ascii"), hashlib.sha256).digest()

    def _pem(self, password: bytes | None) -> bytes:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
        )
        return self._private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

    def save(self, path: Path, password: bytes | None = None) -> None:
        """Write the private key as PKCS#8 PEM (encrypted with ``password`` when given) with
        mode 0600; refuse to overwrite."""
        pem = self._pem(password)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(pem)
            f.flush()
            os.fsync(f.fileno())

    def rewrap(self, path: Path, password: bytes | None) -> None:
        """Replace ``path`` by this same key under another password (rekey, migration): the
        identity does not change, only the wrapping."""
        tmp = path.with_name(f".{path.name}.rewrap")
        tmp.unlink(missing_ok=True)
        self.save(tmp, password)
        if NodeKey.load(tmp, password).node_id != self.node_id:  # never swap in another identity
            raise KeyFileError("rewrapped key does not match")
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path, password: bytes | None = None) -> NodeKey:
        try:
            mode = path.stat().st_mode & 0o777
            data = path.read_bytes()
        except OSError as e:
            raise KeyFileError(f"cannot read node key {path}: {e.strerror}") from e
        if mode & 0o077:
            raise KeyFileError(f"node key {path} is readable by others (mode {mode:o}); run chmod 600")
        try:
            key = serialization.load_pem_private_key(data, password=password or None)
        except TypeError as e:  # encrypted and no password (a locked node), or the reverse
            raise KeyFileError(f"node key {path}: {e}") from e
        except ValueError as e:
            raise KeyFileError(f"node key {path} is not a readable PEM private key (wrong key?)") from e
        if not isinstance(key, Ed25519PrivateKey):
            raise KeyFileError(f"node key {path} is not an Ed25519 key")
        return cls(key)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Verify an Ed25519 signature; raise :class:`SignatureInvalid` if it does not hold."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError) as e:
        raise SignatureInvalid("signature does not verify") from e
