"""Deadlines and Biểu 06 from the node's own data: adapters from folded dossiers (derived rows)
to the pure rules of :mod:`node.domain.deadline` and :mod:`node.domain.report`.

* :func:`timing_of` turns a dossier (its status history, supplement pauses, appointment) into a
  :class:`~node.domain.deadline.DossierTiming`, mapping statuses to national codes through the
  status mapping in force.
* :func:`deadline_view` is what a dossier's API answer shows: early / on time / late (finished)
  or within time / overdue (pending) by the national rule, the due (restarted when a supplement
  came back), and a ``due_soon`` / ``overdue`` warning against the target date (the Mẫu 04 new date
  when an apology was issued, since that is then the promise to the citizen).
* :func:`record_of` turns a dossier into a :class:`~node.domain.report.ReportRecord` (sector from
  the catalogue the dossier was received under, else the one in force; withdrawn = withdrawal
  request 7 followed by a stop 8, or still waiting for the decision; apology flag), and
  :func:`build` counts them for a period, per unit and sector.

Choices, documented: an online-filed dossier counts from its acceptance (the first move to
``received``), its due computed from then with the catalogue's duration (not the date computed
at filing, before a supplement notice may have sent it back: Decree 61/2018 art. 17(2)(a)), and
is not a member before it; a dossier with neither an appointment nor a
catalogue duration cannot be classified and is listed as skipped rather than guessed.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from node.domain.calendar import WorkCalendar
from node.domain.catalogue import Catalogue, Procedure
from node.domain.deadline import (
    DEFAULT_POLICY,
    DossierTiming,
    Duration,
    InvalidTiming,
    Pause,
    StatusEvent,
    classify,
    deadline_warning,
)
from node.domain.dossier import FINISHED_STATUSES, PAUSED_STATUSES
from node.domain.report import (
    COLUMN_NUMBERS,
    COUNT_FIELDS,
    Report,
    ReportPeriod,
    ReportRecord,
    build_report,
    check_identities,
)
from node.domain.statuses import StatusMapping
from node.domain.vietnam_time import VIETNAM, to_ms, to_vn
from node.models import DossierRow

DUE_SOON_WORKING_HOURS = 8  # one working day's notice before an appointment
CHUNK = 1000


def _loads(value: Any) -> list:
    return json.loads(value) if isinstance(value, str) else list(value or ())


def _get(d: Any, name: str) -> Any:
    return d[name] if isinstance(d, Mapping) else getattr(d, name)


def accepted_at(d: Any) -> int | None:
    """The instant the dossier was accepted: reception, or an online filing's first acceptance."""
    if _get(d, "channel") != "online":
        return _get(d, "received_at")
    return next((at for status, at in _loads(_get(d, "history")) if status == "received"), None)


def procedure_of(catalogue: Catalogue, d: Any) -> Procedure | None:
    for lookup, key in ((catalogue.by_key, "procedure_key"), (catalogue.by_code, "procedure_code")):
        value = _get(d, key)
        if value:
            try:
                return lookup(value)
            except KeyError:
                pass
    return None


def timing_of(d: Any, mapping: StatusMapping, duration: Duration | None) -> DossierTiming | None:
    """The timing facts of a dossier (a state or a derived row), or None before acceptance."""
    start = accepted_at(d)
    if start is None:
        return None
    events = []
    for status, at in _loads(_get(d, "history")):
        try:
            events.append(StatusEvent(mapping.national(status), to_vn(at)))
        except ValueError:
            continue  # a status this mapping does not know cannot be classified; skip it
    pauses = tuple(Pause(to_vn(a), to_vn(b) if b is not None else None) for a, b in _loads(_get(d, "pauses")))
    due = _get(d, "due_at")
    if _get(d, "channel") == "online" and duration is not None:
        due = None  # the date printed at filing is not the period: it runs from the acceptance

    return DossierTiming(to_vn(start), tuple(events), pauses, to_vn(due) if due is not None else None, duration)


def deadline_view(
    d: Any, calendar: WorkCalendar, mapping: StatusMapping, catalogue: Catalogue, now_ms: int
) -> dict[str, Any]:
    """The deadline block of a dossier's API answer."""
    procedure = procedure_of(catalogue, d)
    timing = timing_of(d, mapping, procedure.duration if procedure else None)
    out: dict[str, Any] = {
        "appointment": _get(d, "due_at"),
        "new_due_at": _get(d, "new_due_at"),
        "apology_issued": _get(d, "apology_at") is not None,
        "supplement_requests": _get(d, "supplement_requests"),
        "pauses": [list(p) for p in _loads(_get(d, "pauses"))],
        "outcome": None, "label": "", "finished": False, "due_at": None, "end_at": None, "reason": "",
        "warning": None,
    }
    if timing is None:
        out["reason"] = "not accepted yet"
        return out
    now = to_vn(now_ms)
    try:
        result = classify(calendar, timing, now, DEFAULT_POLICY)
    except InvalidTiming as e:
        out["reason"] = str(e)
        return out
    out.update(outcome=result.outcome.value, label=result.outcome.label, finished=result.outcome.finished,
               due_at=to_ms(result.due_at), end_at=to_ms(result.end_at), reason=result.reason)
    if _get(d, "status") not in FINISHED_STATUSES | PAUSED_STATUSES:
        target = to_vn(_get(d, "new_due_at")) if _get(d, "new_due_at") is not None else result.due_at
        warning = deadline_warning(calendar, target, now, within_working_hours=DUE_SOON_WORKING_HOURS)
        if warning is not None:
            out["warning"] = {"level": warning.level.value, "remaining_minutes": warning.remaining_minutes,
                              "message": warning.message, "target": to_ms(target)}
    return out


def withdrawn(history: Iterable[tuple[str, int]]) -> bool:
    """Ended by the applicant: the last withdrawal request is followed by a stop, or pending."""
    statuses = [status for status, _ in history]
    if "resolved" in statuses or "returned" in statuses or "withdrawal_requested" not in statuses:
        return False
    last = len(statuses) - 1 - statuses[::-1].index("withdrawal_requested")
    after = statuses[last + 1 :]
    return not after or after[0] == "stopped"


def record_of(d: Any, catalogue: Catalogue, mapping: StatusMapping) -> ReportRecord | None:
    procedure = procedure_of(catalogue, d)
    timing = timing_of(d, mapping, procedure.duration if procedure else None)
    if timing is None:
        return None
    sector = _get(d, "sector") or (procedure.sector if procedure else "") or "Chưa phân loại"
    return ReportRecord(
        dossier_id=_get(d, "id"), unit=_get(d, "scope"), sector=sector, procedure_code=_get(d, "procedure_code"),
        online=_get(d, "channel") == "online", received_at=timing.received_at, events=timing.events,
        appointment=timing.appointment, legal_duration=timing.legal_duration, pauses=timing.pauses,
        apology_issued=_get(d, "apology_at") is not None, withdrawn=withdrawn(_loads(_get(d, "history"))),
    )


@dataclass
class ReportResult:
    report: Report
    members: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (dossier id, why)


def period_of(first: date, last: date, now_ms: int | None = None) -> ReportPeriod:
    """The report period of those days, judged as of ``now_ms`` if it ends later."""
    return ReportPeriod(first, last, VIETNAM, to_vn(now_ms) if now_ms is not None else None)


def build(
    period: ReportPeriod,
    calendar: WorkCalendar,
    catalogue: Catalogue,
    mapping: StatusMapping,
    *,
    unit: str = "",
    progress: Callable[[int, int], None] | None = None,
) -> ReportResult:
    """Biểu 06 for ``period`` from the derived dossier rows (one unit, or all held)."""
    end_ms = to_ms(datetime.combine(period.last_day + timedelta(days=1), time(), VIETNAM))
    query = DossierRow.select().where(DossierRow.received_at < end_ms)
    if unit:
        query = query.where(DossierRow.scope == unit)
    total = query.count()
    records: list[ReportRecord] = []
    skipped: list[tuple[str, str]] = []
    for done, row in enumerate(query.order_by(DossierRow.id).dicts().iterator(), start=1):
        record = record_of(row, catalogue, mapping)
        if record is not None and record.appointment is None and record.legal_duration is None:
            skipped.append((row["id"], "no appointment and procedure not in the catalogue"))
        elif record is not None:
            records.append(record)
        if progress and (done % CHUNK == 0 or done == total):
            progress(done, total)
    if progress and total == 0:
        progress(0, 0)
    sectors = list(dict.fromkeys(p.sector for p in catalogue))
    units = [unit] if unit else []
    report = build_report(records, period, calendar, DEFAULT_POLICY, units=units, sectors=sectors)
    for row in report.rows:
        check_identities(row)
    return ReportResult(report, members=report.total.received_total, skipped=skipped)


def report_json(result: ReportResult, unit_names: Mapping[str, str] | None = None) -> dict[str, Any]:
    from node.report_export import FORM_CODE, TITLE, table_rows

    p = result.report.period
    return {
        "form": FORM_CODE,
        "title": TITLE,
        "period": {"from": p.first_day.isoformat(), "to": p.last_day.isoformat(), "label": p.label},
        "columns": dict(COLUMN_NUMBERS),
        "rows": [
            {"stt": cells[0], "label": cells[1], "unit": row.unit, "sector": row.sector,
             **{f: getattr(row, f) for f in COUNT_FIELDS}}
            for row, cells in table_rows(result.report, unit_names)
        ],
        "skipped": [{"id": i, "reason": why} for i, why in result.skipped],
    }


def warnings(
    calendar: WorkCalendar, mapping: StatusMapping, catalogue: Catalogue, now_ms: int, limit: int = 100
) -> list[dict[str, Any]]:
    """Open dossiers overdue or due within :data:`DUE_SOON_WORKING_HOURS`, most urgent first.

    Candidates are read by index (appointment or new date up to the warning horizon plus the
    longest pause, since pauses push the due date back), then judged exactly."""
    horizon = to_ms(calendar.add_working_minutes(to_vn(now_ms), DUE_SOON_WORKING_HOURS * 60))
    open_rows = DossierRow.select().where(DossierRow.status.not_in(sorted(FINISHED_STATUSES | PAUSED_STATUSES)))
    candidates = open_rows.where(
        (DossierRow.due_at <= horizon) | (DossierRow.new_due_at <= horizon) | (DossierRow.supplement_requests > 0)
    )
    out = []
    for row in candidates.dicts().iterator():
        view = deadline_view(row, calendar, mapping, catalogue, now_ms)
        if view["warning"] is not None:
            out.append({"id": row["id"], "code": row["code"], "applicant_name": row["applicant_name"],
                        "procedure_name": row["procedure_name"], "status": row["status"], **view["warning"]})
    out.sort(key=lambda w: (w["remaining_minutes"], w["id"]))
    return out[: max(1, limit)]
