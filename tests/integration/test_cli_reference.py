"""``motcua reference`` and ``motcua codes`` on real data directories."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from node.cli import main


@pytest.fixture(autouse=True)
def _sqlite_only(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)  # a district would otherwise use it


def run(path, *args, code=0):
    result = CliRunner().invoke(main, ["--data-dir", str(path), *args])
    assert result.exit_code == code, result.output
    return result.output


def init(path, role, unit):
    run(path, "init", "--role", role, "--unit", unit, "--name", f"{role} {unit}")
    return json.loads((path / "node.json").read_text())["node_id"]


def test_reference_show_and_publish(tmp_path):
    district, commune = tmp_path / "d", tmp_path / "c"
    init(district, "district", "40")
    init(commune, "commune", "17272")
    shown = run(district, "reference", "show")
    assert "seed-2026.1" in shown and "seed" in shown and "default-2026.1" in shown
    assert "chưa được rà soát" in run(district, "reference", "publish", "--years", "2026-2027", code=1)
    run(district, "reference", "calendar", "review", "--year", "2026", "--approve")
    run(district, "reference", "calendar", "review", "--year", "2027", "--approve", "--note", "chờ thông báo 2027")
    published = run(district, "reference", "publish", "--years", "2026-2027")
    assert published.count("published revision 1") == 3 and "VN-2026-2027-holidays" in published
    assert run(district, "reference", "publish", "--years", "2026-2027").count("unchanged") == 3
    assert "revision 1" in run(district, "reference", "show")
    assert "only a district" in run(commune, "reference", "publish", code=1)

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": 1, "version": "x", "procedures": [{}]}', encoding="utf-8")
    assert "catalogue" in run(district, "reference", "publish", "--catalogue", str(bad), code=1)


def test_calendar_review_shows_sources_and_flags_a_year_without_a_swap_decision(tmp_path, monkeypatch):
    """Issue 12.1: the 2026 New Year decision (Công văn 12729/VPCP-KGVX) with its reference, the
    package's days with the package, 2027 flagged until someone records why it is approved."""
    monkeypatch.setenv("MOTCUA_LANG", "vi")  # the review as a district officer reads it (the suite asks English)
    district = tmp_path / "d"
    init(district, "district", "40")
    shown = run(district, "reference", "calendar", "review", "--year", "2026")
    assert "02/01/2026 Thứ Sáu" in shown and "edited: Công văn số 12729/VPCP-KGVX" in shown
    assert "10/01/2026 Thứ Bảy   làm bù" in shown and "[holidays 0.109]" in shown
    assert "CẢNH BÁO" not in shown and "Chưa ghi nhận: thêm --approve" in shown
    flagged = run(district, "reference", "calendar", "review", "--year", "2027")
    assert "CẢNH BÁO: Chưa ghi nhận quyết định hoán đổi ngày làm việc năm 2027" in flagged
    assert "--note" in run(district, "reference", "calendar", "review", "--year", "2027", "--approve", code=1)
    edited = tmp_path / "lich.json"
    edited.write_text(json.dumps({"holidays": ["2027-01-01"], "extra_working_days": []}), encoding="utf-8")
    assert "không rõ nguồn" in run(district, "reference", "calendar", "review", "--year", "2027", "--calendar",
                                   str(edited))


def test_codes_lease_status_assign(tmp_path):
    district, commune = tmp_path / "d", tmp_path / "c"
    init(district, "district", "40")
    commune_id = init(commune, "commune", "17272")
    out = run(district, "codes", "lease", "--node", commune_id, "--days", "2", "--size", "10",
              "--agency", "000.17.22.H56", "--unit", "17272", "--from", "2026-05-18")
    assert "numbers 0001-0010 each day 2026-05-18 to 2026-05-19" in out
    assert "has not synced" in run(district, "codes", "lease", "--node", "b" * 32, "--days", "1", "--size", "5",
                                   "--agency", "000.17.22.H56", code=1)
    assert f"node {commune_id}" in run(district, "codes", "status")
    status = run(commune, "codes", "status")
    assert "AGENCY_ID not set" in status and "no number block held yet" in status
    assert "0 final code(s) assigned" in run(commune, "codes", "assign")
