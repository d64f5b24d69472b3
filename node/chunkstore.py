"""The chunk store: content-addressed chunks of attached files, in ``<data dir>/chunks``.

The API is small on purpose (a USB bundle or any other carrier uses the same four calls):

``put(hash, data)``      store a chunk; refused (:class:`BadChunk`) unless SHA-256(data) == hash;
                         storing a chunk already held does nothing (identical content is stored once)
``get(hash)``            the chunk's bytes, checked against its hash again on the way out
``has(hash)``            whether it is held
``missing(hashes)``      those of ``hashes`` not held, in their order

Invariants
----------
* Nothing is readable at rest: each chunk is sealed with AES-256-GCM (:func:`node.atrest.seal`)
  under the store key, its hash as associated data, and kept under a file name that is an HMAC
  of its hash (a stolen disk does not tell which known document is there). The store key is a
  random key kept in ``chunks/KEY`` wrapped under a key derived from the node's data key, so a
  rekey rewraps 60 bytes instead of re-encrypting every chunk (:func:`rewrap_key`). A plaintext
  node (no data key yet) keeps that key in the clear, like its database; ``motcua encrypt``
  wraps it.
* A chunk file is written to a temporary name, fsynced and renamed: a power cut leaves a whole
  chunk or none, never half of one (and a half-written one would fail its tag anyway).
* The store holds bytes, not meaning: which chunks belong to which file, and whether a file is
  complete, is :mod:`node.files`'s business.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Iterable
from pathlib import Path

from node.atrest import AtRestError, derive, seal, unseal

DIR_NAME = "chunks"
KEY_FILE = "KEY"
_KEY_AAD = b"motcua/chunk-store-key/v1"


class BadChunk(ValueError):
    """A chunk whose bytes do not hash to its name (tampered or damaged): never stored."""


def _wrapping(data_key: bytes | None) -> bytes | None:
    return derive(data_key, "chunk-store") if data_key is not None else None


def _read_key(path: Path, data_key: bytes | None) -> bytes:
    raw = path.read_bytes()
    if data_key is None:
        if len(raw) != 32:
            raise AtRestError(f"{path} is sealed: the node must be unlocked to read its files")
        return raw
    if len(raw) == 32:  # left plaintext before the node was encrypted: wrapped at the next rewrap
        return raw
    return unseal(_wrapping(data_key), raw, _KEY_AAD)


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + f".{secrets.token_hex(4)}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def rewrap_key(data_dir: Path, old: bytes | None, new: bytes | None) -> None:
    """The store key wrapped under ``new`` instead of ``old`` (rekey, motcua encrypt)."""
    path = data_dir / DIR_NAME / KEY_FILE
    if not path.exists():
        return
    key = _read_key(path, old)
    _write_atomic(path, seal(_wrapping(new), key, _KEY_AAD) if new is not None else key)


class ChunkStore:
    """Sealed chunks named by SHA-256 under ``root`` (see the module docstring)."""

    def __init__(self, data_dir: Path, data_key: bytes | None) -> None:
        self.root = Path(data_dir) / DIR_NAME
        self.root.mkdir(mode=0o700, exist_ok=True)
        key_path = self.root / KEY_FILE
        if not key_path.exists():
            key = secrets.token_bytes(32)
            _write_atomic(key_path, seal(_wrapping(data_key), key, _KEY_AAD) if data_key is not None else key)
        self.key = _read_key(key_path, data_key)
        self._name_key = hashlib.sha256(b"motcua/chunk-name/v1" + self.key).digest()

    def _path(self, chunk_hash: str) -> Path:
        name = hmac.new(self._name_key, chunk_hash.encode("ascii"), hashlib.sha256).hexdigest()
        return self.root / name[:2] / name[2:]

    def has(self, chunk_hash: str) -> bool:
        return self._path(chunk_hash).exists()

    def missing(self, hashes: Iterable[str]) -> list[str]:
        return [h for h in hashes if not self.has(h)]

    def put(self, chunk_hash: str, data: bytes) -> bool:
        """Store ``data`` as ``chunk_hash``; True if it was new. :class:`BadChunk` on a mismatch."""
        if hashlib.sha256(data).hexdigest() != chunk_hash:
            raise BadChunk(f"chunk {chunk_hash[:12]}… does not match its content")
        path = self._path(chunk_hash)
        if path.exists():
            return False
        path.parent.mkdir(mode=0o700, exist_ok=True)
        _write_atomic(path, seal(self.key, data, chunk_hash.encode("ascii")))
        return True

    def get(self, chunk_hash: str) -> bytes:
        """The chunk's bytes; :class:`KeyError` if not held, :class:`BadChunk` if damaged."""
        try:
            blob = self._path(chunk_hash).read_bytes()
        except FileNotFoundError as e:
            raise KeyError(chunk_hash) from e
        try:
            data = unseal(self.key, blob, chunk_hash.encode("ascii"))
        except AtRestError as e:
            raise BadChunk(f"chunk {chunk_hash[:12]}… is damaged on disk") from e
        if hashlib.sha256(data).hexdigest() != chunk_hash:
            raise BadChunk(f"chunk {chunk_hash[:12]}… is damaged on disk")
        return data

    def remove(self, chunk_hash: str) -> bool:
        """Delete a chunk (only a purge the admin previewed calls this); True if it was held."""
        try:
            self._path(chunk_hash).unlink()
            return True
        except FileNotFoundError:
            return False

    def stored_bytes(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("??/*") if p.is_file())

    def count(self) -> int:
        return sum(1 for p in self.root.glob("??/*") if p.is_file() and not p.name.endswith(".tmp"))
