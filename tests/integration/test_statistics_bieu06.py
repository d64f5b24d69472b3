"""The district statistics page and Biểu 06 (Biểu số 06/VPCP/KSTT, Circular 01/2018/TT-VPCP) agree
for the same period: both count one definition of each status group (issue 12.6), and "overdue"
means past the due time, not the due day."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest

from node.domain.vietnam_time import VIETNAM
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, make_node

THREE_DAYS = {"code": "1.001022"}  # Hộ tịch, 3 working days


def vn(m: int, d: int, hh: int, mm: int = 0) -> int:
    return int(datetime(2026, m, d, hh, mm, tzinfo=VIETNAM).timestamp() * 1000)


@pytest.fixture
def hub(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    node = make_node(tmp_path, clock, role="district", unit="40", name="hub")
    add("quantri", "district_admin", clock())
    c = node, create_app(node.settings, node=node).test_client()
    yield c
    node.close()


def run(node, clock, plan):
    """Receive and move dossiers in time order (the node's clock never runs backwards): ``plan``
    lists per dossier its reception time and its (time, status) moves."""
    ids: dict[int, str] = {}
    steps = sorted([(when, i, None) for i, (when, _) in enumerate(plan)]
                   + [(at, i, to) for i, (_, moves) in enumerate(plan) for at, to in moves])
    for when, i, to in steps:
        clock.now = when
        if to is None:
            ids[i] = node.create_dossier("canbo", sample_dossier(procedure=THREE_DAYS)).id
        else:
            node.change_status("canbo", ids[i], to, f"lý do: {to}")
    return ids


def page_rows(c, first: str, last: str) -> dict[str, list[int]]:
    body = c.get(f"/quan-tri/thong-ke?tu={first}&den={last}&dinh_dang=csv").data.decode("utf-8-sig")
    return {row[0]: [int(v) for v in row[2:]] for row in list(csv.reader(io.StringIO(body)))[1:]}


def bieu_06(node, first: date, last: date) -> list[int]:
    row = node.report(first, last).report.row("40", None)
    return [row.received_new, row.carried_over, row.resolved_total, row.pending_total, row.pending_overdue,
            row.withdrawn]


def test_the_statistics_page_equals_bieu_06_for_the_same_period(hub, clock):
    node, c = hub
    def p(day):
        return vn(5, day, 10), "processing"

    run(node, clock, [
        (vn(4, 27, 9), [p(4), (vn(5, 6, 9), "resolved")]),  # carried over from April, late
        (vn(5, 4, 9), [p(4), (vn(5, 5, 9), "resolved"), (vn(5, 6, 9), "returned")]),  # early
        (vn(5, 4, 9), [p(4), (vn(5, 5, 10), "supplement_requested")]),  # waiting: counted resolved (766)
        (vn(5, 6, 9), [p(6), (vn(5, 7, 9), "withdrawal_requested"), (vn(5, 8, 9), "stopped")]),
        (vn(5, 11, 9), [p(11), (vn(5, 12, 9), "withdrawal_requested")]),  # withdrawal not yet decided
        (vn(5, 25, 9), [p(25)]),  # overdue at the end of May
        (vn(5, 29, 9), []),  # within time
        (vn(6, 2, 9), []),  # after the period
    ])  # fmt: skip
    clock.now = vn(6, 5, 9)
    login(c, "quantri")
    expected = bieu_06(node, date(2026, 5, 1), date(2026, 5, 31))
    assert page_rows(c, "01/05/2026", "31/05/2026") == {"40": expected}
    assert expected == [6, 1, 3, 2, 1, 2]  # cols 4+5, 6, 7, 11, 13 and withdrawn
    assert expected[0] + expected[1] == expected[2] + expected[3] + expected[5]  # col 3 = 7 + 11 + withdrawn
    assert page_rows(c, "01/06/2026", "05/06/2026") == {"40": bieu_06(node, date(2026, 6, 1), date(2026, 6, 5))}


def test_overdue_means_past_the_due_time_not_the_due_day(hub, clock):
    node, c = hub
    run(node, clock, [(vn(5, 18, 9), [])])  # 3 working days: due Thursday 21 May at 17:00
    for now, overdue in ((vn(5, 21, 10), 0), (vn(5, 21, 16, 59), 0), (vn(5, 21, 17, 30), 1)):
        clock.now = now
        login(c, "quantri")
        assert page_rows(c, "01/05/2026", "21/05/2026")["40"][4] == overdue
        assert bieu_06(node, date(2026, 5, 1), date(2026, 5, 21))[4] == overdue
