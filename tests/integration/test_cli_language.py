"""The CLI speaks the node's language (issue 13.5): Vietnamese by default, with its diacritics,
English with ``--lang en`` or ``MOTCUA_LANG=en`` or the node's ``LANGUAGE`` setting, never a mix
of the two in its own messages. The English comes from the web UI's gettext catalogue
(``web/translations``); tests/unit/web/test_i18n_extract.py keeps every CLI message in it.

The other tests read the CLI's English words: tests/conftest.py sets ``MOTCUA_LANG=en``, which
the tests here remove to see the default."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from node.cli import main


@pytest.fixture
def vietnamese(monkeypatch):
    monkeypatch.delenv("MOTCUA_LANG", raising=False)


def run(tmp_path, *args, code=0, input=None):
    result = CliRunner().invoke(main, ["--data-dir", str(tmp_path / "n"), *args], input=input)
    assert result.exit_code == code, result.output
    return result.output


def init(tmp_path, *lang):
    return run(tmp_path, *lang, "init", "--role", "commune", "--unit", "17272", "--name", "UBND xã Tân Phú")


def test_vietnamese_by_default_with_diacritics(tmp_path, vietnamese):
    out = init(tmp_path)
    assert "đã khởi tạo máy commune" in out and "đơn vị 17272: Xã Tân Phú, Nghệ An" in out
    assert "hãy thêm tài khoản cán bộ đầu tiên ngay" in out
    assert "initialised" not in out and "add the first" not in out
    assert "đã tạo 2 hồ sơ mẫu" in run(tmp_path, "seed-demo", "--count", "2")
    doctor = run(tmp_path, "doctor")
    assert "thiết lập:" in doctor and "ok   cơ sở dữ liệu sqlite" in doctor and "0 lỗi, " in doctor
    assert "problem(s)" not in doctor and "settings:" not in doctor
    assert "(không có phiên nào khớp máy abc)" in run(tmp_path, "sync-log", "--peer", "abc")


def test_vietnamese_errors(tmp_path, vietnamese):
    init(tmp_path)
    refused = run(tmp_path, "sync", "--peer", "ftp://x", code=2)
    assert "không phải là địa chỉ của một máy" in refused and "ví dụ https://192.168.1.10:8750" in refused
    assert "đã chứa máy" in run(tmp_path, "init", "--role", "commune", "--unit", "17272", "--name", "x", code=1)
    missing = run(tmp_path / "nowhere", "verify", code=1)
    assert "chưa có máy nào trong" in missing and "motcua init" in missing


def test_english_on_request_by_option_and_by_environment(tmp_path, vietnamese, monkeypatch):
    out = init(tmp_path, "--lang", "en")
    assert "initialised commune node" in out and "unit 17272: Xã Tân Phú, Nghệ An" in out
    assert "đã khởi tạo" not in out
    monkeypatch.setenv("MOTCUA_LANG", "en")
    doctor = run(tmp_path, "doctor")
    assert "settings:" in doctor and "0 problem(s), " in doctor and "thiết lập" not in doctor
    assert "(no session matches peer abc)" in run(tmp_path, "sync-log", "--peer", "abc")
    assert "0 lỗi, " in run(tmp_path, "--lang", "vi", "doctor")  # the option wins over the environment


def test_the_nodes_language_setting_is_the_default(tmp_path, vietnamese, monkeypatch):
    init(tmp_path)
    monkeypatch.setenv("MOTCUA_LANGUAGE", "en")  # the node's LANGUAGE (the web UI's default language)
    assert "0 problem(s), " in run(tmp_path, "doctor")
    assert "0 lỗi, " in run(tmp_path, "--lang", "vi", "doctor")
