"""Pure parsing of the intake forms into service arguments, with field errors for the page.

No Flask here: functions take the submitted mapping (``request.form``) and plain values, and
return data plus a ``{field: message}`` dict. Messages are Vietnamese source strings, translated
by the view. The rules themselves live in the domain (:mod:`node.domain.citizen_id`,
:mod:`node.domain.dossier`, the forbidden characters of :mod:`node.domain.text`); this module
only turns form text into the shapes they take and says which field broke which rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib import resources
from typing import Any

from node.domain.catalogue import Catalogue, Procedure, parse_catalogue_json
from node.domain.citizen_id import CitizenId, InvalidCitizenId, parse_citizen_id
from node.domain.text import forbidden_char
from web.i18n import N_

_PHONE = re.compile(r"^\+?[0-9 .]{8,20}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ID_REASONS = {
    "length": N_("Số định danh cá nhân phải gồm đúng 12 chữ số."),
    "not_digits": N_("Số định danh chỉ gồm chữ số 0-9."),
    "unknown_place": N_("Ba số đầu không phải mã tỉnh hay mã quốc gia nơi đăng ký khai sinh."),
    "future_birth_year": N_("Năm sinh suy ra từ số định danh ở tương lai."),
    "not_text": N_("Số định danh không hợp lệ."),
}
FORBIDDEN_CHAR = N_("Ô này có ký tự ẩn hoặc ký tự điều khiển hướng chữ (thường do dán từ nơi khác). "
                    "Hãy xóa nội dung ô và gõ lại.")
CARD_REQUESTS = {"cap_moi": N_("Cấp mới"), "cap_doi": N_("Cấp đổi"), "cap_lai": N_("Cấp lại")}
DELIVERIES = {"desk": N_("Tại bộ phận một cửa"), "post": N_("Qua dịch vụ bưu chính")}


@functools.cache
def seed_catalogue() -> Catalogue:
    text = (resources.files("node") / "data" / "procedures.json").read_text(encoding="utf-8")
    return parse_catalogue_json(text)


def procedure_code(procedure: Procedure) -> str:
    """What the dossier records: the national code, or the local key when none is known."""
    return procedure.national_code or procedure.key


def find_procedure(catalogue: Catalogue, key: str) -> Procedure | None:
    try:
        return catalogue.by_key(key)
    except KeyError:
        return None


def sectors(catalogue: Catalogue, mobile_first: bool = False) -> list[tuple[str, list[Procedure]]]:
    """Procedures grouped by sector in catalogue order (mobile procedures first when asked)."""
    groups: dict[str, list[Procedure]] = {}
    items = sorted(catalogue, key=lambda p: not p.mobile) if mobile_first else list(catalogue)
    for p in items:
        groups.setdefault(p.sector, []).append(p)
    return list(groups.items())


@dataclass
class Parsed:
    data: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    citizen: CitizenId | None = None

    @property
    def ok(self) -> bool:
        return not self.errors


def _text(form: Mapping[str, str], name: str, limit: int) -> str:
    return " ".join(str(form.get(name, "")).split())[:limit]


def check_id_number(text: str, today: date) -> tuple[CitizenId | None, str]:
    """The decoded number, or an error message (Vietnamese source string)."""
    try:
        return parse_citizen_id(text, today=today), ""
    except InvalidCitizenId as e:
        return None, ID_REASONS.get(e.reason, ID_REASONS["not_text"])


def forbidden_fields(form: Mapping[str, Any], names: tuple[str, ...]) -> dict[str, str]:
    """``{field: message}`` for the fields whose text holds a forbidden character."""
    return {n: FORBIDDEN_CHAR for n in names if forbidden_char(str(form.get(n, "")))}


APPLICANT_FIELDS = ("name", "id_number", "phone", "email", "address", "note")


def parse_applicant(form: Mapping[str, str], today: date, *, id_required: bool = True) -> Parsed:
    out = Parsed()
    name = _text(form, "name", 200)
    id_number = str(form.get("id_number", "")).strip()
    phone = _text(form, "phone", 20)
    email = _text(form, "email", 120)
    if not name:
        out.errors["name"] = N_("Cần nhập họ và tên người nộp.")
    if id_number:
        out.citizen, message = check_id_number(id_number, today)
        if message:
            out.errors["id_number"] = message
    elif id_required:
        out.errors["id_number"] = N_("Cần nhập số định danh cá nhân (12 chữ số).")
    if phone and not _PHONE.match(phone):
        out.errors["phone"] = N_("Số điện thoại chỉ gồm chữ số (8-15 số).")
    if email and not _EMAIL.match(email):
        out.errors["email"] = N_("Địa chỉ thư điện tử không hợp lệ.")
    out.errors.update(forbidden_fields(form, APPLICANT_FIELDS))
    delivery = str(form.get("delivery", "desk"))
    out.data = {
        "applicant": {"name": name, "id_number": id_number, "phone": phone, "address": _text(form, "address", 300)},
        "email": email,
        "result_delivery": delivery if delivery in DELIVERIES else "desk",
        "note": _text(form, "note", 2000),
    }
    return out


def parse_components(procedure: Procedure, form: Mapping[str, Any]) -> Parsed:
    """The checklist: which components were handed in; every required one must be."""
    out = Parsed()
    picked = set(_getlist(form, "component"))
    components, missing = [], []
    for i, c in enumerate(procedure.components):
        if str(i) in picked:
            components.append({"name": c.name, "kind": c.kind.value, "quantity": c.quantity})
        elif c.required:
            missing.append(c.name)
    if missing:
        out.errors["component"] = N_("Thiếu thành phần bắt buộc")
    try:
        sets = int(str(form.get("sets", "1")) or "1")
    except ValueError:
        sets = 0
    if not 1 <= sets <= 20:
        out.errors["sets"] = N_("Số bộ hồ sơ từ 1 đến 20.")
    out.data = {"components": components, "sets": max(1, min(sets, 20)), "picked": sorted(picked, key=int),
                "missing": missing}
    return out


def _index(value: Any) -> bool:
    # a checkbox value is a component's position: ASCII digits ("²" is a digit to str.isdigit, not
    # to int) and short enough that int() never refuses it (5,000 digits would)
    text = str(value)
    return text.isascii() and text.isdigit() and len(text) <= 4


def _getlist(form: Mapping[str, Any], name: str) -> list[str]:
    getlist = getattr(form, "getlist", None)
    if getlist is not None:
        return [str(v) for v in getlist(name) if _index(v)]
    value = form.get(name, [])
    return [str(v) for v in (value if isinstance(value, list) else [value]) if _index(v)]


def dossier_body(procedure: Procedure, applicant: Parsed, components: Parsed, *, channel: str, due_at: int | None,
                 extra_details: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The body for :meth:`node.services.Node.create_dossier`."""
    details: dict[str, Any] = {
        "components": components.data.get("components", []),
        "sets": components.data.get("sets", 1),
        "result_delivery": applicant.data["result_delivery"],
        "catalogue_key": procedure.key,
        "procedure_version": procedure.version,
    }
    if applicant.data.get("email"):
        details["email"] = applicant.data["email"]
    details.update(extra_details or {})
    return {
        "procedure": {"code": procedure_code(procedure), "name": procedure.name},
        "applicant": applicant.data["applicant"],
        "channel": channel,
        "due_at": due_at,
        "note": applicant.data.get("note", ""),
        "details": details,
    }
