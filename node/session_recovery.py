"""Sync sessions left "running" by a process that died are marked "interrupted" when the node
next starts (issue 14.4).

A session's line in ``sync_session`` is opened ``running`` (:func:`sync.ledger.open_session`) and
closed ``ok``/``partial``/``failed`` by the process that runs it. A SIGKILL, a power cut or an
out-of-memory kill in between left the line "running" for ever, and the district console showed
a sync that was not happening.

How a dead owner is told from a live one: every process that opens the node holds a shared
``flock`` on ``<STATE_DIR>/<node id>.sessions.lock`` for its whole life; the kernel drops it when
the process ends, however it ends. At start (:func:`recover`):

- a process that can take the lock exclusively is the only one alive on this node, so every line
  still ``running`` belongs to a dead process: all are marked ``interrupted``;
- otherwise (a ``motcua sync`` still running while ``serve`` starts) only lines idle for longer
  than :data:`STALE_MS` are: a live session writes its line after every exchange.

Invariants
----------
- Only ``running`` lines change; ``ended_at`` becomes the last time the line was written (when
  the process was last known alive), ``error_code`` ``interrupted``.
- A line marked while its owner was in fact alive (a clock or lock oddity) is corrected by that
  owner, which writes its final outcome when it ends.
- Recovery never prevents a start: a database that refuses the update (read-only) is logged.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

import peewee as pw

from sync.ledger import SyncSessionRow

INTERRUPTED = "interrupted"
STALE_MS = 15 * 60 * 1000  # far longer than one exchange (HTTP timeouts are seconds to a minute)
MESSAGE = "the process running this session ended before it finished (crash, kill or power cut)"
_held: dict[Path, int] = {}  # lock file -> descriptor, kept open for the life of the process
log = logging.getLogger("motcua.sessions")


def lock_path(state_dir: Path, node_id: str) -> Path:
    return Path(state_dir) / f"{node_id}.sessions.lock"


def _claim(path: Path) -> bool:
    """Hold the shared lock for the life of this process; True if no other process held it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        alone = True
    except BlockingIOError:
        alone = False
    fcntl.flock(fd, fcntl.LOCK_SH)  # from here on, we are one of the living
    previous = _held.pop(path, None)
    if previous is not None:
        os.close(previous)
    _held[path] = fd
    return alone


def release(state_dir: Path, node_id: str) -> None:
    """Drop this process's lock (tests; a process that ends drops it anyway)."""
    fd = _held.pop(lock_path(state_dir, node_id), None)
    if fd is not None:
        os.close(fd)


def mark_interrupted(now: int, idle_before: int | None = None) -> int:
    """Mark ``running`` lines interrupted (only those last written before ``idle_before`` if
    given); return how many."""
    last_written = pw.fn.COALESCE(SyncSessionRow.ended_at, SyncSessionRow.started_at)
    where = SyncSessionRow.outcome == "running"
    if idle_before is not None:
        where &= last_written < idle_before
    return (SyncSessionRow.update(outcome=INTERRUPTED, error_code=INTERRUPTED, error=MESSAGE, ended_at=last_written)
            .where(where).execute())


def recover(state_dir: Path, node_id: str, now: int) -> int:
    """At the start of a process that opened the node: claim the lock, mark what died."""
    alone = _claim(lock_path(state_dir, node_id))
    try:
        count = mark_interrupted(now, None if alone else now - STALE_MS)
    except pw.DatabaseError as e:
        log.warning("could not mark interrupted sync sessions: %s", e)
        return 0
    if count:
        log.warning("%d sync session(s) left running by a process that ended were marked interrupted", count)
    return count
