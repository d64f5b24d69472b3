"""Biểu 06 export: CSV that Excel opens with Vietnamese intact, XLSX laid out like the form."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime

import pytest
from openpyxl import load_workbook

from node.domain.calendar import WorkCalendar
from node.domain.deadline import StatusEvent
from node.domain.report import COUNT_FIELDS, ReportPeriod, ReportRecord, build_report
from node.domain.statuses import NationalStatus as S
from node.domain.vietnam_time import VIETNAM
from node.report_export import (
    CONTENT_TYPES,
    HEADINGS,
    csv_headers,
    export_csv,
    export_filename,
    export_xlsx,
    table_rows,
)

PERIOD = ReportPeriod(date(2026, 4, 1), date(2026, 6, 30))
NAMES = {"17272": "Xã Tân Phú", "17275": "Phường Đông Hưng"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=VIETNAM)


def record(i: int, unit: str, sector: str, *, online: bool = False, resolved: str | None = None) -> ReportRecord:
    events = (StatusEvent(S.ACCEPTED, at("2026-04-06 09:00")),)
    if resolved:
        events += (StatusEvent(S.RESOLVED, at(resolved)),)
    return ReportRecord(
        f"d{i}", unit, sector, "1.001193", online, at("2026-04-06 09:00"), events, appointment=at("2026-04-09 09:00")
    )


@pytest.fixture
def report():
    records = [
        record(1, "17272", "Hộ tịch", online=True, resolved="2026-04-08 10:00"),
        record(2, "17272", "Hộ tịch", resolved="2026-04-10 10:00"),
        record(3, "17272", "Chứng thực"),
        record(4, "17275", "Hộ tịch", resolved="2026-04-09 08:00"),
    ]
    return build_report(records, PERIOD, WorkCalendar(), units=["17272", "17275"])


def test_headings_follow_the_report_columns():
    assert tuple(HEADINGS) == COUNT_FIELDS


def test_csv_starts_with_a_bom_and_uses_crlf(report):
    data = export_csv(report, NAMES)
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in data and b"\n" not in data.replace(b"\r\n", b"")
    assert "Xã Tân Phú".encode() in data  # UTF-8, not a legacy code page


def test_csv_has_vietnamese_headers_and_the_numbers(report):
    rows = list(csv.reader(io.StringIO(export_csv(report, NAMES).decode("utf-8-sig"))))
    header, body = rows[0], rows[1:]
    assert header == csv_headers()
    assert header[:3] == ["STT", "Lĩnh vực, công việc giải quyết theo cấp", "Số hồ sơ nhận giải quyết - Tổng số (3)"]
    assert "Số hồ sơ đã giải quyết - Trong đó - Trước hạn (8)" in header
    assert "Số hồ sơ đang giải quyết - Trong đó - Quá hạn (13)" in header
    assert len(body) == len(report.rows)
    total = dict(zip(header, body[0], strict=True))
    assert total["Lĩnh vực, công việc giải quyết theo cấp"] == "Tổng cộng"
    assert total["Số hồ sơ nhận giải quyết - Tổng số (3)"] == "4"
    assert total["Số hồ sơ nhận giải quyết - Trong đó - Trực tuyến (4)"] == "1"
    assert total["Số hồ sơ đã giải quyết - Trong đó - Quá hạn (10)"] == "1"
    assert total["Số hồ sơ đang giải quyết - Tổng số (11)"] == "1"


def test_row_numbering_roman_for_units_arabic_for_sectors(report):
    cells = [(c[0], c[1]) for _, c in table_rows(report, NAMES)]
    assert cells == [
        ("", "Tổng cộng"),
        ("I", "Xã Tân Phú"), ("1", "Chứng thực"), ("2", "Hộ tịch"),
        ("II", "Phường Đông Hưng"), ("1", "Chứng thực"), ("2", "Hộ tịch"),
        ("1", "Chứng thực (tất cả đơn vị)"), ("2", "Hộ tịch (tất cả đơn vị)"),
    ]  # fmt: skip


def test_xlsx_opens_with_openpyxl_and_has_the_form_layout(report):
    ws = load_workbook(io.BytesIO(export_xlsx(report, NAMES, agency="UBND xã Tân Phú"))).active
    assert ws["A1"].value.startswith("BIỂU 06")
    assert ws["A2"].value == "Kỳ báo cáo: từ ngày 01/04/2026 đến ngày 30/06/2026"
    assert ws["A3"].value == "Đơn vị báo cáo: UBND xã Tân Phú"
    merged = {str(r) for r in ws.merged_cells.ranges}
    # STT and column 2 span the three heading rows; groups span their columns like the paper form.
    assert {"A1:R1", "A4:A6", "B4:B6", "C4:F4", "C5:C6", "D5:F5", "G4:J4", "H5:J5", "K4:M4", "L5:M5"} <= merged
    assert ws["C4"].value == "Số hồ sơ nhận giải quyết" and ws["D6"].value == "Trực tuyến"
    assert [ws.cell(7, k).value for k in (1, 2, 3, 13, 18)] == ["(1)", "(2)", "(3)", "(13)", "(18)"]


def test_xlsx_has_the_numbers_as_numbers(report):
    ws = load_workbook(io.BytesIO(export_xlsx(report, NAMES))).active
    first = 8
    for i, row in enumerate(report.rows):
        values = [ws.cell(first + i, 3 + k).value for k in range(len(COUNT_FIELDS))]
        assert values == [getattr(row, f) for f in COUNT_FIELDS]
        assert all(type(v) is int for v in values)
    assert ws.cell(first, 2).value == "Tổng cộng" and ws.cell(first, 2).font.bold
    assert ws.cell(first + 2, 2).value == "Chứng thực" and not ws.cell(first + 2, 2).font.bold
    assert ws.cell(first + len(report.rows), 2).value is None


def test_filename_and_content_types(report):
    assert export_filename(report, "xlsx") == "bieu-06_20260401-20260630.xlsx"
    assert CONTENT_TYPES["csv"].endswith("utf-8")
    assert "spreadsheetml" in CONTENT_TYPES["xlsx"]
