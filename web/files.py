"""Attached files in the desk and the JSON API (issue 17).

Desk (blueprint ``files``, prefix ``/mot-cua``, signed-in desk staff):

``POST /ho-so/<id>/tep``        attach the chosen pages (one paper) or one PDF to the dossier
``GET  /tep/<hash>``            open a complete file (the PDF viewer of the browser); on a node
                                that fetches on demand, asks for it and says it is arriving
``GET  /tep/<hash>/anh-nho``    the thumbnail of a scan
``POST /tep/<hash>/tai-ve``     ask for a file an on-demand node does not hold yet

API (blueprint ``files_api``, prefix ``/api/v1``, the API's authentication and error shape):
``GET/POST /dossiers/<id>/files`` (multipart ``file`` parts, ``component``, ``kind``,
``grayscale``) and ``GET /files/<hash>`` (409 ``not_complete`` while chunks are still arriving).

Every read of a file is a read of personal data and leaves an access-log row.
"""

from __future__ import annotations

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import RequestEntityTooLarge

from node import files
from node.domain.errors import DomainError, DossierNotFound
from node.scans import mib
from node.writegate import WriteBlocked
from web import idempotency
from web import permissions as can
from web.api import idempotent
from web.api_auth import api_error, audit, authenticate, author, requires
from web.auth import audit_read, current_staff, login_required, node, roles_required
from web.i18n import N_, _

bp = Blueprint("files", __name__, url_prefix="/mot-cua")
bp.before_request(login_required(*can.roles_for(can.DESK)))
api_bp = Blueprint("files_api", __name__, url_prefix="/api/v1")
api_bp.before_request(authenticate)

# The use case's refusals (English, for logs and the API) as the desk reads them.
MESSAGES = (
    ("no file was chosen", N_("Chưa chọn tệp nào.")),
    ("the file is not a readable", N_("Tệp không phải ảnh JPEG/PNG hay tệp PDF đọc được (tệp hỏng hoặc sai loại); "
                                      "hãy quét hoặc chụp lại.")),
    ("images in", N_("Chỉ nhận ảnh JPEG, PNG hoặc tệp PDF.")),
    ("a PDF is attached on its own", N_("Tệp PDF được đính kèm riêng, không ghép cùng ảnh.")),
    ("at most", N_("Quá nhiều trang trong một lần đính kèm (tối đa 50).")),
    ("the electronic result", N_("Kết quả điện tử chỉ đính kèm khi hồ sơ đã có kết quả.")),
    ("this file is not (yet) complete", N_("Tệp chưa nhận đủ trên máy này; hãy đồng bộ rồi mở lại.")),
)


def file_message(e: DomainError) -> str:
    if e.message.startswith("file too large"):
        return _("Tệp quá lớn: %(detail)s. Hãy quét lại ở độ phân giải thấp hơn hoặc chia thành nhiều tệp.",
                 detail=e.message.split(": ", 1)[1])
    for start, text in MESSAGES:
        if e.message.startswith(start):
            return _(text)
    return _("Không thực hiện được: %(reason)s", reason=e.message)


def _upload_limit() -> int:
    """A request may carry originals up to four times the stored cap (photos shrink a lot)."""
    return min(4 * files.max_bytes(node()) + (1 << 20), 64 << 20)


def _uploads(name: str) -> list[bytes]:
    request.max_content_length = _upload_limit()
    pages = []
    for f in request.files.getlist(name):
        with f.stream:  # a spooled temporary file: closed at once, not at garbage collection
            if f.filename:
                pages.append(f.stream.read())
    return pages


def _first_name(field: str) -> str:
    return next((f.filename for f in request.files.getlist(field) if f.filename), "")


def attach_from_form(dossier_id: str, field: str, kind: str) -> dict | None:
    """Attach what the form's ``field`` carries (None when it carries nothing); flashes why not."""
    try:
        pages = _uploads(field)
        if not pages and kind == "result":
            return None
        return files.attach(node(), current_staff().author, dossier_id, pages, name=_first_name(field),
                            component=request.form.get("component", ""), kind=kind,
                            grayscale=bool(request.form.get("grayscale")))
    except RequestEntityTooLarge:
        flash(_("Tệp tải lên quá lớn (tối đa %(size)s một lần).", size=f"{_upload_limit() >> 20} MB"), "error")
    except DomainError as e:
        flash(file_message(e), "error")
    return None


@bp.post("/ho-so/<dossier_id>/tep")
@roles_required(*can.roles_for(can.RECEIVE))
def attach(dossier_id: str) -> Response:
    def once() -> Response:
        a = attach_from_form(dossier_id, "file", "scan")
        if a:
            idempotency.wrote()
            flash(_("Đã đính kèm %(name)s: %(stored)s (tải lên %(original)s).", name=a["name"],
                    stored=mib(a["size"]), original=mib(a["original_size"])), "ok")
        return redirect(url_for("staff.dossier", dossier_id=dossier_id) + "#tep")

    return idempotency.form_once(once)


def _send(file_hash: str, thumb: bool = False) -> Response | tuple[str, int]:
    spec = files.spec_of(file_hash)
    if spec is None:
        return render_template("errors/page.html", code=404, message=_("Không tìm thấy tệp.")), 404
    try:
        data, media = files.read(node(), file_hash)
    except DomainError:
        if thumb:
            return Response(status=404)
        if files.fetch_rule(node()) == "on_demand":
            files.want(node(), file_hash)
        return render_template("errors/page.html", code=409, message=_(
            "Tệp đang nhận, chưa đủ trên máy này. Máy sẽ tải khi đồng bộ; hãy mở lại sau.")), 409
    if not thumb:
        audit_read("", "file", detail=file_hash[:16])
    response = Response(data, mimetype=media)
    response.headers["Content-Disposition"] = "inline"
    # Chromium shows a PDF in a viewer it embeds: a policy without object-src would blank it.
    # (Cache-Control is no-store like every desk page: a scan is personal data.)
    response.headers["Content-Security-Policy"] = "default-src 'none'; object-src 'self'; frame-ancestors 'none'"
    return response


@bp.get("/tep/<file_hash>")
def open_file(file_hash: str) -> Response | tuple[str, int]:
    return _send(file_hash)


@bp.get("/tep/<file_hash>/anh-nho")
def thumbnail(file_hash: str) -> Response | tuple[str, int]:
    return _send(file_hash, thumb=True)


@bp.post("/tep/<file_hash>/tai-ve")
def fetch(file_hash: str) -> Response:
    from node.models import AttachmentRow

    try:
        files.want(node(), file_hash)
        flash(_("Tệp sẽ được tải về ở lần đồng bộ tới."), "ok")
    except DomainError:
        flash(_("Không tìm thấy tệp."), "error")
        return redirect(url_for("staff.dashboard"))
    row = (AttachmentRow.get_or_none(AttachmentRow.file_hash == file_hash)
           or AttachmentRow.get(AttachmentRow.thumb_hash == file_hash))  # back to its dossier, never a referrer
    return redirect(url_for("staff.dossier", dossier_id=row.dossier_id) + "#tep")


# -- API ------------------------------------------------------------------------------------------


def _api_refusal(e: Exception) -> tuple[Response, int]:
    if isinstance(e, DossierNotFound):
        return api_error(404, "not_found", e.message, e.field)
    if isinstance(e, WriteBlocked):
        return api_error(503, "write_blocked", e.message)
    if isinstance(e, RequestEntityTooLarge):
        return api_error(413, "too_large", f"at most {_upload_limit()} bytes a request")
    return api_error(422, "invalid_input", e.message, e.field)  # type: ignore[attr-defined]


@api_bp.get("/dossiers/<dossier_id>/files")
@requires(can.READ)
def api_list(dossier_id: str) -> Response | tuple[Response, int]:
    try:
        from node import dossiers

        dossiers.row(dossier_id)
    except DossierNotFound as e:
        return _api_refusal(e)
    audit(dossier_id, "api:files")
    return {"items": files.listing(node(), dossier_id)}


@api_bp.post("/dossiers/<dossier_id>/files")
@requires(can.RECEIVE)
@idempotent  # an Idempotency-Key protects uploads up to the API's 1 MiB; larger ones run unprotected
def api_attach(dossier_id: str) -> Response | tuple[Response, int]:
    try:
        a = files.attach(node(), author(), dossier_id, _uploads("file"),
                         name=request.form.get("name", "") or _first_name("file"),
                         component=request.form.get("component", ""), kind=request.form.get("kind", "scan"),
                         grayscale=request.form.get("grayscale", "") in ("1", "true", "on"))
    except (DomainError, WriteBlocked, RequestEntityTooLarge) as e:
        return _api_refusal(e)
    return a, 201


@api_bp.get("/files/<file_hash>")
@requires(can.READ)
def api_read(file_hash: str) -> Response | tuple[Response, int]:
    if files.spec_of(file_hash) is None:
        return api_error(404, "not_found", "no attached file has this hash on this node", "file")
    try:
        data, media = files.read(node(), file_hash)
    except DomainError as e:
        return api_error(409, "not_complete", e.message, "file")
    audit("", "api:file", detail=file_hash[:16])
    return Response(data, mimetype=media)
