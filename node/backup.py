"""Backups of a node, and restores that can never fork its history.

A backup is one folder ``<dest>/motcua-<unit>-<node id[:8]>-<UTC time>/`` holding

* every file of the data directory as it is (``node.json``, the node key, certificates, a
  district's CA), except the live database files;
* the database: for SQLite ``motcua.sqlite3`` taken with SQLite's online backup API in a single
  step, i.e. inside one read transaction, so the copy is the database as of one commit even
  while the server keeps writing (a stepwise copy would restart on every write of another
  connection and might never finish on a busy node); for PostgreSQL ``motcua.pgdump``, written
  by ``pg_dump --format=custom``, which reads one snapshot (the command is in
  docs/operations.md);
* ``manifest.json``: node, role, unit, motcua version, schema versions, time, this node's own
  feed heads (those of the SQLite copy; for a dump, those read just before it, which it holds at
  least), and the SHA-256 of every file.

Invariants
----------
* A folder with a ``manifest.json`` is a whole, checked backup: the backup is written into a
  hidden folder beside it, fsynced, checked (SQLite: ``PRAGMA integrity_check`` and the chain
  and signature verification of every feed, what ``motcua verify`` does) and only then renamed.
* The live node is only read, except for one row: the time of its last backup
  (``node_state.last_backup``), which ``motcua doctor`` and the staff dashboard compare with
  :data:`MAX_AGE_DAYS`.
* A restore closes the write gate (reason ``restored``): the node writes nothing until a sync
  with its parent brought back its own events later than the backup (:mod:`node.writegate`),
  so it never writes a second seq 101. It restores only into a data directory without a node.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import peewee as pw

from node import __version__
from node.config import NODE_FILE, Settings, load_settings, read_node_file
from node.signing import KEY_FILE, NodeKey

MANIFEST = "manifest.json"
SQLITE_COPY = "motcua.sqlite3"
PG_DUMP = "motcua.pgdump"
MAX_AGE_DAYS = 7
DAY_MS = 86_400_000
LIVE_DB_SUFFIXES = ("motcua.sqlite3", "motcua.sqlite3-wal", "motcua.sqlite3-shm", "motcua.sqlite3-journal")

Progress = Callable[[str], None]


class BackupError(Exception):
    """Raised when a backup or restore cannot be made or checked; the message says why."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    database: str
    size: int
    feeds: int
    events: int


# -- the record of the last backup -------------------------------------------------------------


def record_backup(at_ms: int, path: Path, size: int) -> None:
    from node.writegate import NodeStateRow

    value = json.dumps({"at": at_ms, "path": str(path), "size": size})
    NodeStateRow.insert(key="last_backup", value=value).on_conflict(
        conflict_target=[NodeStateRow.key], update={NodeStateRow.value: value}
    ).execute()


def last_backup() -> dict[str, Any] | None:
    from node.writegate import NodeStateRow

    row = NodeStateRow.get_or_none(NodeStateRow.key == "last_backup")
    return json.loads(row.value) if row else None


def backup_state(now_ms: int) -> dict[str, Any]:
    """What doctor and the dashboard show: the last backup, its age in days, whether it is stale."""
    last = last_backup()
    if last is None:
        return {"at": 0, "path": "", "age_days": None, "stale": True}
    age = max(0, now_ms - int(last["at"])) // DAY_MS
    return {"at": int(last["at"]), "path": last.get("path", ""), "age_days": age,
            "stale": now_ms - int(last["at"]) > MAX_AGE_DAYS * DAY_MS}


def doctor_line(now_ms: int) -> str:
    """One ``motcua doctor`` line: a warning (not a failure) when no backup is recent enough."""
    from node.reports import format_ms

    state = backup_state(now_ms)
    if not state["at"]:
        return "warn backup: none recorded yet; run motcua backup --to DIR (docs/operations.md)"
    when = f"{format_ms(state['at'])}, {state['age_days']} day(s) ago, in {state['path']}"
    if state["stale"]:
        return f"warn backup: the last one is older than {MAX_AGE_DAYS} days ({when}); run motcua backup --to DIR"
    return f"ok   backup: last {when}"


# -- backup ------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # a file or a directory (its entries)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            _fsync(os.path.join(dirpath, name))
        _fsync(dirpath)


def _copy_files(data_dir: Path, target: Path, skip: Path) -> None:
    """The data directory's files, modes kept, minus the live database and the backups."""
    for dirpath, dirs, files in os.walk(data_dir):
        here = Path(dirpath)
        dirs[:] = [d for d in dirs if (here / d).resolve() != skip and not d.startswith(".motcua-")]
        rel = here.relative_to(data_dir)
        (target / rel).mkdir(parents=True, exist_ok=True, mode=0o700)
        for name in files:
            if (rel == Path(".") and name in LIVE_DB_SUFFIXES) or name.endswith(".tmp"):
                continue
            shutil.copy2(here / name, target / rel / name)


def _sqlite_copy(source: Path, target: Path, data_key: bytes | None = None) -> None:
    from node.db import dbapi_connect

    # An encrypted database is copied page by page under the same key: the copy is encrypted too.
    src = dbapi_connect(f"file:{source}?mode=ro", data_key, uri=True, timeout=30)
    dst = dbapi_connect(str(target), data_key)
    try:
        src.backup(dst, pages=-1)  # one step: one read transaction, one commit's worth of data
        dst.execute("PRAGMA journal_mode=DELETE")  # a self-contained file; WAL comes back on open
    finally:
        dst.close()
        src.close()
    os.chmod(target, 0o600)  # citizens' personal data


def _pg_env(url: str) -> dict[str, str]:
    """libpq variables for ``url``: the password never appears on a command line."""
    u = urllib.parse.urlsplit(url)
    env = dict(os.environ)
    env.update({"PGHOST": u.hostname or "127.0.0.1", "PGPORT": str(u.port or 5432),
                "PGDATABASE": urllib.parse.unquote(u.path.lstrip("/")), "PGCONNECT_TIMEOUT": "10"})
    if u.username:
        env["PGUSER"] = urllib.parse.unquote(u.username)
    if u.password:
        env["PGPASSWORD"] = urllib.parse.unquote(u.password)
    return env


def pg_dump_command(target: Path) -> list[str]:
    return ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", f"--file={target}"]


def pg_restore_command(source: Path, dbname: str) -> list[str]:
    """Into an empty database; host, port, user and password come from the libpq variables."""
    return ["pg_restore", "--exit-on-error", "--single-transaction", "--no-owner", "--no-privileges",
            f"--dbname={dbname}", str(source)]


def _run(cmd: list[str], env: dict[str, str], what: str) -> None:
    if shutil.which(cmd[0]) is None:
        raise BackupError(f"{cmd[0]} not found: install Debian's postgresql-client (the server's major version "
                          f"or newer), or run by hand with the libpq variables of DATABASE_URL set: {' '.join(cmd)}")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise BackupError(f"{what} failed ({' '.join(cmd)}): {done.stderr.strip()[-800:]}")


def check_sqlite_copy(path: Path, progress: Progress, data_key: bytes | None = None) -> dict[str, int]:
    """``PRAGMA integrity_check`` and the verification of every feed, on the copy (read only).
    Returns the copy's feed heads (``origin:scope`` -> seq), every one verified."""
    from node.db import connect_sqlite, dbapi_connect
    from node.integrity import verify_feeds
    from sync.store import PeeweeStore

    con = dbapi_connect(f"file:{path}?mode=ro", data_key, uri=True)
    try:
        problems = [r[0] for r in con.execute("PRAGMA integrity_check")]
    finally:
        con.close()
    if problems != ["ok"]:
        raise BackupError(f"the copy fails PRAGMA integrity_check: {'; '.join(problems[:5])}")
    progress("integrity_check ok")
    copy = connect_sqlite(f"file:{path}?mode=ro", data_key, pragmas={}, uri=True)
    try:
        reports = verify_feeds(PeeweeStore(copy))  # a store of its own: the node's stays bound
    finally:
        copy.close()
    bad = [r for r in reports if not r.ok]
    if bad:
        r = bad[0]
        raise BackupError(f"the copy fails verification: feed {r.origin}:{r.scope}: {r.reason} {r.detail}")
    progress(f"verified {len(reports)} feeds, {sum(r.events for r in reports)} events (hash chains and signatures)")
    return {f"{r.origin}:{r.scope}": r.events for r in reports}


def create_backup(settings: Settings, dest: Path, now_ms: int, progress: Progress,
                  data_key: bytes | None = None) -> BackupResult:
    """Write a checked backup of the node into a new folder under ``dest``; see the module doc.

    The database is opened without migrating (a backup is what one takes before an upgrade)
    and without the write gate's start check: a backup reads, and records when it ran."""
    from node.db import open_database

    if not settings.node_file.exists() or not (settings.data_dir / KEY_FILE).exists():
        raise BackupError(f"no node in {settings.data_dir}")
    from node.atrest import NodeLocked
    from node.lockstate import resolve_data_key

    node_id = str(read_node_file(settings.data_dir).get("node_id", ""))
    try:
        data_key = data_key if data_key is not None else resolve_data_key(settings)
        db = open_database(settings, migrate_schema=False, data_key=data_key)
    except NodeLocked as e:
        raise BackupError(f"{e} (a backup reads the database)") from e
    except pw.DatabaseError as e:
        raise BackupError(f"cannot read the database: {e}") from e
    try:
        return _backup(settings, db, node_id, dest, now_ms, progress, data_key)
    finally:
        db.close()


def _backup(settings: Settings, db: pw.Database, node_id: str, dest: Path, now_ms: int,
            progress: Progress, data_key: bytes | None) -> BackupResult:
    from node.db import applied_versions, backend_name, store_for

    kind = backend_name(db)
    stamp = datetime.fromtimestamp(now_ms / 1000, UTC).strftime("%Y%m%dT%H%M%SZ")
    dest = dest.expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    final = dest / f"motcua-{settings.UNIT}-{node_id[:8]}-{stamp}"
    if final.exists():
        raise BackupError(f"{final} already exists")
    work = dest / f".motcua-partial-{stamp}-{os.getpid()}"
    work.mkdir(mode=0o700)
    try:
        _copy_files(settings.data_dir, work, dest)
        feeds = events = 0
        if kind == "sqlite":
            size = settings.sqlite_path.stat().st_size
            progress(f"copying the SQLite database ({size / 1e6:.1f} MB) with the online backup API")
            _sqlite_copy(settings.sqlite_path, work / SQLITE_COPY, data_key)
            held = check_sqlite_copy(work / SQLITE_COPY, progress, data_key)
            feeds, events = len(held), sum(held.values())
            heads = {k: v for k, v in held.items() if k.startswith(node_id + ":")}  # of the copy itself
        else:
            # Read before the dump's snapshot: the dump holds at least these.
            heads = {f"{h.origin}:{h.scope}": h.seq for h in store_for(db).feeds() if h.origin == node_id}
            progress("pg_dump --format=custom (one consistent snapshot)")
            _run(pg_dump_command(work / PG_DUMP), _pg_env(settings.DATABASE_URL), "pg_dump")
            _run(["pg_restore", "--list", str(work / PG_DUMP)], dict(os.environ), "reading the dump back")
            progress("the dump reads back (pg_restore --list)")
        files = sorted(p for p in work.rglob("*") if p.is_file())
        manifest = {
            "format": 1, "motcua": __version__, "node_id": node_id, "role": settings.ROLE, "unit": settings.UNIT,
            "name": settings.NAME, "created_at": now_ms, "database": kind,
            "schema_versions": sorted(applied_versions(db)), "own_heads": heads,
            "files": {str(p.relative_to(work)): _sha256(p) for p in files},
        }
        (work / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        os.chmod(work / MANIFEST, 0o600)
        _fsync_tree(work)
        os.rename(work, final)
        _fsync(dest)
    except (pw.DatabaseError, sqlite3.DatabaseError) as e:
        shutil.rmtree(work, ignore_errors=True)
        raise BackupError(f"cannot read the database: {e}") from e
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    total = sum(p.stat().st_size for p in final.rglob("*") if p.is_file())
    record_backup(now_ms, final, total)
    return BackupResult(final, kind, total, feeds, events)


# -- restore -----------------------------------------------------------------------------------


def read_manifest(source: Path) -> dict[str, Any]:
    try:
        manifest = json.loads((source / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupError(f"{source} holds no {MANIFEST}: not a motcua backup, or an unfinished one") from None
    except (OSError, ValueError) as e:
        raise BackupError(f"cannot read {source / MANIFEST}: {e}") from None
    if manifest.get("format") != 1:
        raise BackupError(f"unknown backup format {manifest.get('format')!r}")
    return manifest


def backup_data_key(source: Path, username: str = "", password: str = "") -> bytes | None:
    """The data key of a backup folder (:func:`node.atrest.folder_data_key`)."""
    from node.atrest import AtRestError, folder_data_key

    try:
        return folder_data_key(source, username, password)
    except AtRestError as e:
        raise BackupError(str(e)) from e


def check_backup(source: Path, progress: Progress, data_key: bytes | None = None) -> dict[str, Any]:
    """The manifest, after checking every file's SHA-256 (and, for SQLite, the database)."""
    manifest = read_manifest(source)
    for rel, digest in manifest["files"].items():
        path = source / rel
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"the backup is damaged: {rel} is missing or differs from the manifest")
    progress(f"{len(manifest['files'])} files match the manifest")
    if manifest["database"] == "sqlite":
        check_sqlite_copy(source / SQLITE_COPY, progress, data_key)
    return manifest


def restore_backup(source: Path, data_dir: Path, environ: Mapping[str, str] | None,
                   progress: Progress, data_key: bytes | None = None) -> dict[str, Any]:
    """Restore ``source`` into ``data_dir`` (which must hold no node) and close the write gate."""
    from node.atrest import node_key_password
    from node.db import open_database
    from node.writegate import WriteGate

    source = source.expanduser().resolve()
    if data_key is None:
        data_key = backup_data_key(source)
    manifest = check_backup(source, progress, data_key)
    data_dir = data_dir.expanduser().resolve()
    if (data_dir / NODE_FILE).exists() or (data_dir / KEY_FILE).exists():
        raise BackupError(f"{data_dir} already holds a node; restore into an empty data directory "
                          "(move the old one aside first)")
    target = load_settings(data_dir, environ, overrides={"ROLE": manifest["role"]})
    if manifest["database"] == "postgresql" and not target.DATABASE_URL:
        raise BackupError("this is a PostgreSQL backup: set DATABASE_URL to the empty database to restore into")
    if manifest["database"] == "sqlite" and target.DATABASE_URL:
        raise BackupError("this is a SQLite backup but DATABASE_URL is set: unset it to restore into SQLite")
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = data_dir / ".motcua-restore"
    shutil.rmtree(staging, ignore_errors=True)  # left by a restore that was cut: redo it whole
    try:
        shutil.copytree(source, staging, ignore=shutil.ignore_patterns(MANIFEST, PG_DUMP, SQLITE_COPY))
        if manifest["database"] == "sqlite":
            shutil.copy2(source / SQLITE_COPY, staging / SQLITE_COPY)
        else:
            progress("pg_restore into the (empty) database of DATABASE_URL")
            env = _pg_env(target.DATABASE_URL)
            _run(pg_restore_command(source / PG_DUMP, env["PGDATABASE"]), env, "pg_restore (is the database empty?)")
        _fsync_tree(staging)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    # node.json last: until it is in place the folder is not a node, so a cut restore is redone.
    for item in sorted(staging.iterdir(), key=lambda p: p.name == NODE_FILE):
        os.replace(item, data_dir / item.name)
    staging.rmdir()
    settings = load_settings(data_dir, environ)
    key = NodeKey.load(data_dir / KEY_FILE, node_key_password(data_key))
    if key.node_id != manifest["node_id"]:
        raise BackupError("the key in the backup does not belong to the node of its manifest")
    db = open_database(settings, data_key=data_key)  # applies the migrations a newer motcua brings
    try:
        taken = datetime.fromtimestamp(manifest["created_at"] / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
        WriteGate(key.node_id, Path(settings.STATE_DIR), has_parent=bool(settings.PARENT_URL)).block(
            "restored", f"restored from the backup of {taken}")
    finally:
        db.close()
    return manifest

