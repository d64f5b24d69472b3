"""Locked or unlocked: where a process finds the data key, and how ``motcua lock`` reaches a
running server.

A process gets the data key in one of three ways (:func:`resolve_data_key`):

1. it was handed the key (the web server after a staff sign-in, :mod:`node.unlocking`);
2. the **unlock cache** ``<RUNTIME_DIR>/<node id>.unlocked`` written by ``motcua unlock``: the
   key for command-line work (``sync``, ``backup``, ``seed-demo``…), in a RAM file system by
   default (``$XDG_RUNTIME_DIR`` or ``/dev/shm``), mode 0600, so it is gone at power-off; on a
   mobile node it is dropped after ``IDLE_LOCK_MINUTES`` without use;
3. the **setup slot** of a node without staff accounts (:mod:`node.atrest`).

Otherwise the node is locked: :class:`node.atrest.NodeLocked`.

``motcua lock`` deletes the unlock cache and writes ``<data dir>/lock-request`` (a time, no
secret); a running server compares that file's time with its own unlock time at each request
and locks itself when the request is newer (:func:`lock_requested_since`).

Invariants: the cache holds the key generation it was made for; a cache of another generation
(after ``motcua rekey``) or another node is ignored and removed.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any

from node.atrest import Keyring, NodeLocked
from node.config import Settings

LOCK_REQUEST_FILE = "lock-request"
log = logging.getLogger("motcua.atrest")


def runtime_dir(settings: Settings) -> Path:
    return Path(settings.RUNTIME_DIR)


def cache_path(settings: Settings, node_id: str) -> Path:
    return runtime_dir(settings) / f"{node_id}.unlocked"


def idle_lock_ms(settings: Settings) -> int:
    """How long a mobile node stays unlocked without use; 0 means never locks by itself."""
    if settings.ROLE != "mobile":
        return 0
    return max(0, int(settings.IDLE_LOCK_MINUTES)) * 60_000


def write_unlock_cache(settings: Settings, keyring: Keyring, data_key: bytes) -> Path:
    directory = runtime_dir(settings)
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = cache_path(settings, keyring.node_id)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        json.dump({"key": data_key.hex(), "generation": keyring.generation}, f)
    os.replace(tmp, path)
    return path


def clear_unlock_cache(settings: Settings, node_id: str) -> bool:
    path = cache_path(settings, node_id)
    existed = path.exists()
    path.unlink(missing_ok=True)
    return existed


def read_unlock_cache(settings: Settings, keyring: Keyring, now_s: float | None = None) -> bytes | None:
    path = cache_path(settings, keyring.node_id)
    try:
        mtime = path.stat().st_mtime
        data = json.loads(path.read_text(encoding="ascii"))
        key = bytes.fromhex(data["key"])
        generation = int(data["generation"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError):
        path.unlink(missing_ok=True)
        return None
    now_s = time.time() if now_s is None else now_s
    idle = idle_lock_ms(settings)
    if generation != keyring.generation or (idle and (now_s - mtime) * 1000 > idle):
        path.unlink(missing_ok=True)
        return None
    os.utime(path)  # used now: the idle time starts again
    return key


def resolve_data_key(settings: Settings) -> bytes | None:
    """The data key this process may use now (module docstring); None for a plaintext node.

    :raises NodeLocked: an encrypted node whose key nobody unlocked."""
    data_dir = settings.data_dir
    if not Keyring.exists_in(data_dir):
        return None
    keyring = Keyring.load(data_dir)
    key = read_unlock_cache(settings, keyring)
    if key is None:
        key = keyring.setup_key
    if key is None:
        raise NodeLocked(f"the node in {data_dir} is locked: sign in on its web page, or run motcua unlock")
    return key


def request_lock(settings: Settings, node_id: str) -> bool:
    """What ``motcua lock`` does; True if an unlock cache was removed."""
    removed = clear_unlock_cache(settings, node_id)
    path = settings.data_dir / LOCK_REQUEST_FILE
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(f"{time.time_ns() // 1_000_000}\n", encoding="ascii")
    os.replace(tmp, path)
    return removed


def lock_requested_since(data_dir: Path, since_ms: int) -> bool:
    """True if ``motcua lock`` ran after ``since_ms`` (cheap: one stat and a tiny read)."""
    path = data_dir / LOCK_REQUEST_FILE
    try:
        if path.stat().st_mtime_ns // 1_000_000 < since_ms - 1000:
            return False
        return int(path.read_text(encoding="ascii").strip() or 0) >= since_ms
    except (OSError, ValueError):
        return False


class IdleWatcher:
    """A thread of ``motcua serve`` that calls ``check()`` of the web server's lock state
    (:class:`web.locked.UnlockState`) every ``every_s``
    seconds, so an idle mobile node drops its key on time even when no request comes."""

    def __init__(self, unlock_state: Any, every_s: float = 30.0) -> None:
        self.state = unlock_state
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="motcua-idle-lock", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.state.check()
            except Exception:  # the watcher must outlive one bad check; the log says why
                log.exception("idle lock check failed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class Together:
    """Several background objects started and stopped as one (gunicorn's worker hooks)."""

    def __init__(self, *parts: Any) -> None:
        self.parts = [p for p in parts if p is not None]

    def start(self) -> None:
        for p in self.parts:
            p.start()

    def stop(self) -> None:
        for p in reversed(self.parts):
            p.stop()
