"""Settings: each declared once, with its default and help; everything else is derived.

The table :data:`SETTINGS` feeds the loader, the ``MOTCUA_*`` environment names, ``motcua
doctor`` and the README (a test fails when a setting is undocumented), the Datasette way.

Precedence, lowest first: declared default, the node file ``<data dir>/node.json`` written by
``motcua init``, ``MOTCUA_<NAME>`` environment variables, explicit overrides (tests, CLI flags).
For the district role ``DATABASE_URL`` is also read without the prefix, because that is what
PostgreSQL tooling and PaaS set.

Invariants: :class:`Settings` is frozen; values are parsed to the type of their default at this
boundary, so no other module parses configuration text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROLES = ("commune", "mobile", "district")
NODE_FILE = "node.json"


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting("ROLE", "", "Node role: commune, mobile or district (set by motcua init)."),
    Setting("UNIT", "", "Administrative unit code this node serves, e.g. a commune code (set by init)."),
    Setting("NAME", "", "Human name of the node, e.g. 'UBND xã Tân Phú – một cửa' (set by init)."),
    Setting("DATA_DIR", "", "Data directory: database, keys, node.json. Never inside a git checkout."),
    Setting("STATE_DIR", "", "Where the write gate keeps its copy of this node's feed heads, outside the data dir "
            "(default $XDG_STATE_HOME/motcua); a restored data dir is noticed against it."),
    Setting("RUNTIME_DIR", "", "Where motcua unlock keeps the data key for command-line work, in RAM (default "
            "$XDG_RUNTIME_DIR/motcua, else /dev/shm/motcua-<uid>); motcua lock empties it."),
    Setting("IDLE_LOCK_MINUTES", 15, "A mobile node locks itself after this many minutes without use (its web "
            "pages and its unlock cache); 0: only motcua lock locks it. Commune and district nodes stay unlocked."),
    Setting("DATABASE_URL", "", "PostgreSQL URL (postgresql://…); empty means SQLite in the data dir."),
    Setting("HOST", "127.0.0.1", "Address motcua serve listens on (0.0.0.0 for the office LAN)."),
    Setting("PORT", 8750, "TCP port motcua serve listens on."),
    Setting("TRUSTED_HOSTS", "", "Extra host names browsers may use for this node, comma-separated (e.g. "
            "motcua.tanphu.lan; .huyen.gov.vn admits its subdomains). Any IP address, localhost, this machine's "
            "name and <name>.local always work; * accepts every name (only behind a proxy that checks Host)."),
    Setting("PARENT_URL", "", "Base URL of the upstream node this node syncs with (district or commune)."),
    Setting("AGENCY_ID", "", "Electronic ID of the agency this node issues dossier codes for (QĐ 20/2020, e.g. "
            "000.17.22.H56): codes <AGENCY_ID>-<yyMMdd>-<nnnn> come from blocks the district leases; empty: "
            "provisional codes only."),
    Setting("SECRET_KEY", "", "Flask session key override (tests); by default derived from the data key, never "
            "stored."),
    Setting("MAX_CLOCK_SKEW_SECONDS", 300, "How far a received timestamp may move the local clock ahead."),
    Setting("MIN_FREE_MB", 500, "Free disk space (MiB) under which motcua doctor and the dashboard warn, before "
            "writes start failing with storage_full."),
    Setting("SYNC_INTERVAL_SECONDS", 60, "Seconds between background syncs when the link is up."),
    Setting("SYNC_BATCH_BYTES", 16 * 1024 * 1024, "Upper bound of one batch (uncompressed JSON) each way."),
    Setting("HTTP_TIMEOUT_SECONDS", 30, "Read timeout of every outgoing HTTP call (connect is 5 s)."),
    Setting("MAX_FILE_MB", 10, "Largest file (MiB, after normalising) a desk may attach to a dossier."),
    Setting("FILES_FETCH", "", "Which attached files this node fetches from its parent: all, or on_demand (a file "
            "is fetched when someone opens it); empty: on_demand on a mobile node, all elsewhere."),
    Setting("FILES_RETENTION_DAYS", 0, "Days after a dossier was refused or withdrawn (stopped) before a purge may "
            "remove its files' chunks from this node; 0: never (the purge preview lists nothing)."),
    Setting("ADVERTISE", True, "Announce this commune or district node on the LAN by mDNS while serving."),
    Setting("LANGUAGE", "vi", "Default language of the web UI and the motcua command: vi or en."),
    Setting("WORKERS", 2, "Threads of the WSGI server started by motcua serve."),
    Setting("PROCESSES", 0, "Worker processes of motcua serve on PostgreSQL (0: one per CPU core, at least 2); "
            "on SQLite always 1."),
    Setting("LOG_LEVEL", "INFO", "Python logging level."),
    Setting("DEV_OPEN_TRUST", False, "DEVELOPMENT ONLY: a node without a district CA trusts any self-signed node "
            "that syncs with it on first use (needed on both ends). Anyone on the network could then read and "
            "write: never on an office LAN. Ignored once the node holds a district CA certificate."),
)

_BY_NAME = {s.name: s for s in SETTINGS}
ENV_PREFIX = "MOTCUA_"


class ConfigError(ValueError):
    """Raised when a setting has a value of the wrong type or outside its allowed set."""


def default_data_dir(environ: Mapping[str, str]) -> Path:
    base = environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "motcua"


@dataclass(frozen=True)
class Settings:
    values: Mapping[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> Any:
        try:
            return self.values[name.upper()]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def data_dir(self) -> Path:
        return Path(self.values["DATA_DIR"])

    @property
    def node_file(self) -> Path:
        return self.data_dir / NODE_FILE

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "motcua.sqlite3"

    def as_flask_config(self) -> dict[str, Any]:
        return {f"MOTCUA_{k}": v for k, v in self.values.items()}


def _parse(setting: Setting, raw: Any) -> Any:
    if isinstance(setting.default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off", ""):
            return False
        raise ConfigError(f"{setting.name}: expected true/false, got {raw!r}")
    if isinstance(setting.default, int):
        try:
            return int(raw)
        except (TypeError, ValueError):
            raise ConfigError(f"{setting.name}: expected an integer, got {raw!r}") from None
    return str(raw)


def _default_runtime_dir(env: Mapping[str, str]) -> str:
    """A RAM file system: the unlock cache must not outlive a power-off."""
    if env.get("XDG_RUNTIME_DIR"):
        return str(Path(env["XDG_RUNTIME_DIR"]) / "motcua")
    if Path("/dev/shm").is_dir():
        return f"/dev/shm/motcua-{os.getuid()}"
    return str(Path(env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")) / "motcua" / "run")


def read_node_file(data_dir: Path) -> dict[str, Any]:
    path = data_dir / NODE_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"cannot read {path}: {e}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a JSON object")
    return data


def load_settings(
    data_dir: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Resolve every declared setting; see the module docstring for precedence."""
    env = os.environ if environ is None else environ
    overrides = {k.upper(): v for k, v in (overrides or {}).items()}
    chosen = data_dir or overrides.get("DATA_DIR") or env.get(ENV_PREFIX + "DATA_DIR") or default_data_dir(env)
    resolved_dir = Path(chosen).expanduser().resolve()
    layers: list[Mapping[str, Any]] = [
        {k.upper(): v for k, v in read_node_file(resolved_dir).items()},
        {k[len(ENV_PREFIX) :]: v for k, v in env.items() if k.startswith(ENV_PREFIX)},
        overrides,
    ]
    values: dict[str, Any] = {}
    for s in SETTINGS:
        value = s.default
        for layer in layers:
            if s.name in layer:
                value = _parse(s, layer[s.name])
        values[s.name] = value
    values["DATA_DIR"] = str(resolved_dir)
    if not values["STATE_DIR"]:
        state_home = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        values["STATE_DIR"] = str(Path(state_home) / "motcua")
    if not values["RUNTIME_DIR"]:
        values["RUNTIME_DIR"] = _default_runtime_dir(env)
    # The bare DATABASE_URL (what PostgreSQL tooling and PaaS set) is honoured for the district
    # hub only: a commune PC or a laptop is SQLite by design, and a stray variable in a shell
    # must never move a commune's dossiers into some shared server.
    if values["ROLE"] == "district" and not values["DATABASE_URL"] and env.get("DATABASE_URL"):
        values["DATABASE_URL"] = env["DATABASE_URL"]
    if values["ROLE"] and values["ROLE"] not in ROLES:
        raise ConfigError(f"ROLE must be one of {', '.join(ROLES)}, got {values['ROLE']!r}")
    if values["LANGUAGE"] not in ("vi", "en"):
        raise ConfigError(f"LANGUAGE must be vi or en, got {values['LANGUAGE']!r}")
    if values["AGENCY_ID"]:
        from node.domain.dossier_code import InvalidDossierCode, check_agency_id

        try:
            check_agency_id(values["AGENCY_ID"])
        except InvalidDossierCode as e:
            raise ConfigError(f"AGENCY_ID: {e}") from None
    return Settings(values)
