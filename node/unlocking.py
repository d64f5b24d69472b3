"""The at-rest use cases of a node: create its keys, unlock with a password, keep one slot per
active staff account, escrow to the district, recover, rekey, and encrypt a plaintext node.

Crypto is in :mod:`node.atrest` (slots) and :mod:`node.signing` (the key file); the database
side is SQLCipher through :mod:`node.db`. See docs/security.md, "Encryption at rest".

Invariants
----------
* The keyring is written only after what it describes is in place (a rekeyed database, a
  rewrapped key file); a crash in between leaves the old keyring next to a file it still opens
  or, for the few steps that cannot be ordered so, a ``.rekey`` copy the next run finishes from.
* Operations that rewrite the database file (rekey, recover's rekey, encrypt) refuse while a
  server holds the node (:func:`exclusive_node`), because its connections would go on with the
  old key and fail.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from node.atrest import (
    ESCROW_PUBLIC_FILE,
    AtRestError,
    Keyring,
    WrongPassword,
    ca_key_password,
    load_escrow_private,
    load_escrow_public,
    new_data_key,
    new_keyring,
    node_key_password,
    pem_is_encrypted,
)
from node.config import Settings
from node.lockstate import clear_unlock_cache, write_unlock_cache
from node.signing import KEY_FILE, NodeKey

SERVE_LOCK_FILE = ".serve.lock"
Progress = Callable[[str], None]


def create_node_keys(data_dir: Path, key: NodeKey) -> bytes:
    """What ``motcua init`` stores: the node key, encrypted, and a keyring with a setup slot.
    Returns the new data key."""
    data_key = new_data_key()
    key.save(data_dir / KEY_FILE, node_key_password(data_key))
    new_keyring(key.node_id, data_key).save(data_dir)
    return data_key


def state(settings: Settings, data_key: bytes | None = None) -> dict[str, object]:
    """What ``motcua doctor`` reports; never raises on a locked node."""
    from node.db import sqlite_is_plaintext

    data_dir = settings.data_dir
    if not Keyring.exists_in(data_dir):
        return {"encrypted": False, "summary": "NOT encrypted: a plaintext node; run motcua encrypt --backup-to DIR"}
    ring = Keyring.load(data_dir)
    plaintext_db = not settings.DATABASE_URL and sqlite_is_plaintext(settings.sqlite_path)
    return {
        "encrypted": True, "generation": ring.generation, "account_slots": ring.account_slots,
        "escrow": ring.escrow_fingerprint, "setup_slot": ring.setup_key is not None,
        "plaintext_db": plaintext_db, "unlocked": data_key is not None,
    }


# -- slots ---------------------------------------------------------------------------------------


def unlock_with_password(settings: Settings, username: str, password: str) -> bytes:
    """The data key if ``username``'s slot opens with ``password``; raise :class:`WrongPassword`."""
    return Keyring.load(settings.data_dir).unwrap_with_password(username.strip().lower(), password)


def set_account_slot(node, username: str, password: str) -> None:  # node: services.Node
    if node.data_key is None:
        return  # a plaintext node has no slots
    ring = Keyring.load(node.settings.data_dir)
    ring.set_account_slot(username, password, node.data_key)
    ring.save(node.settings.data_dir)


def ensure_slot_at_sign_in(node, username: str, password: str) -> bool:
    """After a successful sign-in on an unlocked node: make or refresh this account's slot (a
    new account, a password changed in the meantime, a slot dropped by a rekey). True if
    written."""
    if node.data_key is None:
        return False
    ring = Keyring.load(node.settings.data_dir)
    try:
        if ring.unwrap_with_password(username, password) == node.data_key:
            return False
    except WrongPassword:
        pass
    ring.set_account_slot(username, password, node.data_key)
    ring.save(node.settings.data_dir)
    return True


def remove_account_slot(settings: Settings, username: str) -> bool:
    if not Keyring.exists_in(settings.data_dir):
        return False
    ring = Keyring.load(settings.data_dir)
    gone = ring.remove_account_slot(username)
    if gone:
        ring.save(settings.data_dir)
    return gone


def check_slot_can_go(settings: Settings, username: str) -> None:
    """Refuse to drop the last way into the node (no other account slot, no escrow)."""
    if not Keyring.exists_in(settings.data_dir):
        return
    ring = Keyring.load(settings.data_dir)
    if ring.has_slot_for(username) and ring.account_slots == 1 and not ring.has_escrow:
        raise AtRestError(f"{username} holds the only key slot and there is no district escrow: disabling it "
                          "would lock the data away for good; add another account first (or enroll for escrow)")


def prune_slots(node) -> int:
    """Drop the slots of accounts that are disabled or gone (run at every unlock)."""
    from node.models import StaffAccountRow

    if node.data_key is None:
        return 0
    active = {r.username for r in StaffAccountRow.select(StaffAccountRow.username).where(StaffAccountRow.active)}
    ring = Keyring.load(node.settings.data_dir)
    gone = ring.keep_only_accounts(active)
    if gone:
        ring.save(node.settings.data_dir)
    return gone


# -- escrow --------------------------------------------------------------------------------------


def escrow_to(node, public_pem: bytes) -> str:
    """Wrap the data key to the district escrow public key too; return its fingerprint."""
    public = load_escrow_public(public_pem)
    (node.settings.data_dir / ESCROW_PUBLIC_FILE).write_bytes(public_pem)
    if node.data_key is None:
        raise AtRestError("this node is not encrypted yet (motcua encrypt)")
    ring = Keyring.load(node.settings.data_dir)
    ring.set_escrow_slot(public, node.data_key)
    ring.save(node.settings.data_dir)
    return ring.escrow_fingerprint


def unlock_with_escrow(settings: Settings, escrow_pem: bytes, passphrase: bytes) -> bytes:
    private = load_escrow_private(escrow_pem, passphrase)
    return Keyring.load(settings.data_dir).unwrap_with_escrow(private)


# -- whole-file operations -----------------------------------------------------------------------


@contextlib.contextmanager
def serving_lock(data_dir: Path) -> Iterator[None]:
    """Held by ``motcua serve`` for its lifetime (shared: several readers may coexist)."""
    fd = os.open(data_dir / SERVE_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def exclusive_node(data_dir: Path) -> Iterator[None]:
    fd = os.open(data_dir / SERVE_LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AtRestError("motcua serve is running on this node: stop it first") from None
        yield
    finally:
        os.close(fd)


def _rewrap_files(settings: Settings, old_key: bytes | None, new_key: bytes) -> None:
    """The node key (and a district's CA key without an operator passphrase) under the new key."""
    key_path = settings.data_dir / KEY_FILE
    NodeKey.load(key_path, node_key_password(old_key)).rewrap(key_path, node_key_password(new_key))
    rewrap_ca_key(settings.data_dir, ca_key_password(old_key), ca_key_password(new_key))
    from node.chunkstore import rewrap_key

    rewrap_key(settings.data_dir, old_key, new_key)  # the chunk store's key (attached files)


def rewrap_ca_key(data_dir: Path, old: bytes | None, new: bytes | None) -> None:
    """Re-encrypt the district's CA key and TLS CA key (``<data dir>/ca``) from ``old`` to
    ``new`` (a rekey, an encryption of a plaintext district); left alone when the operator's own
    passphrase protects them."""
    from certs.keys import load_private_key, load_tls_key, private_key_pem
    from certs.layout import CaLayout
    from certs.storage import replace_file

    if os.environ.get("MOTCUA_CA_PASSPHRASE"):
        return
    layout = CaLayout(data_dir / "ca")
    for path, load in ((layout.key, load_private_key), (layout.tls_key, load_tls_key)):  # CA and TLS CA
        if path.exists():  # a key left plaintext before issue 16 is encrypted now
            key = load(path, passphrase=old if pem_is_encrypted(path) else None)
            replace_file(path, private_key_pem(key, new), mode=0o600)


def _rekey_database(settings: Settings, old_key: bytes | None, new_key: bytes) -> None:
    if settings.DATABASE_URL:
        return  # PostgreSQL: out of SQLCipher's reach (docs/security.md)
    from node.db import connect_sqlite

    db = connect_sqlite(settings.sqlite_path, old_key)
    db.connect()
    try:
        db.execute_sql(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
    finally:
        db.close()


def rekey(settings: Settings, old_key: bytes, username: str, password: str) -> Keyring:
    """Rotate the data key: database, key files, escrow slot and the operator's slot; the other
    staff get their slot back at their next sign-in while the node is unlocked (their passwords
    are not known here). Returns the new keyring."""
    old_ring = Keyring.load(settings.data_dir)
    if old_ring.unwrap_with_password(username, password) != old_key:
        raise WrongPassword("no key slot opens with this user name and password")
    new_key = new_data_key()
    with exclusive_node(settings.data_dir):
        _rekey_database(settings, old_key, new_key)
        _rewrap_files(settings, old_key, new_key)
        ring = Keyring(old_ring.node_id, old_ring.generation + 1)
        ring.set_account_slot(username, password, new_key)
        escrow = settings.data_dir / ESCROW_PUBLIC_FILE
        if old_ring.has_escrow and escrow.exists():
            ring.set_escrow_slot(load_escrow_public(escrow.read_bytes()), new_key)
        ring.save(settings.data_dir)
    clear_unlock_cache(settings, ring.node_id)
    return ring


def recover(settings: Settings, escrow_pem: bytes, passphrase: bytes, username: str, new_password: str,
            wall_ms: int) -> Keyring:
    """Open a node whose passwords are all lost with the district escrow key, set
    ``username``'s password to ``new_password`` and give it a slot, then rotate the data key
    (the escrow private key has been out of its safe; the old key is retired)."""
    from node.accounts import set_password
    from node.services import open_node

    data_key = unlock_with_escrow(settings, escrow_pem, passphrase)
    with exclusive_node(settings.data_dir):
        pass  # refuse before changing anything if a server holds the node (rekey below needs it)
    node = open_node(settings, data_key=data_key)
    try:
        set_password(username, new_password, now=wall_ms)
    finally:
        node.close()
    ring = Keyring.load(settings.data_dir)
    ring.set_account_slot(username, new_password, data_key)
    ring.save(settings.data_dir)
    return rekey(settings, data_key, username, new_password)


def encrypt_plaintext_node(settings: Settings, backup_to: Path, progress: Progress,
                           now_ms: int) -> tuple[bytes, str, str]:
    """Convert a plaintext node in place: a checked backup first, then the database copied
    into a SQLCipher file (progress as bytes written), the node key rewrapped, the keyring
    written with a setup slot. Returns (data key, digest before, digest after)."""
    from node.backup import create_backup
    from node.db import sqlite_is_plaintext
    from node.services import open_node

    data_dir = settings.data_dir
    if Keyring.exists_in(data_dir):
        raise AtRestError(f"{data_dir} is already encrypted")
    if not settings.DATABASE_URL and not sqlite_is_plaintext(settings.sqlite_path):
        raise AtRestError(f"{settings.sqlite_path} is not a plaintext SQLite database")
    with exclusive_node(data_dir):
        node = open_node(settings)
        before = node.digest()
        node_id = node.node_id
        node.close()
        done = create_backup(settings, backup_to, now_ms, progress)
        progress(f"backup verified: {done.path}")
        data_key = new_data_key()
        if not settings.DATABASE_URL:
            _export_encrypted(settings.sqlite_path, data_key, progress)
        _rewrap_files(settings, None, data_key)
        new_keyring(node_id, data_key).save(data_dir)
        _drop_node_file_secret(data_dir)
        node = open_node(settings, data_key=data_key)
        after = node.digest()
        node.close()
    return data_key, before, after


def _drop_node_file_secret(data_dir: Path) -> None:
    """node.json of a node from before encryption kept the session secret; it is now derived
    from the data key (node.app.session_secret)."""
    import json

    from node.config import NODE_FILE

    path = data_dir / NODE_FILE
    data = json.loads(path.read_text(encoding="utf-8"))
    if data.pop("secret_key", None) is not None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)


def _export_encrypted(path: Path, data_key: bytes, progress: Progress) -> None:
    """``sqlcipher_export`` into ``<db>.encrypting``, then an atomic rename over the plaintext
    file (its WAL checkpointed first, so the plaintext file is all there is)."""
    from sqlcipher3 import dbapi2 as sqlcipher

    target = path.with_name(path.name + ".encrypting")
    target.unlink(missing_ok=True)
    conn = sqlcipher.connect(str(path), isolation_level=None)
    total = max(1, path.stat().st_size)
    last = [0.0]

    def report() -> int:
        now = time.monotonic()
        if now - last[0] > 0.5 and target.exists():
            last[0] = now
            progress(f"encrypting: {min(100, target.stat().st_size * 100 // total)}%")
        return 0

    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute(f"ATTACH DATABASE ? AS encrypted KEY \"x'{data_key.hex()}'\"", (str(target),))
        conn.set_progress_handler(report, 20000)
        conn.execute("SELECT sqlcipher_export('encrypted')")
        conn.set_progress_handler(None, 0)
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.execute(f"PRAGMA encrypted.user_version = {int(version)}")
        conn.execute("DETACH DATABASE encrypted")
    finally:
        conn.close()
    os.chmod(target, 0o600)
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    os.replace(target, path)
    progress("encrypting: 100%")


def unlock_cache_for(settings: Settings, data_key: bytes) -> Path:
    return write_unlock_cache(settings, Keyring.load(settings.data_dir), data_key)
