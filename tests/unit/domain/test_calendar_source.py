"""The holidays-package adapter: versioned plain calendar data for Vietnam, the recorded
decisions the package lacks, and the yearly review."""

from __future__ import annotations

from datetime import date, datetime, time
from importlib.metadata import version as package_version

import pytest

from node.calendar_source import build_calendar_data, recorded_decisions, review
from node.domain.calendar import TimeUnit, parse_calendar


@pytest.fixture(scope="module")
def data_2026() -> dict[str, object]:
    return build_calendar_data([2026])


def test_2026_days_off_and_swapped_saturday(data_2026: dict[str, object]) -> None:
    holidays = set(data_2026["holidays"])  # type: ignore[call-overload]
    tet = {"2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20"}
    assert tet <= holidays
    assert {"2026-01-01", "2026-04-27", "2026-04-30", "2026-05-01", "2026-08-31", "2026-09-01", "2026-09-02",
            "2026-11-24"} <= holidays  # fmt: skip
    assert data_2026["extra_working_days"] == ["2026-01-10", "2026-08-22"]
    names = data_2026["holiday_names"]
    assert names["2026-02-17"] == "Tết Nguyên Đán"  # type: ignore[index]


def test_version_names_source_and_changes_with_the_dates(data_2026: dict[str, object]) -> None:
    version = str(data_2026["version"])
    assert version.startswith("VN-2026-2026-holidays")
    assert build_calendar_data([2026])["version"] == version  # deterministic
    assert build_calendar_data([2025, 2026])["version"] != version


def test_cross_year_swaps_are_kept_only_for_their_year() -> None:
    assert "2019-01-05" in build_calendar_data([2019])["extra_working_days"]  # type: ignore[operator]
    assert "2019-01-05" not in build_calendar_data([2018])["extra_working_days"]  # type: ignore[operator]
    assert "2018-12-31" in build_calendar_data([2018])["holidays"]  # type: ignore[operator]


def test_data_feeds_the_pure_calendar(data_2026: dict[str, object]) -> None:
    calendar = parse_calendar(data_2026)
    assert calendar.version == data_2026["version"]
    received = datetime(2026, 2, 13, 15, 30)  # Friday before Tết, after the 15:00 cut-off
    start = calendar.counting_start(received, time(15, 0))
    assert start == datetime(2026, 2, 23, 7, 30)
    assert calendar.add_working_time(start, 0, TimeUnit.SAME_DAY) == datetime(2026, 2, 23, 17, 0)
    # Civil Code art. 147(2): day 1 of a period in days is the next working day, the swapped Saturday.
    assert calendar.add_working_time(datetime(2026, 8, 21, 10, 0), 1, TimeUnit.WORKING_DAYS) == datetime(
        2026, 8, 22, 17, 0
    )


def test_no_years_is_an_error() -> None:
    with pytest.raises(ValueError):
        build_calendar_data([])


def test_the_2026_new_year_swap_is_a_recorded_decision_cong_van_12729_vpcp_kgvx(data_2026) -> None:
    """1-4 Jan 2026 off, Friday 2 Jan worked on Saturday 10 Jan (Công văn 12729/VPCP-KGVX of
    25/12/2025): holidays 0.109 has 1 Jan only, so the rest comes from the recorded decision."""
    sources = data_2026["sources"]
    assert sources["2026-01-01"]["source"] == f"holidays {package_version('holidays')}"
    for day in ("2026-01-02", "2026-01-10"):
        assert sources[day]["source"] == "edited" and "12729/VPCP-KGVX" in sources[day]["reference"]
    calendar = parse_calendar(data_2026)
    assert not calendar.is_working_day(date(2026, 1, 2)) and calendar.is_working_day(date(2026, 1, 10))


def test_a_recorded_decision_never_restates_the_package(data_2026) -> None:
    """Never hand-write what the package has: an entry the package now lists is flagged for removal."""
    assert data_2026["redundant"] == []
    stale = [{"year": 2026, "reference": "Thông báo X", "holidays": {"2026-08-31": "Nghỉ bù"}}]
    data = build_calendar_data([2026], decisions=[*recorded_decisions(), *stale])
    assert data["sources"]["2026-08-31"]["source"].startswith("holidays")
    assert [r["date"] for r in data["redundant"]] == ["2026-08-31"]
    assert any("2026-08-31" in flag for flag in review(data, 2026).flags)


def test_review_shows_sources_and_flags_a_year_without_a_swap_decision() -> None:
    data = build_calendar_data([2026, 2027])
    year_2026 = review(data, 2026)
    assert year_2026.flags == () and year_2026.approvable
    assert [line.day for line in year_2026.lines][:2] == [date(2026, 1, 1), date(2026, 1, 2)]
    assert "12729/VPCP-KGVX" in year_2026.lines[1].text() and "Thứ Sáu" in year_2026.lines[1].text()
    assert len(year_2026.swap_decisions) == 2  # the package's August swap and the New Year decision
    year_2027 = review(data, 2027)  # no swap decided for 2027 yet, neither in the package nor recorded
    assert year_2027.swap_decisions == () and "2027" in year_2027.flags[0]
    no_swap = [{"year": 2027, "reference": "Thông báo không hoán đổi ngày làm việc năm 2027"}]
    assert review(build_calendar_data([2027], decisions=no_swap), 2027).flags == ()


def test_a_changed_day_changes_the_review_digest() -> None:
    data = build_calendar_data([2026])
    edited = {**data, "holidays": [*data["holidays"], "2026-12-31"]}
    assert review(edited, 2026).digest != review(data, 2026).digest
    assert any("31/12/2026" in flag for flag in review(edited, 2026).flags)  # a day without a source
