"""Reviewing a working calendar before the district publishes it (issue 12.1).

A year's calendar is only as good as the decisions behind it, so a district administrator looks
at every day off and worked weekend day with its source (:func:`node.calendar_source.review`)
and approves the year; publishing a calendar requires an approval of each year it covers, for
exactly the days it lists.

Rules
-----
Rule 1. An approval is recorded for (year, digest of the year's days): changing any day of the
        year (a new package release, an edit) needs a new review.
Rule 2. A year flagged by the review (no recorded swap decision, a recorded entry the package
        now has, a day without a source) is approved only with a note saying why, e.g. the
        reference of a decision not to swap; the note is kept with the approval.
Rule 3. :func:`check_reviewed` refuses a calendar any of whose years has no approval of its
        current days; the message says which command to run.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from node.calendar_source import Review, review, year_digest
from node.domain.errors import DomainError
from node.models import CalendarReviewRow


def years_of(data: Mapping[str, Any]) -> list[int]:
    """The years a calendar covers: its ``years``, else the years of its dates."""
    years = data.get("years")
    if isinstance(years, list) and years and all(type(y) is int for y in years):
        return sorted(set(years))
    days = [*data.get("holidays", ()), *data.get("extra_working_days", ())]
    return sorted({date.fromisoformat(str(d)).year for d in days})


def approved(data: Mapping[str, Any], year: int) -> CalendarReviewRow | None:
    return CalendarReviewRow.get_or_none((CalendarReviewRow.year == year)
                                         & (CalendarReviewRow.digest == year_digest(data, year)))


def approve(data: Mapping[str, Any], year: int, reviewer: str, at_ms: int, note: str = "") -> Review:
    """Record that ``reviewer`` checked ``year`` of ``data`` (Rules 1-2); returns the review."""
    checked = review(data, year)
    if not checked.lines and not checked.swap_decisions:
        raise DomainError(f"the calendar has no day of {year}; build it for that year", "year")
    note = " ".join(note.split())
    if checked.flags and not note:
        raise DomainError(f"năm {year} có điểm cần quyết định; ghi lý do (--note) để duyệt / the review of {year} "
                          "flags: " + "; ".join(checked.flags), "note")
    # A repeated review replaces the earlier one (delete + insert: the same on SQLite and PostgreSQL).
    CalendarReviewRow.delete().where((CalendarReviewRow.year == year)
                                     & (CalendarReviewRow.digest == checked.digest)).execute()
    CalendarReviewRow.create(year=year, digest=checked.digest, version=str(data.get("version", ""))[:200],
                             reviewer=reviewer[:64], reviewed_at=at_ms, note=note)
    return checked


def check_reviewed(data: Mapping[str, Any]) -> None:
    """Rule 3: raise :class:`DomainError` unless every year of ``data`` is approved as it is."""
    missing = [y for y in years_of(data) if approved(data, y) is None]
    if missing:
        years = ", ".join(map(str, missing))
        raise DomainError(f"Lịch năm {years} chưa được rà soát: chạy 'motcua reference calendar review --year "
                          f"{missing[0]} --approve' trước khi công bố / the calendar of {years} has not been "
                          "reviewed", "calendar")
