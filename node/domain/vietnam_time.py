"""Vietnam time, defined once (pure core).

A node keeps every instant as epoch milliseconds (UTC wall clock, passed in by the caller);
people read dates and times in Vietnam time. Vietnam keeps UTC+7 all year (no daylight saving),
so the conversion is a fixed offset and needs no time-zone database. A "day" (a reception day,
a report period, a day's sync log) is a Vietnam calendar day: it starts at 00:00 UTC+7.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

VIETNAM = timezone(timedelta(hours=7), "ICT")


def to_vn(ms: int) -> datetime:
    """The instant ``ms`` (epoch milliseconds) as an aware Vietnam datetime."""
    return datetime.fromtimestamp(ms / 1000, VIETNAM)


def to_ms(moment: datetime) -> int:
    """An aware datetime as epoch milliseconds (truncated)."""
    return int(moment.timestamp() * 1000)


def vn_day(ms: int) -> date:
    """The Vietnam calendar day of the instant ``ms``."""
    return to_vn(ms).date()


def day_start_ms(d: date) -> int:
    """00:00 Vietnam time of ``d``, as epoch milliseconds."""
    return to_ms(datetime.combine(d, time(), VIETNAM))
