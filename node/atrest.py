"""Encryption at rest: the node's data key, the key slots that wrap it, the escrow key.

A node's personal data is protected by one random 256-bit **data key**. It never touches the
disk in the clear once the node has a staff account: SQLCipher encrypts the whole SQLite
database with it (:mod:`node.db`), the node key file is PKCS#8 encrypted with a password
derived from it, and so is a district's CA key; the Flask session secret is derived from it.

The data key is kept only *wrapped*, in ``<data dir>/keys.json`` (:class:`Keyring`):

* one **account slot** per staff account: AES-256-GCM under a key derived from the person's
  password with Argon2id (:data:`KDF`), the slot found by a salted HMAC of the user name, so the
  file names nobody;
* one **escrow slot** when the node knows its district's escrow public key: the data key sealed
  to an X25519 key (ECIES: ephemeral X25519, HKDF-SHA256, AES-256-GCM), whose private part the
  district keeps passphrase-encrypted and offline (``motcua ca init`` makes it);
* a **setup slot** holding the key in the clear, only between ``motcua init`` and the first
  staff account (an empty node has nothing to protect yet and nobody could sign in to unlock
  it); creating the first account slot removes it, and ``motcua doctor`` fails while it exists.

Invariants
----------
* Every wrapped key is authenticated (GCM tag) with the node id, the slot id and the key
  generation as associated data: a slot copied from another node or from before a rekey does
  not open anything; a wrong password raises :class:`WrongPassword`, never yields a wrong key.
* ``keys.json`` is replaced atomically with mode 0600 (written to a temporary file, fsynced,
  renamed), so a power cut leaves the old or the new keyring, never half of one.
* This module is the door of :mod:`cryptography` for at-rest encryption (like
  :mod:`node.signing` for signatures); it does no database work.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEYRING_FILE = "keys.json"
FORMAT = "motcua-keyring/1"
DATA_KEY_BYTES = 32
ESCROW_PUBLIC_FILE = "escrow.pub"  # in a node's data dir: the district's escrow public key
ESCROW_KEY_FILE = "escrow.key"  # in the district's CA dir: the private part, passphrase-encrypted


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost: ``t`` passes over ``m`` KiB with ``p`` lanes."""

    t: int = 3
    m: int = 64 * 1024
    p: int = 4


# argon2-cffi's defaults, what the password hashes use too (ASVS 2.4.1); tests lower them.
KDF = KdfParams()


class AtRestError(Exception):
    """A keyring or key file that cannot be read or used; the message says why."""


class NodeLocked(AtRestError):
    """The node's data key is not available: a staff member must sign in (or motcua unlock)."""


class WrongPassword(AtRestError):
    """No slot of this keyring opens with the given user name and password (or escrow key)."""


def new_data_key() -> bytes:
    return secrets.token_bytes(DATA_KEY_BYTES)


def derive(data_key: bytes, purpose: str) -> bytes:
    """A 32-byte secret for ``purpose`` derived from the data key (HKDF-Expand-like HMAC), so
    the node key's file password, the CA key's and the session secret need no storage of their
    own and change with a rekey."""
    return hmac.new(data_key, b"motcua/at-rest/v1\x00" + purpose.encode("ascii"), hashlib.sha256).digest()


def file_password(data_key: bytes, purpose: str) -> bytes:
    """The password (hex text) a PKCS#8 key file is encrypted with."""
    return derive(data_key, purpose).hex().encode("ascii")


def node_key_password(data_key: bytes | None) -> bytes | None:
    """The password of ``node.key`` (None: a plaintext node's unencrypted key)."""
    return file_password(data_key, "node-key") if data_key is not None else None


def ca_key_password(data_key: bytes | None) -> bytes | None:
    """The password of a district's ``ca/ca.key`` when its operator set none of their own."""
    return file_password(data_key, "ca-key") if data_key is not None else None


def pem_is_encrypted(path: Path) -> bool:
    """True if the PKCS#8 PEM file at ``path`` is encrypted (False if absent or plain)."""
    try:
        with open(path, "rb") as f:
            return b"ENCRYPTED" in f.readline()
    except FileNotFoundError:
        return False


def ca_passphrase(data_dir: Path, data_key: bytes | None) -> bytes | None:
    """The passphrase of a district's CA keys (``<data dir>/ca``): the operator's
    ``MOTCUA_CA_PASSPHRASE`` if set; None for a CA key made plaintext before issue 16 (until a
    rekey or motcua encrypt rewraps it); else derived from the data key."""
    value = os.environ.get("MOTCUA_CA_PASSPHRASE")
    if value:
        return value.encode()
    ca_key = data_dir / "ca" / "ca.key"
    if ca_key.exists() and not pem_is_encrypted(ca_key):
        return None
    return ca_key_password(data_key)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def _kek(password: str, salt: bytes, kdf: KdfParams) -> bytes:
    return hash_secret_raw(password.encode("utf-8"), salt, time_cost=kdf.t, memory_cost=kdf.m, parallelism=kdf.p,
                           hash_len=32, type=Type.ID)


def _user_tag(salt: bytes, username: str) -> str:
    return hmac.new(salt, b"motcua/slot-user\x00" + username.encode("utf-8"), hashlib.sha256).hexdigest()


def _hkdf(shared: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(shared)


# -- escrow key pair ---------------------------------------------------------------------------


def generate_escrow_key() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def escrow_public_pem(private: X25519PrivateKey) -> bytes:
    return private.public_key().public_bytes(serialization.Encoding.PEM,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)


def escrow_private_pem(private: X25519PrivateKey, passphrase: bytes) -> bytes:
    if not passphrase:
        raise AtRestError("the escrow key needs a passphrase (it is kept offline, away from the server)")
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(passphrase))


def load_escrow_private(data: bytes, passphrase: bytes) -> X25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(data, password=passphrase or None)
    except (TypeError, ValueError) as e:
        raise WrongPassword("the escrow key does not open with this passphrase") from e
    if not isinstance(key, X25519PrivateKey):
        raise AtRestError("not an escrow (X25519) key")
    return key


def load_escrow_public(data: bytes) -> X25519PublicKey:
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise AtRestError("not a PEM public key") from e
    if not isinstance(key, X25519PublicKey):
        raise AtRestError("not an escrow (X25519) public key")
    return key


def escrow_fingerprint(public: X25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()


# -- the keyring -------------------------------------------------------------------------------


class Keyring:
    """The slots of ``keys.json``; see the module docstring. Mutating methods do not write:
    call :meth:`save`."""

    def __init__(self, node_id: str, generation: int = 1, slots: list[dict[str, Any]] | None = None) -> None:
        self.node_id = node_id
        self.generation = generation
        self.slots: list[dict[str, Any]] = list(slots or [])

    # -- file --

    @staticmethod
    def path_in(data_dir: Path) -> Path:
        return data_dir / KEYRING_FILE

    @classmethod
    def exists_in(cls, data_dir: Path) -> bool:
        return cls.path_in(data_dir).exists()

    @classmethod
    def load(cls, data_dir: Path) -> Keyring:
        path = cls.path_in(data_dir)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise AtRestError(f"no keyring {path}: this node is not encrypted (motcua encrypt)") from None
        except (OSError, ValueError) as e:
            raise AtRestError(f"cannot read keyring {path}: {e}") from e
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise AtRestError(f"{path} is not a motcua keyring")
        return cls(str(data["node_id"]), int(data["generation"]), list(data.get("slots", [])))

    def save(self, data_dir: Path) -> None:
        path = self.path_in(data_dir)
        text = json.dumps({"format": FORMAT, "node_id": self.node_id, "generation": self.generation,
                           "slots": self.slots}, indent=1) + "\n"
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(text.encode("utf-8"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        dir_fd = os.open(data_dir, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    # -- state --

    def kinds(self) -> list[str]:
        return [s["kind"] for s in self.slots]

    @property
    def account_slots(self) -> int:
        return self.kinds().count("account")

    @property
    def has_escrow(self) -> bool:
        return "escrow" in self.kinds()

    @property
    def setup_key(self) -> bytes | None:
        """The data key of a node without any staff account yet (module docstring), else None."""
        for s in self.slots:
            if s["kind"] == "setup":
                return _unb64(s["key"])
        return None

    def _aad(self, slot_id: str) -> bytes:
        return f"{FORMAT}|{self.node_id}|{slot_id}|{self.generation}".encode()

    # -- account slots --

    def _find(self, username: str) -> dict[str, Any] | None:
        for s in self.slots:
            if s["kind"] == "account" and hmac.compare_digest(s["user"], _user_tag(_unb64(s["salt"]), username)):
                return s
        return None

    def has_slot_for(self, username: str) -> bool:
        return self._find(username) is not None

    def set_account_slot(self, username: str, password: str, data_key: bytes, kdf: KdfParams | None = None) -> None:
        """Add or replace ``username``'s slot; the first one removes the setup slot."""
        kdf = kdf or KDF
        self.remove_account_slot(username)
        salt = secrets.token_bytes(16)
        slot_id = secrets.token_hex(8)
        nonce = secrets.token_bytes(12)
        wrapped = AESGCM(_kek(password, salt, kdf)).encrypt(nonce, data_key, self._aad(slot_id))
        self.slots.append({"kind": "account", "id": slot_id, "user": _user_tag(salt, username), "salt": _b64(salt),
                           "kdf": {"alg": "argon2id", "t": kdf.t, "m": kdf.m, "p": kdf.p},
                           "nonce": _b64(nonce), "wrapped": _b64(wrapped)})
        self.slots = [s for s in self.slots if s["kind"] != "setup"]

    def remove_account_slot(self, username: str) -> bool:
        slot = self._find(username)
        if slot is not None:
            self.slots.remove(slot)
        return slot is not None

    def keep_only_accounts(self, usernames: set[str]) -> int:
        """Drop the account slots of everyone not in ``usernames`` (disabled or deleted
        accounts); return how many went."""
        keep = [s for s in (self._find(u) for u in usernames) if s is not None]
        gone = [s for s in self.slots if s["kind"] == "account" and not any(s is k for k in keep)]
        for s in gone:
            self.slots.remove(s)
        return len(gone)

    def unwrap_with_password(self, username: str, password: str) -> bytes:
        slot = self._find(username)
        if slot is None:
            # the same Argon2 work as a real slot, so the answer time does not tell who has one
            _kek(password, b"motcua-no-slot!!", KDF)
            raise WrongPassword("no key slot opens with this user name and password")
        k = slot["kdf"]
        kek = _kek(password, _unb64(slot["salt"]), KdfParams(int(k["t"]), int(k["m"]), int(k["p"])))
        try:
            return AESGCM(kek).decrypt(_unb64(slot["nonce"]), _unb64(slot["wrapped"]), self._aad(slot["id"]))
        except InvalidTag:
            raise WrongPassword("no key slot opens with this user name and password") from None

    # -- escrow slot --

    def set_escrow_slot(self, public: X25519PublicKey, data_key: bytes) -> None:
        self.slots = [s for s in self.slots if s["kind"] != "escrow"]
        ephemeral = X25519PrivateKey.generate()
        eph_raw = ephemeral.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        kek = _hkdf(ephemeral.exchange(public), b"motcua/escrow/v1\x00" + eph_raw)
        nonce = secrets.token_bytes(12)
        wrapped = AESGCM(kek).encrypt(nonce, data_key, self._aad("escrow"))
        self.slots.append({"kind": "escrow", "id": "escrow", "fingerprint": escrow_fingerprint(public),
                           "ephemeral": _b64(eph_raw), "nonce": _b64(nonce), "wrapped": _b64(wrapped)})

    def unwrap_with_escrow(self, private: X25519PrivateKey) -> bytes:
        slot = next((s for s in self.slots if s["kind"] == "escrow"), None)
        if slot is None:
            raise WrongPassword("this node's keyring has no escrow slot")
        if slot["fingerprint"] != escrow_fingerprint(private.public_key()):
            raise WrongPassword("this node's data key is escrowed to another key")
        eph_raw = _unb64(slot["ephemeral"])
        kek = _hkdf(private.exchange(X25519PublicKey.from_public_bytes(eph_raw)), b"motcua/escrow/v1\x00" + eph_raw)
        try:
            return AESGCM(kek).decrypt(_unb64(slot["nonce"]), _unb64(slot["wrapped"]), self._aad("escrow"))
        except InvalidTag:
            raise WrongPassword("the escrow slot does not open with this key") from None

    @property
    def escrow_fingerprint(self) -> str:
        slot = next((s for s in self.slots if s["kind"] == "escrow"), None)
        return slot["fingerprint"] if slot else ""


def folder_data_key(folder: Path, username: str = "", password: str = "") -> bytes | None:
    """The data key of a data directory or backup folder: None without a keyring (plaintext),
    its setup slot, or ``username``'s slot opened with ``password``."""
    if not Keyring.exists_in(folder):
        return None
    ring = Keyring.load(folder)
    if ring.setup_key is not None:
        return ring.setup_key
    if not username:
        raise AtRestError(f"{folder} is encrypted: give the user name and password of one of its staff accounts")
    return ring.unwrap_with_password(username, password)


def new_keyring(node_id: str, data_key: bytes) -> Keyring:
    """The keyring of a node that has no staff account yet: a setup slot only."""
    return Keyring(node_id, 1, [{"kind": "setup", "id": "setup", "key": _b64(data_key)}])


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM of ``plaintext`` under ``key`` (a random 12-byte nonce first), bound to
    ``aad``: the at-rest form of the chunks of attached files (:mod:`node.chunkstore`)."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """The plaintext :func:`seal` made; :class:`AtRestError` if the blob was altered, moved to
    another name or sealed under another key."""
    try:
        return AESGCM(key).decrypt(blob[:12], blob[12:], aad)
    except (InvalidTag, ValueError) as e:
        raise AtRestError("a sealed file does not open with this node's key (altered or foreign)") from e
