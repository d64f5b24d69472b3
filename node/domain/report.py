"""Biểu 06 (Biểu số 06/VPCP/KSTT): the periodic statistics of dossier handling (pure core).

Responsibility: from plain per-dossier records, count for one period, per unit and sector, the
numeric columns 3-13 of the official form (domain.md §5.1) and the §5.2 extras: withdrawn, and
late / overdue with and without an apology letter (Mẫu 04). Every count comes from one
per-dossier decision, :func:`classify_record`, so the identities of §5.1 hold by construction
(:func:`check_identities` proves it for a row) and subtotals are sums of the detail rows.

Column rules
------------
The period is ``[first day 00:00, last day + 1 00:00)`` in Vietnam time; dossiers are judged as
of its last instant, or now for a period not over yet (``as_of``), by
:func:`node.domain.deadline.classify`, whose 766 "end of processing" is: decision (9), return
(10), stop (8), refusal after acceptance (3), withdrawal request (7), or an open supplement
request at ``as_of``.

Rule 0  A record is a member iff received before the period end and not finished before the
        period start (seen at ``as_of``). ``received_at`` is the acceptance instant; callers
        pass accepted dossiers only (desk refusals and unaccepted online filings are not "nhận
        giải quyết").
col 3   received_total: every member.
col 4   received_online: received in the period through the online channel.
col 5   received_direct: received in the period at the desk or by post.
col 6   carried_over: received before the period start. A record may assert it: True must agree
        with its dates and history; False for one received before the period drops it.
col 7   resolved_total: members finished by ``as_of``, not withdrawn (= 8 + 9 + 10). A dossier
        waiting for supplement counts here (the template note of §5.1).
col 8-10 early / on time / late by ``classify``: due = the original appointment, or the period
        restarted when the last supplement came back (Decree 61 art. 19(4)); a dossier still
        waiting on a supplement after more than ``policy.max_supplement_requests`` requests ⇒
        late (766); early vs on time by ``policy.early_rule``. A Mẫu 04 new date does not move the due: an
        apologised late dossier is still late (§5.2 "late with apology letter").
col 11  pending_total: members not finished at ``as_of`` (= 12 + 13).
col 12-13 within time if ``as_of`` ≤ due (the due time, not its day), else overdue.
withdrawn: members whose end of processing is a withdrawal request (7) awaiting its decision at
        ``as_of``, or, flagged withdrawn, the stop (8) deciding it; in neither 7 nor 11 (§5.1
        "+ withdrawn if tracked separately"): col 3 = 7 + 11 + withdrawn. A request taken back
        before ``as_of`` ended nothing (Rule 3 of node.domain.deadline).
late_with / late_without_apology: col 10 split by the apology flag; overdue_with /
        overdue_without_apology: col 13 likewise.

Consequence: a dossier counted resolved because it sat in a supplement request at one period's
end comes back as carried over later if the citizen returns, and one counted withdrawn because a
withdrawal request awaited its decision comes back if the request is taken back; so
pending(P) ⊆ carried_over(P+1), equal when no such request spans the boundary.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from types import MappingProxyType

from node.domain.calendar import WorkCalendar
from node.domain.deadline import (
    DEFAULT_POLICY,
    ClassificationPolicy,
    DossierTiming,
    Duration,
    InvalidTiming,
    Outcome,
    Pause,
    StatusEvent,
    classify,
)
from node.domain.errors import DomainError
from node.domain.statuses import NationalStatus
from node.domain.vietnam_time import VIETNAM

_RESOLUTION = frozenset({NationalStatus.RESOLVED, NationalStatus.RETURNED})
_WITHDRAWAL = frozenset({NationalStatus.WITHDRAWAL_REQUESTED, NationalStatus.STOPPED})
_BY_WITHDRAWAL, _BY_STOP = f"status {int(NationalStatus.WITHDRAWAL_REQUESTED)}", f"status {int(NationalStatus.STOPPED)}"


class InvalidReportRecord(ValueError):
    """Raised when a record contradicts itself or the period (the message names the dossier)."""


class ReportIdentityError(AssertionError):
    """Raised when a report row breaks an identity of domain.md §5.1."""


@dataclass(frozen=True)
class ReportRecord:
    """What the report needs to know about one dossier; datetimes are Vietnam local time."""

    dossier_id: str
    unit: str
    sector: str
    procedure_code: str
    online: bool
    received_at: datetime
    events: tuple[StatusEvent, ...] = ()  # national status history (the end of processing)
    appointment: datetime | None = None  # the original ngày hẹn trả (Mẫu 01)
    legal_duration: Duration | None = None  # fallback when no appointment is on record
    pauses: tuple[Pause, ...] = ()  # supplement requests and other stopped-clock intervals
    apology_issued: bool = False  # a Mẫu 04 apology letter was issued
    withdrawn: bool = False  # the applicant withdrew (ended by status 7 / 8)
    carried_over: bool | None = None  # None: derive from the dates (Rule 0, col 6)

    @property
    def timing(self) -> DossierTiming:
        return DossierTiming(self.received_at, self.events, self.pauses, self.appointment, self.legal_duration)


@dataclass(frozen=True)
class ReportPeriod:
    """Whole days ``first_day``..``last_day`` (inclusive), in ``tz``; see :func:`check_period`
    for the periods a request may ask for. ``now``, when given, caps the snapshot instant: a
    period that has not ended yet is judged as of now, so a dossier due at 17:00 today is not
    overdue at 10:00 (overdue = past the due *time*)."""

    first_day: date
    last_day: date
    tz: tzinfo | None = VIETNAM
    now: datetime | None = None

    def __post_init__(self) -> None:
        if self.last_day < self.first_day:
            raise ValueError(f"report period ends ({self.last_day}) before it starts ({self.first_day})")

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), self.tz)

    @property
    def end(self) -> datetime:
        """Exclusive: midnight after the last day."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), self.tz)

    @property
    def as_of(self) -> datetime:
        """The snapshot instant: events at or before it belong to the period."""
        last = self.end - timedelta(microseconds=1)
        return min(last, self.now) if self.now is not None else last

    @property
    def label(self) -> str:
        return f"từ ngày {self.first_day:%d/%m/%Y} đến ngày {self.last_day:%d/%m/%Y}"


FIRST_REPORT_DAY = date(2000, 1, 1)
LAST_REPORT_DAY = date(2099, 12, 31)
MAX_REPORT_DAYS = 11 * 366  # a decade of yearly reports with room to spare


def check_period(first: date, last: date) -> None:
    """Refuse a period a person cannot mean, before any work: days outside
    :data:`FIRST_REPORT_DAY`..:data:`LAST_REPORT_DAY` (no dossier is dated there; year 9999 cannot
    even be moved by a day), more than :data:`MAX_REPORT_DAYS`, or an end before the start."""
    for day, field in ((first, "from"), (last, "to")):
        if not FIRST_REPORT_DAY <= day <= LAST_REPORT_DAY:
            raise DomainError(f"'{field}' must be a day from {FIRST_REPORT_DAY:%d/%m/%Y} to "
                              f"{LAST_REPORT_DAY:%d/%m/%Y}", field)
    if last < first:
        raise DomainError("the report period ends before it starts", "to")
    if (last - first).days + 1 > MAX_REPORT_DAYS:
        raise DomainError(f"a report period is at most {MAX_REPORT_DAYS} days", "to")


class Arrival(StrEnum):
    """Which of columns 4, 5, 6 a member counts in."""

    ONLINE = "received_online"
    DIRECT = "received_direct"
    CARRIED_OVER = "carried_over"


@dataclass(frozen=True)
class RecordResult:
    """One member's place in the report; ``outcome`` is None when withdrawn."""

    arrival: Arrival
    outcome: Outcome | None
    apology: bool

    @property
    def columns(self) -> tuple[str, ...]:
        """The row fields this dossier adds one to."""
        cols = ["received_total", self.arrival.value]
        if self.outcome is None:
            cols.append("withdrawn")
        elif self.outcome.finished:
            cols += ["resolved_total", f"resolved_{self.outcome.value}"]
            if self.outcome is Outcome.LATE:
                cols.append("late_with_apology" if self.apology else "late_without_apology")
        else:
            cols += ["pending_total", f"pending_{self.outcome.value}"]
            if self.outcome is Outcome.OVERDUE:
                cols.append("overdue_with_apology" if self.apology else "overdue_without_apology")
        return tuple(cols)


def classify_record(
    record: ReportRecord, period: ReportPeriod, calendar: WorkCalendar, policy: ClassificationPolicy = DEFAULT_POLICY
) -> RecordResult | None:
    """The record's columns for ``period`` (see the module rules), or None if not a member."""
    who = f"hồ sơ {record.dossier_id}"
    if record.received_at >= period.end:
        return None
    before = record.received_at < period.start
    if record.carried_over is True and not before:
        raise InvalidReportRecord(f"{who}: carried_over but received {record.received_at} in or after the period")
    if record.carried_over is False and before:
        return None
    if record.withdrawn:
        if any(e.status in _RESOLUTION for e in record.events):
            raise InvalidReportRecord(f"{who}: withdrawn but has a decision (9) or return (10) event")
        if not any(e.status in _WITHDRAWAL for e in record.events):
            raise InvalidReportRecord(f"{who}: withdrawn but has no withdrawal (7) or stop (8) event")
    try:
        result = classify(calendar, record.timing, period.as_of, policy)
    except InvalidTiming as e:
        raise InvalidReportRecord(f"{who}: {e}") from e
    finished = result.outcome.finished
    if before and finished and result.end_at < period.start:
        if record.carried_over:
            raise InvalidReportRecord(f"{who}: carried_over but finished at {result.end_at}, before the period")
        return None
    arrival = Arrival.CARRIED_OVER if before else Arrival.ONLINE if record.online else Arrival.DIRECT
    outcome: Outcome | None = result.outcome
    # Ended by a withdrawal request awaiting its decision at ``as_of``, or by the stop that decided
    # it: withdrawn, whatever happened later (a request taken back after the period).
    if finished and (result.reason == _BY_WITHDRAWAL or (record.withdrawn and result.reason == _BY_STOP)):
        outcome = None
    return RecordResult(arrival, outcome, record.apology_issued)


@dataclass(frozen=True)
class ReportRow:
    """One row: a unit and sector; None in either means "all" (subtotals and the total)."""

    unit: str | None
    sector: str | None
    received_total: int = 0  # col 3
    received_online: int = 0  # col 4
    received_direct: int = 0  # col 5
    carried_over: int = 0  # col 6
    resolved_total: int = 0  # col 7
    resolved_early: int = 0  # col 8
    resolved_on_time: int = 0  # col 9
    resolved_late: int = 0  # col 10
    pending_total: int = 0  # col 11
    pending_within_time: int = 0  # col 12
    pending_overdue: int = 0  # col 13
    withdrawn: int = 0
    late_with_apology: int = 0
    late_without_apology: int = 0
    overdue_with_apology: int = 0
    overdue_without_apology: int = 0

    @property
    def received_new(self) -> int:
        """Newly received in the period (cols 4 + 5)."""
        return self.received_online + self.received_direct

    def label(self, unit_names: Mapping[str, str] | None = None) -> str:
        """Column 2 text: "Tổng cộng", a unit, a sector, or a sector across all units."""
        unit = (unit_names or {}).get(self.unit or "", self.unit or "")
        if self.unit is None and self.sector is None:
            return "Tổng cộng"
        if self.sector is None:
            return unit
        return self.sector if self.unit is not None else f"{self.sector} (tất cả đơn vị)"


COUNT_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(ReportRow) if f.name not in ("unit", "sector"))


# Numbers 3-13 are the official form's; 14-18 are ours (§5.2 gives the extras no numbers).
COLUMN_NUMBERS: Mapping[str, int] = MappingProxyType({name: i + 3 for i, name in enumerate(COUNT_FIELDS)})

# left = sum of right: the §5.1 identities, then the §5.2 apology splits.
IDENTITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("received_total", ("received_online", "received_direct", "carried_over")),
    ("received_total", ("resolved_total", "pending_total", "withdrawn")),
    ("resolved_total", ("resolved_early", "resolved_on_time", "resolved_late")),
    ("pending_total", ("pending_within_time", "pending_overdue")),
    ("resolved_late", ("late_with_apology", "late_without_apology")),
    ("pending_overdue", ("overdue_with_apology", "overdue_without_apology")),
)
_NAMES = {name: f"cột {number} ({name})" for name, number in COLUMN_NUMBERS.items()}


def check_identities(row: ReportRow) -> None:
    """Raise :class:`ReportIdentityError` naming the first §5.1 identity ``row`` breaks."""
    where = f"dòng {row.label()!r} (đơn vị {row.unit or 'tất cả'}, lĩnh vực {row.sector or 'tất cả'})"
    for name in COUNT_FIELDS:
        value = getattr(row, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ReportIdentityError(f"{where}: {_NAMES[name]} = {value!r} is not a count")
    for left, right in IDENTITIES:
        values = [getattr(row, f) for f in right]
        if getattr(row, left) != sum(values):
            terms = " + ".join(_NAMES[f] for f in right)
            numbers = " + ".join(map(str, values))
            raise ReportIdentityError(
                f"{where}: {_NAMES[left]} = {getattr(row, left)} ≠ {terms} = {numbers} = {sum(values)}"
            )


@dataclass(frozen=True)
class Report:
    """Rows in print order: total; per unit its subtotal then its sectors; sectors across units."""

    period: ReportPeriod
    rows: tuple[ReportRow, ...]

    @property
    def total(self) -> ReportRow:
        return self.row(None, None)

    def row(self, unit: str | None, sector: str | None) -> ReportRow:
        for row in self.rows:
            if row.unit == unit and row.sector == sector:
                return row
        raise KeyError((unit, sector))


def build_report(
    records: Iterable[ReportRecord],
    period: ReportPeriod,
    calendar: WorkCalendar,
    policy: ClassificationPolicy = DEFAULT_POLICY,
    *,
    units: Sequence[str] = (),
    sectors: Sequence[str] = (),
) -> Report:
    """Count ``records`` for ``period``. ``units``/``sectors`` list rows wanted even when empty
    (the official form lists every sector); others seen in the records follow, sorted."""
    tallies: defaultdict[tuple[str | None, str | None], Counter[str]] = defaultdict(Counter)
    seen_units, seen_sectors = dict.fromkeys(units), dict.fromkeys(sectors)
    for record in records:
        result = classify_record(record, period, calendar, policy)
        if result is None:
            continue
        seen_units[record.unit] = seen_sectors[record.sector] = None
        for key in ((record.unit, record.sector), (record.unit, None), (None, record.sector), (None, None)):
            tallies[key].update(result.columns)
    unit_order = list(units) + sorted(u for u in seen_units if u not in units)
    sector_order = list(sectors) + sorted(s for s in seen_sectors if s not in sectors)
    keys: list[tuple[str | None, str | None]] = [(None, None)]
    for unit in unit_order:
        keys += [(unit, None)] + [(unit, sector) for sector in sector_order]
    keys += [(None, sector) for sector in sector_order]
    return Report(period, tuple(ReportRow(u, s, **tallies[(u, s)]) for u, s in keys))

