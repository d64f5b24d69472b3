"""Adapter: write a Biểu 06 report (:mod:`node.domain.report`) as CSV or XLSX for staff and Excel.

Responsibility: presentation only — Vietnamese headings laid out like the official form, row
numbering (I, II … for units, 1, 2 … for sectors), the period in dd/MM/yyyy. No counting happens
here; every number is a field of a :class:`~node.domain.report.ReportRow`.

Invariants
----------
- CSV is UTF-8 *with* a byte-order mark and CRLF line ends: without the BOM, Excel on a commune
  PC opens the file as Windows-1258/1252 and garbles every accented letter.
- Both formats have the same columns in the same order: STT, column 2, then columns 3-18 in
  ``COUNT_FIELDS`` order, so a CSV and an XLSX of one report hold identical numbers.
- Numbers are written as numbers (not text), so Excel can sum them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from node.domain.report import COLUMN_NUMBERS, COUNT_FIELDS, Report, ReportRow

TITLE = "BIỂU 06. TÌNH HÌNH, KẾT QUẢ GIẢI QUYẾT THỦ TỤC HÀNH CHÍNH"
FORM_CODE = "Biểu số 06/VPCP/KSTT (Thông tư 01/2020/TT-VPCP)"
CONTENT_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
STT, SECTOR = "STT", "Lĩnh vực, công việc giải quyết theo cấp"

_IN = "Trong đó"
# field -> (group, sub-group or None, heading); a None sub-group means the heading spans two rows.
HEADINGS: Mapping[str, tuple[str, str | None, str]] = {
    "received_total": ("Số hồ sơ nhận giải quyết", None, "Tổng số"),
    "received_online": ("Số hồ sơ nhận giải quyết", _IN, "Trực tuyến"),
    "received_direct": ("Số hồ sơ nhận giải quyết", _IN, "Trực tiếp, dịch vụ bưu chính"),
    "carried_over": ("Số hồ sơ nhận giải quyết", _IN, "Từ kỳ trước"),
    "resolved_total": ("Số hồ sơ đã giải quyết", None, "Tổng số"),
    "resolved_early": ("Số hồ sơ đã giải quyết", _IN, "Trước hạn"),
    "resolved_on_time": ("Số hồ sơ đã giải quyết", _IN, "Đúng hạn"),
    "resolved_late": ("Số hồ sơ đã giải quyết", _IN, "Quá hạn"),
    "pending_total": ("Số hồ sơ đang giải quyết", None, "Tổng số"),
    "pending_within_time": ("Số hồ sơ đang giải quyết", _IN, "Trong hạn"),
    "pending_overdue": ("Số hồ sơ đang giải quyết", _IN, "Quá hạn"),
    "withdrawn": ("Theo dõi thêm", None, "Công dân rút hồ sơ"),
    "late_with_apology": ("Theo dõi thêm", "Đã giải quyết quá hạn", "Có văn bản xin lỗi"),
    "late_without_apology": ("Theo dõi thêm", "Đã giải quyết quá hạn", "Chưa có văn bản xin lỗi"),
    "overdue_with_apology": ("Theo dõi thêm", "Đang giải quyết quá hạn", "Có văn bản xin lỗi"),
    "overdue_without_apology": ("Theo dõi thêm", "Đang giải quyết quá hạn", "Chưa có văn bản xin lỗi"),
}


def _roman(n: int) -> str:
    out = ""
    for value, letters in ((1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"), (50, "L"),
                           (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")):  # fmt: skip
        count, n = divmod(n, value)
        out += letters * count
    return out


def table_rows(report: Report, unit_names: Mapping[str, str] | None = None) -> list[tuple[ReportRow, list[object]]]:
    """Each row with its cells: STT, column 2 label, then the counts of columns 3-18."""
    out: list[tuple[ReportRow, list[object]]] = []
    units = sectors = 0
    for row in report.rows:
        if row.unit is None and row.sector is None:
            stt = ""
        elif row.sector is None:
            units, sectors = units + 1, 0
            stt = _roman(units)
        else:
            if row.unit is None and sectors and out[-1][0].unit is not None:
                sectors = 0  # the across-units section numbers its sectors afresh
            sectors += 1
            stt = str(sectors)
        out.append((row, [stt, row.label(unit_names), *(getattr(row, f) for f in COUNT_FIELDS)]))
    return out


def csv_headers() -> list[str]:
    """One header row: "group - sub-group - heading (n)"."""
    names = []
    for field, (group, sub, title) in HEADINGS.items():
        names.append(" - ".join(p for p in (group, sub, title) if p) + f" ({COLUMN_NUMBERS[field]})")
    return [STT, SECTOR, *names]


def export_csv(report: Report, unit_names: Mapping[str, str] | None = None) -> bytes:
    """UTF-8 with BOM, CRLF, one header row, then the report rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(csv_headers())
    writer.writerows(cells for _, cells in table_rows(report, unit_names))
    return buffer.getvalue().encode("utf-8-sig")


def export_filename(report: Report, ext: str) -> str:
    p = report.period
    return f"bieu-06_{p.first_day:%Y%m%d}-{p.last_day:%Y%m%d}.{ext}"


_THIN = Side(style="thin")
_BOX = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
_CENTER = Alignment(horizontal="center", vertical="center", wrap_text=True)
_HEADER_TOP = 4  # rows 1-3: title, period, reporting unit


def export_xlsx(report: Report, unit_names: Mapping[str, str] | None = None, *, agency: str = "") -> bytes:
    """One sheet laid out like the paper form: title, period, three merged heading rows, the
    column numbers (1)…(18), then the rows; bold for the total and unit subtotals."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Biểu 06"
    last = 2 + len(COUNT_FIELDS)
    last_letter = get_column_letter(last)
    for r, text in ((1, TITLE), (2, f"Kỳ báo cáo: {report.period.label}")):
        ws.cell(r, 1, text).font = Font(bold=True, size=14 if r == 1 else 12)
        ws.cell(r, 1).alignment = Alignment(horizontal="center")
        ws.merge_cells(f"A{r}:{last_letter}{r}")
    ws.cell(3, 1, f"Đơn vị báo cáo: {agency}" if agency else FORM_CODE)
    ws.cell(3, last, "Đơn vị tính: Số hồ sơ").alignment = Alignment(horizontal="right")

    top, mid, low, numbers = _HEADER_TOP, _HEADER_TOP + 1, _HEADER_TOP + 2, _HEADER_TOP + 3
    for col, text in ((1, STT), (2, SECTOR)):
        ws.cell(top, col, text)
        ws.merge_cells(start_row=top, start_column=col, end_row=low, end_column=col)
    # Merge runs of equal group (top row) and equal (group, sub-group) (middle row).
    fields = list(HEADINGS)
    col = 3
    while col <= last:
        group = HEADINGS[fields[col - 3]][0]
        end = col
        while end < last and HEADINGS[fields[end - 2]][0] == group:
            end += 1
        ws.cell(top, col, group)
        if end > col:
            ws.merge_cells(start_row=top, start_column=col, end_row=top, end_column=end)
        c = col
        while c <= end:
            _, sub, title = HEADINGS[fields[c - 3]]
            if sub is None:
                ws.cell(mid, c, title)
                ws.merge_cells(start_row=mid, start_column=c, end_row=low, end_column=c)
                c += 1
                continue
            sub_end = c
            while sub_end < end and HEADINGS[fields[sub_end - 2]][:2] == (group, sub):
                sub_end += 1
            ws.cell(mid, c, sub)
            if sub_end > c:
                ws.merge_cells(start_row=mid, start_column=c, end_row=mid, end_column=sub_end)
            for k in range(c, sub_end + 1):
                ws.cell(low, k, HEADINGS[fields[k - 3]][2])
            c = sub_end + 1
        col = end + 1
    for k in range(1, last + 1):
        ws.cell(numbers, k, f"({k})")
        for r in (top, mid, low, numbers):
            ws.cell(r, k).alignment = _CENTER
            ws.cell(r, k).border = _BOX
            ws.cell(r, k).font = Font(bold=r != numbers, italic=r == numbers)

    for i, (row, cells) in enumerate(table_rows(report, unit_names)):
        r = numbers + 1 + i
        strong = row.sector is None  # the total and the unit subtotals
        for k, value in enumerate(cells, start=1):
            cell = ws.cell(r, k, value)
            cell.border = _BOX
            cell.font = Font(bold=strong)
            cell.alignment = Alignment(horizontal="left" if k == 2 else "center", vertical="center", wrap_text=k == 2)
    ws.column_dimensions["A"].width = 6
    ws.column_dimensions["B"].width = 42
    for k in range(3, last + 1):
        ws.column_dimensions[get_column_letter(k)].width = 12
    ws.freeze_panes = ws.cell(numbers + 1, 3)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0  # as many pages tall as needed
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
