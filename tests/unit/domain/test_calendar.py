"""WorkCalendar: working days, office hours, cut-off and working-time arithmetic (2026 data)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from node.domain.calendar import InvalidCalendar, TimeUnit, WorkCalendar, parse_calendar

# Official 2026 days off for the public sector (as listed by holidays 0.109, which cites the
# government notices): Tết 16-20 Feb, Hùng Kings 26 Apr (Sunday) observed 27 Apr, 30 Apr, 1 May,
# 31 Aug swapped for Saturday 22 Aug, National Day 1-2 Sep, Vietnam Culture Day 24 Nov.
HOLIDAYS_2026 = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-01-01", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",
        "2026-04-26", "2026-04-27", "2026-04-30", "2026-05-01", "2026-08-31", "2026-09-01",
        "2026-09-02", "2026-11-24",
    )
)  # fmt: skip
EXTRA_2026 = frozenset({date(2026, 8, 22)})
CAL = WorkCalendar(holidays=HOLIDAYS_2026, extra_working_days=EXTRA_2026, version="test-2026")


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize(
    ("day", "working"),
    [
        ("2026-02-13", True),  # Friday before Tết
        ("2026-02-14", False),  # Saturday
        ("2026-02-16", False),  # Tết eve (Monday)
        ("2026-02-20", False),  # fourth day of Tết
        ("2026-02-23", True),  # first working day after Tết
        ("2026-04-27", False),  # Hùng Kings observed
        ("2026-08-22", True),  # swapped Saturday: worked
        ("2026-08-29", False),  # ordinary Saturday
        ("2026-08-31", False),  # swapped day off
        ("2026-09-02", False),  # National Day
        ("2026-11-24", False),  # Vietnam Culture Day
        ("2026-11-25", True),
    ],
)
def test_is_working_day(day: str, working: bool) -> None:
    assert CAL.is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("start", "amount", "unit", "expected"),
    [
        # Working days: same wall-clock time N working days later, skipping all of Tết.
        ("2026-02-12T09:00", 3, TimeUnit.WORKING_DAYS, "2026-02-24T09:00"),
        ("2026-02-13T09:00", 1, TimeUnit.WORKING_DAYS, "2026-02-23T09:00"),
        # Counting from a session start ends at the close of the N-th day.
        ("2026-02-23T07:30", 2, TimeUnit.WORKING_DAYS, "2026-02-24T17:00"),
        # Received on a Tết day: counting starts at the first opening after Tết.
        ("2026-02-18T10:00", 1, TimeUnit.WORKING_DAYS, "2026-02-23T17:00"),
        # Working hours cross the lunch break and the Tết week.
        ("2026-02-13T14:00", 8, TimeUnit.WORKING_HOURS, "2026-02-23T14:30"),
        ("2026-02-23T10:00", 2, TimeUnit.WORKING_HOURS, "2026-02-23T14:00"),  # 90 min + 30 min
        ("2026-02-23T09:30", 2, TimeUnit.WORKING_HOURS, "2026-02-23T11:30"),  # ends at session end
        ("2026-02-23T09:00", 0.5, TimeUnit.WORKING_HOURS, "2026-02-23T09:30"),
        ("2026-02-23T12:15", 1, TimeUnit.WORKING_HOURS, "2026-02-23T14:30"),  # lunch → 13:30
        ("2026-02-23T06:00", 1, TimeUnit.WORKING_HOURS, "2026-02-23T08:30"),  # before opening
        # Same day: close of the day counting starts on.
        ("2026-02-13T14:00", 0, TimeUnit.SAME_DAY, "2026-02-13T17:00"),
        ("2026-02-13T17:30", 0, TimeUnit.SAME_DAY, "2026-02-23T17:00"),
        # The 2026 August swap: Saturday 22 worked; 31 Aug, 1-2 Sep off.
        ("2026-08-21T10:00", 2, TimeUnit.WORKING_DAYS, "2026-08-24T10:00"),
        ("2026-08-28T10:00", 1, TimeUnit.WORKING_DAYS, "2026-09-03T10:00"),
        ("2026-08-22T08:00", 1, TimeUnit.WORKING_HOURS, "2026-08-22T09:00"),
        # Hùng Kings observed Monday, then 30 Apr and 1 May.
        ("2026-04-24T10:00", 3, TimeUnit.WORKING_DAYS, "2026-05-04T10:00"),
    ],
)
def test_add_working_time(start: str, amount: float, unit: TimeUnit, expected: str) -> None:
    assert CAL.add_working_time(dt(start), amount, unit) == dt(expected)


@pytest.mark.parametrize(
    ("received", "expected"),
    [
        ("2026-02-13T14:59", "2026-02-13T14:59"),
        ("2026-02-13T15:00", "2026-02-13T15:00"),  # at the cut-off is still "before"
        ("2026-02-13T15:01", "2026-02-23T07:30"),  # after the cut-off on the last day before Tết
        ("2026-08-21T15:30", "2026-08-22T07:30"),  # next working day is the swapped Saturday
        ("2026-02-14T09:00", "2026-02-23T07:30"),  # received on a weekend (e.g. online)
        ("2026-02-13T07:00", "2026-02-13T07:30"),
    ],
)
def test_counting_start_applies_the_cutoff(received: str, expected: str) -> None:
    assert CAL.counting_start(dt(received)) == dt(expected)


def test_no_cutoff_configured_counts_from_reception() -> None:
    cal = WorkCalendar(holidays=HOLIDAYS_2026, cutoff=None)
    assert cal.counting_start(dt("2026-02-13T16:00")) == dt("2026-02-13T16:00")


@pytest.mark.parametrize(
    ("a", "b", "minutes"),
    [
        ("2026-02-23T07:30", "2026-02-23T17:00", 450),
        ("2026-02-23T11:00", "2026-02-23T14:00", 60),  # 30 before lunch + 30 after
        ("2026-02-13T16:00", "2026-02-23T08:30", 120),  # across the whole Tết week
        ("2026-02-14T00:00", "2026-02-22T23:59", 0),
        ("2026-08-21T16:00", "2026-08-24T08:00", 60 + 450 + 30),  # includes the swapped Saturday
        ("2026-02-23T14:00", "2026-02-23T11:00", -60),
        ("2026-02-23T09:00:30", "2026-02-23T09:02:00", 1),  # floored
    ],
)
def test_working_minutes_between(a: str, b: str, minutes: int) -> None:
    assert CAL.working_minutes_between(dt(a), dt(b)) == minutes


def test_adding_then_measuring_round_trips() -> None:
    start = dt("2026-02-10T10:10")
    for minutes in (0, 1, 89, 450, 451, 2000, 4500):
        end = CAL.add_working_minutes(start, minutes)
        assert CAL.working_minutes_between(start, end) == minutes


def test_timezone_is_carried_through() -> None:
    ict = timezone(timedelta(hours=7))
    start = datetime(2026, 2, 13, 14, 0, tzinfo=ict)
    assert CAL.add_working_time(start, 1, TimeUnit.WORKING_DAYS) == datetime(2026, 2, 23, 14, 0, tzinfo=ict)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"holidays": {date(2026, 8, 22)}, "extra_working_days": {date(2026, 8, 22)}}, "both"),
        ({"working_weekdays": frozenset()}, "working_weekdays"),
        ({"working_weekdays": frozenset({7})}, "working_weekdays"),
        ({"sessions": ()}, "session"),
        ({"sessions": ((time(13, 0), time(12, 0)),)}, "sessions"),
        ({"sessions": ((time(7, 0), time(12, 0)), (time(11, 0), time(17, 0)))}, "sessions"),
    ],
)
def test_bad_calendar_is_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidCalendar, match=message):
        WorkCalendar(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("amount", "unit"),
    [(-1, TimeUnit.WORKING_DAYS), (1.5, TimeUnit.WORKING_DAYS), (1, TimeUnit.SAME_DAY), (0.01, TimeUnit.WORKING_HOURS)],
)
def test_bad_amounts_are_rejected(amount: float, unit: TimeUnit) -> None:
    with pytest.raises(InvalidCalendar):
        CAL.add_working_time(dt("2026-02-23T09:00"), amount, unit)


def test_plain_data_round_trip_with_local_overrides() -> None:
    data = CAL.to_data()
    assert parse_calendar(data) == CAL
    local = parse_calendar(data, sessions=[["07:00", "11:30"], ["13:30", "17:00"]], cutoff=None)
    assert local.day_minutes == 480 and local.cutoff is None
    assert local.holidays == CAL.holidays


@pytest.mark.parametrize(
    "data",
    [
        {"holidays": "2026-01-01", "extra_working_days": []},
        {"holidays": ["2026-13-01"], "extra_working_days": []},
        {"holidays": [], "extra_working_days": [20260822]},
        {"holidays": [], "extra_working_days": [], "sessions": [["7h30", "11:30"]]},
        {"holidays": [], "extra_working_days": [], "working_weekdays": ["mon"]},
    ],
)
def test_bad_plain_data_is_rejected(data: dict[str, object]) -> None:
    with pytest.raises(InvalidCalendar):
        parse_calendar(data)
