"""The web forms that write carry a one-time key (issue 14.2): a form submitted twice (a double
click, the browser resending it after the answer was lost, the back button) makes one dossier
and one status change, and the second submission lands where the first one did."""

from __future__ import annotations

import re
import threading

import pytest

from sync.store import EventRow
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, token_of


@pytest.fixture
def client(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock(), "Nguyễn Thị Lan")
    c = app.test_client()
    login(c, "lan")
    return c


def key_in(html: str) -> str:
    m = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert m, "no one-time key in the form"
    return m.group(1)


def review_form(client) -> dict:
    """The desk's receive flow up to its last screen; the form that screen posts to save."""
    r = client.get("/mot-cua/tiep-nhan/thanh-phan?thu_tuc=ho-tich.khai-sinh")
    picked = re.findall(r'name="component" value="(\d+)" checked', r.text)
    form = {"csrf_token": token_of(client, "/mot-cua/"), "thu_tuc": "ho-tich.khai-sinh", "component": picked,
            "sets": "1", "name": "Trần Văn Bình", "id_number": "040090001234", "phone": "0912345678"}
    review = client.post("/mot-cua/tiep-nhan/xac-nhan", data=form)
    assert review.status_code == 200
    return {**form, "idempotency_key": key_in(review.text)}


def test_the_receive_form_submitted_twice_makes_one_dossier(client, sqlite_node):
    form = review_form(client)
    first = client.post("/mot-cua/tiep-nhan/luu", data=form)
    assert first.status_code == 302
    before = EventRow.select().count()
    again = client.post("/mot-cua/tiep-nhan/luu", data=form, follow_redirects=True)
    assert again.status_code == 200 and "lần gửi lại không ghi thêm gì" in again.text
    assert again.request.path == first.headers["Location"].split("?")[0]
    assert sqlite_node.list_dossiers()[1] == 1 and EventRow.select().count() == before
    # a new visit of the review screen is a new form: a second applicant is a second dossier
    assert review_form(client)["idempotency_key"] != form["idempotency_key"]


def test_a_double_click_sends_two_requests_at_once_and_makes_one_dossier(client, sqlite_node, app):
    form = review_form(client)
    cookie = client.get_cookie("motcua_auth").value
    barrier, answers = threading.Barrier(2), []

    def click() -> None:
        c = app.test_client()
        c.set_cookie("motcua_auth", cookie)
        with client.session_transaction() as s:  # the same browser: its CSRF session too
            session = dict(s)
        with c.session_transaction() as s:
            s.update(session)
        barrier.wait()
        answers.append(c.post("/mot-cua/tiep-nhan/luu", data=form).status_code)

    threads = [threading.Thread(target=click) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(answers) == [302, 303]
    sqlite_node.db.connect(reuse_if_open=True)
    assert sqlite_node.list_dossiers()[1] == 1


def test_the_same_form_with_other_content_writes_nothing(client, sqlite_node):
    form = review_form(client)
    assert client.post("/mot-cua/tiep-nhan/luu", data=form).status_code == 302
    r = client.post("/mot-cua/tiep-nhan/luu", data={**form, "name": "Người Khác"}, follow_redirects=True)
    assert "với nội dung khác" in r.text
    assert sqlite_node.list_dossiers()[1] == 1


def test_a_refused_save_is_not_kept_so_the_corrected_form_saves(client, sqlite_node):
    from node.models import IdempotencyRow

    form = review_form(client)
    bad = client.post("/mot-cua/tiep-nhan/luu", data={**form, "id_number": "123"})
    assert bad.status_code == 422 and IdempotencyRow.select().count() == 0
    assert client.post("/mot-cua/tiep-nhan/luu", data=form).status_code == 302
    assert sqlite_node.list_dossiers()[1] == 1


def test_a_status_change_submitted_twice_is_recorded_once(client, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    page = client.get(f"/mot-cua/ho-so/{d.id}")
    form = {"to": "processing", "reason": "Chuyển chuyên môn", "csrf_token": token_of(client, "/mot-cua/"),
            "idempotency_key": key_in(page.text)}
    assert client.post(f"/mot-cua/ho-so/{d.id}/trang-thai", data=form).status_code == 302
    r = client.post(f"/mot-cua/ho-so/{d.id}/trang-thai", data=form, follow_redirects=True)
    assert "lần gửi lại không ghi thêm gì" in r.text
    assert [e["type"] for e in sqlite_node.timeline(d.id)] == ["dossier.received", "dossier.status_changed"]
    assert key_in(client.get(f"/mot-cua/ho-so/{d.id}").text) != form["idempotency_key"]


def test_the_field_intake_saved_twice_makes_one_dossier(app, clock, sqlite_node, monkeypatch):
    cheap_hashing(monkeypatch)
    add("an", "mobile", clock())
    c = app.test_client()
    login(c, "an")
    first = c.get("/luu-dong/tiep-nhan")
    form = {"csrf_token": token_of(c, "/luu-dong/"), "step": "0", "thu_tuc": "ho-tich.khai-sinh-luu-dong",
            "name": "Vàng A Dế", "idempotency_key": key_in(first.text)}
    for step, extra in ((1, {"id_number": "011089004321"}), (2, {"address": "Bản Na Lạn"}),
                        (3, {"component": ["0", "1", "2"], "sets": "1"})):
        r = c.post("/luu-dong/tiep-nhan", data={**form, **extra, "step": str(step - 1)})
        assert key_in(r.text) == form["idempotency_key"], step  # one key across the steps of one form
        form.update(extra, step=str(step))
    assert c.post("/luu-dong/tiep-nhan", data={**form, "step": "4"}).status_code == 302
    assert c.post("/luu-dong/tiep-nhan", data={**form, "step": "4"}).status_code == 303
    assert sqlite_node.list_dossiers()[1] == 1


def test_the_id_card_form_sent_twice_makes_one_registration(client, sqlite_node):
    from node.id_cards import registrations

    page = client.get("/luu-dong/can-cuoc")
    form = {"csrf_token": token_of(client, "/luu-dong/"), "request": "cap_doi", "name": "Hà Thị Mai",
            "id_number": "040195004567", "birth_date": "12/03/1995", "session_date": "20/05/2026",
            "idempotency_key": key_in(page.text)}
    assert client.post("/luu-dong/can-cuoc", data=form).status_code == 302
    assert client.post("/luu-dong/can-cuoc", data=form).status_code == 303
    assert len(registrations()) == 1 and sqlite_node.list_dossiers()[1] == 0


def test_the_conflict_resolution_forms_carry_a_one_time_key(app, clock, sqlite_node, monkeypatch, tmp_path):
    """The desk's and the district console's resolution forms (a second resolution is refused by
    the domain as well: the conflict is closed)."""
    from node.models import ConflictRow
    from tests.integration.web_helpers import make_node

    cheap_hashing(monkeypatch)
    add("truong", "head", clock())
    c = app.test_client()
    login(c, "truong")
    row = {"id": "c-1", "dossier_id": "d", "scope": "17272", "kind": "duplicate", "field": "", "winner": "a",
           "loser": "b", "winner_value": '"resolved"', "loser_value": '"processing"', "status": "open",
           "resolution": "", "chosen": "", "resolved_by": "", "reason": ""}
    ConflictRow.create(**row)
    first, second = (key_in(c.get("/mot-cua/xung-dot/c-1").text) for _ in range(2))
    assert first != second
    hub = make_node(tmp_path, clock, role="district", unit="40", name="hub")
    try:
        from node.app import create_app

        console = create_app(hub.settings, node=hub).test_client()
        add("quantri", "district_admin", clock())
        login(console, "quantri")
        ConflictRow.create(**row)
        assert key_in(console.get("/quan-tri/xung-dot/c-1").text)
    finally:
        hub.close()
