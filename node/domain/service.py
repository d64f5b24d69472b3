"""Fees and citizen satisfaction on a dossier (pure core: stdlib only).

Rules
-----
Rule S1 (fees, Decree 61/2018 art. 22). The procedure's fee is recorded when the dossier is
        received, in the ``fee`` object of the ``dossier.received`` body: ``status`` one of
        :data:`FEE_STATUSES` (paid, unpaid, exempt), ``amount_vnd`` (the catalogue's amount, an
        integer of đồng, 0 allowed) and ``receipt_no`` (the receipt, biên lai, that proves the
        payment: required when paid, empty otherwise). A later ``dossier.fee_recorded`` event with
        the same fields records a payment made after reception (unpaid -> paid); the last one in
        the fold's order stands. A dossier received before fees were recorded has no fee status
        ("") and counts in no fee total.
Rule S2 (satisfaction, Decree 61 art. 31; Circular 01/2018/TT-VPCP arts. 12-14). The citizen
        rates the service when the result is returned: a ``dossier.rated`` event with ``level``
        one of :data:`RATING_LEVELS` (the three-level scale of the reports), an optional
        ``comment`` and the ``channel`` it came through (``desk``: the LAN tablet page at the
        desk; ``qr``: the public page the QR on the slip opens). Only a dossier whose result has
        been returned (status ``returned``) can be rated, and once: a second rating of the same
        dossier is refused locally; in the fold, the first one in causal order stands (two
        offline tablets may both have taken one: the earlier hybrid-clock stamp wins).
Both kinds are signed events of the dossier like every other change, so they sync and the fold
decides the same on every replica.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.domain.errors import DomainError
from node.domain.text import check_text

FEE_RECORDED = "dossier.fee_recorded"
RATED = "dossier.rated"

FEE_STATUSES = ("paid", "unpaid", "exempt")
RATING_LEVELS = ("very_satisfied", "satisfied", "not_satisfied")
RATING_CHANNELS = ("desk", "qr")
RATABLE_STATUSES = frozenset({"returned"})
MAX_FEE_VND = 10**12  # beyond any commune fee; a bigger figure is a typing slip


def validate_fee(value: Any) -> dict[str, Any]:
    """Rule S1: a fee record ``{status, amount_vnd, receipt_no}``; raise :class:`DomainError`."""
    if not isinstance(value, Mapping):
        raise DomainError("fee must be an object {status, amount_vnd, receipt_no}", "fee")
    status = value.get("status")
    if status not in FEE_STATUSES:
        raise DomainError(f"fee.status must be one of {', '.join(FEE_STATUSES)}", "fee.status")
    amount = value.get("amount_vnd", 0)
    if type(amount) is not int or not 0 <= amount <= MAX_FEE_VND:
        raise DomainError("fee.amount_vnd must be a whole number of đồng, 0 or more", "fee.amount_vnd")
    receipt = value.get("receipt_no", "")
    if receipt is None:
        receipt = ""
    if not isinstance(receipt, str):
        raise DomainError("fee.receipt_no must be text", "fee.receipt_no")
    receipt = " ".join(check_text(receipt, "fee.receipt_no").split())
    if len(receipt) > 60:
        raise DomainError("fee.receipt_no is longer than 60 characters", "fee.receipt_no")
    if status == "paid" and not receipt:
        raise DomainError("a paid fee needs the number of its receipt (biên lai)", "fee.receipt_no")
    if status != "paid" and receipt:
        raise DomainError("only a paid fee has a receipt number", "fee.receipt_no")
    if status == "exempt":
        amount = 0  # nothing is owed: the totals count no money for it
    return {"status": status, "amount_vnd": amount, "receipt_no": receipt}


def validate_rating(body: Mapping[str, Any], status: str, already_rated: bool) -> dict[str, str]:
    """Rule S2: a rating of a dossier in ``status``; raise :class:`DomainError`."""
    if status not in RATABLE_STATUSES:
        raise DomainError("the service is rated when the result is returned", "status")
    if already_rated:
        raise DomainError("this dossier has already been rated", "level")
    level, channel = body.get("level"), body.get("channel", "desk")
    if level not in RATING_LEVELS:
        raise DomainError(f"level must be one of {', '.join(RATING_LEVELS)}", "level")
    if channel not in RATING_CHANNELS:
        raise DomainError(f"channel must be one of {', '.join(RATING_CHANNELS)}", "channel")
    comment = body.get("comment", "") or ""
    if not isinstance(comment, str):
        raise DomainError("comment must be text", "comment")
    comment = " ".join(check_text(comment, "comment").split())
    if len(comment) > 1000:
        raise DomainError("comment is longer than 1000 characters", "comment")
    return {"level": level, "channel": channel, "comment": comment}


def fee_of(value: Any) -> tuple[str, int, str] | None:
    """The fee a reception's ``fee`` or a ``dossier.fee_recorded`` body records, or None (Rule S1).
    Its author validated it; a malformed one (a crafted event) records nothing."""
    try:
        fee = validate_fee(value)
    except DomainError:
        return None
    return fee["status"], fee["amount_vnd"], fee["receipt_no"]


def rating_of(body: Mapping[str, Any]) -> tuple[str, str, str] | None:
    """(level, channel, comment) of a ``dossier.rated`` body, or None when malformed."""
    level, channel, comment = body.get("level"), body.get("channel"), body.get("comment", "")
    if level not in RATING_LEVELS or channel not in RATING_CHANNELS or not isinstance(comment, str):
        return None
    return level, channel, comment[:1000]
