"""Biểu 06 (Biểu số 06/VPCP/KSTT, Circular 01/2018/TT-VPCP): the column rules one by one, and the
§5.1 identities, withdrawn dossiers included, on 10,000 dossiers generated in memory."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import date, datetime, timedelta

import pytest

from node.calendar_source import build_calendar_data
from node.domain.calendar import TimeUnit, WorkCalendar, parse_calendar
from node.domain.deadline import (
    ClassificationPolicy,
    Duration,
    EarlyRule,
    Pause,
    PauseKind,
    StatusEvent,
    appointment_at,
)
from node.domain.report import (
    COUNT_FIELDS,
    IDENTITIES,
    InvalidReportRecord,
    ReportIdentityError,
    ReportPeriod,
    ReportRecord,
    ReportRow,
    build_report,
    check_identities,
    classify_record,
)
from node.domain.statuses import NationalStatus as S
from node.domain.vietnam_time import VIETNAM

# -- table-driven column rules ------------------------------------------------------------------

CAL = WorkCalendar()  # Monday-Friday, no holidays: the dates below are easy to check by hand
APRIL = ReportPeriod(date(2026, 4, 1), date(2026, 4, 30))


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VIETNAM)


def ev(status: S, text: str) -> StatusEvent:
    return StatusEvent(status, at(text))


def rec(
    received: str = "2026-04-06 09:00", due: str | None = "2026-04-09 09:00", *events: StatusEvent, **kw
) -> ReportRecord:
    """Accepted Monday 6 April 09:00, due Thursday 9 April 09:00 (3 working days) unless told."""
    base = {
        "dossier_id": "d1",
        "unit": "17272",
        "sector": "Hộ tịch",
        "procedure_code": "1.001193",
        "online": False,
        "received_at": at(received),
        "events": (ev(S.ACCEPTED, received), *events),
        "appointment": at(due) if due else None,
    }
    return ReportRecord(**{**base, **kw})


NEW_DIRECT = ("received_total", "received_direct")
NEW_ONLINE = ("received_total", "received_online")
CARRIED = ("received_total", "carried_over")
EARLY = ("resolved_total", "resolved_early")
ON_TIME = ("resolved_total", "resolved_on_time")
LATE_NO = ("resolved_total", "resolved_late", "late_without_apology")
LATE_YES = ("resolved_total", "resolved_late", "late_with_apology")
WITHIN = ("pending_total", "pending_within_time")
OVERDUE_NO = ("pending_total", "pending_overdue", "overdue_without_apology")
OVERDUE_YES = ("pending_total", "pending_overdue", "overdue_with_apology")
WITHDRAWN = ("withdrawn",)
SUPPLEMENT_8_TO_10 = Pause(at("2026-04-08 08:00"), at("2026-04-10 08:00"))

CASES = [
    # col 4 / 5: channel of a dossier received in the period
    ("online, pending, not yet due", rec("2026-04-28 09:00", "2026-05-05 09:00", online=True), NEW_ONLINE + WITHIN),
    ("desk, pending, not yet due", rec("2026-04-28 09:00", "2026-05-05 09:00"), NEW_DIRECT + WITHIN),
    ("received at the first instant of the period", rec("2026-04-01 00:00", "2026-05-05 09:00"), NEW_DIRECT + WITHIN),
    # col 8-10: resolved early / on time / late (day rule), decision (9) or return (10)
    ("resolved a day early", rec("2026-04-06 09:00", "2026-04-09 09:00", ev(S.RESOLVED, "2026-04-08 10:00")),
     NEW_DIRECT + EARLY),
    ("resolved on the due day, before the hour", rec("2026-04-06 09:00", "2026-04-09 09:00",
     ev(S.RESOLVED, "2026-04-09 08:00")), NEW_DIRECT + ON_TIME),
    ("returned on the due day (10 without 9)", rec("2026-04-06 09:00", "2026-04-09 09:00",
     ev(S.RETURNED, "2026-04-09 08:59")), NEW_DIRECT + ON_TIME),
    ("resolved late, no apology", rec("2026-04-06 09:00", "2026-04-09 09:00", ev(S.RESOLVED, "2026-04-10 10:00")),
     NEW_DIRECT + LATE_NO),
    ("resolved late, apology issued", rec("2026-04-06 09:00", "2026-04-09 09:00", ev(S.RESOLVED, "2026-04-10 10:00"),
     apology_issued=True), NEW_DIRECT + LATE_YES),
    ("a stop (8) without withdrawal is judged like a decision", rec("2026-04-06 09:00", "2026-04-09 09:00",
     ev(S.STOPPED, "2026-04-07 09:00")), NEW_DIRECT + EARLY),
    ("refusal after acceptance is an end too", rec("2026-04-06 09:00", "2026-04-09 09:00",
     ev(S.REFUSED, "2026-04-13 09:00")), NEW_DIRECT + LATE_NO),
    # pauses: a closed supplement request extends the due (Rule 2); more than one ⇒ late (Rule 5)
    ("a closed supplement pause turns late into on time", rec("2026-04-06 09:00", "2026-04-09 09:00",
     ev(S.SUPPLEMENT_REQUESTED, "2026-04-08 08:00"), ev(S.RESOLVED, "2026-04-10 10:00"),
     pauses=(SUPPLEMENT_8_TO_10,)), NEW_DIRECT + EARLY),
    ("766: two supplement requests, still waiting on the second ⇒ late", rec("2026-04-06 09:00",
     "2026-04-09 09:00", ev(S.SUPPLEMENT_REQUESTED, "2026-04-08 08:00"),
     pauses=(Pause(at("2026-04-07 08:00"), at("2026-04-07 09:00")), Pause(at("2026-04-08 08:00")))),
     NEW_DIRECT + LATE_NO),
    ("766: two supplement requests that came back ⇒ judged on its times", rec("2026-04-06 09:00",
     "2026-04-09 09:00", ev(S.RESOLVED, "2026-04-08 16:00"),
     pauses=(Pause(at("2026-04-07 08:00"), at("2026-04-07 09:00")), Pause(at("2026-04-08 08:00"),
     at("2026-04-08 09:00")))), NEW_DIRECT + EARLY),
    ("766: two supplement requests that came back, pending ⇒ within time", rec("2026-04-28 09:00",
     "2026-05-05 09:00", pauses=(Pause(at("2026-04-28 10:00"), at("2026-04-28 11:00")),
     Pause(at("2026-04-29 08:00"), at("2026-04-29 09:00"))), apology_issued=True), NEW_DIRECT + WITHIN),
    ("Decree 61 art. 19(4): the period restarts when the supplement comes back", rec("2026-04-06 09:00",
     "2026-04-09 17:00", ev(S.RESOLVED, "2026-04-14 16:00"), pauses=(Pause(at("2026-04-08 08:00"),
     at("2026-04-09 10:00")),), legal_duration=Duration(3, TimeUnit.WORKING_DAYS)), NEW_DIRECT + ON_TIME),
    ("waiting for supplement at period end counts as resolved (766 Rule 4)", rec("2026-04-06 09:00",
     "2026-04-09 09:00", ev(S.SUPPLEMENT_REQUESTED, "2026-04-08 08:00"),
     pauses=(Pause(at("2026-04-08 08:00")),)), NEW_DIRECT + EARLY),
    # col 12-13: pending at period end
    ("pending past its due", rec(), NEW_DIRECT + OVERDUE_NO),
    ("pending past its due, apology issued", rec(apology_issued=True), NEW_DIRECT + OVERDUE_YES),
    ("decided after the period is pending in it", rec("2026-04-28 09:00", "2026-05-05 09:00",
     ev(S.RESOLVED, "2026-05-01 00:00")), NEW_DIRECT + WITHIN),
    ("no appointment: the legal duration gives the due (Rule 8)", rec("2026-04-06 09:00", None,
     ev(S.RESOLVED, "2026-04-09 08:00"), legal_duration=Duration(3, TimeUnit.WORKING_DAYS)), NEW_DIRECT + ON_TIME),
    # col 6: carried over from the previous period
    ("carried over, resolved in the period", rec("2026-03-30 09:00", "2026-04-02 09:00",
     ev(S.RESOLVED, "2026-04-02 08:00")), CARRIED + ON_TIME),
    ("carried over, still pending", rec("2026-03-30 09:00", "2026-04-02 09:00", online=True), CARRIED + OVERDUE_NO),
    ("carried over asserted by the source", rec("2026-03-30 09:00", "2026-04-02 09:00", carried_over=True),
     CARRIED + OVERDUE_NO),
    ("waiting for supplement at the previous period end, back in this one", rec("2026-03-27 09:00",
     "2026-04-01 09:00", ev(S.RESOLVED, "2026-04-02 09:00"),
     pauses=(Pause(at("2026-03-31 08:00"), at("2026-04-02 08:00")),)), CARRIED + EARLY),
    # withdrawn: neither resolved nor pending
    ("withdrawn in the period", rec("2026-04-06 09:00", "2026-04-09 09:00", ev(S.WITHDRAWAL_REQUESTED,
     "2026-04-07 09:00"), ev(S.STOPPED, "2026-04-07 10:00"), withdrawn=True), NEW_DIRECT + WITHDRAWN),
    ("withdrawn late: still withdrawn", rec("2026-04-06 09:00", "2026-04-09 09:00", ev(S.WITHDRAWAL_REQUESTED,
     "2026-04-20 09:00"), withdrawn=True, online=True), NEW_ONLINE + WITHDRAWN),
    ("carried over and withdrawn", rec("2026-03-30 09:00", "2026-04-10 09:00", ev(S.STOPPED, "2026-04-01 08:00"),
     withdrawn=True), CARRIED + WITHDRAWN),
    ("withdrawn after the period: pending in it", rec("2026-04-28 09:00", "2026-05-05 09:00",
     ev(S.WITHDRAWAL_REQUESTED, "2026-05-04 09:00"), withdrawn=True), NEW_DIRECT + WITHIN),
    ("waiting for supplement, withdrawn next period: resolved now", rec("2026-04-06 09:00", "2026-04-09 09:00",
     ev(S.WITHDRAWAL_REQUESTED, "2026-05-04 09:00"), pauses=(Pause(at("2026-04-08 08:00")),), withdrawn=True),
     NEW_DIRECT + EARLY),
    ("a withdrawal request taken back ended nothing: judged on its times", rec("2026-04-06 09:00",
     "2026-04-09 09:00", ev(S.WITHDRAWAL_REQUESTED, "2026-04-07 09:00"), ev(S.PROCESSING, "2026-04-07 10:00"),
     ev(S.RESOLVED, "2026-04-10 09:00")), NEW_DIRECT + LATE_NO),
    ("a withdrawal request awaiting its decision at the period end: withdrawn, even if taken back later",
     rec("2026-04-27 09:00", "2026-04-30 17:00", ev(S.WITHDRAWAL_REQUESTED, "2026-04-29 09:00"),
     ev(S.PROCESSING, "2026-05-04 09:00")), NEW_DIRECT + WITHDRAWN),
]


@pytest.mark.parametrize(("record", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_column_rule(record, expected):
    result = classify_record(record, APRIL, CAL)
    assert result is not None
    assert sorted(result.columns) == sorted(expected)


NOT_MEMBERS = [
    ("received after the period", rec("2026-05-04 09:00", "2026-05-07 09:00")),
    ("received at the period end instant (next day 00:00)", rec("2026-05-01 00:00", "2026-05-07 09:00")),
    ("resolved before the period", rec("2026-03-23 09:00", "2026-03-26 09:00", ev(S.RESOLVED, "2026-03-25 09:00"))),
    ("withdrawn before the period", rec("2026-03-23 09:00", "2026-03-26 09:00", ev(S.STOPPED, "2026-03-24 09:00"),
     withdrawn=True)),
    ("waiting for supplement since the previous period", rec("2026-03-23 09:00", "2026-03-26 09:00",
     pauses=(Pause(at("2026-03-24 09:00")),))),
    ("the source says it was closed before the period", rec("2026-03-30 09:00", "2026-04-02 09:00",
     carried_over=False)),
]


@pytest.mark.parametrize("record", [c[1] for c in NOT_MEMBERS], ids=[c[0] for c in NOT_MEMBERS])
def test_not_in_the_report(record):
    assert classify_record(record, APRIL, CAL) is None


BAD = [
    ("carried over but received in the period", rec(carried_over=True), "carried_over but received"),
    ("carried over but finished before", rec("2026-03-23 09:00", "2026-03-26 09:00", ev(S.RESOLVED,
     "2026-03-25 09:00"), carried_over=True), "carried_over but finished"),
    ("withdrawn without a 7/8 event", rec(withdrawn=True), "no withdrawal (7) or stop (8)"),
    ("withdrawn yet decided", rec("2026-04-06 09:00", "2026-04-09 09:00", ev(S.RESOLVED, "2026-04-08 09:00"),
     ev(S.STOPPED, "2026-04-08 10:00"), withdrawn=True), "decision (9) or return (10)"),
    ("no appointment and no legal duration", rec(due=None), "need an appointment or a legal duration"),
]


@pytest.mark.parametrize(("record", "message"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_contradictory_records_are_rejected_with_the_dossier_named(record, message):
    with pytest.raises(InvalidReportRecord, match=r"hồ sơ d1: .*" + message.replace("(", r"\(").replace(")", r"\)")):
        classify_record(record, APRIL, CAL)


def test_minute_rule_makes_on_time_exact():
    record = rec("2026-04-06 09:00", "2026-04-09 09:00", ev(S.RESOLVED, "2026-04-09 08:00"))
    minute = ClassificationPolicy(early_rule=EarlyRule.MINUTE)
    assert "resolved_early" in classify_record(record, APRIL, CAL, minute).columns
    exact = replace(record, events=(*record.events[:1], ev(S.RESOLVED, "2026-04-09 09:00")))
    assert "resolved_on_time" in classify_record(exact, APRIL, CAL, minute).columns


def test_period_bounds_and_label():
    assert APRIL.start == at("2026-04-01 00:00") and APRIL.end == at("2026-05-01 00:00")
    assert APRIL.start <= APRIL.as_of < APRIL.end
    assert APRIL.label == "từ ngày 01/04/2026 đến ngày 30/04/2026"
    with pytest.raises(ValueError, match="before it starts"):
        ReportPeriod(date(2026, 4, 2), date(2026, 4, 1))


def test_rows_for_every_listed_unit_and_sector_even_empty():
    report = build_report([rec()], APRIL, CAL, units=["17272", "17275"], sectors=["Hộ tịch", "Chứng thực"])
    keys = [(r.unit, r.sector) for r in report.rows]
    assert keys == [
        (None, None),
        ("17272", None), ("17272", "Hộ tịch"), ("17272", "Chứng thực"),
        ("17275", None), ("17275", "Hộ tịch"), ("17275", "Chứng thực"),
        (None, "Hộ tịch"), (None, "Chứng thực"),
    ]  # fmt: skip
    assert report.total.received_total == report.row("17272", "Hộ tịch").received_total == 1
    assert report.row("17275", "Chứng thực") == ReportRow("17275", "Chứng thực")
    assert [r.label({"17272": "Xã Tân Phú"}) for r in report.rows[:3]] == ["Tổng cộng", "Xã Tân Phú", "Hộ tịch"]
    assert report.rows[-1].label() == "Chứng thực (tất cả đơn vị)"
    with pytest.raises(KeyError):
        report.row("99999", None)


@pytest.mark.parametrize(("left", "right"), IDENTITIES, ids=[f"{lhs}={'+'.join(r)}" for lhs, r in IDENTITIES])
def test_check_identities_names_the_broken_identity(left, right):
    good = build_report([rec(), rec(apology_issued=True, online=True)], APRIL, CAL).total
    check_identities(good)
    # Bumping the last term breaks this identity and no earlier one (the terms come later in the list).
    bad = replace(good, **{right[-1]: getattr(good, right[-1]) + 1})
    with pytest.raises(ReportIdentityError) as info:
        check_identities(bad)
    message = str(info.value)
    assert message.startswith("dòng 'Tổng cộng' (đơn vị tất cả, lĩnh vực tất cả): ")
    assert f"({left}) = {getattr(bad, left)} ≠ " in message
    assert all(f"({name})" in message for name in right)
    assert message.endswith(f"= {getattr(bad, left) + 1}")


def test_check_identities_message_in_full():
    row = ReportRow("17272", "Hộ tịch", received_total=12, received_online=5, received_direct=4, carried_over=2)
    with pytest.raises(ReportIdentityError) as info:
        check_identities(row)
    assert str(info.value) == (
        "dòng 'Hộ tịch' (đơn vị 17272, lĩnh vực Hộ tịch): cột 3 (received_total) = 12 ≠ cột 4 (received_online)"
        " + cột 5 (received_direct) + cột 6 (carried_over) = 5 + 4 + 2 = 11"
    )


def test_check_identities_rejects_negative_counts():
    with pytest.raises(ReportIdentityError, match=r"cột 3 \(received_total\) = -1 is not a count"):
        check_identities(ReportRow("17272", "Hộ tịch", received_total=-1))


# -- 10,000 generated dossiers ------------------------------------------------------------------

REAL_CAL = parse_calendar(build_calendar_data([2026]))
QUARTER = ReportPeriod(date(2026, 4, 1), date(2026, 6, 30))
MONTHS = [ReportPeriod(date(2026, m, 1), date(2026, m, d)) for m, d in ((4, 30), (5, 31), (6, 30))]
UNITS = ("17272", "17275", "17278")
SECTORS = ("Hộ tịch", "Chứng thực", "Đất đai", "Bảo trợ xã hội")
DURATIONS = (
    Duration(0, TimeUnit.SAME_DAY),
    Duration(4, TimeUnit.WORKING_HOURS),
    *(Duration(n, TimeUnit.WORKING_DAYS) for n in (1, 3, 5, 10, 15)),
)


def generate(n: int, seed: int) -> list[ReportRecord]:
    """Dossiers received Feb-mid July 2026 with every outcome, pauses, channels and apologies."""
    rng = random.Random(seed)
    start = at("2026-02-01 00:00")
    out = []
    for i in range(n):
        received = start + timedelta(minutes=rng.randrange(165 * 24 * 60))
        duration = rng.choice(DURATIONS)
        due = appointment_at(REAL_CAL, received, duration)
        span = max(due - received, timedelta(hours=2))
        events = [StatusEvent(S.ACCEPTED, received), StatusEvent(S.PROCESSING, received + timedelta(minutes=5))]
        pauses: list[Pause] = []
        t = received + timedelta(minutes=10)
        for _ in range(rng.choices((0, 1, 2), (60, 30, 10))[0]):
            p_start = t + span * rng.random() * 0.5
            p_end = None if rng.random() < 0.25 else p_start + timedelta(hours=rng.randrange(1, 240))
            pauses.append(Pause(p_start, p_end, PauseKind.SUPPLEMENT))
            events.append(StatusEvent(S.SUPPLEMENT_REQUESTED, p_start))
            if p_end is None:
                break
            events.append(StatusEvent(S.PROCESSING, p_end))
            t = p_end
        open_pause = bool(pauses) and pauses[-1].end is None
        kinds = ("pending", "withdraw", "withdraw_pending") if open_pause else (
            "resolve", "return", "pending", "withdraw", "stop", "withdraw_pending", "withdraw_resumed")
        weights = (60, 25, 15) if open_pause else (42, 18, 18, 8, 6, 4, 4)
        kind = rng.choices(kinds, weights)[0]
        end = (pauses[-1].start if open_pause else t) + span * rng.uniform(0.05, 1.8)
        if open_pause and kind != "pending":  # leaving the supplement request closes its pause
            pauses[-1] = Pause(pauses[-1].start, end, PauseKind.SUPPLEMENT)
        if kind == "withdraw_pending":  # asked to withdraw; the decision (8) is not taken yet
            events.append(StatusEvent(S.WITHDRAWAL_REQUESTED, end))
        if kind == "withdraw_resumed":  # asked to withdraw, then went on with it: not withdrawn
            events += [StatusEvent(S.WITHDRAWAL_REQUESTED, end), StatusEvent(S.PROCESSING, end + timedelta(hours=2)),
                       StatusEvent(S.RESOLVED, end + span)]
        if kind in ("resolve", "return"):
            events.append(StatusEvent(S.RESOLVED, end))
        if kind == "return":
            events.append(StatusEvent(S.RETURNED, end + timedelta(days=1)))
        if kind == "withdraw":
            events += [StatusEvent(S.WITHDRAWAL_REQUESTED, end), StatusEvent(S.STOPPED, end + timedelta(hours=1))]
        if kind == "stop":
            events.append(StatusEvent(S.STOPPED, end))
        no_appointment = rng.random() < 0.05  # old records: the legal duration stands in (Rule 8)
        out.append(
            ReportRecord(
                dossier_id=f"g{i}",
                unit=rng.choice(UNITS),
                sector=rng.choice(SECTORS),
                procedure_code=f"1.00{rng.randrange(1000, 9999)}",
                online=rng.random() < 0.35,
                received_at=received,
                events=tuple(events),
                appointment=None if no_appointment else due,
                legal_duration=duration,
                pauses=tuple(pauses),
                apology_issued=rng.random() < 0.4,
                withdrawn=kind in ("withdraw", "withdraw_pending"),
            )
        )
    return out


@pytest.fixture(scope="module")
def records() -> list[ReportRecord]:
    return generate(10_000, seed=20260401)


@pytest.fixture(scope="module")
def reports(records):
    return {p: build_report(records, p, REAL_CAL, units=UNITS, sectors=SECTORS) for p in (QUARTER, *MONTHS)}


def assert_additive(report) -> None:
    details = [r for r in report.rows if r.unit is not None and r.sector is not None]
    for row in report.rows:
        parts = [d for d in details if row.unit in (None, d.unit) and row.sector in (None, d.sector)]
        for name in COUNT_FIELDS:
            assert getattr(row, name) == sum(getattr(d, name) for d in parts), (row.unit, row.sector, name)


@pytest.mark.parametrize("period", [QUARTER, *MONTHS], ids=lambda p: p.label)
def test_identities_hold_for_every_row_of_10000_dossiers(records, reports, period):
    """Biểu 06 (Circular 01/2018/TT-VPCP): col 3 = 4 + 5 + 6 = 7 + 11 + withdrawn, 7 = 8 + 9 + 10,
    11 = 12 + 13, in every row, with withdrawals decided, pending and taken back."""
    report = reports[period]
    assert report.total.withdrawn > 0
    assert len(report.rows) == 1 + len(UNITS) * (1 + len(SECTORS)) + len(SECTORS)
    for row in report.rows:
        check_identities(row)
    assert_additive(report)
    assert report.total.received_new == sum(period.start <= r.received_at < period.end for r in records)


def test_the_generated_data_reaches_every_column(reports):
    total = reports[QUARTER].total
    assert all(getattr(total, name) > 0 for name in COUNT_FIELDS), total


def test_report_does_not_depend_on_record_order(records, reports):
    shuffled = records[:]
    random.Random(7).shuffle(shuffled)
    assert build_report(shuffled, QUARTER, REAL_CAL, units=UNITS, sectors=SECTORS) == reports[QUARTER]


def test_months_add_up_to_the_quarter_for_new_dossiers(reports):
    quarter, months = reports[QUARTER].total, [reports[m].total for m in MONTHS]
    assert quarter.received_online == sum(m.received_online for m in months)
    assert quarter.received_direct == sum(m.received_direct for m in months)


@pytest.mark.parametrize("i", [0, 1], ids=["April→May", "May→June"])
def test_pending_at_a_period_end_is_carried_into_the_next(records, i):
    """pending(P) ⊆ carried(P+1); the rest of carried(P+1) sat in a supplement request at P's end,
    or in a withdrawal request taken back after it."""
    this, nxt = MONTHS[i], MONTHS[i + 1]
    pending, carried = set(), set()
    for r in records:
        now, then = classify_record(r, this, REAL_CAL), classify_record(r, nxt, REAL_CAL)
        if now is not None and "pending_total" in now.columns:
            pending.add(r.dossier_id)
        if then is not None and "carried_over" in then.columns:
            carried.add(r.dossier_id)
    assert pending <= carried
    by_id = {r.dossier_id: r for r in records}
    extra = carried - pending
    assert extra, "the data set should have supplement requests open across a month end"
    for dossier_id in extra:
        record = by_id[dossier_id]
        waiting = [e for e in record.events if e.at <= this.as_of][-1].status is S.WITHDRAWAL_REQUESTED
        assert waiting or any(
            p.start <= this.as_of and (p.end is None or p.end > this.as_of) for p in record.pauses
        ), dossier_id
