"""The one-stop desk (blueprint ``staff``, prefix ``/mot-cua``), on commune and mobile nodes.

``/``                       dashboard: today's intake, due soon, overdue, not yet synced, link
``/tiep-nhan``              receive a dossier: procedure → components → applicant → appointment
``/ho-so/<id>``             the dossier: timeline with origin and signature marks, allowed
                            transitions, forms to print; ``/ho-so/<id>/hen-lai`` records the
                            Mẫu 04 apology and new date (an open dossier, once, a day before)
``/tim-kiem?q=``            search by dossier code, name without diacritics, ID number
``/xung-dot``               this office's conflicts (heads resolve them)

Views parse with :mod:`web.forms`, call :class:`node.services.Node` and render; a
:class:`~node.domain.errors.DomainError` becomes a message on the page.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for

from node import files, units
from node.backup import backup_state
from node.domain import dossier as domain
from node.domain.catalogue import Catalogue
from node.domain.dossier import CONFIRM_REQUIRED, REASON_REQUIRED
from node.domain.errors import DomainError, DossierNotFound
from node.domain.lookup import display
from node.domain.text import ForbiddenCharacter
from node.domain.vietnam_time import VIETNAM, vn_day
from node.dossiers import can_reschedule, state_to_dict
from node.queries import dashboard as dashboard_queries
from node.queries import provenance as provenance_queries
from node.queries import search as search_queries
from node.signing import verify_signature
from web import fee_form, forms, idempotency
from web import permissions as can
from web.auth import audit_read, current_staff, login_required, node, now_ms, roles_required
from web.files import attach_from_form
from web.i18n import N_, _
from web.labels import STATUS_LABELS, TRANSITION_LABELS
from web.rating import LEVEL_LABELS as RATING_LABELS

bp = Blueprint("staff", __name__, url_prefix="/mot-cua", template_folder="templates")
bp.before_request(login_required(*can.roles_for(can.DESK)))
# a one-time key in every form that writes (web.idempotency): a second submission writes nothing
bp.add_app_template_global(idempotency.new_form_key, "new_idempotency_key")
PRINTABLE = (
    ("bien-nhan", N_("Giấy tiếp nhận hồ sơ và hẹn trả kết quả (Mẫu 01)")),
    ("kiem-soat", N_("Phiếu kiểm soát quá trình giải quyết hồ sơ")),
    ("bo-sung", N_("Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ (Mẫu 02)")),
    ("tu-choi", N_("Phiếu từ chối tiếp nhận giải quyết hồ sơ (Mẫu 03)")),
    ("xin-loi", N_("Phiếu xin lỗi và hẹn lại ngày trả kết quả (Mẫu 04)")),
    ("thong-bao-dung", N_("Thông báo dừng giải quyết hồ sơ (Mẫu 05, bộ mẫu 2025)")),
)


def catalogue() -> Catalogue:
    """The procedure catalogue in force: the node's reference data when it has some (a province's
    catalogue synced down), else the seed shipped with the package."""
    reference = getattr(node(), "reference", None)
    if reference is not None and hasattr(reference, "catalogue"):
        return reference.catalogue()
    return current_app.extensions.get("motcua.catalogue") or forms.seed_catalogue()


FIELD_LABELS = {
    "reason": N_("Lý do / nội dung"), "target_office": N_("Chuyển cho đơn vị (khi chuyển liên thông)"),
    "applicant.name": N_("Họ và tên"), "applicant.address": N_("Địa chỉ"), "note": N_("Ghi chú"),
}


def domain_message(e: DomainError) -> str:
    """A Vietnamese message for a rule the domain refused (its own text is English)."""
    if isinstance(e, ForbiddenCharacter):
        label = _(FIELD_LABELS[e.field]) if e.field in FIELD_LABELS else e.field
        return _("Không thực hiện được: ô “%(field)s” có ký tự ẩn hoặc ký tự điều khiển hướng chữ (%(char)s). "
                 "Hãy xóa nội dung ô và gõ lại.", field=label, char=e.codepoint)
    if e.message.startswith(("Dữ liệu", "Phát hiện")):  # write-gate messages are bilingual already
        return e.message
    return _("Không thực hiện được: %(reason)s", reason=e.message)


# The conflict use case's refusals (English, for logs and the API) as the desk reads them.
CONFLICT_MESSAGES = (
    ("a resolution needs a reason", N_("Cần ghi lý do giải quyết: lý do được ghi vào nhật ký hồ sơ.")),
    ("this conflict is already closed", N_("Xung đột này đã được giải quyết trước đó.")),
    ("choose", N_("Hãy chọn phiên bản cần giữ.")),
    ("only the office owning", N_("Chỉ đơn vị đang xử lý hồ sơ hoặc cấp huyện/tỉnh được giải quyết xung đột này.")),
    ("an outreach laptop",
     N_("Máy lưu động không giải quyết xung đột: việc này do bộ phận một cửa của xã hoặc cấp trên làm.")),
    ("no conflict", N_("Không tìm thấy xung đột.")),
)


def conflict_message(e: DomainError) -> str:
    for start, text in CONFLICT_MESSAGES:
        if e.message.startswith(start):
            return _(text)
    return domain_message(e)


MAX_PAGE = 10_000  # far past any result list; a larger page number would overflow the SQL offset


def page_number(text: str) -> int:
    """A ``trang`` (page) query value: 0 when absent or not a number, at most :data:`MAX_PAGE`."""
    try:
        return max(0, min(int(text), MAX_PAGE))
    except ValueError:
        return 0


def sync_summary() -> dict[str, Any]:
    status = node().sync_status()
    scheduler = current_app.extensions.get("motcua.scheduler")
    status["syncing"] = bool(scheduler and scheduler.state.syncing)
    return status


@bp.get("/")
def dashboard() -> str:
    n = node()
    board = dashboard_queries.dashboard(n.wall_ms())
    shown = len({d["id"] for part in ("today", "soon", "overdue") for d in board[part]})
    if shown:  # the lists name applicants: a read of personal data like any other
        audit_read("", "dashboard", detail=f"{shown} hồ sơ")
    return render_template("staff/dashboard.html", board=board, sync=sync_summary(),
                           conflicts=len(n.list_conflicts("open", limit=1000)), backup=backup_state(n.wall_ms()))


# -- receive a dossier ----------------------------------------------------------------------


@bp.get("/tiep-nhan")
def receive() -> str:
    return render_template("staff/receive_procedure.html", sectors=forms.sectors(catalogue()))


def _procedure_or_404(key: str):
    procedure = forms.find_procedure(catalogue(), key)
    if procedure is None:
        abort(404)
    return procedure


@bp.get("/tiep-nhan/thanh-phan")
def receive_components() -> str:
    procedure = _procedure_or_404(request.args.get("thu_tuc", ""))
    return render_template("staff/receive_components.html", procedure=procedure, errors={}, picked=None,
                           missing=[])


@bp.post("/tiep-nhan/nguoi-nop")
def receive_applicant() -> str | tuple[str, int]:
    procedure = _procedure_or_404(request.form.get("thu_tuc", ""))
    components = forms.parse_components(procedure, request.form)
    if not components.ok:
        return render_template("staff/receive_components.html", procedure=procedure, errors=components.errors,
                               picked=components.data["picked"], missing=components.data["missing"]), 422
    return render_template("staff/receive_applicant.html", procedure=procedure, components=components,
                           form=request.form, errors={})


@bp.post("/tiep-nhan/xac-nhan")
def receive_review() -> str | tuple[str, int]:
    procedure = _procedure_or_404(request.form.get("thu_tuc", ""))
    components = forms.parse_components(procedure, request.form)
    applicant = forms.parse_applicant(request.form, vn_day(now_ms()))
    if not components.ok:
        return render_template("staff/receive_components.html", procedure=procedure, errors=components.errors,
                               picked=components.data["picked"], missing=components.data["missing"]), 422
    if not applicant.ok:
        return render_template("staff/receive_applicant.html", procedure=procedure, components=components,
                               form=request.form, errors=applicant.errors), 422
    return _render_review(procedure, components, applicant, {})


def _render_review(procedure: Any, components: Any, applicant: Any, errors: dict[str, str]) -> str:
    due = dashboard_queries.compute_appointment(node().reference, now_ms(), procedure.duration)
    return render_template("staff/receive_review.html", procedure=procedure, components=components,
                           applicant=applicant, form=request.form, due_at=due, received_at=now_ms(),
                           fee_total=fee_form.fee_total(procedure), has_fee=fee_form.has_fee(procedure),
                           fee_statuses=fee_form.FEE_STATUS_LABELS, errors=errors)


@bp.post("/tiep-nhan/luu")
@roles_required(*can.roles_for(can.RECEIVE))
def receive_save() -> Response:
    return idempotency.form_once(_receive_save)


def _receive_save() -> Response | tuple[str, int]:
    procedure = _procedure_or_404(request.form.get("thu_tuc", ""))
    components = forms.parse_components(procedure, request.form)
    applicant = forms.parse_applicant(request.form, vn_day(now_ms()))
    if not (components.ok and applicant.ok):
        return render_template("staff/receive_applicant.html", procedure=procedure, components=components,
                               form=request.form, errors={**components.errors, **applicant.errors}), 422
    fee = fee_form.parse_fee(procedure, request.form)
    if not fee.ok:
        return _render_review(procedure, components, applicant, fee.errors), 422
    n = node()
    channel = "mobile" if n.settings.ROLE == "mobile" else "desk"
    body = forms.dossier_body(procedure, applicant, components, channel=channel,
                              due_at=None)
    if fee.data["fee"] is not None:
        body["fee"] = fee.data["fee"]  # Decree 61 art. 22: recorded at reception
    body["officer_name"] = current_staff().full_name  # the forms print the full name, never the login
    try:
        state = n.create_dossier(current_staff().author, body)
    except DomainError as e:
        flash(domain_message(e), "error")
        return render_template("staff/receive_applicant.html", procedure=procedure, components=components,
                               form=request.form, errors={}), 422
    idempotency.wrote()
    flash(_("Đã tiếp nhận hồ sơ %(code)s. Hãy in giấy biên nhận cho người nộp.", code=state.code), "ok")
    return redirect(url_for("staff.dossier", dossier_id=state.id, moi=1))


# -- the dossier -------------------------------------------------------------------------------


@bp.get("/ho-so/<dossier_id>")
def dossier(dossier_id: str) -> str | tuple[str, int]:
    n = node()
    try:
        state = n.get_dossier(dossier_id)
        timeline = n.timeline(dossier_id)
    except DossierNotFound:
        return render_template("errors/page.html", code=404, message=_("Không tìm thấy hồ sơ.")), 404
    audit_read(dossier_id)
    marks = provenance_queries.verification_marks(dossier_id, verify_signature)
    names = provenance_queries.node_names(e["origin"] for e in timeline)
    details = next((e["body"].get("details") or {} for e in timeline if e["type"] == domain.RECEIVED), {})
    allowed = sorted(domain.allowed_moves(state.status, state.history), key=list(domain.STATUSES).index)
    conflicts = [c for c in n.list_conflicts("open", limit=1000)
                 if dossier_id in (c["dossier_id"], c["winner"], c["loser"])]
    return render_template(
        "staff/dossier.html", d=state_to_dict(state), timeline=timeline, marks=marks, names=names,
        details=details, allowed=allowed, printable=PRINTABLE, conflicts=conflicts, me=n.node_id,
        reason_required=REASON_REQUIRED, confirm_required=CONFIRM_REQUIRED,
        can_act=can.allows(current_staff().role, can.PROCESS, n.settings.ROLE),
        just_received=bool(request.args.get("moi")),
        lookup_check=display(n.lookup_check(dossier_id)),
        # a transfer (liên thông) is a processing -> processing move: offered only from processing
        transfer_units=units.transfer_choices(n.settings.UNIT) if state.status == "processing" else [],
        fee_statuses=fee_form.FEE_STATUS_LABELS, rating_levels=RATING_LABELS,
        attachments=files.listing(n, dossier_id), on_demand=files.fetch_rule(n) == "on_demand",
        can_attach=can.allows(current_staff().role, can.RECEIVE, n.settings.ROLE),
        reschedule=_reschedule_offer(n, state),
    )


@bp.post("/ho-so/<dossier_id>/phi")
@roles_required(*can.roles_for(can.PROCESS))
def record_fee(dossier_id: str) -> Response:
    """Decree 61 art. 22: a fee left unpaid at reception, paid later, with its receipt number."""
    return idempotency.form_once(lambda: _record_fee(dossier_id))


def _record_fee(dossier_id: str) -> Response:
    n = node()
    try:
        state = n.get_dossier(dossier_id)
        n.record_fee(current_staff().author, dossier_id, {"status": "paid", "amount_vnd": state.fee_amount_vnd,
                                                          "receipt_no": request.form.get("fee_receipt", "")})
        idempotency.wrote()
        flash(_("Đã ghi nhận phí, lệ phí đã nộp."), "ok")
    except DomainError as e:
        flash(domain_message(e), "error")
    return redirect(url_for("staff.dossier", dossier_id=dossier_id))


def _reschedule_offer(n: Any, state: Any) -> dict[str, Any]:
    """Whether the Mẫu 04 form is shown (an open dossier) and the deadline it must precede."""
    if not can_reschedule(state.status):
        return {"offered": False, "due": None}
    due = n.deadline(state.id).get("due_at") or state.due_at
    return {"offered": True, "due": due}


@bp.post("/ho-so/<dossier_id>/hen-lai")
@roles_required(*can.roles_for(can.PROCESS))
def reschedule(dossier_id: str) -> Response:
    return idempotency.form_once(lambda: _reschedule(dossier_id))


def _reschedule(dossier_id: str) -> Response:
    """Mẫu 04 from the desk: the same use case as the API's (node.dossiers.issue_apology)."""
    text = f"{request.form.get('ngay', '').strip()} {request.form.get('gio', '').strip() or '17:00'}"
    try:
        when = datetime.strptime(text, "%d/%m/%Y %H:%M").replace(tzinfo=VIETNAM)
    except ValueError:
        flash(_("Ngày giờ hẹn trả mới không hợp lệ: nhập ngày dạng dd/mm/yyyy và giờ dạng HH:MM."), "error")
        return redirect(url_for("staff.dossier", dossier_id=dossier_id))
    try:
        node().issue_apology(current_staff().author, dossier_id, request.form.get("reason", ""),
                             int(when.timestamp() * 1000))
        idempotency.wrote()
        flash(_("Đã ghi nhận phiếu xin lỗi và hẹn lại ngày trả. Hãy in Mẫu 04 gửi người nộp."), "ok")
    except DomainError as e:
        flash(domain_message(e), "error")
    return redirect(url_for("staff.dossier", dossier_id=dossier_id))


@bp.post("/ho-so/<dossier_id>/trang-thai")
@roles_required(*can.roles_for(can.PROCESS))
def change_status(dossier_id: str) -> Response:
    return idempotency.form_once(lambda: _change_status(dossier_id))


def _change_status(dossier_id: str) -> Response:
    to = request.form.get("to", "")
    reason = request.form.get("reason", "")
    target = request.form.get("target_office", "").strip()
    # Checked here too so the clerk reads why in the UI language, before anything is written.
    if to in REASON_REQUIRED and not reason.strip():
        flash(_("Bước “%(step)s” cần ghi lý do: lý do được in trên phiếu gửi người nộp.",
                step=_(TRANSITION_LABELS.get(to, to))), "error")
        return redirect(url_for("staff.dossier", dossier_id=dossier_id))
    if to in CONFIRM_REQUIRED and not request.form.get("confirm"):
        flash(_("Bước “%(step)s” không hoàn tác được: hãy đánh dấu ô xác nhận rồi ghi nhận lại.",
                step=_(TRANSITION_LABELS.get(to, to))), "error")
        return redirect(url_for("staff.dossier", dossier_id=dossier_id))
    try:
        state = node().change_status(current_staff().author, dossier_id, to, reason, target)
        idempotency.wrote()
        label = _(STATUS_LABELS.get(state.status, state.status))
        flash(_("Đã chuyển hồ sơ sang trạng thái: %(status)s.", status=label), "ok")
        if state.status in files.RESULT_STATUSES and attach_from_form(dossier_id, "result_file", "result"):
            flash(_("Đã đính kèm kết quả điện tử."), "ok")
    except DomainError as e:
        flash(domain_message(e), "error")
    return redirect(url_for("staff.dossier", dossier_id=dossier_id))


# -- search and conflicts ---------------------------------------------------------------------


@bp.get("/tim-kiem")
def search() -> str:
    q = request.args.get("q", "").strip()[:100]
    page = page_number(request.args.get("trang", ""))
    rows, total, capped = search_queries.search(q, limit=50, offset=page * 50) if q else ([], 0, False)
    if q:
        audit_read("", "search", detail=f"{total}{'+' if capped else ''} kết quả")
    return render_template("staff/search.html", q=q, rows=rows, total=total, capped=capped, page=page)


@bp.get("/xung-dot")
def conflicts() -> str:
    n = node()
    items = n.list_conflicts("open", limit=500)
    return render_template("staff/conflicts.html", items=items, unit=n.settings.UNIT)


def render_conflict(template: str, conflict_id: str, can_resolve: bool, resolve_endpoint: str) -> str | tuple[str, int]:
    """Both versions of a conflict side by side (the desk's and the district's pages alike)."""
    try:
        c = node().get_conflict(conflict_id)
    except DomainError:
        return render_template("errors/page.html", code=404, message=_("Không tìm thấy xung đột.")), 404
    audit_read(c["dossier_id"], "conflict")
    names = provenance_queries.node_names(v["origin"] for v in c["versions"].values() if v)
    return render_template(template, c=c, names=names, can_resolve=can_resolve,
                           resolve_url=url_for(resolve_endpoint, conflict_id=conflict_id))


@bp.get("/xung-dot/<conflict_id>")
def conflict(conflict_id: str) -> str | tuple[str, int]:
    may_resolve = can.allows(current_staff().role, can.RESOLVE, node().settings.ROLE)
    return render_conflict("staff/conflict.html", conflict_id, may_resolve, "staff.resolve")


@bp.post("/xung-dot/<conflict_id>/giai-quyet")
@roles_required(*can.roles_for(can.RESOLVE))
def resolve(conflict_id: str) -> Response:
    return resolve_conflict_form(conflict_id, "staff.conflict")


def resolve_conflict_form(conflict_id: str, back: str) -> Response:
    """Shared by the desk and the district console: keep the winner or the loser, with a reason."""
    return idempotency.form_once(lambda: _resolve_conflict_form(conflict_id, back))


def _resolve_conflict_form(conflict_id: str, back: str) -> Response:
    n = node()
    keep = request.form.get("keep", "")
    try:
        c = n.get_conflict(conflict_id)
        if keep not in ("winner", "loser"):
            raise DomainError("choose the version to keep", "keep")
        n.resolve_conflict(current_staff().author, conflict_id, c[keep], request.form.get("reason", ""))
        idempotency.wrote()
        flash(_("Đã giải quyết xung đột; quyết định sẽ được đồng bộ tới các máy khác."), "ok")
    except DomainError as e:
        flash(conflict_message(e), "error")
    return redirect(url_for(back, conflict_id=conflict_id))
