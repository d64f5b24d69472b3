"""Plain factory functions and fakes shared by the tests (importable, unlike conftest)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from node.config import Settings, load_settings
from node.signing import KEY_FILE, NodeKey


class FakeClock:
    """Wall clock in epoch ms that only moves when a test says so."""

    def __init__(self, start_ms: int = 1_779_000_000_000) -> None:  # 2026-05-17
        self.now = start_ms

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


def make_settings(data_dir: Path, role: str = "commune", unit: str = "17272", **extra: object) -> Settings:
    return load_settings(
        data_dir,
        environ={},
        overrides={
            "ROLE": role, "UNIT": unit, "NAME": f"test {role} {unit}", "SECRET_KEY": "t",
            "STATE_DIR": str(data_dir.parent / f"{data_dir.name}-state"),
            "RUNTIME_DIR": str(data_dir.parent / f"{data_dir.name}-run"), **extra,
        },
    )


def init_node_dir(data_dir: Path, role: str = "commune", unit: str = "17272", encrypted: bool = True) -> NodeKey:
    """What ``motcua init`` leaves behind, without the CLI: an encrypted node (keyring with a
    setup slot, encrypted node key) unless ``encrypted`` is False (a node from before issue 16)."""
    from node.unlocking import create_node_keys

    data_dir.mkdir(parents=True, exist_ok=True)
    key = NodeKey.generate()
    if encrypted:
        create_node_keys(data_dir, key)
        (data_dir / "node.json").write_text(
            f'{{"role": "{role}", "unit": "{unit}", "name": "test", "node_id": "{key.node_id}"}}'
        )
    else:
        key.save(data_dir / KEY_FILE)
        (data_dir / "node.json").write_text(
            f'{{"role": "{role}", "unit": "{unit}", "name": "test", "node_id": "{key.node_id}",'
            f' "secret_key": "{secrets.token_hex(8)}"}}'
        )
    return key


def sqlite_connect(db_path: Path | str, data_dir: Path | str | None = None, **kwargs: object):
    """A DB-API connection to a node's SQLite file (tests read it directly): SQLCipher keyed
    from the node's keyring (setup slot or the test's unlock cache), or plain sqlite3 for a
    plaintext file. ``data_dir`` defaults to the file's folder."""
    import sqlite3

    from node.atrest import Keyring
    from node.db import sqlite_is_plaintext

    db_path = Path(str(db_path).removeprefix("file:").split("?")[0])
    data_dir = Path(data_dir) if data_dir else db_path.parent
    uri = kwargs.pop("uri", False)
    target = f"file:{db_path}?mode=ro" if uri else str(db_path)
    if sqlite_is_plaintext(db_path) or not Keyring.exists_in(data_dir):
        return sqlite3.connect(target, uri=bool(uri), **kwargs)
    from sqlcipher3 import dbapi2 as sqlcipher

    key = node_data_key(data_dir)
    con = sqlcipher.connect(target, uri=bool(uri), **kwargs)
    con.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    return con


def node_data_key(data_dir: Path | str) -> bytes:
    """The data key of a test node: its setup slot, or the unlock cache next to it."""
    import json

    from node.atrest import Keyring

    data_dir = Path(data_dir)
    ring = Keyring.load(data_dir)
    if ring.setup_key is not None:
        return ring.setup_key
    import os

    from node.config import _default_runtime_dir

    folders = [data_dir.parent / f"{data_dir.name}-run", Path(_default_runtime_dir(os.environ))]
    if os.environ.get("MOTCUA_RUNTIME_DIR"):
        folders.append(Path(os.environ["MOTCUA_RUNTIME_DIR"]))
    for folder in folders:
        cache = folder / f"{ring.node_id}.unlocked"
        if cache.exists():
            return bytes.fromhex(json.loads(cache.read_text())["key"])
    raise FileNotFoundError(f"no unlock cache of {data_dir} in {', '.join(map(str, folders))}")


def reset_postgres(url: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


def sample_dossier(name: str = "Nguyễn Văn An", id_number: str = "040090001234", **kw: object) -> dict:
    data: dict = {
        "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
        "applicant": {"name": name, "id_number": id_number, "phone": "0912345678", "address": "Xóm 3"},
    }
    data.update(kw)
    return data


def load_node_key(data_dir: Path | str) -> NodeKey:
    """A test node's signing key, opened with its data key (the key file is encrypted)."""
    from node.atrest import Keyring, node_key_password

    data_dir = Path(data_dir)
    data_key = node_data_key(data_dir) if Keyring.exists_in(data_dir) else None
    return NodeKey.load(data_dir / KEY_FILE, node_key_password(data_key))


def approve_calendar(node: Any, years: Iterable[int] | None = None, calendar: dict | None = None) -> None:
    """Record the district's calendar review of ``years`` (default: the years publishing covers),
    which publishing requires (node.calendar_review); a flagged year is approved with a note."""
    from node.calendar_review import years_of

    data = node.calendar_data(calendar)
    for year in years if years is not None else years_of(data):
        node.review_calendar("admin", year, calendar=calendar, approve=True, note="kiểm thử: đã rà soát")
