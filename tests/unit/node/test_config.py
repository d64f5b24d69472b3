"""Settings: declared once, typed at the boundary, layered defaults < node.json < env < overrides."""

from __future__ import annotations

import json

import pytest

from node.config import SETTINGS, ConfigError, load_settings


def test_defaults_apply(tmp_path):
    s = load_settings(tmp_path, environ={})
    assert s.PORT == 8750 and s.HOST == "127.0.0.1" and s.DATABASE_URL == ""
    assert s.data_dir == tmp_path.resolve()


def test_precedence_node_file_then_env_then_overrides(tmp_path):
    (tmp_path / "node.json").write_text(json.dumps({"port": 9000, "role": "commune", "unit": "17272"}))
    assert load_settings(tmp_path, environ={}).PORT == 9000
    assert load_settings(tmp_path, environ={"MOTCUA_PORT": "9100"}).PORT == 9100
    assert load_settings(tmp_path, environ={"MOTCUA_PORT": "9100"}, overrides={"port": 9200}).PORT == 9200


def test_wrong_types_are_refused_with_the_setting_name(tmp_path):
    with pytest.raises(ConfigError, match="PORT"):
        load_settings(tmp_path, environ={"MOTCUA_PORT": "eighty"})
    with pytest.raises(ConfigError, match="ROLE"):
        load_settings(tmp_path, environ={"MOTCUA_ROLE": "province"})


def test_bare_database_url_is_for_the_district_only(tmp_path):
    env = {"DATABASE_URL": "postgresql://db/x"}
    assert load_settings(tmp_path, environ={**env, "MOTCUA_ROLE": "commune"}).DATABASE_URL == ""
    assert load_settings(tmp_path, environ={**env, "MOTCUA_ROLE": "district"}).DATABASE_URL == "postgresql://db/x"


def test_every_setting_has_help_and_a_unique_name():
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names))
    assert all(s.help.strip() and s.name.isupper() for s in SETTINGS)
