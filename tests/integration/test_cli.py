"""The motcua command: init, verify, rebuild, doctor, digest on a real data directory."""

from __future__ import annotations

import json
import stat

from click.testing import CliRunner

from node.cli import main


def run(tmp_path, *args, code=0):
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "n"), *args])
    assert result.exit_code == code, result.output
    return result.output


def init(tmp_path, role="commune", unit="17272"):
    return run(tmp_path, "init", "--role", role, "--unit", unit, "--name", "UBND xã Tân Phú")


def test_init_creates_key_0600_node_file_and_database(tmp_path):
    out = init(tmp_path)
    assert "Xã Tân Phú" in out
    d = tmp_path / "n"
    assert stat.S_IMODE((d / "node.key").stat().st_mode) == 0o600
    node = json.loads((d / "node.json").read_text())
    assert node["role"] == "commune" and len(node["node_id"]) == 32
    assert (d / "motcua.sqlite3").exists()


def test_init_refuses_to_replace_a_node_but_exist_ok_is_idempotent(tmp_path):
    init(tmp_path)
    node_id = json.loads((tmp_path / "n" / "node.json").read_text())["node_id"]
    out = run(tmp_path, "init", "--role", "commune", "--unit", "17272", "--name", "x", code=1)
    assert "refusing" in out
    run(tmp_path, "init", "--role", "commune", "--unit", "17272", "--name", "x", "--exist-ok")
    assert json.loads((tmp_path / "n" / "node.json").read_text())["node_id"] == node_id


def test_init_rejects_a_bad_unit_code(tmp_path):
    out = run(tmp_path, "init", "--role", "commune", "--unit", "abc", "--name", "x", code=2)
    assert "unit code" in out


def test_seed_verify_rebuild_doctor(tmp_path):
    init(tmp_path)
    assert "created 4 demo dossiers" in run(tmp_path, "seed-demo", "--count", "4")
    assert "ok" in run(tmp_path, "verify")
    out = run(tmp_path, "rebuild")
    before, after = (line.split()[-1] for line in out.splitlines() if line.startswith("digest"))
    assert before == after
    assert run(tmp_path, "digest").strip() == after
    doctor = run(tmp_path, "doctor")
    assert "0 problem(s)" in doctor and "MAX_CLOCK_SKEW_SECONDS" in doctor


def test_verify_fails_with_a_reason_after_tampering(tmp_path):
    from tests.factories import sqlite_connect

    init(tmp_path)
    run(tmp_path, "seed-demo", "--count", "2")
    con = sqlite_connect(tmp_path / "n" / "motcua.sqlite3")
    con.execute("UPDATE event SET raw = replace(raw, 'Nguy', 'Nguo') WHERE seq = 1")
    con.commit()
    con.close()
    out = run(tmp_path, "verify", code=1)
    assert "FAIL" in out and "tampered" in out


def test_commands_on_a_missing_node_say_how_to_create_one(tmp_path):
    out = run(tmp_path, "verify", code=1)
    assert "motcua init" in out
