"""Plain factory functions and fakes shared by the tests (importable, unlike conftest)."""

from __future__ import annotations

import secrets
from pathlib import Path

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
            "STATE_DIR": str(data_dir.parent / f"{data_dir.name}-state"), **extra,
        },
    )


def init_node_dir(data_dir: Path, role: str = "commune", unit: str = "17272") -> NodeKey:
    """What ``motcua init`` leaves behind, without the CLI."""
    data_dir.mkdir(parents=True, exist_ok=True)
    key = NodeKey.generate()
    key.save(data_dir / KEY_FILE)
    (data_dir / "node.json").write_text(
        f'{{"role": "{role}", "unit": "{unit}", "name": "test", "node_id": "{key.node_id}",'
        f' "secret_key": "{secrets.token_hex(8)}"}}'
    )
    return key


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
