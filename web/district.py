"""The district admin console (blueprint ``district``, prefix ``/quan-tri``), on district nodes.

``/dong-bo``               the sync log, filtered by node, outcome and days; ``/dong-bo/<id>`` one
                           session with the other side's line when this hub holds it
``/may``                   node health: last seen, events pending, clock skew, version, certificate
``/xung-dot``              the conflict queue; ``/xung-dot/<id>`` both versions side by side and
                           the resolve action (the district may resolve any conflict)
``/thong-ke``              statistics by unit with a chart (inline SVG) and CSV/XLSX export, and
                           the Biểu 06 report when the node serves it
``/tre-han``               late dossiers by commune
``/vi-pham``               authority violations: events kept in the log that had no effect
                           because their origin's certificate did not allow them, with the origin
"""

from __future__ import annotations

import csv
import io
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, flash, redirect, render_template, request, url_for

from node.backup import backup_state
from node.domain.errors import DomainError
from node.domain.report import FIRST_REPORT_DAY, LAST_REPORT_DAY, check_period
from node.domain.vietnam_time import vn_day
from node.queries import network as network_queries
from node.queries import service as service_queries
from node.queries import statistics as statistics_queries
from web import idempotency
from web import permissions as can
from web.auth import login_required, node, now_ms, roles_required
from web.chart import bar_chart
from web.i18n import N_, _
from web.staff import page_number, render_conflict, resolve_conflict_form

bp = Blueprint("district", __name__, url_prefix="/quan-tri", template_folder="templates")
bp.before_request(login_required(*can.roles_for(can.CONSOLE)))
# the one-time key of the forms that write (web.idempotency), as on the desk
bp.add_app_template_global(idempotency.new_form_key, "new_idempotency_key")
OUTCOMES = ("ok", "partial", "failed", "running", "interrupted", "sent")  # sent: a USB bundle not yet acknowledged
BIEU_06_PATH = "/api/v1/reports/bieu-06"


def parse_day(text: str) -> date | None:
    """``dd/MM/yyyy`` as staff type it, or ``yyyy-MM-dd`` from a date input; None if empty, bad,
    or outside the days any report covers (year 9999 cannot even be moved by a day)."""
    from web.printing import parse_day as parse

    try:
        day = parse(text) if text.strip() else None
    except ValueError:
        return None
    return day if day is not None and FIRST_REPORT_DAY <= day <= LAST_REPORT_DAY else None


def warn_bad_days(args: Any, *names: str) -> None:
    """Say which typed dates were not understood (they are left out of the filter), instead of
    quietly showing an unfiltered list."""
    labels = {"tu": _("Từ ngày"), "den": _("Đến ngày")}
    for name in names:
        text = args.get(name, "").strip()
        if text and parse_day(text) is None:
            flash(_("Ngày “%(text)s” (ô “%(field)s”) không hợp lệ: hãy ghi theo dạng dd/mm/yyyy, ví dụ 05/03/2026. "
                    "Bộ lọc này chưa được áp dụng.", text=text[:20], field=labels.get(name, name)), "error")


@bp.get("/")
def index() -> Response:
    return redirect(url_for("district.sync_log"))


@bp.get("/dong-bo")
def sync_log() -> str:
    a = request.args
    outcome = a.get("ket_qua", "") if a.get("ket_qua", "") in OUTCOMES else ""
    first, last = parse_day(a.get("tu", "")), parse_day(a.get("den", ""))
    warn_bad_days(a, "tu", "den")
    page = page_number(a.get("trang", ""))
    rows = network_queries.sync_log(node=a.get("may", "").strip()[:64], outcome=outcome, first=first, last=last,
                            limit=100, offset=page * 100)
    return render_template("district/sync_log.html", rows=rows, args=a, outcomes=OUTCOMES, page=page,
                           first=first, last=last, nodes=network_queries.node_health(now_ms()),
                           offices=network_queries.offices(r["peer"] for r in rows), backup=backup_state(now_ms()))


@bp.get("/dong-bo/<int:row_id>")
def sync_session(row_id: int) -> str | tuple[str, int]:
    row, others = network_queries.sync_session(row_id)
    if row is None:
        return render_template("errors/page.html", code=404, message=_("Không tìm thấy phiên đồng bộ.")), 404
    offices = network_queries.offices(r["peer"] for r in [row, *others])
    return render_template("district/session.html", row=row, others=others, offices=offices)


@bp.get("/may")
def nodes() -> str:
    return render_template("district/nodes.html", nodes=network_queries.node_health(now_ms()), me=node().node_id)


@bp.get("/xung-dot")
def conflicts() -> str:
    status = request.args.get("trang_thai", "open")
    status = status if status in ("open", "resolved") else "open"
    return render_template("district/conflicts.html", items=node().list_conflicts(status, limit=500), status=status)


@bp.get("/xung-dot/<conflict_id>")
def conflict(conflict_id: str) -> str | tuple[str, int]:
    return render_conflict("district/conflict.html", conflict_id, True, "district.resolve")


@bp.post("/xung-dot/<conflict_id>/giai-quyet")
@roles_required(*can.roles_for(can.RESOLVE))
def resolve(conflict_id: str) -> Response:
    return resolve_conflict_form(conflict_id, "district.conflict")


# -- statistics --------------------------------------------------------------------------------


def _period() -> tuple[date, date]:
    """The ``tu``..``den`` days asked (swapped if reversed); a period no report can cover, such as
    year 1 to 9999, falls back to this month (what the page shows when nothing is asked)."""
    today = vn_day(now_ms())
    warn_bad_days(request.args, "tu", "den")
    first = parse_day(request.args.get("tu", "")) or today.replace(day=1)
    last = parse_day(request.args.get("den", "")) or today
    first, last = (first, last) if first <= last else (last, first)
    try:
        check_period(first, last)
    except DomainError:
        return today.replace(day=1), today
    return first, last


# The Biểu 06 groups of node.queries.statistics.by_unit, in the form's order.
STAT_COLUMNS = (
    ("scope", N_("Đơn vị")),
    ("name", N_("Tên đơn vị")),
    ("received", N_("Tiếp nhận")),
    ("carried_over", N_("Kỳ trước chuyển sang")),
    ("resolved", N_("Đã giải quyết")),
    ("pending", N_("Đang giải quyết")),
    ("overdue", N_("Quá hạn")),
    ("withdrawn", N_("Rút hồ sơ")),
)


@bp.get("/thong-ke")
@roles_required(*can.roles_for(can.REPORT))
def statistics() -> Response | str:
    first, last = _period()
    rows = statistics_queries.by_unit(node().reference, now_ms(), first, last)
    names = statistics_queries.unit_names(r["scope"] for r in rows)
    for r in rows:
        r["name"] = names.get(r["scope"], "")
    fmt = request.args.get("dinh_dang", "")
    if fmt in ("csv", "xlsx"):
        return _export(rows, first, last, fmt)
    chart = bar_chart(
        [r["name"] or r["scope"] for r in rows],
        [(_("Tiếp nhận"), [r["received"] for r in rows]), (_("Đã giải quyết"), [r["resolved"] for r in rows]),
         (_("Quá hạn"), [r["overdue"] for r in rows])],
        title=_("Hồ sơ theo đơn vị"),
    )
    has_bieu_06 = any(rule.rule == BIEU_06_PATH for rule in current_app.url_map.iter_rules())
    return render_template("district/statistics.html", rows=rows, chart=chart, first=first, last=last,
                           columns=STAT_COLUMNS, bieu_06=BIEU_06_PATH if has_bieu_06 else "",
                           **service_section(first, last, names))


def service_section(first: date, last: date, names: dict[str, str]) -> dict[str, Any]:
    """Fee totals and satisfaction ratings per unit (issue 12, points 9-10): their own section."""
    fees, ratings = service_queries.fee_totals(first, last), service_queries.ratings(first, last)
    names = {**names, **statistics_queries.unit_names(r["scope"] for r in fees + ratings if r["scope"] not in names)}
    for r in fees + ratings:
        r["name"] = names.get(r["scope"], "")
    return {"fees": fees, "ratings": ratings}


def _export(rows: list[dict], first: date, last: date, fmt: str) -> Response:
    headings = [_(h) for _k, h in STAT_COLUMNS]
    table = [[r[k] for k, _h in STAT_COLUMNS] for r in rows]
    name = f"thong-ke_{first:%Y%m%d}-{last:%Y%m%d}.{fmt}"
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(headings)
        writer.writerows(table)
        body, mime = buffer.getvalue().encode("utf-8-sig"), "text/csv; charset=utf-8"  # BOM: Excel reads UTF-8
    else:
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "Thống kê"
        ws.append([_("Thống kê hồ sơ từ %(a)s đến %(b)s", a=f"{first:%d/%m/%Y}", b=f"{last:%d/%m/%Y}")])
        ws.append(headings)
        for line in table:
            ws.append(line)
        out = io.BytesIO()
        wb.save(out)
        body, mime = out.getvalue(), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    return Response(body, mimetype=mime, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@bp.get("/vi-pham")
def violations() -> str:
    from node import authority

    origin = request.args.get("may", "").strip()[:64]
    return render_template("district/violations.html", rows=authority.listing(500, origin), origin=origin)


@bp.get("/tre-han")
def late() -> str:
    groups = statistics_queries.late_by_unit(now_ms())
    names = statistics_queries.unit_names(g["scope"] for g in groups)
    return render_template("district/late.html", groups=groups, names=names, now=now_ms())
