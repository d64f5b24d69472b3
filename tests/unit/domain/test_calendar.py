"""WorkCalendar: working days, office hours, the periods of Civil Code arts. 147-148 and
working-time arithmetic (2026 data)."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from node.domain.calendar import InvalidCalendar, TimeUnit, WorkCalendar, parse_calendar

# Official 2026 days off for the public sector: New Year 1 Jan and Friday 2 Jan, worked on
# Saturday 10 Jan instead (Công văn 12729/VPCP-KGVX of 25/12/2025; not in holidays 0.109), then,
# as listed by holidays 0.109, which cites the government notices: Tết 16-20 Feb, Hùng Kings 26 Apr
# (Sunday) observed 27 Apr, 30 Apr, 1 May, 31 Aug swapped for Saturday 22 Aug, National Day 1-2 Sep,
# Vietnam Culture Day 24 Nov.
HOLIDAYS_2026 = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-01-01", "2026-01-02", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",
        "2026-04-26", "2026-04-27", "2026-04-30", "2026-05-01", "2026-08-31", "2026-09-01",
        "2026-09-02", "2026-11-24",
    )
)  # fmt: skip
EXTRA_2026 = frozenset({date(2026, 1, 10), date(2026, 8, 22)})
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
        # The 2026 New Year swap (Công văn 12729/VPCP-KGVX): 1-4 Jan off, Saturday 10 Jan worked.
        ("2026-01-01", False),
        ("2026-01-02", False),
        ("2026-01-05", True),
        ("2026-01-10", True),
    ],
)
def test_is_working_day(day: str, working: bool) -> None:
    assert CAL.is_working_day(date.fromisoformat(day)) is working


@pytest.mark.parametrize(
    ("start", "amount", "unit", "expected"),
    [
        # Working days (Civil Code art. 147(2), art. 148): the day of the start is not counted;
        # the period ends at the close of office hours of its last working day, skipping Tết.
        ("2026-02-12T09:00", 3, TimeUnit.WORKING_DAYS, "2026-02-24T17:00"),
        ("2026-02-13T09:00", 1, TimeUnit.WORKING_DAYS, "2026-02-23T17:00"),
        ("2026-02-13T16:59", 1, TimeUnit.WORKING_DAYS, "2026-02-23T17:00"),  # the hour does not matter
        ("2026-02-23T07:30", 2, TimeUnit.WORKING_DAYS, "2026-02-25T17:00"),  # not "from the opening"
        # Received on a Tết day: day 1 is the first working day after it.
        ("2026-02-18T10:00", 1, TimeUnit.WORKING_DAYS, "2026-02-23T17:00"),
        # Working hours (art. 147(1): from the stated moment) cross the lunch break and Tết.
        ("2026-02-13T14:00", 8, TimeUnit.WORKING_HOURS, "2026-02-23T14:00"),  # 8 h = one working day
        ("2026-02-23T10:00", 2, TimeUnit.WORKING_HOURS, "2026-02-23T13:30"),  # 90 min + 30 min
        ("2026-02-23T09:30", 2, TimeUnit.WORKING_HOURS, "2026-02-23T11:30"),  # ends at session end
        ("2026-02-23T09:00", 0.5, TimeUnit.WORKING_HOURS, "2026-02-23T09:30"),
        ("2026-02-23T12:15", 1, TimeUnit.WORKING_HOURS, "2026-02-23T14:00"),  # lunch → 13:00
        ("2026-02-23T06:00", 1, TimeUnit.WORKING_HOURS, "2026-02-23T08:30"),  # before opening
        # Same day: close of the day counting starts on.
        ("2026-02-13T14:00", 0, TimeUnit.SAME_DAY, "2026-02-13T17:00"),
        ("2026-02-13T17:30", 0, TimeUnit.SAME_DAY, "2026-02-23T17:00"),
        # The 2026 August swap: Saturday 22 worked; 31 Aug, 1-2 Sep off.
        ("2026-08-21T10:00", 2, TimeUnit.WORKING_DAYS, "2026-08-24T17:00"),
        ("2026-08-28T10:00", 1, TimeUnit.WORKING_DAYS, "2026-09-03T17:00"),
        ("2026-08-22T08:00", 1, TimeUnit.WORKING_HOURS, "2026-08-22T09:00"),
        # Hùng Kings observed Monday, then 30 Apr and 1 May.
        ("2026-04-24T10:00", 3, TimeUnit.WORKING_DAYS, "2026-05-04T17:00"),
        # The 2026 New Year: received Wed 31 Dec 2025, 2 working days → Mon 5, Tue 6 Jan.
        ("2025-12-31T10:00", 2, TimeUnit.WORKING_DAYS, "2026-01-06T17:00"),
        # Received Fri 9 Jan: day 1 is the worked Saturday 10 Jan, day 2 Monday 12 Jan.
        ("2026-01-09T10:00", 2, TimeUnit.WORKING_DAYS, "2026-01-12T17:00"),
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
def test_counting_start_applies_a_procedures_cutoff(received: str, expected: str) -> None:
    """The 15:00 cut-off of same-day work (Luật Hộ tịch art. 5(3), Decree 23/2015 art. 7) is
    passed by the caller, from the procedure."""
    assert CAL.counting_start(dt(received), time(15, 0)) == dt(expected)


def test_without_a_cutoff_counting_starts_at_reception() -> None:
    """No global cut-off: the calendar alone never moves a reception to the next day."""
    assert CAL.counting_start(dt("2026-02-13T16:00")) == dt("2026-02-13T16:00")


@pytest.mark.parametrize(
    ("a", "b", "minutes"),
    [
        ("2026-02-23T07:30", "2026-02-23T17:00", 480),  # one working day is 8 hours
        ("2026-02-23T11:00", "2026-02-23T14:00", 90),  # 30 before lunch + 60 after
        ("2026-02-13T16:00", "2026-02-23T08:30", 120),  # across the whole Tết week
        ("2026-02-14T00:00", "2026-02-22T23:59", 0),
        ("2026-08-21T16:00", "2026-08-24T08:00", 60 + 480 + 30),  # includes the swapped Saturday
        ("2026-02-23T14:00", "2026-02-23T11:00", -90),
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
    assert CAL.add_working_time(start, 1, TimeUnit.WORKING_DAYS) == datetime(2026, 2, 23, 17, 0, tzinfo=ict)


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
    local = parse_calendar(data, sessions=[["07:00", "11:00"], ["13:30", "17:00"]], cutoff="15:00")
    assert local.session_minutes == 450 and local.closing(date(2026, 2, 23)) == dt("2026-02-23T17:00")
    assert local.day_minutes == 480  # the conversion stays 8 hours whatever the sessions
    assert local.holidays == CAL.holidays and not hasattr(local, "cutoff")  # a legacy cut-off is ignored


def test_default_sessions_make_an_eight_hour_working_day() -> None:
    assert WorkCalendar().session_minutes == 8 * 60 == WorkCalendar().day_minutes


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
