"""Fees (Decree 61/2018 art. 22) and citizen satisfaction (Decree 61 art. 31; Circular 01/2018/TT-VPCP
arts. 12-14) as signed dossier events folded by node.domain.merge (Rules S1-S2 of node.domain.service)."""

from __future__ import annotations

import pytest

from node.domain import dossier as d
from node.domain import service as s
from node.domain.errors import DomainError
from tests.unit.node.test_merge import COMMUNE, OTHER, _reset, base, ev, folds_all_orders  # noqa: F401


@pytest.mark.parametrize(("fee", "field"), [
    ({"status": "paid", "amount_vnd": 8000, "receipt_no": ""}, "fee.receipt_no"),
    ({"status": "unpaid", "amount_vnd": 8000, "receipt_no": "BL-1"}, "fee.receipt_no"),
    ({"status": "owed", "amount_vnd": 8000}, "fee.status"),
    ({"status": "paid", "amount_vnd": -1, "receipt_no": "BL-1"}, "fee.amount_vnd"),
    ({"status": "paid", "amount_vnd": 1.5, "receipt_no": "BL-1"}, "fee.amount_vnd"),
    ("paid", "fee"),
])
def test_decree_61_art_22_fee_record_is_paid_with_receipt_unpaid_or_exempt(fee, field):
    with pytest.raises(DomainError) as e:
        s.validate_fee(fee)
    assert e.value.field == field


def test_decree_61_art_22_exempt_fee_counts_no_money():
    assert s.validate_fee({"status": "exempt", "amount_vnd": 5000}) == {"status": "exempt", "amount_vnd": 0,
                                                                        "receipt_no": ""}


def _received(fee=None):
    extra = {"fee": fee} if fee is not None else {}
    body = d.validate_received({"procedure": {"code": "1.001193"}, "applicant": {"name": "Hà"}, "received_at": 1,
                                **extra})
    return ev(COMMUNE, d.RECEIVED, body, hlc=1)


def test_decree_61_art_22_fee_recorded_at_reception_and_paid_later():
    created = _received({"status": "unpaid", "amount_vnd": 8000, "receipt_no": ""})
    paid = ev(COMMUNE, s.FEE_RECORDED, {"status": "paid", "amount_vnd": 8000, "receipt_no": "BL 0012"},
              [created.ref], hlc=2)
    f = folds_all_orders([created])
    assert (f.state.fee_status, f.state.fee_amount_vnd, f.state.fee_receipt) == ("unpaid", 8000, "")
    f = folds_all_orders([created, paid])
    assert (f.state.fee_status, f.state.fee_amount_vnd, f.state.fee_receipt) == ("paid", 8000, "BL 0012")


def test_older_reception_without_fee_folds_to_the_same_state_as_before():
    """Digest stability: an event from before fees has no fee and no rating, nothing else changes."""
    c, p = base()
    f = folds_all_orders([c, p])
    assert (f.state.fee_status, f.state.rating, f.state.rated_at) == ("", "", None)


def test_crafted_fee_record_changes_nothing():
    created = _received({"status": "exempt"})
    bad = ev(COMMUNE, s.FEE_RECORDED, {"status": "paid", "amount_vnd": 8000, "receipt_no": ""}, [created.ref], hlc=2)
    assert folds_all_orders([created, bad]).state.fee_status == "exempt"


def test_circular_01_2018_art_12_rating_only_when_the_result_is_returned_and_once():
    with pytest.raises(DomainError):
        s.validate_rating({"level": "satisfied"}, "resolved", False)
    with pytest.raises(DomainError):
        s.validate_rating({"level": "satisfied"}, "returned", True)
    with pytest.raises(DomainError):
        s.validate_rating({"level": "5 stars"}, "returned", False)
    assert s.validate_rating({"level": "satisfied", "channel": "qr"}, "returned", False) == {
        "level": "satisfied", "channel": "qr", "comment": ""}


def test_decree_61_art_31_two_offline_ratings_fold_to_the_first_whatever_the_order():
    created = _received()
    a = ev(COMMUNE, s.RATED, {"level": "very_satisfied", "channel": "desk", "comment": ""}, [created.ref], hlc=5)
    b = ev(OTHER, s.RATED, {"level": "not_satisfied", "channel": "qr", "comment": "chờ lâu"}, [created.ref], hlc=6)
    f = folds_all_orders([created, a, b])
    assert (f.state.rating, f.state.rating_channel, f.state.rated_at) == ("very_satisfied", "desk", 5)
