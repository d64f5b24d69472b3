"""The disk under a node: a full disk, a read-only database, and free-space warnings.

A write that cannot be stored (SQLite "database or disk is full", ``OSError(ENOSPC)``,
PostgreSQL ``disk_full``) rolls back in its transaction like any failed write, so nothing that
was acknowledged is touched and nothing half-written stays behind; :func:`classify` names the
failure so the API answers ``storage_full`` (507) and the UI says what to do, instead of a 500.
Writes resume by themselves once space returns: nothing is latched.

A database that cannot be written (a read-only file, directory or mount: SQLite "attempt to
write a readonly database", ``EROFS``, PostgreSQL ``read_only_sql_transaction``) is
``read_only`` (503): the node still starts, serves reads and sync pulls, and refuses each write.

Bookkeeping of reads (:func:`bookkeeping`: the access log, a token's last use) goes to the log
on a read-only database, so the read still answers.

Invariant: :func:`classify` only reads the exception chain; it never swallows an error it does
not recognise (callers re-raise those).
"""

from __future__ import annotations

import errno
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

STORAGE_FULL = "storage_full"
READ_ONLY = "read_only"
STATUS = {STORAGE_FULL: 507, READ_ONLY: 503}

MESSAGES = {
    STORAGE_FULL: (
        "Ổ đĩa của máy này đã đầy: hồ sơ chưa được lưu. Hãy giải phóng dung lượng rồi thử lại; dữ liệu đã lưu "
        "trước đó không bị mất. (The disk is full: this write was not stored. Free some space and retry; "
        "nothing stored before is lost.)"
    ),
    READ_ONLY: (
        "Cơ sở dữ liệu của máy này chỉ đọc được: có thể xem và đồng bộ nhưng không thể ghi. Hãy liên hệ quản trị "
        "viên. (The database is read-only: reading and sync work, writes are refused. Contact the "
        "administrator.)"
    ),
}

_FULL_TEXT = ("database or disk is full", "no space left on device", "disk full", "could not extend file")
_READ_ONLY_TEXT = ("readonly database", "read-only file system", "read-only transaction", "read only")
_PG_STATES = {"53100": STORAGE_FULL, "25006": READ_ONLY}  # disk_full, read_only_sql_transaction


def classify(exc: BaseException | None) -> str | None:
    """``storage_full``, ``read_only`` or ``None`` for an exception and its causes."""
    seen = 0
    while exc is not None and seen < 10:
        seen += 1
        if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return STORAGE_FULL
        if isinstance(exc, OSError) and exc.errno == errno.EROFS:
            return READ_ONLY
        state = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if state in _PG_STATES:
            return _PG_STATES[state]
        text = str(exc).lower()
        if any(t in text for t in _FULL_TEXT):
            return STORAGE_FULL
        if any(t in text for t in _READ_ONLY_TEXT):
            return READ_ONLY
        exc = exc.__cause__ or exc.__context__
    return None


def bookkeeping(write: Callable[[], object], what: str) -> None:
    """Run a write that only keeps records about a read (the access log, a token's last use):
    on a read-only database the record goes to the application log instead, so reads still
    answer; any other failure is raised."""
    try:
        write()
    except Exception as e:
        if classify(e) != READ_ONLY:
            raise
        log.warning("read-only database: not recorded in the database: %s", what)


def free_mb(path: Path) -> int:
    """Free space for an unprivileged writer on the file system holding ``path``, in MiB."""
    while not path.exists() and path != path.parent:
        path = path.parent
    return shutil.disk_usage(path).free // (1024 * 1024)


def space_warning(path: Path, min_free_mb: int) -> str:
    """The warning staff read when free space is under the threshold ("" when it is not)."""
    try:
        free = free_mb(path)
    except OSError:
        return ""  # an unreadable mount is reported by the write that fails, not guessed here
    if free >= min_free_mb:
        return ""
    return (f"Ổ đĩa sắp đầy: chỉ còn {free} MB trống (ngưỡng {min_free_mb} MB). Hãy giải phóng dung lượng trước khi "
            f"không thể lưu hồ sơ. (Low disk space: {free} MiB free, under {min_free_mb} MiB.)")
