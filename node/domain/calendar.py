"""Working-time calendar: which days are working days, office hours, and arithmetic over them.

Responsibility: answer "is this a working day", "how much working time lies between two
instants" and "when does a legal period that starts at this instant end" for the public-sector
week (domain.md §2.3). It is built from plain data (holiday dates, swapped working days, office
sessions) so that the district can sync the calendar down as a record; it never reads a clock or
a file.

Rules
-----
Rule 1. A date is a working day iff it is an extra working day (a swapped, worked Saturday), or
        its weekday is a working weekday and it is not a holiday. A date may not be both a
        holiday and an extra working day (rejected at construction).
Rule 2. Working time is the union of the office sessions of working days. Instants outside it
        (nights, lunch, weekends, holidays) advance to the next session start before counting.
Rule 3. A period of ``N working days`` (Civil Code art. 147(2): the first day is not counted,
        the period starts on the day after the event; art. 148: a period for work done at an
        office ends at the close of its office hours on the last day) ends at the close of
        the N-th working day strictly after the day of ``start``, whatever the hour of
        ``start``: a dossier accepted on Thursday at 16:59 with 1 working day is due Friday
        at closing, as is one accepted at 07:30.
Rule 4. A period in working hours (art. 147(1): it starts at the stated moment) counts
        working time from ``start`` (Rule 2). ``same day`` ends at the close of the working day
        on which counting starts.
Rule 5. One working day is :data:`WORKING_DAY_HOURS` (8) hours, the conversion the catalogue
        uses ("0,5 ngày làm việc" = 4 working hours); the default sessions add up to it.
Rule 6. The 15:00 cut-off is not a calendar rule: it is an attribute of the procedures of
        same-day work (the catalogue's ``processing_time.cutoff``), applied by
        :meth:`WorkCalendar.counting_start` when the deadline module passes it. A ``cutoff`` key
        in older calendar data is read and ignored.

Times are local wall-clock datetimes (Asia/Ho_Chi_Minh has no DST). Naive and aware values both
work; ``tzinfo`` is carried through unchanged, and arithmetic is done on the wall clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum


class InvalidCalendar(ValueError):
    """Raised when calendar data is malformed or inconsistent."""


class TimeUnit(StrEnum):
    """Unit of a legal processing time."""

    WORKING_DAYS = "working_days"
    WORKING_HOURS = "working_hours"
    SAME_DAY = "same_day"


# 4 h + 4 h (Rule 5). A commune with other office hours publishes its own sessions.
DEFAULT_SESSIONS: tuple[tuple[time, time], ...] = ((time(7, 30), time(11, 30)), (time(13, 0), time(17, 0)))
WORKING_DAY_HOURS = 8
# The same-day cut-off of civil-status and certification work (Luật Hộ tịch art. 5(3), Decree
# 23/2015 art. 7) and of the desk's hand-over (Decree 61 art. 18): the catalogue's default value.
SAME_DAY_CUTOFF = time(15, 0)
MONDAY_TO_FRIDAY: frozenset[int] = frozenset(range(5))
# A guard against infinite loops on absurd input: no real duration spans more than this.
_MAX_SCAN_DAYS = 3660


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


@dataclass(frozen=True)
class WorkCalendar:
    """An immutable working-time calendar; see the module rules."""

    holidays: frozenset[date] = frozenset()
    extra_working_days: frozenset[date] = frozenset()
    working_weekdays: frozenset[int] = MONDAY_TO_FRIDAY
    sessions: tuple[tuple[time, time], ...] = DEFAULT_SESSIONS
    version: str = ""
    _session_minutes: tuple[tuple[int, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "extra_working_days", frozenset(self.extra_working_days))
        object.__setattr__(self, "working_weekdays", frozenset(self.working_weekdays))
        both = self.holidays & self.extra_working_days
        if both:
            raise InvalidCalendar(
                "Ngày vừa là ngày nghỉ vừa là ngày làm bù / date is both holiday and working day: "
                + ", ".join(d.isoformat() for d in sorted(both))
            )
        if not self.working_weekdays or not self.working_weekdays <= set(range(7)):
            raise InvalidCalendar("working_weekdays must be a non-empty subset of 0..6 (Monday = 0)")
        spans = tuple((_minutes(a), _minutes(b)) for a, b in self.sessions)
        if not spans:
            raise InvalidCalendar("at least one office session is required")
        previous_end = -1
        for start, end in spans:
            if not start < end or start < previous_end:
                raise InvalidCalendar("office sessions must be ordered, non-empty and non-overlapping")
            previous_end = end
        object.__setattr__(self, "_session_minutes", spans)

    # -- days ---------------------------------------------------------------------------------

    def is_working_day(self, d: date) -> bool:
        """Rule 1."""
        if d in self.extra_working_days:
            return True
        return d.weekday() in self.working_weekdays and d not in self.holidays

    def next_working_day(self, d: date) -> date:
        """The first working day strictly after ``d``."""
        for offset in range(1, _MAX_SCAN_DAYS):
            candidate = d + timedelta(days=offset)
            if self.is_working_day(candidate):
                return candidate
        raise InvalidCalendar(f"no working day within {_MAX_SCAN_DAYS} days after {d}")

    def nth_working_day_after(self, d: date, n: int) -> date:
        """The ``n``-th working day strictly after ``d`` (``n`` ≥ 1)."""
        for _ in range(n):
            d = self.next_working_day(d)
        return d

    @property
    def day_minutes(self) -> int:
        """Working minutes in one working day for conversions (Rule 5), whatever the sessions."""
        return WORKING_DAY_HOURS * 60

    @property
    def session_minutes(self) -> int:
        """Working minutes the office sessions of one day actually hold."""
        return sum(end - start for start, end in self._session_minutes)

    def opening(self, d: date, like: datetime | None = None) -> datetime:
        """The start of the first session of ``d`` (``tzinfo`` copied from ``like``)."""
        return self._at(d, self._session_minutes[0][0], like)

    def closing(self, d: date, like: datetime | None = None) -> datetime:
        """The end of the last session of ``d``."""
        return self._at(d, self._session_minutes[-1][1], like)

    # -- instants -----------------------------------------------------------------------------

    def counting_start(self, received_at: datetime, cutoff: time | None = None) -> datetime:
        """Where working time starts counting for a reception at ``received_at`` (Rules 2 and
        6): received on a working day after ``cutoff`` → the next working day's opening."""
        d = received_at.date()
        if self.is_working_day(d) and cutoff is not None and received_at.time() > cutoff:
            return self.opening(self.next_working_day(d), received_at)
        return self._normalise(received_at)

    def add_working_minutes(self, start: datetime, minutes: int) -> datetime:
        """``start`` plus ``minutes`` of working time; an end exactly at a session end stays there."""
        if minutes < 0:
            raise InvalidCalendar("cannot add a negative amount of working time")
        current = self._normalise(start)
        remaining = minutes
        for _ in range(_MAX_SCAN_DAYS):
            d = current.date()
            now_min = current.hour * 60 + current.minute
            for s_start, s_end in self._session_minutes:
                if now_min >= s_end:
                    continue
                begin = max(now_min, s_start)
                available = s_end - begin
                if remaining <= available:
                    return self._at(d, begin + remaining, current)
                remaining -= available
            current = self.opening(self.next_working_day(d), current)
        raise InvalidCalendar(f"working time of {minutes} minutes exceeds the calendar scan limit")

    def add_working_time(self, start: datetime, amount: int | float, unit: TimeUnit | str) -> datetime:
        """The end of a legal period starting at ``start`` (Rules 2-4); no cut-off here.

        :param amount: whole working days, working hours (fractions allowed when they give
            whole minutes, e.g. 0.5), or 0 for ``same_day``.
        :raises InvalidCalendar: on a negative, fractional-day or non-zero same-day amount.
        """
        unit = TimeUnit(unit)
        if isinstance(amount, bool) or amount < 0:
            raise InvalidCalendar(f"bad duration amount {amount!r}")
        if unit is TimeUnit.SAME_DAY:
            if amount != 0:
                raise InvalidCalendar("a same-day duration has amount 0")
            current = self._normalise(start)
            return self.closing(current.date(), current)
        if unit is TimeUnit.WORKING_DAYS:
            if amount != int(amount):
                raise InvalidCalendar("working days must be a whole number; use working hours instead")
            if amount == 0:
                return self._normalise(start)
            return self.closing(self.nth_working_day_after(start.date(), int(amount)), start)
        minutes = amount * 60
        if minutes != int(minutes):
            raise InvalidCalendar(f"{amount} working hours is not a whole number of minutes")
        return self.add_working_minutes(start, int(minutes))

    def working_minutes_between(self, a: datetime, b: datetime) -> int:
        """Working minutes in ``[a, b)``, floored to whole minutes; negative when ``b < a``."""
        if b < a:
            return -self.working_minutes_between(b, a)
        total = 0
        d = a.date()
        for _ in range(_MAX_SCAN_DAYS):
            if d > b.date():
                return total // 60
            if self.is_working_day(d):
                for s_start, s_end in self._session_minutes:
                    lo = max(a, self._at(d, s_start, a))
                    hi = min(b, self._at(d, s_end, a))
                    if hi > lo:
                        total += int((hi - lo).total_seconds())
            d += timedelta(days=1)
        raise InvalidCalendar("interval exceeds the calendar scan limit")

    def _normalise(self, instant: datetime) -> datetime:
        """Move an instant outside working time to the next session start (Rule 2)."""
        d = instant.date()
        if self.is_working_day(d):
            # Sub-minute precision is dropped: legal times are printed to the minute.
            now_min = instant.hour * 60 + instant.minute
            for s_start, s_end in self._session_minutes:
                if now_min < s_start:
                    return self._at(d, s_start, instant)
                if now_min < s_end:
                    return instant.replace(second=0, microsecond=0)
        return self.opening(self.next_working_day(d), instant)

    @staticmethod
    def _at(d: date, minute_of_day: int, like: datetime | None) -> datetime:
        tz = like.tzinfo if like is not None else None
        return datetime(d.year, d.month, d.day, minute_of_day // 60, minute_of_day % 60, tzinfo=tz)

    # -- plain data ---------------------------------------------------------------------------

    def to_data(self) -> dict[str, object]:
        """Plain data for storage or sync (the inverse of :func:`parse_calendar`)."""
        return {
            "version": self.version,
            "holidays": sorted(d.isoformat() for d in self.holidays),
            "extra_working_days": sorted(d.isoformat() for d in self.extra_working_days),
            "working_weekdays": sorted(self.working_weekdays),
            "sessions": [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in self.sessions],
        }


def _parse_dates(values: object, name: str) -> frozenset[date]:
    if not isinstance(values, Iterable) or isinstance(values, str | bytes):
        raise InvalidCalendar(f"'{name}' must be a list of ISO dates")
    out: set[date] = set()
    for value in values:
        try:
            out.add(date.fromisoformat(value))
        except (TypeError, ValueError):
            raise InvalidCalendar(f"'{name}': not an ISO date: {value!r}") from None
    return frozenset(out)


def _parse_time(value: object, name: str) -> time:
    try:
        return time.fromisoformat(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidCalendar(f"'{name}': not a HH:MM time: {value!r}") from None


def parse_calendar(data: Mapping[str, object], **overrides: object) -> WorkCalendar:
    """Build a :class:`WorkCalendar` from plain data, e.g. ``calendar_source`` output.

    Keys ``holidays`` and ``extra_working_days`` are required; ``working_weekdays``,
    ``sessions`` and ``version`` are optional; other keys (names, sources, reviews, a legacy
    ``cutoff``: Rule 6) are ignored. ``overrides`` (local office settings such as ``sessions``)
    replace the data's values.
    """
    merged = {**data, **overrides}
    kwargs: dict[str, object] = {
        "holidays": _parse_dates(merged.get("holidays"), "holidays"),
        "extra_working_days": _parse_dates(merged.get("extra_working_days"), "extra_working_days"),
        "version": str(merged.get("version", "")),
    }
    if "working_weekdays" in merged:
        weekdays = merged["working_weekdays"]
        if not isinstance(weekdays, Iterable) or not all(isinstance(w, int) for w in weekdays):
            raise InvalidCalendar("'working_weekdays' must be a list of integers 0..6")
        kwargs["working_weekdays"] = frozenset(weekdays)
    if "sessions" in merged:
        raw = merged["sessions"]
        if not isinstance(raw, Iterable):
            raise InvalidCalendar("'sessions' must be a list of [start, end] pairs")
        sessions = []
        for pair in raw:
            if isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, time) for t in pair):
                sessions.append(pair)
            elif isinstance(pair, list | tuple) and len(pair) == 2:
                sessions.append((_parse_time(pair[0], "sessions"), _parse_time(pair[1], "sessions")))
            else:
                raise InvalidCalendar(f"'sessions': bad session {pair!r}")
        kwargs["sessions"] = tuple(sessions)
    return WorkCalendar(**kwargs)  # type: ignore[arg-type]
