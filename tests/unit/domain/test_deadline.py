"""Appointment dates (Civil Code arts. 147-148), supplements (Decree 61/2018 art. 19(4)), the
Mẫu 04 reschedule (art. 19(9)), the 766 early/on-time/late rules and deadline warnings."""

from __future__ import annotations

from datetime import date, datetime, time

import pytest

from node.domain.calendar import TimeUnit, WorkCalendar
from node.domain.deadline import (
    ClassificationPolicy,
    DossierTiming,
    Duration,
    EarlyRule,
    InvalidTiming,
    Outcome,
    Pause,
    PauseKind,
    StatusEvent,
    WarningLevel,
    appointment_at,
    check_reschedule,
    classify,
    deadline_warning,
    end_of_processing,
    extend_for_pauses,
    judge,
)
from node.domain.errors import DomainError
from node.domain.statuses import NationalStatus as S

HOLIDAYS_2026 = frozenset(
    date.fromisoformat(d)
    for d in (
        "2026-01-01", "2026-01-02", "2026-02-16", "2026-02-17", "2026-02-18", "2026-02-19", "2026-02-20",
        "2026-04-26", "2026-04-27", "2026-04-30", "2026-05-01", "2026-08-31", "2026-09-01",
        "2026-09-02", "2026-11-24",
    )
)  # fmt: skip
# 2 Jan 2026 off, worked on Saturday 10 Jan (Công văn 12729/VPCP-KGVX); 31 Aug off, 22 Aug worked.
CAL = WorkCalendar(holidays=HOLIDAYS_2026, extra_working_days=frozenset({date(2026, 1, 10), date(2026, 8, 22)}))
DAYS3 = Duration(3, TimeUnit.WORKING_DAYS)
SAME_DAY_1500 = Duration(0, TimeUnit.SAME_DAY, time(15, 0))  # civil status, certification


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text)


# -- appointment at acceptance -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "duration", "expected"),
    [
        # Civil Code art. 147(2): a period in days starts the day after the receipt; art. 148: it
        # ends at the close of office hours of its last working day. Tết 2026: 16-20 Feb off.
        ("2026-02-12T09:00", Duration(3, TimeUnit.WORKING_DAYS), "2026-02-24T17:00"),
        ("2026-02-12T16:59", Duration(3, TimeUnit.WORKING_DAYS), "2026-02-24T17:00"),
        ("2026-02-13T15:30", Duration(1, TimeUnit.WORKING_DAYS), "2026-02-23T17:00"),
        ("2026-02-17T10:00", Duration(3, TimeUnit.WORKING_DAYS), "2026-02-25T17:00"),  # filed on Tết
        # Same-day work with the 15:00 cut-off (Luật Hộ tịch art. 5(3), Decree 23/2015 art. 7).
        ("2026-02-13T14:00", SAME_DAY_1500, "2026-02-13T17:00"),
        ("2026-02-13T15:30", SAME_DAY_1500, "2026-02-23T17:00"),
        # No global cut-off: a same-day procedure without one is due that day.
        ("2026-02-13T15:30", Duration(0, TimeUnit.SAME_DAY), "2026-02-13T17:00"),
        # Art. 147(1): hours count from the receipt time, 8 working hours to a day.
        ("2026-02-13T14:00", Duration(8, TimeUnit.WORKING_HOURS), "2026-02-23T14:00"),
        ("2026-02-13T15:45", Duration(4, TimeUnit.WORKING_HOURS), "2026-02-23T10:15"),
        ("2026-02-13T15:45", Duration(4, TimeUnit.WORKING_HOURS, time(15, 0)), "2026-02-23T11:30"),
        # 2026 swapped days: Saturday 22 Aug worked, Monday 31 Aug off, 1-2 Sep National Day.
        ("2026-08-21T15:30", SAME_DAY_1500, "2026-08-22T17:00"),
        ("2026-08-21T10:00", Duration(2, TimeUnit.WORKING_DAYS), "2026-08-24T17:00"),
        ("2026-08-28T16:00", Duration(2, TimeUnit.WORKING_DAYS), "2026-09-04T17:00"),
        ("2026-08-28T09:00", Duration(7, TimeUnit.WORKING_DAYS), "2026-09-11T17:00"),
    ],
)
def test_appointment_counts_from_the_day_after_receipt_civil_code_147_148(
    received: str, duration: Duration, expected: str
) -> None:
    assert appointment_at(CAL, dt(received), duration) == dt(expected)


@pytest.mark.parametrize(
    ("received", "duration", "expected"),
    [
        # 1-4 Jan 2026 off, Friday 2 Jan worked on Saturday 10 Jan (Công văn 12729/VPCP-KGVX of
        # 25/12/2025): received Wed 31 Dec 2025, 3 working days are Mon 5, Tue 6 and Wed 7 Jan.
        ("2025-12-31T10:00", Duration(3, TimeUnit.WORKING_DAYS), "2026-01-07T17:00"),
        ("2025-12-31T15:30", SAME_DAY_1500, "2026-01-05T17:00"),
        # Received Fri 9 Jan: the worked Saturday 10 Jan is day 1.
        ("2026-01-09T10:00", Duration(1, TimeUnit.WORKING_DAYS), "2026-01-10T17:00"),
    ],
)
def test_the_2026_new_year_swap_cong_van_12729_vpcp_kgvx(received: str, duration: Duration, expected: str) -> None:
    assert appointment_at(CAL, dt(received), duration) == dt(expected)


def test_a_cutoff_belongs_to_same_day_and_hour_periods_only() -> None:
    """Civil Code art. 147(2): a period in days starts the next day anyway."""
    with pytest.raises(InvalidTiming):
        Duration(1, TimeUnit.WORKING_DAYS, time(15, 0))


@pytest.mark.parametrize(
    ("amount", "unit"),
    [(-1, TimeUnit.WORKING_DAYS), (2, TimeUnit.SAME_DAY), (1.5, TimeUnit.WORKING_DAYS), (True, "working_hours")],
)
def test_bad_durations_are_rejected(amount: float, unit: TimeUnit) -> None:
    with pytest.raises(InvalidTiming):
        Duration(amount, unit)


# -- pauses ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pauses", "now", "expected"),
    [
        ((), None, "2026-02-24T09:00"),
        # 1 working hour of supplement time.
        ((Pause(dt("2026-02-23T09:00"), dt("2026-02-23T10:00")),), None, "2026-02-24T10:00"),
        # A supplement spanning Tết costs only the working time it covers (Fri 16:00-17:00 + Mon to 08:30).
        ((Pause(dt("2026-02-13T16:00"), dt("2026-02-23T08:30")),), None, "2026-02-24T11:00"),
        # Open pause measured up to now.
        ((Pause(dt("2026-02-23T13:30")),), dt("2026-02-23T15:30"), "2026-02-24T11:00"),
    ],
)
def test_pauses_extend_the_appointment(pauses: tuple[Pause, ...], now: datetime | None, expected: str) -> None:
    assert extend_for_pauses(CAL, dt("2026-02-24T09:00"), pauses, now=now) == dt(expected)


def test_open_pause_without_now_is_an_error() -> None:
    with pytest.raises(InvalidTiming):
        extend_for_pauses(CAL, dt("2026-02-24T09:00"), [Pause(dt("2026-02-23T09:00"))])


def test_pause_cannot_end_before_it_starts() -> None:
    with pytest.raises(InvalidTiming):
        Pause(dt("2026-02-23T10:00"), dt("2026-02-23T09:00"))


def test_appointment_at_closing_is_not_moved_by_zero_pause() -> None:
    due = dt("2026-02-23T17:00")
    assert extend_for_pauses(CAL, due, [Pause(dt("2026-02-21T09:00"), dt("2026-02-21T10:00"))]) == due


# -- classification --------------------------------------------------------------------------------

RECEIVED = dt("2026-02-12T09:00")
DUE = dt("2026-02-24T09:00")  # 3 working days across Tết
PERIOD_END = dt("2026-03-31T17:00")


def timing(*events: tuple[S, str], pauses: tuple[Pause, ...] = (), appointment: datetime | None = DUE) -> DossierTiming:
    return DossierTiming(
        received_at=RECEIVED,
        events=(StatusEvent(S.ACCEPTED, RECEIVED), *(StatusEvent(s, dt(at)) for s, at in events)),
        pauses=pauses,
        appointment=appointment,
        legal_duration=DAYS3,
    )


@pytest.mark.parametrize(
    ("record", "policy", "outcome", "end"),
    [
        # Rule 6, DAY rule: early = finished on an earlier day than the appointment day.
        (timing((S.RESOLVED, "2026-02-23T16:00")), None, Outcome.EARLY, "2026-02-23T16:00"),
        (timing((S.RESOLVED, "2026-02-24T08:00")), None, Outcome.ON_TIME, "2026-02-24T08:00"),
        (timing((S.RESOLVED, "2026-02-24T09:00")), None, Outcome.ON_TIME, "2026-02-24T09:00"),
        (timing((S.RESOLVED, "2026-02-24T09:00:59")), None, Outcome.ON_TIME, "2026-02-24T09:00:59"),
        (timing((S.RESOLVED, "2026-02-24T09:01")), None, Outcome.LATE, "2026-02-24T09:01"),
        # Rule 6, MINUTE rule: anything before the appointment minute is early.
        (timing((S.RESOLVED, "2026-02-24T08:00")), EarlyRule.MINUTE, Outcome.EARLY, "2026-02-24T08:00"),
        (timing((S.RESOLVED, "2026-02-24T09:00")), EarlyRule.MINUTE, Outcome.ON_TIME, "2026-02-24T09:00"),
        # Rule 3: "resolved" (9) wins over a later "returned" (10).
        (timing((S.RESOLVED, "2026-02-23T10:00"), (S.RETURNED, "2026-02-26T10:00")), None, Outcome.EARLY,
         "2026-02-23T10:00"),
        # Rule 3: only "returned" known: its time is the end.
        (timing((S.RETURNED, "2026-02-25T10:00")), None, Outcome.LATE, "2026-02-25T10:00"),
        # Rule 3: stop, refusal and (accepted) withdrawal end the dossier.
        (timing((S.STOPPED, "2026-02-23T10:00")), None, Outcome.EARLY, "2026-02-23T10:00"),
        (timing((S.REFUSED, "2026-02-12T09:30")), None, Outcome.EARLY, "2026-02-12T09:30"),
        (timing((S.WITHDRAWAL_REQUESTED, "2026-02-24T08:00"), (S.STOPPED, "2026-02-25T10:00")), None,
         Outcome.ON_TIME, "2026-02-24T08:00"),
        # Rule 2 (Decree 61/2018 art. 19(4)): the supplemented dossier came back on Mon 23 Feb at
        # 09:00, so the 3 working days restart: due Thu 26 Feb at closing...
        (timing((S.RESOLVED, "2026-02-26T16:00"),
                pauses=(Pause(dt("2026-02-13T09:00"), dt("2026-02-23T09:00")),)), None, Outcome.ON_TIME,
         "2026-02-26T16:00"),
        # ...and not a day later.
        (timing((S.RESOLVED, "2026-02-27T08:00"),
                pauses=(Pause(dt("2026-02-13T09:00"), dt("2026-02-23T09:00")),)), None, Outcome.LATE,
         "2026-02-27T08:00"),
        # The restart never shortens a later date an officer set (10 Mar).
        (timing((S.RESOLVED, "2026-03-05T09:00"), appointment=dt("2026-03-10T17:00"),
                pauses=(Pause(dt("2026-02-13T09:00"), dt("2026-02-23T09:00")),)), None, Outcome.EARLY,
         "2026-03-05T09:00"),
        # Rule 2: fee waiting is not subtracted by default.
        (timing((S.RESOLVED, "2026-02-25T09:00"),
                pauses=(Pause(dt("2026-02-13T09:00"), dt("2026-02-23T09:00"), PauseKind.FEES),)), None,
         Outcome.LATE, "2026-02-25T09:00"),
        # Rule 4: sitting in an open supplement request: the request time is the end.
        (timing(pauses=(Pause(dt("2026-02-23T10:00")),)), None, Outcome.EARLY, "2026-02-23T10:00"),
        (timing(pauses=(Pause(dt("2026-02-24T15:00")),)), None, Outcome.LATE, "2026-02-24T15:00"),
        # Rule 5 (Decision 766): a second supplement request makes a dossier still waiting on it late...
        (timing(pauses=(Pause(dt("2026-02-13T09:00"), dt("2026-02-13T10:00")), Pause(dt("2026-02-23T08:00")))),
         None, Outcome.LATE, "2026-02-23T08:00"),
        # ...but one whose supplements came back is judged on its times (restarted on 23 Feb).
        (timing((S.RESOLVED, "2026-02-23T10:00"),
                pauses=(Pause(dt("2026-02-13T09:00"), dt("2026-02-13T10:00")),
                        Pause(dt("2026-02-23T08:00"), dt("2026-02-23T09:00")))), None, Outcome.EARLY,
         "2026-02-23T10:00"),
        # Rule 7: pending at period end.
        (timing(appointment=dt("2026-04-01T09:00")), None, Outcome.WITHIN_TIME, "2026-03-31T17:00"),
        (timing(), None, Outcome.OVERDUE, "2026-03-31T17:00"),
        # Pending after two completed requests: within time, counted again from the last return.
        (timing(pauses=(Pause(dt("2026-02-13T09:00"), dt("2026-02-13T10:00")),
                        Pause(dt("2026-03-27T08:00"), dt("2026-03-30T09:00")))), None, Outcome.WITHIN_TIME,
         "2026-03-31T17:00"),
        # Rule 8: no appointment on record: computed from the legal duration.
        (timing((S.RESOLVED, "2026-02-24T08:00"), appointment=None), None, Outcome.ON_TIME, "2026-02-24T08:00"),
        (timing((S.RESOLVED, "2026-02-24T16:59"), appointment=None), None, Outcome.ON_TIME, "2026-02-24T16:59"),
        (timing((S.RESOLVED, "2026-02-25T08:00"), appointment=None), None, Outcome.LATE, "2026-02-25T08:00"),
    ],
)  # fmt: skip
def test_classification_rules(record: DossierTiming, policy: EarlyRule | None, outcome: Outcome, end: str) -> None:
    chosen = ClassificationPolicy(early_rule=policy) if policy else ClassificationPolicy()
    result = classify(CAL, record, PERIOD_END, chosen)
    assert (result.outcome, result.end_at) == (outcome, dt(end))
    assert result.outcome.finished is (outcome in (Outcome.EARLY, Outcome.ON_TIME, Outcome.LATE))


def test_withdrawal_of_a_dossier_never_accepted_does_not_end_it() -> None:
    record = DossierTiming(
        received_at=RECEIVED,
        events=(StatusEvent(S.NEWLY_FILED, RECEIVED), StatusEvent(S.WITHDRAWAL_REQUESTED, dt("2026-02-13T10:00"))),
        appointment=DUE,
    )
    assert end_of_processing(record, PERIOD_END) is None


def test_events_after_the_period_are_ignored() -> None:
    record = timing((S.RESOLVED, "2026-04-02T10:00"))
    assert classify(CAL, record, PERIOD_END).outcome is Outcome.OVERDUE
    assert classify(CAL, record, dt("2026-02-20T12:00")).outcome is Outcome.WITHIN_TIME


def test_two_requests_allowed_when_configured() -> None:
    record = timing(pauses=(Pause(dt("2026-02-13T09:00"), dt("2026-02-13T10:00")), Pause(dt("2026-02-23T08:00"))))
    assert classify(CAL, record, PERIOD_END, ClassificationPolicy(max_supplement_requests=2)).outcome is Outcome.EARLY


def test_classification_needs_an_appointment_or_a_duration() -> None:
    record = DossierTiming(received_at=RECEIVED, events=(StatusEvent(S.RESOLVED, dt("2026-02-13T10:00")),))
    with pytest.raises(InvalidTiming):
        classify(CAL, record, PERIOD_END)


@pytest.mark.parametrize(
    ("end", "due", "rule", "outcome"),
    [
        ("2026-02-23T16:59", "2026-02-24T07:30", EarlyRule.DAY, Outcome.EARLY),
        ("2026-02-24T07:30", "2026-02-24T07:30", EarlyRule.DAY, Outcome.ON_TIME),
        ("2026-02-24T07:29", "2026-02-24T07:30", EarlyRule.MINUTE, Outcome.EARLY),
        ("2026-02-24T07:31", "2026-02-24T07:30", EarlyRule.MINUTE, Outcome.LATE),
    ],
)
def test_judge_single_step(end: str, due: str, rule: EarlyRule, outcome: Outcome) -> None:
    assert judge(dt(end), dt(due), rule) is outcome


def test_outcome_labels_are_vietnamese() -> None:
    assert [o.label for o in Outcome] == ["Trước hạn", "Đúng hạn", "Quá hạn", "Trong hạn", "Quá hạn"]


# -- warnings -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "hours", "level", "remaining"),
    [
        ("2026-02-23T09:00", 7.9, None, None),  # one working day (8 h) away
        ("2026-02-23T09:00", 8, WarningLevel.DUE_SOON, 480),
        ("2026-02-23T10:00", 8, WarningLevel.DUE_SOON, 420),
        ("2026-02-13T16:00", 9.9, None, None),  # Tết counts for nothing, but 10.5 working hours remain
        ("2026-02-24T08:30", 1, WarningLevel.DUE_SOON, 30),
        ("2026-02-24T09:00", 0, WarningLevel.DUE_SOON, 0),
        ("2026-02-24T14:00", 4, WarningLevel.OVERDUE, -210),
    ],
)
def test_deadline_warning(now: str, hours: float, level: WarningLevel | None, remaining: int | None) -> None:
    warning = deadline_warning(CAL, DUE, dt(now), within_working_hours=hours)
    if level is None:
        assert warning is None
    else:
        assert warning is not None
        assert (warning.level, warning.remaining_minutes) == (level, remaining)
        assert "24/02/2026" in warning.message


def test_warning_message_counts_working_time_across_tet() -> None:
    warning = deadline_warning(CAL, DUE, dt("2026-02-13T16:00"), within_working_hours=11)
    assert warning is not None
    assert warning.message == "Sắp đến hạn trả kết quả (09:00 24/02/2026): còn 10 giờ 30 phút làm việc"


# -- Mẫu 04: apology and new date (Decree 61/2018 art. 19(9)) ------------------------------------

DUE_TUE = dt("2026-02-24T17:00")


@pytest.mark.parametrize(
    ("now", "new_due", "before", "refused"),
    [
        ("2026-02-23T16:00", "2026-02-26T17:00", False, None),  # the day before the deadline
        ("2026-02-13T10:00", "2026-02-26T17:00", False, None),
        ("2026-02-24T08:00", "2026-02-26T17:00", False, "01 ngày trước hạn"),  # less than a day before
        ("2026-02-24T18:00", "2026-02-26T17:00", False, "01 ngày trước hạn"),  # after the deadline
        ("2026-02-23T16:00", "2026-02-26T17:00", True, "một lần"),  # a second reschedule
        ("2026-02-23T16:00", "2026-02-24T16:00", False, "after the current"),
    ],
)
def test_reschedule_decree_61_art_19_9(now: str, new_due: str, before: bool, refused: str | None) -> None:
    """At least one day before the deadline, and the date moves no more than once."""
    if refused is None:
        check_reschedule(dt(now), DUE_TUE, dt(new_due), rescheduled_before=before)
        return
    with pytest.raises(DomainError, match=refused):
        check_reschedule(dt(now), DUE_TUE, dt(new_due), rescheduled_before=before)
