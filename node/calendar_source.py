"""Adapter: build working-calendar *data* for Vietnam from the ``holidays`` package and the
recorded government decisions it lacks, and lay a year of it out for review.

Responsibility: turn ``holidays.Vietnam`` (public holidays, Tết with its observed days, and the
yearly government swaps) plus ``node/data/calendar_decisions.json`` (decisions the package does
not have yet, each with the reference of the government's text) into a plain, versioned dict
that ``node.domain.calendar.parse_calendar`` accepts, so the district can compute it once and
sync it down to nodes as data. Nodes never need the package at run time, and an administrator
can edit the data (local decisions, corrections). :func:`review` shows one year of such data —
every day off and worked weekend day with its source — and flags what a person must decide.

How ``holidays`` 0.109 models swaps (``holidays/countries/vietnam.py`` and
``holidays/groups/custom.py``): ``VietnamStaticHolidays.special_public_holidays`` holds tuples
``(to_month, to_day, from_month, from_day[, from_year])`` meaning "``to`` is a day off, worked on
``from`` instead", e.g. 2026: 31 Aug off, Saturday 22 Aug worked. The day off appears as an
ordinary holiday; the worked weekend day is recorded in the instance attribute
``weekend_workdays`` (a set of dates, possibly including other years' cross-year swaps, which is
why this module filters it by year). 0.109, the newest release (checked on PyPI, December 2026),
lacks the 2026 New Year swap, which is therefore a recorded decision.

Invariants: the output lists ISO dates sorted and de-duplicated; ``version`` changes whenever the
set of dates changes (it embeds a digest of them) and names the package version it came from;
``sources`` names, for every listed date, the package or the decision it comes from; a recorded
decision never restates what the package has (such an entry is listed in ``redundant`` for
removal and adds nothing); a year is in ``swap_decisions`` iff the package or a recorded decision
says how its working days are swapped (possibly: not at all).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from importlib.metadata import version as package_version
from typing import Any

import holidays

DATA_FORMAT = 1
COUNTRY = "VN"
HOLIDAY, WORKING_DAY = "holiday", "working_day"
_WEEKDAYS = ("Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy", "Chủ nhật")


class CalendarSourceError(RuntimeError):
    """Raised when the ``holidays`` package or the decisions file is not what this adapter expects."""


def recorded_decisions() -> list[dict[str, Any]]:
    """The decisions shipped with motcua (``node/data/calendar_decisions.json``)."""
    text = (resources.files("node") / "data" / "calendar_decisions.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if data.get("format") != DATA_FORMAT or not isinstance(data.get("decisions"), list):
        raise CalendarSourceError("calendar_decisions.json: unknown format")
    return data["decisions"]


def _decision_days(decision: Mapping[str, Any]) -> Iterable[tuple[str, str, str]]:
    for kind, key in ((HOLIDAY, "holidays"), (WORKING_DAY, "extra_working_days")):
        days = decision.get(key, {})
        if not isinstance(days, Mapping):
            raise CalendarSourceError(f"decision {decision.get('reference')!r}: '{key}' must map dates to names")
        for day, name in days.items():
            date.fromisoformat(day)  # a typo fails here, loudly
            yield kind, day, str(name)


def build_calendar_data(years: Iterable[int], *, language: str = "vi",
                        decisions: Iterable[Mapping[str, Any]] | None = None) -> dict[str, object]:
    """Versioned calendar data for the given years: the package's days, then the recorded
    ``decisions`` (default: those shipped with motcua), each date with its source."""
    wanted = sorted(set(years))
    if not wanted:
        raise ValueError("at least one year is required")
    calendar = holidays.country_holidays(COUNTRY, years=wanted, language=language)
    workdays = getattr(calendar, "weekend_workdays", None)
    if not isinstance(workdays, set):
        raise CalendarSourceError("holidays.Vietnam no longer exposes 'weekend_workdays'; review this adapter")
    year_set = set(wanted)
    source_version = package_version("holidays")
    package = f"holidays {source_version}"
    names = {d.isoformat(): str(name) for d, name in sorted(calendar.items()) if d.year in year_set}
    sources: dict[str, dict[str, str]] = {day: {"kind": HOLIDAY, "name": name, "source": package}
                                          for day, name in names.items()}
    swaps: dict[str, list[str]] = {}
    for d in sorted(w for w in workdays if isinstance(w, date) and w.year in year_set):
        sources[d.isoformat()] = {"kind": WORKING_DAY, "name": "Ngày làm bù", "source": package}
        swaps.setdefault(str(d.year), []).append(package)
    redundant: list[dict[str, str]] = []
    for decision in recorded_decisions() if decisions is None else decisions:
        year, reference = decision.get("year"), str(decision.get("reference", "")).strip()
        if year not in year_set:
            continue
        if not reference:
            raise CalendarSourceError(f"a recorded decision for {year} has no reference to the government's text")
        swaps.setdefault(str(year), []).append(reference)
        for kind, day, name in _decision_days(decision):
            if sources.get(day, {}).get("kind") == kind:
                redundant.append({"date": day, "kind": kind, "reference": reference, "source": sources[day]["source"]})
                continue
            sources[day] = {"kind": kind, "name": name, "source": "edited", "reference": reference}
    holiday_days = sorted(d for d, s in sources.items() if s["kind"] == HOLIDAY)
    extra = sorted(d for d, s in sources.items() if s["kind"] == WORKING_DAY)
    digest = hashlib.sha256(
        json.dumps({"holidays": holiday_days, "extra": extra}, separators=(",", ":")).encode()
    ).hexdigest()[:12]
    return {
        "format": DATA_FORMAT,
        "version": f"{COUNTRY}-{wanted[0]}-{wanted[-1]}-holidays{source_version}-{digest}",
        "source": package,
        "country": COUNTRY,
        "years": wanted,
        "holidays": holiday_days,
        "holiday_names": {d: sources[d]["name"] for d in holiday_days},
        "extra_working_days": extra,
        "sources": {d: sources[d] for d in sorted(sources)},
        "swap_decisions": {y: list(dict.fromkeys(refs)) for y, refs in sorted(swaps.items())},
        "redundant": redundant,
    }


@dataclass(frozen=True)
class ReviewLine:
    day: date
    kind: str  # HOLIDAY or WORKING_DAY
    name: str
    source: str  # "holidays 0.109", "edited" or "unknown" (data without sources)
    reference: str = ""

    def text(self) -> str:
        what = "nghỉ" if self.kind == HOLIDAY else "làm bù"
        origin = f"{self.source}: {self.reference}" if self.reference else self.source
        return f"{self.day:%d/%m/%Y} {_WEEKDAYS[self.day.weekday()]:<9} {what:<7} {self.name}  [{origin}]"


@dataclass(frozen=True)
class Review:
    """One year of calendar data as a person checks it before publishing."""

    year: int
    lines: tuple[ReviewLine, ...]
    swap_decisions: tuple[str, ...]
    flags: tuple[str, ...]
    digest: str  # of the year's days, kinds and sources: what an approval vouches for

    @property
    def approvable(self) -> bool:
        return not self.flags


def year_digest(data: Mapping[str, Any], year: int) -> str:
    """A digest of the year's days off and worked days (a changed date changes it)."""
    prefix = f"{year:04d}-"
    days = {"holidays": sorted(d for d in data.get("holidays", ()) if str(d).startswith(prefix)),
            "extra": sorted(d for d in data.get("extra_working_days", ()) if str(d).startswith(prefix))}
    return hashlib.sha256(json.dumps(days, separators=(",", ":")).encode()).hexdigest()


def review(data: Mapping[str, Any], year: int) -> Review:
    """The year's holidays and worked days with their source, and what is missing: a year with
    no recorded swap decision, or recorded entries the package now has (to remove)."""
    sources = data.get("sources") if isinstance(data.get("sources"), Mapping) else {}
    names = data.get("holiday_names") if isinstance(data.get("holiday_names"), Mapping) else {}
    lines = []
    for kind, key in ((HOLIDAY, "holidays"), (WORKING_DAY, "extra_working_days")):
        for text in data.get(key, ()):
            day = date.fromisoformat(text)
            if day.year != year:
                continue
            s = sources.get(text, {})
            name = str(s.get("name") or names.get(text, ""))
            lines.append(ReviewLine(day, kind, name, str(s.get("source", "unknown")), str(s.get("reference", ""))))
    lines.sort(key=lambda line: line.day)
    decisions = tuple(data.get("swap_decisions", {}).get(str(year), ()))
    flags = []
    if not decisions:
        flags.append(f"Chưa ghi nhận quyết định hoán đổi ngày làm việc năm {year} (kể cả quyết định không hoán "
                     f"đổi) / no swap decision recorded for {year}")
    flags += [f"{r['date']}: {r['source']} đã có, gỡ mục ghi tay ({r['reference']}) / the package has it now"
              for r in data.get("redundant", ()) if str(r.get("date", "")).startswith(f"{year:04d}-")]
    flags += [f"{line.day:%d/%m/%Y}: không rõ nguồn / no source" for line in lines if line.source == "unknown"]
    return Review(year, tuple(lines), decisions, tuple(flags), year_digest(data, year))
