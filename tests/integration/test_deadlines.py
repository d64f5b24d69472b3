"""Deadlines in a dossier's API answer (periods counted from the day after receipt, Civil Code
arts. 147-148; the restart after a supplement, Decree 61/2018 art. 19(4); the 766 late rule for a
dossier still waiting on a second supplement; within time / overdue while pending, a due-soon
warning), the warnings list, and the Mẫu 04 apology with its new date (art. 19(9): at least a day
before the deadline, once), read by the print view."""

from __future__ import annotations

from datetime import datetime

import pytest

from node.domain.vietnam_time import VIETNAM
from tests.factories import sample_dossier
from tests.integration.web_helpers import API_USER, login

THREE_DAYS = {"code": "1.001022"}  # 3 working days in the seed catalogue


def vn(m: int, d: int, hh: int, mm: int = 0) -> int:
    return int(datetime(2026, m, d, hh, mm, tzinfo=VIETNAM).timestamp() * 1000)


@pytest.fixture
def received(sqlite_node, clock):
    """A 3-working-day dossier received Monday 18 May 2026 09:00: the days are Tue 19, Wed 20 and
    Thu 21 May (Civil Code art. 147(2)), due at the close of office hours, 17:00 (art. 148)."""
    clock.now = vn(5, 18, 9)
    state = sqlite_node.create_dossier("canbo", sample_dossier(procedure=THREE_DAYS))
    assert state.due_at == vn(5, 21, 17)
    return state.id


def steps(node, clock, dossier_id, moves):
    for when, to in moves:
        clock.now = when
        node.change_status("canbo", dossier_id, to, f"lý do: {to}")


# (status moves after reception, "now", outcome, extended due, warning level)
CASES = [
    ([], vn(5, 18, 10), "within_time", vn(5, 21, 17), None),
    ([], vn(5, 21, 10), "within_time", vn(5, 21, 17), "due_soon"),  # 5 h 30 of working time left
    ([], vn(5, 20, 16), "within_time", vn(5, 21, 17), None),  # 9 h left: not yet
    ([], vn(5, 21, 16, 59), "within_time", vn(5, 21, 17), "due_soon"),  # the due day, not past its time
    ([], vn(5, 21, 17, 30), "overdue", vn(5, 21, 17), "overdue"),
    ([(vn(5, 18, 10), "processing"), (vn(5, 19, 15), "resolved")], vn(5, 22, 9), "early", vn(5, 21, 17), None),
    ([(vn(5, 18, 10), "processing"), (vn(5, 21, 16), "resolved")], vn(5, 22, 9), "on_time", vn(5, 21, 17), None),
    ([(vn(5, 18, 10), "processing"), (vn(5, 22, 8), "resolved")], vn(5, 22, 9), "late", vn(5, 21, 17), None),
    # Decree 61 art. 19(4): back from the supplement on Wed 20 May, the 3 days restart: due Mon 25
    ([(vn(5, 18, 10), "processing"), (vn(5, 19, 9), "supplement_requested"), (vn(5, 20, 9), "processing"),
      (vn(5, 25, 16), "resolved")], vn(5, 26, 9), "on_time", vn(5, 25, 17), None),
    ([(vn(5, 18, 10), "processing"), (vn(5, 19, 9), "supplement_requested"), (vn(5, 20, 9), "processing")],
     vn(5, 25, 10), "within_time", vn(5, 25, 17), "due_soon"),  # past the appointment, not the restarted due
    # two supplement requests that both came back: judged on the times (restarted on 18 May)
    ([(vn(5, 18, 10), "processing"), (vn(5, 18, 11), "supplement_requested"), (vn(5, 18, 14), "processing"),
      (vn(5, 18, 15), "supplement_requested"), (vn(5, 18, 16), "processing"), (vn(5, 19, 9), "resolved")],
     vn(5, 19, 10), "early", vn(5, 21, 17), None),
    # 766: still waiting on a second supplement request: late
    ([(vn(5, 18, 10), "processing"), (vn(5, 18, 11), "supplement_requested"), (vn(5, 18, 14), "processing"),
      (vn(5, 18, 15), "supplement_requested")], vn(5, 19, 10), "late", None, None),
    # waiting for the citizen: the 766 reading ends it at the request, and no warning is raised
    ([(vn(5, 18, 10), "processing"), (vn(5, 19, 9), "supplement_requested")], vn(5, 26, 9), "early", None, None),
    # a withdrawal ends it too
    ([(vn(5, 18, 10), "withdrawal_requested"), (vn(5, 18, 11), "stopped")], vn(5, 26, 9), "early", None, None),
]


@pytest.mark.parametrize(("moves", "now", "outcome", "due", "warning"), CASES)
def test_the_dossier_answer_carries_its_deadline(client, sqlite_node, clock, received, moves, now, outcome, due,
                                                 warning):
    steps(sqlite_node, clock, received, moves)
    clock.now = now
    d = client.get(f"/api/v1/dossiers/{received}").get_json()["deadline"]
    assert d["outcome"] == outcome, d
    assert d["appointment"] == vn(5, 21, 17)
    if due is not None:
        assert d["due_at"] == due
    assert (d["warning"] or {}).get("level") == warning
    assert d["finished"] == (outcome in ("early", "on_time", "late"))


def test_the_state_knows_its_pauses_and_supplement_requests(sqlite_node, clock, received):
    steps(sqlite_node, clock, received, [(vn(5, 18, 10), "processing"), (vn(5, 19, 9), "supplement_requested"),
                                         (vn(5, 20, 9), "processing"), (vn(5, 20, 10), "supplement_requested")])
    state = sqlite_node.get_dossier(received)
    assert state.pauses == ((vn(5, 19, 9), vn(5, 20, 9)), (vn(5, 20, 10), None))
    assert state.supplement_requests == 2
    assert [s for s, _ in state.history] == ["received", "processing", "supplement_requested", "processing",
                                             "supplement_requested"]


def test_the_warnings_list_puts_the_most_urgent_first(client, sqlite_node, clock):
    clock.now = vn(5, 18, 9)
    late = sqlite_node.create_dossier("canbo", sample_dossier(name="Trễ", procedure=THREE_DAYS))
    soon = sqlite_node.create_dossier("canbo", sample_dossier(name="Sắp", procedure={"code": "2.000911"}))
    clock.now = vn(5, 19, 9)
    sqlite_node.create_dossier("canbo", sample_dossier(name="Còn xa", procedure={"code": "1.003583"}))  # 5 days
    clock.now = vn(5, 21, 10)  # `soon` (2 days) was due at 17:00 yesterday; `late` is due at 17:00 today
    items = client.get("/api/v1/deadlines").get_json()["items"]
    assert [(i["id"], i["level"]) for i in items] == [(soon.id, "overdue"), (late.id, "due_soon")]
    assert "Sắp đến hạn" in items[1]["message"]


def test_an_apology_sets_a_new_date_that_the_print_view_reads(client, sqlite_node, clock, received):
    clock.now = vn(5, 20, 16)
    r = client.post(f"/api/v1/dossiers/{received}/apology",
                    json={"reason": "Chờ xác minh của Công an xã", "new_due_at": "2026-05-26 16:30"})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["new_due_at"] == vn(5, 26, 16, 30) and body["apology_reason"] == "Chờ xác minh của Công an xã"
    assert body["deadline"]["apology_issued"] is True
    clock.now = vn(5, 22, 9)  # late against the appointment, but the new date is the target now
    d = client.get(f"/api/v1/dossiers/{received}").get_json()["deadline"]
    assert d["outcome"] == "overdue" and d["warning"] is None
    assert login(client, API_USER).status_code == 302  # printed forms need a session
    html = client.get(f"/in/{received}/xin-loi").get_data(as_text=True)
    assert "Chờ xác minh của Công an xã" in html
    assert "16 giờ 30 phút, ngày 26 tháng 5 năm 2026" in html
    timeline = client.get(f"/api/v1/dossiers/{received}").get_json()["timeline"]
    assert timeline[-1]["type"] == "dossier.apology_issued"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"reason": "", "new_due_at": "2026-05-26 16:30"}, "reason"),
        ({"reason": "Chậm", "new_due_at": "2026-05-21 16:30"}, "new_due_at"),  # before the appointment
        ({"reason": "Chậm", "new_due_at": "ngày mai"}, "new_due_at"),
        ({"reason": "Chậm"}, "new_due_at"),
    ],
)
def test_apology_input_is_checked(client, received, payload, field):
    r = client.post(f"/api/v1/dossiers/{received}/apology", json=payload)
    assert r.status_code == 422 and r.get_json()["error"]["field"] == field


def test_a_second_reschedule_is_refused_decree_61_art_19_9(client, sqlite_node, clock, received):
    """The return date may be moved no more than once (Decree 61/2018 art. 19(9))."""
    clock.now = vn(5, 19, 9)
    url = f"/api/v1/dossiers/{received}/apology"
    first = client.post(url, json={"reason": "Chờ xác minh", "new_due_at": vn(5, 26, 17)})
    assert first.status_code == 200, first.get_json()
    clock.now = vn(5, 22, 9)  # a day before the new date, but the date was moved once already
    again = client.post(url, json={"reason": "Còn chậm", "new_due_at": vn(5, 29, 17)})
    assert again.status_code == 422 and "một lần" in again.get_json()["error"]["message"]
    assert sqlite_node.get_dossier(received).new_due_at == vn(5, 26, 17)


def test_a_reschedule_less_than_a_day_before_the_deadline_is_refused_decree_61_art_19_9(client, sqlite_node, clock,
                                                                                      received):
    """Mẫu 04 is issued at least one day before the deadline (Decree 61/2018 art. 19(9))."""
    clock.now = vn(5, 21, 9)  # the due day itself: less than a day before 17:00
    r = client.post(f"/api/v1/dossiers/{received}/apology", json={"reason": "Chậm", "new_due_at": vn(5, 26, 17)})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "new_due_at"
    assert sqlite_node.get_dossier(received).apology_at is None


def test_no_apology_for_a_finished_dossier_or_from_another_office(client, sqlite_node, clock, received):
    steps(sqlite_node, clock, received, [(vn(5, 18, 10), "processing")])
    sqlite_node.change_status("canbo", received, "processing", target_office="17329")  # liên thông
    r = client.post(f"/api/v1/dossiers/{received}/apology", json={"reason": "x", "new_due_at": vn(5, 28, 9)})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "office"
    clock.now = vn(5, 18, 9)
    other = sqlite_node.create_dossier("canbo", sample_dossier(procedure=THREE_DAYS))
    steps(sqlite_node, clock, other.id, [(vn(5, 18, 10), "processing"), (vn(5, 18, 11), "resolved")])
    r = client.post(f"/api/v1/dossiers/{other.id}/apology", json={"reason": "x", "new_due_at": vn(5, 28, 9)})
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "status"


def test_the_national_code_follows_the_status_mapping_in_force(client, sqlite_node, clock, received):
    steps(sqlite_node, clock, received, [(vn(5, 18, 10), "processing"), (vn(5, 19, 9), "supplement_requested")])
    assert client.get(f"/api/v1/dossiers/{received}").get_json()["national_code"] == 5
