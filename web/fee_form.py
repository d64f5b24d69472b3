"""The fee at reception (Decree 61/2018 art. 22), parsed from the review screen (pure, no Flask).

The procedure's fee is the sum of the catalogue's fee lines with an amount; lines whose amount
the province sets (``amount_vnd`` null) are not guessed. The clerk records whether it was paid
(with the receipt number, biên lai), is still unpaid or is exempt; the domain checks the record
(:func:`node.domain.service.validate_fee`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.domain.catalogue import Procedure
from node.domain.errors import DomainError
from node.domain.service import validate_fee
from web.forms import Parsed, forbidden_fields
from web.i18n import N_

FEE_STATUS_LABELS = {"paid": N_("Đã nộp"), "unpaid": N_("Chưa nộp"), "exempt": N_("Miễn phí, lệ phí")}
FEE_FIELDS = ("fee_status", "fee_receipt")
_MESSAGES = {
    "fee.status": N_("Chọn tình trạng phí, lệ phí."),
    "fee.receipt_no": N_("Phí đã nộp cần số biên lai; phí chưa nộp hoặc được miễn thì để trống."),
}


def fee_total(procedure: Procedure) -> int:
    """The fee the catalogue states for one dossier of ``procedure`` (đồng)."""
    return sum(f.amount_vnd or 0 for f in procedure.fees)


def has_fee(procedure: Procedure) -> bool:
    return any(f.amount_vnd is None or f.amount_vnd > 0 for f in procedure.fees)


def parse_fee(procedure: Procedure, form: Mapping[str, Any]) -> Parsed:
    """``data["fee"]``: the record for the reception body, or ``None`` for a procedure without a fee."""
    out = Parsed()
    if not has_fee(procedure):
        out.data["fee"] = {"status": "exempt", "amount_vnd": 0, "receipt_no": ""} if procedure.fees else None
        return out
    out.errors.update(forbidden_fields(form, FEE_FIELDS))
    if out.errors:
        return out
    raw = {"status": str(form.get("fee_status", "")), "amount_vnd": fee_total(procedure),
           "receipt_no": " ".join(str(form.get("fee_receipt", "")).split())}
    try:
        out.data["fee"] = validate_fee(raw)
    except DomainError as e:
        out.errors["fee_status" if e.field == "fee.status" else "fee_receipt"] = _MESSAGES.get(
            e.field or "", N_("Thông tin phí, lệ phí không hợp lệ."))
    return out
