"""Online filings: the one-time notice to complete the papers before acceptance (Decree 61/2018
art. 17(2)(a)), and the period counted from the acceptance, not from the filing."""

from __future__ import annotations

from datetime import datetime

import pytest

from node.domain import dossier as domain
from node.domain.errors import InvalidTransition
from node.domain.vietnam_time import VIETNAM
from tests.factories import sample_dossier

THREE_DAYS = {"code": "1.001022"}


def vn(m: int, d: int, hh: int, mm: int = 0) -> int:
    return int(datetime(2026, m, d, hh, mm, tzinfo=VIETNAM).timestamp() * 1000)


@pytest.mark.parametrize(
    ("status", "history", "allowed"),
    [
        ("online_filed", [("online_filed", 1)], {"received", "refused", "supplement_requested"}),
        # the notice is given once: after the citizen's completed filing, accept or refuse
        ("online_filed", [("online_filed", 1), ("supplement_requested", 2), ("online_filed", 3)],
         {"received", "refused"}),
        # before acceptance a supplement request is answered by the filing, or ends in a refusal
        ("supplement_requested", [("online_filed", 1), ("supplement_requested", 2)], {"online_filed", "refused"}),
        # after acceptance as before issue 12
        ("supplement_requested", [("received", 1), ("processing", 2), ("supplement_requested", 3)],
         {"processing", "withdrawal_requested", "stopped"}),
    ],
)
def test_allowed_moves_decree_61_art_17_2_a(status, history, allowed):
    assert domain.allowed_moves(status, history) == allowed


def test_one_notice_before_acceptance_then_the_period_runs_from_acceptance(sqlite_node, clock, client):
    node = sqlite_node
    clock.now = vn(5, 18, 9)
    d = node.create_dossier("canbo", sample_dossier(procedure=THREE_DAYS, channel="online")).id
    clock.now = vn(5, 18, 10)
    node.change_status("canbo", d, "supplement_requested", "Thiếu bản sao giấy chứng sinh")
    clock.now = vn(5, 22, 9)  # the citizen completes the filing four days later
    node.change_status("canbo", d, "online_filed", "Công dân đã bổ sung")
    with pytest.raises(InvalidTransition, match="only once"):
        node.change_status("canbo", d, "supplement_requested", "Thiếu thêm giấy tờ")
    clock.now = vn(5, 22, 10)
    node.change_status("canbo", d, "received")
    clock.now = vn(5, 25, 9)
    deadline = client.get(f"/api/v1/dossiers/{d}").get_json()["deadline"]
    # 3 working days after Fri 22 May: Mon 25, Tue 26, Wed 27 at closing (not from the filing on 18 May)
    assert deadline["due_at"] == vn(5, 27, 17) and deadline["outcome"] == "within_time"
    state = node.get_dossier(d)
    assert [s for s, _ in state.history] == ["online_filed", "supplement_requested", "online_filed", "received"]


def test_after_acceptance_the_filing_cannot_go_back(sqlite_node, clock):
    node = sqlite_node
    d = node.create_dossier("canbo", sample_dossier(procedure=THREE_DAYS)).id
    node.change_status("canbo", d, "supplement_requested", "Thiếu giấy tờ")
    with pytest.raises(InvalidTransition):
        node.change_status("canbo", d, "online_filed")
    with pytest.raises(InvalidTransition):
        node.change_status("canbo", d, "refused", "không")
