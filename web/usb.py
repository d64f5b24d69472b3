"""USB bundles from the browser (blueprint ``usb``, prefix ``/usb``): "Xuất dữ liệu ra USB" and
"Nhập dữ liệu từ USB", shown on the field laptop's sync page and the commune dashboard
(``templates/_usb.html``). The work is :mod:`node.bundles`, the same as ``motcua bundle``.

``POST /usb/xuat``        the bundle for the parent, as a file download (saved to the stick)
``POST /usb/nhap``        a bundle uploaded from the stick: verified, applied, and its
                          acknowledgement offered as a download to carry back
``GET /usb/xac-nhan/ID``  that acknowledgement (kept in memory for the last few imports)

Both forms work without JavaScript; ``static/motcua.js`` adds a progress bar (upload and
download) by sending the same forms with XMLHttpRequest. A refusal is a 4xx with the reason in
plain Vietnamese (and the stable code), never a 500, and nothing of a refused bundle is applied.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from datetime import UTC, datetime

from flask import Blueprint, Response, current_app, jsonify, render_template, request, url_for

from web import permissions as can
from web.auth import login_required, node
from web.i18n import N_, _

bp = Blueprint("usb", __name__, url_prefix="/usb", template_folder="templates")
bp.before_request(login_required(*can.roles_for(can.SYNC)))
KEPT_ACKS = 8
MAX_UPLOAD_BYTES = 512 * 1024 * 1024

# A refused bundle in plain words, by its code (sync.bundle.BundleError, sync.protocol.Code).
REASONS = {
    "not_a_bundle": N_("Tệp này không phải là gói dữ liệu motcua."),
    "truncated": N_("Tệp bị chép thiếu (bị cắt giữa chừng): hãy chép lại từ máy gửi."),
    "corrupted": N_("Tệp bị hỏng trên USB: hãy chép lại từ máy gửi."),
    "wrong_recipient": N_("Gói dữ liệu này dành cho máy khác: không đọc được trên máy này."),
    "unreadable": N_("Không mở được gói dữ liệu bằng khóa của máy này: gói đã bị sửa hoặc dành cho máy khác."),
    "tampered": N_("Gói dữ liệu đã bị sửa sau khi ghi: chữ ký không khớp."),
    "untrusted": N_("Máy gửi không có chứng chỉ hợp lệ của cơ quan cấp chứng chỉ cấp huyện."),
    "revoked": N_("Chứng chỉ của máy gửi đã bị thu hồi."),
    "replayed": N_("Gói dữ liệu này đã được nhập rồi: không có gì thay đổi."),
    "out_of_order": N_("Đây là phần sau của một lần xuất: hãy nhập phần trước trước."),
    "unsupported": N_("Gói dữ liệu có tệp đính kèm mà máy này chưa lưu được: hãy cập nhật phần mềm."),
    "no_recipient": N_("Máy này chưa biết máy cấp trên: hãy đồng bộ qua mạng một lần, hoặc xuất bằng lệnh "
                       "motcua bundle export --for."),
    "too_large": N_("Tệp quá lớn."),
}


REFUSED = N_("Gói dữ liệu bị từ chối.")


def reason(code: str) -> str:
    return _(REASONS.get(code, REFUSED))


def _acks() -> OrderedDict[str, tuple[str, bytes]]:
    return current_app.extensions.setdefault("motcua.usb_acks", OrderedDict())


def _refused(e: Exception, status: int = 422) -> tuple[str, int] | tuple[Response, int]:
    code = getattr(e, "code", "")
    code = getattr(code, "value", code)
    message = getattr(e, "message", str(e))
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return jsonify({"error": {"code": code, "reason": reason(code), "message": message}}), status
    return render_template("usb_result.html", error={"code": code, "reason": reason(code), "message": message},
                           result=None), status


def _stamp(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y%m%d-%H%M")


@bp.post("/xuat")
def export() -> Response | tuple[str, int] | tuple[Response, int]:
    from node.bundles import export as run_export
    from sync.bundle import BundleError

    n = node()
    try:
        result, parts = run_export(n, None)
    except BundleError as e:
        return _refused(e)
    name = f"motcua-{n.node_id[:8]}-cho-{result.recipient.node_id[:8]}-{_stamp(n.wall_ms())}.bundle"
    return Response(parts[0], mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{name}"',
                             "X-Motcua-Events": str(result.events)})


@bp.post("/nhap")
def import_() -> tuple[str, int] | tuple[Response, int] | Response:
    from node.bundles import import_bundle
    from sync.bundle import BundleError
    from sync.protocol import ProtocolError

    upload = request.files.get("bundle")
    if upload is None or not upload.filename:
        return _refused(BundleError("not_a_bundle", "no file was chosen"), 400)
    data = upload.stream.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        return _refused(BundleError("too_large", f"at most {MAX_UPLOAD_BYTES} bytes"), 413)
    n = node()
    try:
        result = import_bundle(n, data)
    except (BundleError, ProtocolError) as e:
        return _refused(e)
    summary = {"kind": result.kind, "sender": result.sender.name or result.sender.node_id,
               "events": result.events, "skipped": result.skipped, "ack": ""}
    if result.ack:
        token = secrets.token_urlsafe(12)
        acks = _acks()
        acks[token] = (f"motcua-xac-nhan-{n.node_id[:8]}-cho-{result.sender.node_id[:8]}-{_stamp(n.wall_ms())}"
                       ".bundle", result.ack)
        while len(acks) > KEPT_ACKS:
            acks.popitem(last=False)
        summary["ack"] = url_for("usb.ack", token=token)
    if request.headers.get("X-Requested-With") == "XMLHttpRequest":
        return jsonify(summary)
    return render_template("usb_result.html", result=summary, error=None), 200


@bp.get("/xac-nhan/<token>")
def ack(token: str) -> Response | tuple[str, int]:
    kept = _acks().get(token)
    if kept is None:
        return render_template("usb_result.html", result=None, error={
            "code": "gone", "reason": _("Xác nhận này không còn trên máy: hãy nhập lại gói dữ liệu để tạo lại."),
            "message": ""}), 404
    name, data = kept
    return Response(data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
