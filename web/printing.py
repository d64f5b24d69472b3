"""Print views: the one-stop paper forms and the tracking ledger, as A4 HTML pages.

Routes (blueprint ``printing``, prefix ``/in``):

``/in/<dossier_id>/bien-nhan``  Mẫu 01, receipt and appointment slip, two copies on one page
``/in/<dossier_id>/bo-sung``    Mẫu 02, request to supplement the dossier
``/in/<dossier_id>/tu-choi``    Mẫu 03, refusal to accept / process
``/in/<dossier_id>/xin-loi``    Mẫu 04, apology and new appointment
``/in/<dossier_id>/thong-bao-dung`` Mẫu 05 of the 2025 set, notice of stopping processing
``/in/<dossier_id>/kiem-soat``  control slip (Phiếu kiểm soát quá trình giải quyết hồ sơ)
``/in/so-theo-doi?tu=…&den=…``  tracking ledger (Sổ theo dõi hồ sơ) for a range of reception days

Paper and form set (:mod:`web.form_sets`): forms on A5, the ledger on A4, the receipt's two
copies as the two A5 halves of an A4 sheet; the 2018 or 2025 set by the reception date.

Invariants
----------
- Views only read: :class:`node.services.Node` (``get_dossier``, ``timeline``, ``list_dossiers``,
  ``settings``) and the procedure catalogue in force (``node.reference``: the district's newest
  publication held, else the seed). They hold no rule beyond choosing what to show.
- Mẫu 04 prints the reason and new date of the dossier's ``dossier.apology_issued`` event (the
  last one); without one, both stay blank for handwriting.
- A field the node does not know is printed as a dotted blank line for handwriting, the way paper
  forms are filled, never invented. Known optional fields come from the dossier's ``details``
  (keys in :data:`DETAIL_KEYS`).
- People are printed by their full name: the reception's recorded ``officer_name``, else the
  full name of the local account that acted, else a blank line; never a login name.
- A provisional ``TAM-`` code prints as a provisional number with a note that the legal code
  follows at the next sync; once the final code is assigned the same form prints it.
- The ledger numbers continuously per year (:mod:`node.queries.ledger`) and lists the dossiers of
  this node's unit only.
- Pages are self-contained: CSS inline, the QR code of the dossier code as inline SVG; no CDN, so
  a desk with no internet prints the same page.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import segno
from flask import Blueprint, abort, current_app, render_template, request, url_for
from markupsafe import Markup

from node import accounts, units
from node.domain import dossier as domain
from node.domain.calendar import TimeUnit
from node.domain.catalogue import Catalogue, Procedure
from node.domain.deadline import judge
from node.domain.errors import DomainError, DossierNotFound
from node.domain.lookup import display
from node.domain.report import FIRST_REPORT_DAY, LAST_REPORT_DAY, MAX_REPORT_DAYS, check_period
from node.domain.vietnam_time import day_start_ms, vn_day
from node.queries.ledger import year_numbers
from node.services import Node
from web.fee_form import FEE_STATUS_LABELS
from web.form_sets import PAPER, form_set
from web.formatting import register_filters, to_vn
from web.labels import COPY_KIND_LABELS, STATUS_LABELS

bp = Blueprint("printing", __name__, url_prefix="/in", template_folder="templates")
register_filters(bp)

FORMS: Mapping[str, str] = {
    "bien-nhan": "print/bien_nhan.html",
    "bo-sung": "print/bo_sung.html",
    "tu-choi": "print/tu_choi.html",
    "xin-loi": "print/xin_loi.html",
    "kiem-soat": "print/kiem_soat.html",
    "thong-bao-dung": "print/thong_bao_dung.html",
}
# details keys the forms read (all optional): email, components [{name, kind, quantity}], sets,
# fees [{name, amount_vnd}], processing_time (text), result_delivery ("desk" | "post"),
# ledger {book, number}, processing_agency, cooperating_agency, delay_reason, new_due_at (ms).
DETAIL_KEYS = (
    "email", "components", "sets", "fees", "processing_time", "result_delivery", "ledger",
    "processing_agency", "cooperating_agency", "delay_reason", "new_due_at",
)  # fmt: skip
COPY_KINDS = COPY_KIND_LABELS  # the forms are printed in Vietnamese whatever the UI language
MAX_LEDGER_ROWS = 2000  # a commune receives tens a day; beyond this the range is a mistake
_DATE_INPUT = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


def _node() -> Node:
    return current_app.extensions["motcua.node"]


def _procedure(code: str) -> Procedure | None:
    # The catalogue in force: a province's catalogue synced down, else the seed shipped with the code.
    catalogue: Catalogue = current_app.extensions.get("motcua.catalogue") or _node().reference.catalogue()
    for lookup in (catalogue.by_code, catalogue.by_key):
        try:
            return lookup(code)
        except KeyError:
            pass
    return None


def duration_text(procedure: Procedure | None) -> str:
    """Mẫu 01 item 3 in words, or "" when the procedure is not in the catalogue."""
    if procedure is None:
        return ""
    amount, unit = procedure.duration.amount, procedure.duration.unit
    if unit is TimeUnit.SAME_DAY:
        return "trong ngày làm việc"
    return f"{amount:g} {'ngày làm việc' if unit is TimeUnit.WORKING_DAYS else 'giờ làm việc'}"


def _qr_svg(code: str) -> Markup:
    # Markup: segno's SVG is generated from the code, not from user HTML, and must not be escaped.
    return Markup(segno.make(code, error="m").svg_inline(scale=2, border=2, title=code))


def _agency(node: Node) -> str:
    return node.settings.NAME or f"Đơn vị {node.settings.UNIT}"


def _place(node: Node) -> str:
    # The place name (địa danh) of the unit from the national list; a unit the list does not know
    # gets a blank before ", ngày …" to write by hand.
    return str(getattr(node.settings, "PLACE", "") or "") or units.place_name(node.settings.UNIT)


def _rating_qr(code: str, check: str) -> Markup | None:
    """The QR of the public rating page (Decree 61 art. 31) for this dossier, if it is served."""
    if not check or "rating" not in current_app.blueprints:
        return None
    url = url_for("rating.public_rating", ma=code, kiem_tra=check, _external=True)
    return Markup(segno.make(url, error="m").svg_inline(scale=1, border=2, title="Đánh giá sự hài lòng"))


def _rows(value: object) -> list[Mapping[str, Any]]:
    # details are free-form per procedure: print the well-formed rows, skip anything else.
    return [v for v in value if isinstance(v, Mapping)] if isinstance(value, list) else []


def dossier_context(node: Node, dossier_id: str, form: str = "bien-nhan") -> dict[str, Any]:
    """Everything the per-dossier forms print."""
    state = node.get_dossier(dossier_id)
    timeline = node.timeline(dossier_id)
    created = next(e for e in timeline if e["type"] == domain.RECEIVED)
    details = created["body"].get("details") or {}
    if state.apology_at is not None:  # Mẫu 04 reads the recorded apology, not free-form details
        details = {**details, "delay_reason": state.apology_reason, "new_due_at": state.new_due_at}
    changes = [
        {
            "to": e["body"].get("to", ""),
            "reason": e["body"].get("reason", ""),
            "at": e["at"],
            "author": e["author"],
            "office": e["office"],  # certified, not what the body claims
            "target_office": e["body"].get("target_office", ""),
        }
        for e in timeline
        if e["type"] == domain.STATUS_CHANGED and not e["violation"]
    ]
    names = accounts.full_names([created["author"], *(c["author"] for c in changes)])
    for c in changes:
        c["author_name"] = names.get(c["author"], "")

    def last(*statuses: str) -> dict[str, Any] | None:
        return next((c for c in reversed(changes) if c["to"] in statuses), None)

    procedure = _procedure(state.procedure_code)
    stop = last("stopped")
    before_stop = [c["to"] for c in changes if c is not stop]
    check = display(node.lookup_check(dossier_id))
    return {
        "form": form,
        "forms": form_set(vn_day(state.received_at)),
        "paper": PAPER.get(form, "A5 portrait"),
        "stop": stop,
        "withdrawal": last("withdrawal_requested"),
        "stage": STATUS_LABELS.get(before_stop[-1] if before_stop else "received", "") if stop else "",
        "fee_labels": FEE_STATUS_LABELS,
        "rating_qr": _rating_qr(state.code, check) if form == "bien-nhan" else None,
        "dossier": state,
        "details": details,
        "components": _rows(details.get("components")),
        "fees": _rows(details.get("fees")),
        "copy_kinds": COPY_KINDS,
        "officer": created["body"].get("officer_name") or names.get(created["author"], ""),
        "changes": changes,
        "steps": control_steps(state, changes),
        "supplement": last("supplement_requested"),
        "refusal": last("refused", "stopped"),
        "procedure": procedure,
        "duration": details.get("processing_time") or duration_text(procedure),
        "agency": _agency(node),
        "place": _place(node),
        "unit": node.settings.UNIT,
        "now": node.wall_ms(),
        "qr": _qr_svg(state.code),
        "lookup_check": check,
    }


# Who hands the file to whom at each status change (the node records no office per event yet).
_HANDOVERS = {
    "processing": ("Bộ phận Một cửa", "Bộ phận chuyên môn"),
    "supplement_requested": ("Bộ phận chuyên môn", "Người nộp hồ sơ (bổ sung)"),
    "fees_pending": ("Bộ phận chuyên môn", "Người nộp hồ sơ (nghĩa vụ tài chính)"),
    "resolved": ("Bộ phận chuyên môn", "Bộ phận Một cửa (nhận kết quả)"),
    "returned": ("Bộ phận Một cửa", "Người nộp hồ sơ (trả kết quả)"),
    "withdrawal_requested": ("Người nộp hồ sơ", "Bộ phận Một cửa (xin rút hồ sơ)"),
    "stopped": ("Bộ phận chuyên môn", "Bộ phận Một cửa (dừng xử lý)"),
    "refused": ("Bộ phận Một cửa", "Người nộp hồ sơ (từ chối)"),
}


def control_steps(state: domain.DossierState, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Control-slip rows: one per hand-over, with the result filled for the step that returns the
    decision (judged against the appointment); other steps' allotted times are not on record."""
    steps = []
    for change in changes:
        giver, receiver = _HANDOVERS.get(change["to"], ("", ""))
        if change["target_office"]:  # a recorded transfer (liên thông) names both offices
            receiver = f"Đơn vị {change['target_office']}"
            giver = f"Đơn vị {change['office']}" if change["office"] else giver
        result = ""
        if change["to"] == "resolved" and state.due_at is not None:
            result = judge(to_vn(change["at"]), to_vn(state.due_at)).label
        steps.append({**change, "giver": giver, "receiver": receiver, "result": result})
    return steps


@bp.errorhandler(DossierNotFound)
def _not_found(e: DossierNotFound) -> tuple[str, int]:
    return render_template("print/error.html", message="Không tìm thấy hồ sơ này trên máy này."), 404


@bp.get("/<dossier_id>/<form>")
def print_form(dossier_id: str, form: str) -> str:
    """One of the per-dossier forms, ready for the browser's Print (Ctrl+P)."""
    template = FORMS.get(form)
    if template is None:
        abort(404)
    return render_template(template, **dossier_context(_node(), dossier_id, form))


def parse_day(text: str) -> date:
    """``dd/MM/yyyy`` (what staff type) or ISO ``yyyy-MM-dd`` (what a date input sends)."""
    text = text.strip()
    m = _DATE_INPUT.match(text)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"Ngày không hợp lệ: {text!r} (nhập dd/MM/yyyy)") from None


def ledger_rows(node: Node, first: date, last: date) -> tuple[list[dict[str, Any]], bool]:
    """Dossiers received from ``first`` to ``last`` (Vietnam days), oldest first, with the dates
    of transfer, decision and return from their timelines; and whether the list was cut."""
    start, end = day_start_ms(first), day_start_ms(last + timedelta(days=1))
    picked: list[dict[str, Any]] = []
    offset = 0
    while len(picked) <= MAX_LEDGER_ROWS:
        items, total = node.list_dossiers(limit=500, offset=offset)  # newest first
        picked += [d for d in items if start <= d["received_at"] < end and d["scope"] == node.scope]
        offset += len(items)
        if not items or offset >= total or items[-1]["received_at"] < start:
            break
    cut = len(picked) > MAX_LEDGER_ROWS
    rows = []
    picked = sorted(picked, key=lambda d: (d["received_at"], d["id"]))[:MAX_LEDGER_ROWS]
    numbers = year_numbers(node.scope, picked)  # Circular 01/2018 art. 10(2)
    for item in picked:
        firsts: dict[str, int] = {}
        details: Mapping[str, Any] = {}
        for e in node.timeline(item["id"]):
            if e["type"] == domain.RECEIVED:
                details = e["body"].get("details") or {}
            elif e["type"] == domain.STATUS_CHANGED:
                firsts.setdefault(e["body"].get("to", ""), e["at"])
        rows.append({**item, "details": details, "firsts": firsts, "number": numbers[item["id"]]})
    return rows, cut


@bp.get("/so-theo-doi")
def tracking_ledger() -> tuple[str, int] | str:
    """The tracking ledger for ``tu``..``den`` (both inclusive; default: today)."""
    node = _node()
    today = to_vn(node.wall_ms()).date()
    try:
        first = parse_day(request.args.get("tu", "")) if request.args.get("tu") else today
        last = parse_day(request.args.get("den", "")) if request.args.get("den") else first
    except ValueError:
        return render_template("print/error.html", message="Ngày không hợp lệ: hãy ghi theo dạng dd/mm/yyyy, "
                               "ví dụ 05/03/2026."), 400
    if last < first:
        return render_template("print/error.html", message="Ngày kết thúc trước ngày bắt đầu."), 400
    try:
        check_period(first, last)
    except DomainError:
        return render_template("print/error.html", message=(
            f"Khoảng ngày phải nằm trong các năm {FIRST_REPORT_DAY.year}–{LAST_REPORT_DAY.year} và dài tối đa "
            f"{MAX_REPORT_DAYS} ngày.")), 400
    rows, cut = ledger_rows(node, first, last)
    return render_template(
        "print/so_theo_doi.html",
        rows=rows,
        cut=cut,
        limit=MAX_LEDGER_ROWS,
        day_from=first,
        day_to=last,
        agency=_agency(node),
        place=_place(node),
        now=node.wall_ms(),
        copy_kinds=COPY_KINDS,
        paper=PAPER["so-theo-doi"],
        form="so-theo-doi",
        forms=form_set(first),
    )
