"""The desk's Mẫu 04 screen (Decree 61/2018 art. 19(9)): offered only for an open dossier, it
records the apology and new date once, and refuses a second one or one less than a day before
the deadline, with the reason on the page."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from node.domain.errors import DomainError
from node.domain.vietnam_time import VIETNAM
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, csrf_from, login, make_node

THREE_DAYS = {"code": "1.001022"}


def vn(m: int, d: int, hh: int, mm: int = 0) -> int:
    return int(datetime(2026, m, d, hh, mm, tzinfo=VIETNAM).timestamp() * 1000)


@pytest.fixture
def desk(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    node = make_node(tmp_path, clock)
    add("canbo", "clerk", clock())
    yield node, create_app(node.settings, node=node).test_client()
    node.close()


def post(c, dossier_id, day, hour="17:00", reason="Chờ xác minh của Công an xã"):
    page = c.get(f"/mot-cua/ho-so/{dossier_id}").text
    key = re.search(r'action="/mot-cua/ho-so/[^"]+/hen-lai".*?name="idempotency_key" value="([^"]+)"', page, re.S)
    form = {"csrf_token": csrf_from(page), "idempotency_key": key.group(1), "reason": reason, "ngay": day, "gio": hour}
    return c.post(f"/mot-cua/ho-so/{dossier_id}/hen-lai", data=form, follow_redirects=True)


def test_the_screen_records_one_reschedule_and_refuses_a_second(desk, clock):
    node, c = desk
    clock.now = vn(5, 18, 9)
    d = node.create_dossier("canbo", sample_dossier(procedure=THREE_DAYS)).id  # due Thu 21 May 17:00
    clock.now = vn(5, 19, 10)
    login(c, "canbo")
    page = c.get(f"/mot-cua/ho-so/{d}").text
    assert "data-reschedule" in page and "17:00 21/05/2026" in page
    done = post(c, d, "26/05/2026")
    assert "Đã ghi nhận phiếu xin lỗi" in done.text and node.get_dossier(d).new_due_at == vn(5, 26, 17)
    assert 'action="/mot-cua/ho-so/' + d + '/hen-lai"' not in done.text  # no second form
    assert "chỉ được điều chỉnh một lần" in done.text
    clock.now = vn(5, 20, 10)
    with pytest.raises(DomainError, match="một lần"):  # the use case behind the screen and the API
        node.issue_apology("canbo", d, "Còn chậm", vn(5, 29, 17))


def test_less_than_a_day_before_the_deadline_is_refused_on_the_page(desk, clock):
    node, c = desk
    clock.now = vn(5, 18, 9)
    d = node.create_dossier("canbo", sample_dossier(procedure=THREE_DAYS)).id
    clock.now = vn(5, 21, 9)  # the due day
    login(c, "canbo")
    refused = post(c, d, "26/05/2026")
    assert "01 ngày trước hạn" in refused.text and node.get_dossier(d).apology_at is None
    assert "không hợp lệ" in post(c, d, "31/02/2026").text


def test_the_screen_is_offered_only_for_open_dossiers(desk, clock):
    node, c = desk
    clock.now = vn(5, 18, 9)
    d = node.create_dossier("canbo", sample_dossier(procedure=THREE_DAYS)).id
    node.change_status("canbo", d, "processing")
    node.change_status("canbo", d, "resolved")
    login(c, "canbo")
    assert "data-reschedule" not in c.get(f"/mot-cua/ho-so/{d}").text
