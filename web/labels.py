"""Human labels for stored codes (statuses, roles, channels, event types, sync outcomes).

The codes stay English identifiers in events and tables; what staff read is Vietnamese (the
official DVCQG labels for statuses), translated at render time by :func:`web.i18n.gettext`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from flask import Flask

from node.domain.calendar import TimeUnit
from node.domain.deadline import Duration
from node.domain.dossier import NATIONAL_CODE
from node.domain.statuses import NationalStatus
from node.units import describe_unit
from web.i18n import _

STATUS_LABELS: Mapping[str, str] = {s: NationalStatus(code).label for s, code in NATIONAL_CODE.items()}
# An action reads better than the status it leads to on a button.
TRANSITION_LABELS: Mapping[str, str] = {
    "online_filed": "Công dân đã bổ sung, chờ tiếp nhận",
    "received": "Tiếp nhận",
    "refused": "Từ chối tiếp nhận",
    "processing": "Chuyển xử lý",
    "supplement_requested": "Yêu cầu bổ sung",
    "fees_pending": "Yêu cầu nộp phí, lệ phí",
    "withdrawal_requested": "Công dân xin rút hồ sơ",
    "stopped": "Dừng xử lý",
    "resolved": "Đã có kết quả",
    "returned": "Trả kết quả",
}
ROLE_LABELS: Mapping[str, str] = {
    "clerk": "Cán bộ một cửa",
    "head": "Lãnh đạo bộ phận",
    "mobile": "Tổ lưu động",
    "district_admin": "Quản trị cấp trên",
}
NODE_ROLE_LABELS: Mapping[str, str] = {  # what kind of office a node is (its profile's role)
    "commune": "Bộ phận một cửa xã",
    "mobile": "Tổ lưu động",
    "district": "Máy chủ cấp trên",
}
CHANNEL_LABELS: Mapping[str, str] = {"desk": "Tại quầy", "mobile": "Lưu động", "online": "Trực tuyến"}
EVENT_LABELS: Mapping[str, str] = {
    "dossier.received": "Tiếp nhận hồ sơ",
    "dossier.status_changed": "Chuyển trạng thái",
    "dossier.updated": "Cập nhật thông tin",
    "dossier.conflict_resolved": "Giải quyết xung đột",
    "dossier.file_attached": "Đính kèm tệp",
}
OUTCOME_LABELS: Mapping[str, str] = {
    "ok": "Thành công",
    "partial": "Một phần",
    "failed": "Thất bại",
    "running": "Đang chạy",
    "interrupted": "Bị gián đoạn",
    "sent": "Đã xuất, chờ xác nhận",  # a USB bundle written, its acknowledgement not back yet
}
LINK_LABELS: Mapping[str, str] = {"up": "Đã kết nối", "down": "Mất kết nối", "never": "Chưa đồng bộ lần nào"}
# A failed sync in plain words (sync.protocol.Code, or "transport" for no link at all); the
# technical message stays on the page, folded, for whoever supports the office.
SYNC_ERROR_LABELS: Mapping[str, str] = {
    "transport": "Không kết nối được với máy %(peer)s — dữ liệu vẫn được lưu trên máy này; "
                 "hãy kiểm tra mạng rồi đồng bộ lại.",
    "untrusted": "Máy %(peer)s không nhận chứng chỉ của máy này (khác cơ quan cấp chứng chỉ) — dữ liệu vẫn "
                 "được lưu trên máy này; hãy liên hệ quản trị cấp trên.",
    "revoked": "Chứng chỉ của máy này đã bị thu hồi — dữ liệu vẫn được lưu trên máy này; hãy liên hệ "
               "quản trị cấp trên.",
    "throttled": "Máy %(peer)s đang tạm từ chối vì có quá nhiều yêu cầu — hãy thử lại sau vài phút.",
    "write_blocked": "Máy %(peer)s đang tạm ngừng nhận dữ liệu — dữ liệu vẫn được lưu trên máy này; "
                     "hãy thử lại sau.",
    "read_only": "Ổ đĩa của máy %(peer)s chỉ đọc được: đã lấy dữ liệu của máy đó về nhưng không gửi được — dữ liệu "
                 "vẫn được lưu trên máy này; hãy báo quản trị.",
}
SYNC_ERROR_OTHER = ("Đồng bộ với máy %(peer)s không thành công — dữ liệu vẫn được lưu trên máy này; "
                    "nếu lặp lại, hãy báo quản trị (mã lỗi: %(code)s).")


def sync_error(code: str, peer: str) -> str:
    """A failed sync as a person reads it."""
    return _(SYNC_ERROR_LABELS.get(code, SYNC_ERROR_OTHER), peer=peer or "?", code=code or "?")
VIOLATION_LABELS: Mapping[str, str] = {  # node.domain.authority reasons
    "unknown_origin": "Máy gửi không có hồ sơ định danh được chấp nhận",
    "outside_unit": "Hồ sơ không thuộc đơn vị của máy gửi",
    "not_owner": "Giải quyết xung đột khi không phụ trách bước xử lý",
    "not_receiver": "Cấp mã hồ sơ khi không phải máy tiếp nhận",
    "not_district": "Chỉ cấp huyện/tỉnh được ban hành loại dữ liệu này",
}
CONFLICT_KIND_LABELS: Mapping[str, str] = {
    "status": "Trạng thái",
    "field": "Thông tin",
    "duplicate": "Trùng hồ sơ",
    "parallel": "Sửa song song (đã gộp)",
}
# How a document is handed in (node.domain.catalogue.CopyKind), as the paper forms say it.
COPY_KIND_LABELS: Mapping[str, str] = {
    "ban_chinh": "Bản chính",
    "ban_sao_chung_thuc": "Bản sao có chứng thực",
    "ban_sao": "Bản sao",
    "ban_chup": "Bản chụp",
    "xuat_trinh": "Xuất trình",
}
CONFLICT_STATUS_LABELS: Mapping[str, str] = {
    "open": "Đang mở",
    "resolved": "Đã giải quyết",
    "merged": "Đã gộp tự động",
}
# The dossier fields a conflict can be about, as the dossier page names them.
FIELD_LABELS: Mapping[str, str] = {
    "status": "Trạng thái",
    "applicant.phone": "Số điện thoại",
    "applicant.address": "Địa chỉ",
    "note": "Ghi chú",
}


def _label(table: Mapping[str, str]):
    def label(code: str | None) -> str:
        text = table.get(code or "")
        return _(text) if text else (code or "")

    return label


FILTERS = {
    "status_label": _label(STATUS_LABELS),
    "transition_label": _label(TRANSITION_LABELS),
    "role_label": _label(ROLE_LABELS),
    "node_role_label": _label(NODE_ROLE_LABELS),
    "channel_label": _label(CHANNEL_LABELS),
    "event_label": _label(EVENT_LABELS),
    "outcome_label": _label(OUTCOME_LABELS),
    "link_label": _label(LINK_LABELS),
    "conflict_kind_label": _label(CONFLICT_KIND_LABELS),
    "violation_label": _label(VIOLATION_LABELS),
    "conflict_status_label": _label(CONFLICT_STATUS_LABELS),
    "field_label": _label(FIELD_LABELS),
    "copy_kind_label": _label(COPY_KIND_LABELS),
}


def duration_label(duration: Duration | None) -> str:
    """A processing time in words for the procedure picker ("15 ngày làm việc")."""
    if duration is None:
        return ""
    if duration.unit is TimeUnit.SAME_DAY:
        return _("trong ngày làm việc")
    unit = _("ngày làm việc") if duration.unit is TimeUnit.WORKING_DAYS else _("giờ làm việc")
    return f"{duration.amount:g} {unit}"


def office_name(code: str | None) -> str:
    """An office by its name from the national unit list ("Xã Tân Phú, Nghệ An (17272)"), the
    bare code when the list does not know it (test and pre-2025 codes)."""
    if not code:
        return "-"
    name = describe_unit(code)
    return f"{name} ({code})" if name else code


def vn_day(value: date | None) -> str:
    """A calendar day (not an instant) as ``dd/MM/yyyy``."""
    return value.strftime("%d/%m/%Y") if value else ""


def register_labels(app: Flask) -> None:
    app.jinja_env.filters.update(FILTERS)
    app.jinja_env.filters["vn_day"] = vn_day
    app.jinja_env.filters["duration_label"] = duration_label
    app.jinja_env.filters["office_name"] = office_name
    from node.scans import mib

    app.jinja_env.filters["file_size"] = mib
    app.jinja_env.globals["sync_error"] = sync_error


def translatable() -> list[str]:
    """Every label text, for the test that keeps the English catalogue complete."""
    tables = (STATUS_LABELS, TRANSITION_LABELS, ROLE_LABELS, NODE_ROLE_LABELS, CHANNEL_LABELS, EVENT_LABELS,
              OUTCOME_LABELS, LINK_LABELS, CONFLICT_KIND_LABELS, VIOLATION_LABELS, CONFLICT_STATUS_LABELS, FIELD_LABELS,
              SYNC_ERROR_LABELS, COPY_KIND_LABELS)
    return sorted({text for table in tables for text in table.values()} | {SYNC_ERROR_OTHER})
