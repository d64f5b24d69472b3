"""Jinja filters for printed forms: dates and times as Vietnamese paperwork writes them.

Responsibility: turn the node's instants (epoch milliseconds, as events and dossier states
carry them) into the strings printed on Mẫu 01-04, the control slip and the tracking ledger.

Invariants
----------
- Every instant is shown in Vietnam time (UTC+7, no daylight saving), whatever the server's
  timezone: a desk laptop set to UTC must still print the appointment the citizen was promised.
- Short dates are ``dd/MM/yyyy``. Dates in words follow Nghị định 30/2020/NĐ-CP (Phụ lục I): a
  day below 10 and the months 1 and 2 take a leading zero ("ngày 05 tháng 02 năm 2026", but
  "ngày 17 tháng 5 năm 2026"), so a handwritten digit cannot be slipped in front later.
- A missing value (None, or Jinja's Undefined for an absent key) formats as the empty string;
  templates then draw a dotted blank line. Anything else that is not an instant is a bug and raises.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from jinja2 import Undefined

from node.domain import vietnam_time
from node.domain.vietnam_time import VIETNAM

Instant = int | datetime | Undefined | None


def _missing(value: Instant) -> bool:
    return value is None or isinstance(value, Undefined)


def to_vn(value: int | datetime) -> datetime:
    """Epoch ms or a datetime as an aware datetime in Vietnam time (naive means Vietnam time)."""
    if isinstance(value, bool) or not isinstance(value, int | datetime):
        raise TypeError(f"not an instant (epoch ms or datetime): {value!r}")
    if isinstance(value, datetime):
        return value.replace(tzinfo=VIETNAM) if value.tzinfo is None else value.astimezone(VIETNAM)
    return vietnam_time.to_vn(value)


def vn_date(value: Instant) -> str:
    """``dd/MM/yyyy``, e.g. ``17/05/2026``."""
    return "" if _missing(value) else to_vn(value).strftime("%d/%m/%Y")


def vn_time(value: Instant) -> str:
    """``HH:mm``, e.g. ``09:05``."""
    return "" if _missing(value) else to_vn(value).strftime("%H:%M")


def vn_date_words(value: Instant) -> str:
    """``ngày 05 tháng 02 năm 2026`` (zero rule of Nghị định 30/2020)."""
    if _missing(value):
        return ""
    d = to_vn(value)  # type: ignore[arg-type]
    month = f"{d.month:02d}" if d.month <= 2 else str(d.month)
    return f"ngày {d.day:02d} tháng {month} năm {d.year}"


def vn_datetime_words(value: Instant) -> str:
    """``09 giờ 05 phút, ngày 17 tháng 5 năm 2026``: the form of Mẫu 01 items 4 and 5."""
    if _missing(value):
        return ""
    d = to_vn(value)  # type: ignore[arg-type]
    return f"{d.hour:02d} giờ {d.minute:02d} phút, {vn_date_words(d)}"


def vn_number(value: int | float | Undefined | None) -> str:
    """Thousands separated by dots, as Vietnamese amounts are written: ``1.500.000``."""
    if value is None or isinstance(value, Undefined):
        return ""
    return f"{value:,.0f}".replace(",", ".")


class _FilterHost(Protocol):
    def add_app_template_filter(self, f: object, name: str | None = None) -> None: ...


FILTERS = {
    "vn_date": vn_date,
    "vn_time": vn_time,
    "vn_date_words": vn_date_words,
    "vn_datetime_words": vn_datetime_words,
    "vn_number": vn_number,
}


def register_filters(host: _FilterHost) -> None:
    """Register the filters on a blueprint (app-wide once it is registered)."""
    for name, f in FILTERS.items():
        host.add_app_template_filter(f, name)
