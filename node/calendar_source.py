"""Adapter: build working-calendar *data* for Vietnam from the ``holidays`` package.

Responsibility: turn ``holidays.Vietnam`` (public holidays, Tết with its observed days, and the
yearly government swaps) into a plain, versioned dict that ``node.domain.calendar.parse_calendar``
accepts, so the district can compute it once and sync it down to nodes as data. Nodes never need
the package at run time, and an administrator can edit the data (local decisions, corrections).

How ``holidays`` 0.109 models swaps (``holidays/countries/vietnam.py`` and
``holidays/groups/custom.py``): ``VietnamStaticHolidays.special_public_holidays`` holds tuples
``(to_month, to_day, from_month, from_day[, from_year])`` meaning "``to`` is a day off, worked on
``from`` instead", e.g. 2026: 31 Aug off, Saturday 22 Aug worked. The day off appears as an
ordinary holiday; the worked weekend day is recorded in the instance attribute
``weekend_workdays`` (a set of dates, possibly including other years' cross-year swaps, which is
why this module filters it by year).

Invariants: the output lists ISO dates sorted and de-duplicated; ``version`` changes whenever the
set of dates changes (it embeds a digest of them) and names the package version it came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from datetime import date
from importlib.metadata import version as package_version

import holidays

DATA_FORMAT = 1
COUNTRY = "VN"


class CalendarSourceError(RuntimeError):
    """Raised when the ``holidays`` package does not expose what this adapter relies on."""


def build_calendar_data(years: Iterable[int], *, language: str = "vi") -> dict[str, object]:
    """Versioned calendar data for the given years (holidays, names, swapped working days)."""
    wanted = sorted(set(years))
    if not wanted:
        raise ValueError("at least one year is required")
    calendar = holidays.country_holidays(COUNTRY, years=wanted, language=language)
    workdays = getattr(calendar, "weekend_workdays", None)
    if not isinstance(workdays, set):
        raise CalendarSourceError("holidays.Vietnam no longer exposes 'weekend_workdays'; review this adapter")
    year_set = set(wanted)
    holiday_names = {d.isoformat(): str(name) for d, name in sorted(calendar.items()) if d.year in year_set}
    extra = sorted(d.isoformat() for d in workdays if isinstance(d, date) and d.year in year_set)
    digest = hashlib.sha256(
        json.dumps({"holidays": sorted(holiday_names), "extra": extra}, separators=(",", ":")).encode()
    ).hexdigest()[:12]
    source_version = package_version("holidays")
    return {
        "format": DATA_FORMAT,
        "version": f"{COUNTRY}-{wanted[0]}-{wanted[-1]}-holidays{source_version}-{digest}",
        "source": f"holidays {source_version}",
        "country": COUNTRY,
        "years": wanted,
        "holidays": sorted(holiday_names),
        "holiday_names": holiday_names,
        "extra_working_days": extra,
    }
