"""Small durable files of the PKI: exclusive creation, atomic replacement, locked JSON ledgers.

Invariants
----------
* A file is never seen half-written: data goes to a temporary file in the same directory
  (created ``O_EXCL`` with its final mode, so secret bytes are never in a wider-readable file),
  is fsynced, and is then linked (new files) or renamed (replacements) into place; the
  directory is fsynced afterwards so the name survives a power cut.
* :func:`write_new_file` never overwrites: if the name exists, it raises ``FileExistsError``
  and the existing file is untouched.
* Read-modify-write of a ledger happens inside :func:`exclusive_lock` (``flock`` on the
  ledger's lock file, ``<ledger>.lock``), so two concurrent redeems of one pairing code cannot both win.
  ``flock`` is POSIX; the CA runs on the district server (Linux).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from certs.errors import PkiError


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_temp(path: Path, data: bytes, mode: int) -> Path:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed it; never widens beyond ``mode``
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def write_new_file(path: Path, data: bytes, *, mode: int) -> None:
    """Create ``path`` with ``data`` and ``mode`` atomically; raise ``FileExistsError`` if it exists."""
    tmp = _write_temp(path, data, mode)
    try:
        os.link(tmp, path)  # atomic, and fails if the name is taken: no overwrite, no race
    finally:
        tmp.unlink(missing_ok=True)
    _fsync_dir(path.parent)


def replace_file(path: Path, data: bytes, *, mode: int = 0o644) -> None:
    """Atomically replace (or create) ``path`` with ``data``."""
    tmp = _write_temp(path, data, mode)
    try:
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


@contextlib.contextmanager
def exclusive_lock(lock_path: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path`` (created 0600 if missing) for the block."""
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def lock_path_for(ledger: Path) -> Path:
    """The lock file guarding ``ledger``."""
    return ledger.with_name(ledger.name + ".lock")


def read_json(path: Path, default: Any) -> Any:
    """Load a JSON ledger, or return ``default`` if it does not exist yet."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return default
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise PkiError(f"ledger {path} is not valid JSON: {e}") from e


def write_json(path: Path, value: Any, *, mode: int = 0o600) -> None:
    """Atomically replace a JSON ledger (sorted keys, UTF-8, trailing newline)."""
    text = json.dumps(value, sort_keys=True, indent=1, ensure_ascii=False) + "\n"
    replace_file(path, text.encode("utf-8"), mode=mode)
