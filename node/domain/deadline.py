"""Appointment dates (ngày hẹn trả), supplements, reschedules, and the national early / on-time /
late rules.

Responsibility: compute the promised return time at acceptance, restart it when a supplemented
dossier comes back, check a Mẫu 04 reschedule, classify a dossier for the periodic report and
the 766 index (domain.md §2.3), and warn before a deadline. Every function takes the calendar and
the instants it needs (``now``, ``as_of``); none reads a clock.

Rules
-----
Rule 1. Appointment = the end of the legal period (Civil Code arts. 147-148, see
        :mod:`node.domain.calendar` Rules 3-4): a period in working days ends at the close of
        office hours of the N-th working day after the day of acceptance; one in working hours
        counts working time from the acceptance instant; ``same day`` ends at that day's
        closing. A procedure whose ``Duration.cutoff`` is set (same-day civil-status and
        certification work, Luật Hộ tịch art. 5(3), Decree 23/2015 art. 7) starts counting at
        the next working day's opening when received after it; there is no global cut-off.
Rule 2. Supplements (Decree 61/2018 art. 19(4)): when the supplemented dossier comes back (the
        end of a supplement pause), the processing period restarts from the beginning, counted
        from that instant like a new acceptance. Other paused intervals the policy subtracts
        (fees, public posting) extend the due by their working time. With no legal duration on
        record the restart cannot be computed, and the supplement time extends the due instead
        (the 766 fallback "elapsed − supplement time"). The restart counts the legal duration
        and never gives a due before the appointment on record (an officer's later date
        stands). Classification starts from the *original* appointment, so callers must not
        pass one already moved. (Decree 118/2025, which replaces Decree 61, was not checked
        here for this rule; the 2018 text stands.)
Rule 3. End of processing (``NgayKetThucXuLy``) is the first "resolved" (9) event; failing that
        the first "returned" (10); failing that the earliest stop (8), refusal (3) or, for an
        accepted dossier, withdrawal request (7) not taken back (followed by nothing yet or by
        the stop). Events after ``as_of`` are ignored.
Rule 4. A dossier with no end event that sits in an open supplement request ends at the time
        of that request (the 766 reading: the clock stopped and the citizen did not come back).
Rule 5. Only such a dossier, still waiting on a supplement, is late for having had more than
        ``max_supplement_requests`` (default 1) supplement requests (Decision 766/QĐ-TTg); one
        whose supplements came back is judged on its times like any other.
Rule 6. Finished: late if end > due (minute resolution). Otherwise, with the DAY rule (the
        usual reading, default) early if the end's date is before the due date, on time if it is
        the due date; with the MINUTE rule early if end < due, on time if equal.
Rule 7. Pending at ``as_of``: within time if ``as_of`` ≤ due (the due *time*, not its day),
        else overdue.
Rule 8. With no appointment on record, due = Rule 1 applied to the legal duration (the 766
        fallback "elapsed − supplement time ≤ legal maximum", expressed as a date).
Rule 9. Mẫu 04 (Decree 61/2018 art. 19(9)): the apology with its new date is issued at least
        one day before the deadline, i.e. on a day before the due day, and the date is moved at
        most once; the new date is after the current due. Decree 118/2025 replaces Decree 61;
        whether it keeps the one-day lead and the single reschedule could not be checked here
        against its text, so the 2018 rule stands until it is.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, time
from enum import StrEnum

from node.domain.calendar import TimeUnit, WorkCalendar
from node.domain.errors import DomainError
from node.domain.statuses import NationalStatus


class InvalidTiming(ValueError):
    """Raised when durations, pauses or dossier timing data are inconsistent."""


@dataclass(frozen=True)
class Duration:
    """A legal processing time: an amount and a :class:`TimeUnit` (same day has amount 0), and
    the procedure's same-day cut-off if it has one (Rule 1)."""

    amount: int | float
    unit: TimeUnit
    cutoff: time | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "unit", TimeUnit(self.unit))
        if self.cutoff is not None and self.unit is TimeUnit.WORKING_DAYS:
            # A period in days starts the next day anyway (Civil Code art. 147(2)).
            raise InvalidTiming("a cut-off applies to same-day and hour periods, not to periods in days")
        if isinstance(self.amount, bool) or not isinstance(self.amount, int | float) or self.amount < 0:
            raise InvalidTiming(f"Thời hạn không hợp lệ / bad duration amount {self.amount!r}")
        if self.unit is TimeUnit.SAME_DAY and self.amount != 0:
            raise InvalidTiming("a same-day duration has amount 0")
        if self.unit is TimeUnit.WORKING_DAYS and self.amount != int(self.amount):
            raise InvalidTiming("working days must be whole; express half days in working hours")


class PauseKind(StrEnum):
    """Why the clock was stopped."""

    SUPPLEMENT = "supplement"
    FEES = "fees"
    PUBLIC_POSTING = "public_posting"
    OTHER = "other"


@dataclass(frozen=True)
class Pause:
    """A stopped-clock interval; ``end`` is None while it is still open."""

    start: datetime
    end: datetime | None = None
    kind: PauseKind = PauseKind.SUPPLEMENT

    def __post_init__(self) -> None:
        if self.end is not None and self.end < self.start:
            raise InvalidTiming("Thời điểm kết thúc tạm dừng trước thời điểm bắt đầu / pause ends before it starts")


@dataclass(frozen=True)
class StatusEvent:
    """A national status reached at an instant (from the dossier's event log)."""

    status: NationalStatus
    at: datetime


@dataclass(frozen=True)
class DossierTiming:
    """What classification needs to know about one dossier."""

    received_at: datetime
    events: tuple[StatusEvent, ...] = ()
    pauses: tuple[Pause, ...] = ()
    appointment: datetime | None = None
    legal_duration: Duration | None = None


class EarlyRule(StrEnum):
    """How "early" is told from "on time" (domain.md §2.3 leaves it to configuration)."""

    DAY = "day"
    MINUTE = "minute"


@dataclass(frozen=True)
class ClassificationPolicy:
    """Configurable parts of the classification rules."""

    early_rule: EarlyRule = EarlyRule.DAY
    max_supplement_requests: int = 1
    subtracted_pauses: frozenset[PauseKind] = field(default=frozenset({PauseKind.SUPPLEMENT}))


DEFAULT_POLICY = ClassificationPolicy()


class Outcome(StrEnum):
    """Report classes: three for finished dossiers (Biểu 06 cols 8-10), two for pending (12-13)."""

    EARLY = "early"
    ON_TIME = "on_time"
    LATE = "late"
    WITHIN_TIME = "within_time"
    OVERDUE = "overdue"

    @property
    def finished(self) -> bool:
        return self in (Outcome.EARLY, Outcome.ON_TIME, Outcome.LATE)

    @property
    def label(self) -> str:
        return _OUTCOME_LABELS[self]


_OUTCOME_LABELS = {
    Outcome.EARLY: "Trước hạn",
    Outcome.ON_TIME: "Đúng hạn",
    Outcome.LATE: "Quá hạn",
    Outcome.WITHIN_TIME: "Trong hạn",
    Outcome.OVERDUE: "Quá hạn",
}


@dataclass(frozen=True)
class Classification:
    """The outcome with the instants that produced it, for reports and audits."""

    outcome: Outcome
    end_at: datetime
    due_at: datetime
    reason: str


def appointment_at(calendar: WorkCalendar, received_at: datetime, duration: Duration) -> datetime:
    """Rule 1: the appointment printed on the receipt slip (Mẫu 01)."""
    if duration.unit is TimeUnit.WORKING_DAYS:
        return calendar.add_working_time(received_at, duration.amount, duration.unit)
    start = calendar.counting_start(received_at, duration.cutoff)
    return calendar.add_working_time(start, duration.amount, duration.unit)


def extend_for_pauses(
    calendar: WorkCalendar, appointment: datetime, pauses: Iterable[Pause], *, now: datetime | None = None
) -> datetime:
    """The appointment pushed back by the working time of the pauses (Rule 2, other pauses).

    Open pauses count up to ``now``; without ``now`` an open pause is an error.
    """
    total = 0
    for pause in pauses:
        end = pause.end if pause.end is not None else now
        if end is None:
            raise InvalidTiming("an open pause needs 'now' to be measured")
        total += max(0, calendar.working_minutes_between(pause.start, end))
    # Adding zero would still move an appointment at closing time to the next opening.
    return calendar.add_working_minutes(appointment, total) if total else appointment


def due_after_pauses(
    calendar: WorkCalendar, appointment: datetime, duration: Duration | None, closed: Iterable[Pause]
) -> datetime:
    """Rule 2: the due once the closed pauses are taken into account. The last supplement that
    came back restarts the period; other pauses after it extend the due by their working time."""
    closed = sorted(closed, key=lambda p: p.start)
    supplements = [p for p in closed if p.kind is PauseKind.SUPPLEMENT and p.end is not None]
    if not supplements or duration is None:
        return extend_for_pauses(calendar, appointment, closed)
    back = max(p.end for p in supplements if p.end is not None)
    # The restart never shortens a promise already made (an officer's later appointment stands).
    due = max(appointment_at(calendar, back, duration), appointment)
    later = [p for p in closed if p.kind is not PauseKind.SUPPLEMENT and p.start >= back]
    return extend_for_pauses(calendar, due, later)


OPEN_SUPPLEMENT = "open supplement request"


def end_of_processing(timing: DossierTiming, as_of: datetime) -> tuple[datetime, str] | None:
    """Rules 3 and 4: the end instant and why, or None if the dossier is pending at ``as_of``."""
    events = sorted((e for e in timing.events if e.at <= as_of), key=lambda e: e.at)
    for wanted in (NationalStatus.RESOLVED, NationalStatus.RETURNED):
        for event in events:
            if event.status is wanted:
                return event.at, f"status {int(wanted)}"
    accepted = not any(e.status is NationalStatus.NEWLY_FILED for e in events)
    for i, event in enumerate(events):
        if event.status is NationalStatus.ACCEPTED:
            accepted = True
        # A withdrawal request the applicant took back (the dossier went on) ended nothing.
        taken_back = i + 1 < len(events) and events[i + 1].status is not NationalStatus.STOPPED
        if event.status in (NationalStatus.STOPPED, NationalStatus.REFUSED) or (
            event.status is NationalStatus.WITHDRAWAL_REQUESTED and accepted and not taken_back
        ):
            return event.at, f"status {int(event.status)}"
    open_supplements = [
        p
        for p in timing.pauses
        if p.kind is PauseKind.SUPPLEMENT and p.start <= as_of and (p.end is None or p.end > as_of)
    ]
    if open_supplements:
        return max(p.start for p in open_supplements), OPEN_SUPPLEMENT
    return None


def judge(end: datetime, due: datetime, rule: EarlyRule = EarlyRule.DAY) -> Outcome:
    """Rule 6 for one finished dossier or one control-slip step."""
    end_m = end.replace(second=0, microsecond=0)
    due_m = due.replace(second=0, microsecond=0)
    if end_m > due_m:
        return Outcome.LATE
    if rule is EarlyRule.MINUTE:
        return Outcome.EARLY if end_m < due_m else Outcome.ON_TIME
    return Outcome.EARLY if end_m.date() < due_m.date() else Outcome.ON_TIME


def classify(
    calendar: WorkCalendar, timing: DossierTiming, as_of: datetime, policy: ClassificationPolicy = DEFAULT_POLICY
) -> Classification:
    """Classify one dossier as of ``as_of`` (the report period's end) under Rules 1-8."""
    if timing.appointment is not None:
        base_due = timing.appointment
    elif timing.legal_duration is not None:
        base_due = appointment_at(calendar, timing.received_at, timing.legal_duration)
    else:
        raise InvalidTiming("Thiếu ngày hẹn trả và thời hạn luật định / need an appointment or a legal duration")
    ended = end_of_processing(timing, as_of)
    horizon = ended[0] if ended else as_of
    # Pauses before acceptance (an online filing's supplement notice) are not in the period.
    seen = [p for p in timing.pauses if timing.received_at <= p.start <= horizon]
    closed = [p for p in seen if p.kind in policy.subtracted_pauses and p.end is not None and p.end <= horizon]
    due = due_after_pauses(calendar, base_due, timing.legal_duration, closed)
    if ended is None:
        outcome = Outcome.WITHIN_TIME if as_of <= due else Outcome.OVERDUE
        return Classification(outcome, as_of, due, "pending at period end")
    end_at, why = ended
    requests = sum(1 for p in seen if p.kind is PauseKind.SUPPLEMENT)
    if why == OPEN_SUPPLEMENT and requests > policy.max_supplement_requests:
        return Classification(Outcome.LATE, end_at, due, f"{requests} supplement requests, still waiting")
    return Classification(judge(end_at, due, policy.early_rule), end_at, due, why)


def check_reschedule(now: datetime, due: datetime, new_due: datetime, *, rescheduled_before: bool) -> None:
    """Rule 9: raise :class:`DomainError` unless a Mẫu 04 new date may be set ``now``."""
    if rescheduled_before:
        raise DomainError("Ngày hẹn trả chỉ được điều chỉnh một lần (Điều 19 khoản 9 Nghị định 61/2018) "
                          "/ the return date may be moved only once", "new_due_at")
    if now.date() >= due.date():
        raise DomainError(f"Phiếu xin lỗi và hẹn lại ngày trả phải gửi chậm nhất 01 ngày trước hạn "
                          f"({due:%H:%M %d/%m/%Y}) / the apology must be issued at least one day before the "
                          f"deadline", "new_due_at")
    if new_due <= due:
        raise DomainError("the new return date must be after the current appointment", "new_due_at")


class WarningLevel(StrEnum):
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class DeadlineWarning:
    """A deadline alert for staff screens; ``remaining_minutes`` is negative when overdue."""

    level: WarningLevel
    remaining_minutes: int
    message: str


def _hours_minutes(minutes: int) -> str:
    hours, rest = divmod(abs(minutes), 60)
    return f"{hours} giờ {rest:02d} phút" if hours else f"{rest} phút"


def deadline_warning(
    calendar: WorkCalendar, due: datetime, now: datetime, *, within_working_hours: float
) -> DeadlineWarning | None:
    """A warning if the dossier is overdue or due within the next N working hours, else None."""
    due_text = due.strftime("%H:%M %d/%m/%Y")
    if now > due:
        late = calendar.working_minutes_between(due, now)
        return DeadlineWarning(
            WarningLevel.OVERDUE, -late, f"Đã quá hạn trả kết quả ({due_text}) {_hours_minutes(late)} làm việc"
        )
    remaining = calendar.working_minutes_between(now, due)
    if remaining <= within_working_hours * 60:
        return DeadlineWarning(
            WarningLevel.DUE_SOON,
            remaining,
            f"Sắp đến hạn trả kết quả ({due_text}): còn {_hours_minutes(remaining)} làm việc",
        )
    return None
