"""The holidays-package adapter: versioned plain calendar data for Vietnam."""

from __future__ import annotations

from datetime import datetime

import pytest

from node.calendar_source import build_calendar_data
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
    assert data_2026["extra_working_days"] == ["2026-08-22"]
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
    start = calendar.counting_start(received)
    assert start == datetime(2026, 2, 23, 7, 30)
    assert calendar.add_working_time(start, 0, TimeUnit.SAME_DAY) == datetime(2026, 2, 23, 17, 0)
    assert calendar.add_working_time(datetime(2026, 8, 21, 10, 0), 1, TimeUnit.WORKING_DAYS) == datetime(
        2026, 8, 22, 10, 0
    )


def test_no_years_is_an_error() -> None:
    with pytest.raises(ValueError):
        build_calendar_data([])
