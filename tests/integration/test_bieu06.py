"""Biểu 06 from a node's own dossiers: one dossier in every outcome, counted through the route
(JSON, CSV and XLSX agree) and the ``motcua report`` command."""

from __future__ import annotations

import csv
import io
from datetime import datetime

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from node.cli import main
from node.domain.report import COUNT_FIELDS
from node.domain.vietnam_time import VIETNAM
from tests.factories import sample_dossier

PERIOD = "from=2026-05-01&to=2026-05-31"
THREE_DAYS = {"code": "1.001022"}  # Hộ tịch, 3 working days
TWO_DAYS = {"code": "2.000911"}  # Chứng thực, 2 working days


def vn(m: int, d: int, hh: int, mm: int = 0) -> int:
    return int(datetime(2026, m, d, hh, mm, tzinfo=VIETNAM).timestamp() * 1000)


def dossier(node, clock, when, name, procedure=THREE_DAYS, moves=(), channel="desk", apology=None, then=()):
    clock.now = when
    state = node.create_dossier("canbo", sample_dossier(name=name, procedure=procedure, channel=channel))
    for at, to in moves:
        clock.now = at
        node.change_status("canbo", state.id, to, f"lý do: {to}")
    if apology:
        clock.now, new_date = apology
        node.issue_apology("chủ tịch", state.id, "Chờ ý kiến cơ quan phối hợp", new_date)
    for at, to in then:
        clock.now = at
        node.change_status("canbo", state.id, to, f"lý do: {to}")
    return state.id


def processing(day: int) -> tuple[int, str]:
    return vn(5, day, 10), "processing"


@pytest.fixture
def every_outcome(sqlite_node, clock):
    n, c = sqlite_node, clock
    # carried over from April (due Wed 29 Apr 17:00: Mon 27 Apr is off), resolved late in May
    dossier(n, c, vn(4, 23, 9), "A", moves=[(vn(4, 23, 10), "processing"), (vn(5, 6, 9), "resolved")])
    # received Mon 4 May 09:00, due Thu 7 May 17:00 (days 5, 6, 7 May, Civil Code arts. 147-148):
    # early, on time, late with an apology letter
    dossier(n, c, vn(5, 4, 9), "B", moves=[processing(4), (vn(5, 5, 9), "resolved")])
    dossier(n, c, vn(5, 4, 9), "C", moves=[processing(4), (vn(5, 7, 8), "resolved")])
    dossier(n, c, vn(5, 4, 9), "D", moves=[processing(4)], apology=(vn(5, 6, 9), vn(5, 12, 17)),
            then=[(vn(5, 11, 9), "resolved")])
    # pending at the period end: overdue, within time, overdue with an apology letter
    dossier(n, c, vn(5, 25, 9), "E", moves=[processing(25)])
    dossier(n, c, vn(5, 29, 9), "F")
    dossier(n, c, vn(5, 20, 9), "G", moves=[processing(20)], apology=(vn(5, 22, 9), vn(6, 10, 17)))
    # withdrawn: 7 then 8
    dossier(n, c, vn(5, 6, 9), "H", moves=[processing(6), (vn(5, 7, 9), "withdrawal_requested"),
                                           (vn(5, 8, 9), "stopped")])
    # online, accepted on the day and resolved early (Chứng thực)
    dossier(n, c, vn(5, 11, 9), "I", procedure=TWO_DAYS, channel="online",
            moves=[(vn(5, 11, 10), "received"), processing(11), (vn(5, 12, 9), "resolved")])
    # not members: an online filing never accepted, a dossier received after the period
    dossier(n, c, vn(5, 12, 9), "J", channel="online")
    dossier(n, c, vn(6, 2, 9), "K")
    # two supplement requests that both came back: judged on its times, early (the 766 late rule is
    # for a dossier still waiting on a supplement), counted again from 12 May 14:00
    dossier(n, c, vn(5, 11, 9), "L", moves=[processing(11), (vn(5, 12, 9), "supplement_requested"),
                                            (vn(5, 12, 10), "processing"), (vn(5, 12, 11), "supplement_requested"),
                                            (vn(5, 12, 14), "processing"), (vn(5, 12, 15), "resolved")])
    c.now = vn(6, 5, 9)  # the report is made after the period, as a real clock would have it
    return n


EXPECTED_TOTAL = {
    "received_total": 10, "received_online": 1, "received_direct": 8, "carried_over": 1,
    "resolved_total": 6, "resolved_early": 3, "resolved_on_time": 1, "resolved_late": 2,
    "pending_total": 3, "pending_within_time": 1, "pending_overdue": 2, "withdrawn": 1,
    "late_with_apology": 1, "late_without_apology": 1, "overdue_with_apology": 1, "overdue_without_apology": 1,
}


def test_json_counts_every_outcome(client, every_outcome):
    r = client.get(f"/api/v1/reports/bieu-06?{PERIOD}")
    assert r.status_code == 200
    report = r.get_json()
    total, unit, *rest = report["rows"]
    assert total["label"] == "Tổng cộng" and {f: total[f] for f in COUNT_FIELDS} == EXPECTED_TOTAL
    assert unit["unit"] == "17272" and unit["sector"] is None and unit["received_total"] == 10
    by_sector = {(r["unit"], r["sector"]): r for r in rest}
    assert by_sector[("17272", "Chứng thực")]["received_online"] == 1
    assert by_sector[("17272", "Hộ tịch")]["received_total"] == 9
    assert by_sector[(None, "Căn cước")]["received_total"] == 0  # every catalogue sector is listed
    assert report["period"] == {"from": "2026-05-01", "to": "2026-05-31",
                                "label": "từ ngày 01/05/2026 đến ngày 31/05/2026"}
    assert report["columns"]["received_total"] == 3 and report["skipped"] == []


def test_csv_and_xlsx_hold_the_same_numbers(client, every_outcome):
    r = client.get(f"/api/v1/reports/bieu-06?{PERIOD}&format=csv")
    assert r.status_code == 200 and r.content_type.startswith("text/csv")
    assert 'filename="bieu-06_20260501-20260531.csv"' in r.headers["Content-Disposition"]
    assert r.data.startswith(b"\xef\xbb\xbf")  # BOM: Excel on a commune PC reads UTF-8
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    total = next(row for row in rows if row[1] == "Tổng cộng")
    assert [int(v) for v in total[2:]] == list(EXPECTED_TOTAL.values())

    r = client.get(f"/api/v1/reports/bieu-06?{PERIOD}&format=xlsx")
    assert r.status_code == 200 and "spreadsheetml" in r.content_type
    sheet = load_workbook(io.BytesIO(r.data)).active
    xrow = next(row for row in sheet.iter_rows(values_only=True) if row[1] == "Tổng cộng")
    assert list(xrow[2:]) == list(EXPECTED_TOTAL.values())


def test_a_period_before_any_dossier_and_one_unit_only(client, every_outcome):
    empty = client.get("/api/v1/reports/bieu-06?from=2026-01-01&to=2026-01-31").get_json()
    assert empty["rows"][0]["received_total"] == 0
    other = client.get(f"/api/v1/reports/bieu-06?{PERIOD}&unit=17273").get_json()
    assert other["rows"][0]["received_total"] == 0


@pytest.mark.parametrize(
    ("query", "field"),
    [("from=2026-05-01", "to"), ("from=01/05/2026&to=2026-05-31", "from"),
     (f"{PERIOD}&format=pdf", "format"), ("from=2026-05-31&to=2026-05-01", "to")],
)
def test_bad_report_queries(client, query, field):
    r = client.get(f"/api/v1/reports/bieu-06?{query}")
    assert r.status_code == 422 and r.get_json()["error"]["field"] == field


def test_the_report_command_writes_csv_and_xlsx(every_outcome, tmp_path):
    data_dir = str(every_outcome.settings.data_dir)
    for fmt in ("csv", "xlsx"):
        out = tmp_path / f"b06.{fmt}"
        result = CliRunner().invoke(main, ["--data-dir", data_dir, "report", "--from", "2026-05-01",
                                           "--to", "2026-05-31", "--format", fmt, "--output", str(out)])
        assert result.exit_code == 0, result.output
        assert "10 received, 6 resolved, 3 pending, 1 withdrawn" in result.output
        assert out.stat().st_size > 0
    rows = list(csv.reader(io.StringIO((tmp_path / "b06.csv").read_text(encoding="utf-8-sig"))))
    assert rows[1][1] == "Tổng cộng" and int(rows[1][2]) == 10


def test_the_report_command_takes_the_format_from_the_extension_and_names_bad_input(every_outcome, tmp_path):
    """Issue 13.8: format from the file name; a missing folder and an impossible day said plainly."""
    data_dir = str(every_outcome.settings.data_dir)

    def report(*args):
        return CliRunner().invoke(main, ["--data-dir", data_dir, "report", *args])

    ok = report("--from", "2026-05-01", "--to", "2026-05-31", "--output", str(tmp_path / "b06.CSV"))
    assert ok.exit_code == 0, ok.output
    assert "Tổng cộng" in (tmp_path / "b06.CSV").read_text(encoding="utf-8-sig")  # CSV, as the name says
    unknown = report("--from", "2026-05-01", "--to", "2026-05-31", "--output", str(tmp_path / "b06.pdf"))
    assert unknown.exit_code == 2 and "name the file .csv or .xlsx" in unknown.output
    missing = report("--from", "2026-05-01", "--to", "2026-05-31", "--output", str(tmp_path / "nope" / "b.xlsx"))
    assert missing.exit_code == 2 and "does not exist" in missing.output
    impossible = report("--from", "2026-02-30", "--to", "2026-05-31", "--output", str(tmp_path / "b.xlsx"))
    assert impossible.exit_code == 2 and "not a day of the calendar" in impossible.output
    garbled = report("--from", "01/05/2026", "--to", "2026-05-31", "--output", str(tmp_path / "b.xlsx"))
    assert garbled.exit_code == 2 and "YYYY-MM-DD" in garbled.output
