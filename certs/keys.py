"""Private keys on disk: generate, save (0600, atomic, never overwritten), load (refused if other
local users could read the file).

Identity keys are Ed25519: the district CA key, and each node's key, which is the *same* key
``node/signing.py`` signs feed heads with (``node.key``, unencrypted PKCS#8 PEM). A node's
certificate therefore certifies its event-signing key, and the node id is
``sync.wire.node_id_from_public_key`` of that key.

The one exception is https (``certs/tlsca.py``): browsers do not accept Ed25519 in TLS, so the
district's TLS CA and each node's TLS serving key are ECDSA P-256 (:func:`generate_tls_key`,
:func:`load_tls_key`). They prove nothing about a node's identity.

Invariants
----------
* A key file is created with mode 0600 before any key byte is written, via a temporary file
  created ``O_EXCL`` and linked into place; an existing file is never replaced (a node's key is
  its identity; a CA's key is the district's trust root).
* :func:`load_private_key` refuses a file with any group/other permission bit (on POSIX), an
  encrypted key without a passphrase, a wrong passphrase, and any key that is not Ed25519;
  :func:`load_tls_key` the same, for any key that is not ECDSA P-256.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.errors import KeyFileError
from certs.storage import write_new_file
from sync.wire import node_id_from_public_key

KEY_FILE_MODE = 0o600
AnyPrivateKey = Ed25519PrivateKey | ec.EllipticCurvePrivateKey


def generate_private_key() -> Ed25519PrivateKey:
    """A fresh Ed25519 key (for a CA or a node)."""
    return Ed25519PrivateKey.generate()


def raw_public_key(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key (the form node ids are hashed from)."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def node_id_of(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """The node id certified for this key: ``sync.wire.node_id_from_public_key`` of its raw bytes."""
    return node_id_from_public_key(raw_public_key(key))


def generate_tls_key() -> ec.EllipticCurvePrivateKey:
    """A fresh ECDSA P-256 key (the TLS CA's, or a node's https serving key)."""
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: AnyPrivateKey, passphrase: bytes | None = None) -> bytes:
    """PKCS#8 PEM of ``key``, encrypted with ``passphrase`` when one is given."""
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(passphrase) if passphrase else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)


def save_private_key(key: AnyPrivateKey, path: Path, *, passphrase: bytes | None = None) -> None:
    """Write ``key`` to a new file with mode 0600; raise :class:`KeyFileError` if it exists."""
    try:
        write_new_file(path, private_key_pem(key, passphrase), mode=KEY_FILE_MODE)
    except FileExistsError as e:
        raise KeyFileError(f"refusing to overwrite existing key file {path}") from e
    except OSError as e:
        raise KeyFileError(f"cannot write key file {path}: {e.strerror}") from e


def load_private_key(path: Path, *, passphrase: bytes | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key; refuse a file readable by group or others.

    :raises KeyFileError: missing/unreadable file, unsafe mode, wrong or missing passphrase,
        not PEM, or not Ed25519.
    """
    key = _load_key(path, passphrase)
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"key file {path} is not an Ed25519 key")
    return key


def load_tls_key(path: Path, *, passphrase: bytes | None = None) -> ec.EllipticCurvePrivateKey:
    """Read an ECDSA P-256 private key (TLS only), with the checks of :func:`load_private_key`."""
    key = _load_key(path, passphrase)
    if not (isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1)):
        raise KeyFileError(f"key file {path} is not an ECDSA P-256 key")
    return key


def _load_key(path: Path, passphrase: bytes | None) -> object:
    try:
        mode = path.stat().st_mode & 0o777
        data = path.read_bytes()
    except OSError as e:
        raise KeyFileError(f"cannot read key file {path}: {e.strerror}") from e
    if os.name == "posix" and mode & 0o077:
        raise KeyFileError(f"key file {path} is readable by other users (mode {mode:o}); run chmod 600")
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except TypeError as e:  # encrypted but no passphrase, or a passphrase for a plain key
        raise KeyFileError(f"key file {path}: {e}") from e
    except ValueError as e:
        raise KeyFileError(f"key file {path} is not a readable PEM private key (wrong passphrase?)") from e
    return key
