"""Install the PouchDB reference peer (``shared/bench-peer``) into a cache, once per ``package.json``.

Responsibility: :func:`prepare_peer` gives :mod:`bench.pouch_peer` a working copy of the peer with
its ``node_modules``, outside the git work tree; the invariants (sources never used in place,
``npm install`` at most once per ``package.json`` content, a timeout on every subprocess, a
missing ``node``/``npm`` raising :class:`PeerToolMissing`) are those listed in
:mod:`bench.pouch_peer`.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Files of the peer that matter; anything else in the source folder (there is nothing else
# today) is copied too, except these, which are generated in the cache only.
_GENERATED = {"node_modules", "package-lock.json", ".motcua-install-stamp", ".motcua-lock"}
_STAMP = ".motcua-install-stamp"

NPM_INSTALL_TIMEOUT_S = 900.0
NODE_VERSION_TIMEOUT_S = 30.0

Log = Callable[[str], None]


class PeerToolMissing(RuntimeError):
    """``node`` or ``npm`` is not on PATH: the PouchDB baseline cannot run on this machine."""


class PeerRunError(RuntimeError):
    """The peer failed: ``npm install`` or ``baseline.js`` exited non-zero, timed out or wrote no JSON."""


def stderr_log(msg: str) -> None:
    # Progress goes to stderr so that a caller printing a table on stdout stays clean.
    print(f"[pouch-peer] {msg}", file=sys.stderr, flush=True)


def peer_source_dir() -> Path:
    """Where the peer's sources live: ``$MOTCUA_BENCH_PEER_DIR`` or ``<repo>/../shared/bench-peer``."""
    env = os.environ.get("MOTCUA_BENCH_PEER_DIR")
    return Path(env).expanduser().resolve() if env else (REPO_ROOT.parent / "shared" / "bench-peer").resolve()


def peer_cache_dir() -> Path:
    """Where the working copy with ``node_modules`` lives (outside git)."""
    env = os.environ.get("MOTCUA_BENCH_PEER_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "motcua" / "bench-peer").resolve()


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise PeerToolMissing(
            f"'{name}' was not found on PATH: the PouchDB reference peer needs Node >= 18 and npm "
            f"(e.g. `apt-get install nodejs npm`)."
        )
    return path


def node_version() -> str:
    """``node --version`` (e.g. ``v20.20.2``); raises :class:`PeerToolMissing` without node."""
    node = require_tool("node")
    out = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=NODE_VERSION_TIMEOUT_S, check=True
    )
    return out.stdout.strip()


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextmanager
def _locked(cache: Path) -> Iterator[None]:
    # Two benchmark processes started together must not run npm install into the same folder.
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".motcua-lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _sync_sources(source: Path, cache: Path, log: Log) -> None:
    """Copy the peer's files into the cache when their content differs.

    Written with write_bytes + chmod rather than copy2: the shared folder is read-only and
    copy2 would carry that mode over, making the next refresh fail.
    """
    for src in sorted(source.iterdir()):
        if src.name in _GENERATED or not src.is_file():
            continue
        dst = cache / src.name
        data = src.read_bytes()
        if dst.is_file() and dst.read_bytes() == data:
            continue
        if dst.exists():
            dst.chmod(0o644)
        dst.write_bytes(data)
        dst.chmod(0o644)
        log(f"copied {src.name} -> {dst}")


def prepare_peer(
    source: Path | None = None,
    cache: Path | None = None,
    *,
    npm_timeout_s: float = NPM_INSTALL_TIMEOUT_S,
    log: Log = stderr_log,
) -> Path:
    """Make the cache copy of the peer ready to run and return its path.

    Idempotent: ``npm install`` is skipped when ``node_modules`` exists and the stamp matches
    the current ``package.json``.
    """
    source = source or peer_source_dir()
    cache = cache or peer_cache_dir()
    if not (source / "baseline.js").is_file() or not (source / "package.json").is_file():
        raise FileNotFoundError(
            f"PouchDB peer sources not found in {source} (expected baseline.js and package.json); "
            f"set MOTCUA_BENCH_PEER_DIR"
        )
    require_tool("node")
    npm = require_tool("npm")
    with _locked(cache):
        _sync_sources(source, cache, log)
        want = _sha256(cache / "package.json")
        stamp = cache / _STAMP
        have = stamp.read_text().strip() if stamp.is_file() else ""
        if (cache / "node_modules").is_dir() and have == want:
            log(f"npm dependencies up to date in {cache}")
            return cache
        # Remove the stamp first: if this install dies half-way the next call must retry.
        stamp.unlink(missing_ok=True)
        log(f"npm install in {cache} (once per package.json; may take a minute) ...")
        try:
            proc = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=cache,
                capture_output=True,
                text=True,
                timeout=npm_timeout_s,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as exc:
            raise PeerRunError(f"npm install timed out after {npm_timeout_s:.0f} s in {cache}") from exc
        if proc.returncode != 0:
            raise PeerRunError(
                f"npm install failed (exit {proc.returncode}) in {cache}:\n{proc.stderr[-4000:]}"
            )
        stamp.write_text(want + "\n")
        log("npm install done")
    return cache
