"""ID-card pre-registration for the police's mobile session (pure core: stdlib only).

The application for a căn cước is a police procedure on police systems (Luật Căn cước 2023;
domain.md errata): a commune or mobile team only prepares the list of people and their
appointments for the police's mobile session. So a registration is *not* a dossier: it has no
commune dossier code, no 7-day receipt and no appointment computed on the commune's calendar,
and it holds no biometrics (photo, fingerprints and iris are taken by the police on their own
equipment). The police receive the list as a CSV file (:func:`csv_rows`).

Rules
-----
Rule C1. A registration is one ``idcard.registered`` event on its own entity
         (``idcard/<ref>``), signed like every other event, in the unit's scope; its body is
         what :func:`validate_registration` returns plus the acting office and role.
Rule C2 (dates). Every date is a real calendar date typed dd/mm/yyyy (31/02 is refused);
         the birth date is not in the future and its year is the birth year the 12-digit
         personal ID number encodes (:mod:`node.domain.citizen_id`); the applicant meets the age
         rule of the chosen procedure (``applicant_min_age`` in the catalogue: 14 for the card,
         Luật Căn cước 2023 art. 19) on the session day; the session day is a real date, not
         before today and at most :data:`MAX_SESSION_DAYS_AHEAD` days ahead.
Rule C3 (fold). The state of an entity is its earliest registration (by hybrid-clock stamp,
         then origin and sequence) that the origin had authority for; anything else changes
         nothing. A malformed body (a crafted event) makes no registration.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from node.domain.citizen_id import InvalidCitizenId, parse_citizen_id
from node.domain.errors import DomainError
from node.domain.text import check_text

KIND = "idcard"
REGISTERED = "idcard.registered"
REQUESTS = ("cap_moi", "cap_doi", "cap_lai")
MAX_SESSION_DAYS_AHEAD = 120
_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_SLOT = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class RegistrationError(DomainError):
    """A refused registration; ``reason`` is a stable code the UI words (``not_a_date``,
    ``future``, ``year_mismatch``, ``too_young``, ``session_past``, ``session_far``, ``request``,
    ``slot``, ``id_number``)."""

    def __init__(self, message: str, field: str, reason: str) -> None:
        super().__init__(message, field)
        self.reason = reason


def parse_day(text: str, field: str) -> date:
    """A dd/mm/yyyy (or ISO yyyy-mm-dd) real calendar date; :class:`DomainError` otherwise."""
    text = " ".join(str(text or "").split())
    m = _DAY.match(text)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(2)), int(m.group(1)))
        return date.fromisoformat(text)
    except ValueError:
        raise RegistrationError(f"{field}: {text!r} is not a calendar date (dd/mm/yyyy)", field, "not_a_date") from None


def age_on(birth: date, day: date) -> int:
    """Full years of age on ``day`` (a 29 February birthday counts on 1 March in other years)."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def _text(body: Mapping[str, Any], key: str, limit: int, *, required: bool = False) -> str:
    value = body.get(key, "") or ""
    if not isinstance(value, str):
        raise DomainError(f"{key} must be text", key)
    value = " ".join(check_text(value, key).split())
    if required and not value:
        raise DomainError(f"{key} is required", key)
    if len(value) > limit:
        raise DomainError(f"{key} is longer than {limit} characters", key)
    return value


def validate_registration(body: Mapping[str, Any], today: date, min_age: int | None) -> dict[str, Any]:
    """Rules C1-C2: the normalised body of a registration; raise :class:`DomainError`."""
    name = _text(body, "name", 200, required=True)
    raw_id = _text(body, "id_number", 12, required=True)
    try:
        citizen = parse_citizen_id(raw_id, today=today)
    except InvalidCitizenId as e:
        raise RegistrationError(str(e), "id_number", "id_number") from None
    birth = parse_day(body.get("birth_date", ""), "birth_date")
    if birth > today:
        raise RegistrationError("birth_date is in the future", "birth_date", "future")
    if birth.year != citizen.birth_year:
        raise RegistrationError(f"birth_date: the ID number encodes birth year {citizen.birth_year}, not {birth.year}",
                                "birth_date", "year_mismatch")
    session = parse_day(body.get("session_date", ""), "session_date")
    if session < today:
        raise RegistrationError("session_date is before today", "session_date", "session_past")
    if session > today + timedelta(days=MAX_SESSION_DAYS_AHEAD):
        raise RegistrationError(f"session_date is more than {MAX_SESSION_DAYS_AHEAD} days ahead", "session_date",
                                "session_far")
    if min_age is not None and age_on(birth, session) < min_age:
        raise RegistrationError(f"the procedure is for people aged {min_age} or more on the session day",
                                "birth_date", "too_young")
    request = body.get("request")
    if request not in REQUESTS:
        raise RegistrationError(f"request must be one of {', '.join(REQUESTS)}", "request", "request")
    slot = _text(body, "slot", 5)
    if slot and not _SLOT.match(slot):
        raise RegistrationError("slot must be a time HH:MM", "slot", "slot")
    return {
        "procedure": _text(body, "procedure", 80, required=True),
        "name": name,
        "id_number": citizen.number,
        "sex": citizen.sex.value,
        "birth_date": birth.isoformat(),
        "phone": _text(body, "phone", 20),
        "address": _text(body, "address", 300),
        "request": request,
        "session_date": session.isoformat(),
        "slot": slot,
        "note": _text(body, "note", 500),
    }


@dataclass(frozen=True)
class Registration:
    id: str
    scope: str
    origin: str
    author: str
    at: int
    procedure: str
    name: str
    id_number: str
    sex: str
    birth_date: str
    phone: str
    address: str
    request: str
    session_date: str
    slot: str
    note: str


_FIELDS = ("procedure", "name", "id_number", "sex", "birth_date", "phone", "address", "request", "session_date",
           "slot", "note")


def fold_registration(entity_id: str, events: Iterable[Any], refused: Any) -> Registration | None:
    """Rule C3; ``refused(event)`` is the authority check ("" when the origin may act)."""
    for e in sorted(events, key=lambda e: (e.hlc, e.origin, e.seq)):
        if e.type != REGISTERED or not isinstance(e.body, Mapping) or refused(e):
            continue
        if all(isinstance(e.body.get(f), str) for f in _FIELDS) and e.body["request"] in REQUESTS:
            return Registration(entity_id, e.scope, e.origin, e.author, e.at, **{f: e.body[f] for f in _FIELDS})
    return None


CSV_HEADER = ("STT", "Họ và tên", "Số định danh cá nhân", "Ngày sinh", "Giới tính", "Số điện thoại", "Nơi cư trú",
              "Loại đề nghị", "Ngày hẹn (phiên lưu động)", "Giờ hẹn", "Ghi chú", "Đơn vị lập danh sách")
REQUEST_LABELS = {"cap_moi": "Cấp mới", "cap_doi": "Cấp đổi", "cap_lai": "Cấp lại"}


def _cell(value: str) -> str:
    # A spreadsheet runs a cell that starts like a formula; the police open this file in one.
    return "'" + value if value[:1] in ("=", "+", "-", "@") else value


def _vn(iso: str) -> str:
    y, m, d = iso.split("-")
    return f"{d}/{m}/{y}"


def csv_rows(registrations: Iterable[Registration]) -> list[tuple[str, ...]]:
    """The list for the police, ordered by session day, time slot and name (header first)."""
    ordered = sorted(registrations, key=lambda r: (r.session_date, r.slot or "99:99", r.name, r.id))
    rows = [CSV_HEADER]
    for i, r in enumerate(ordered, 1):
        rows.append(tuple(_cell(v) for v in (
            str(i), r.name, r.id_number, _vn(r.birth_date), "Nữ" if r.sex == "nu" else "Nam", r.phone, r.address,
            REQUEST_LABELS.get(r.request, r.request), _vn(r.session_date), r.slot, r.note, r.scope)))
    return rows
