"""Issue 13.4 in a real browser: a conflict is shown by what a person knows it by.

A commune asks for a supplement while, unseen, the district approves the same dossier. On the
district console the conflict queue and the conflict page name the dossier code, the applicant
and the procedure, show both versions in plain words, refuse a resolution without reason in
Vietnamese, and after the resolution say which version was kept and the dossier's status now.
The English UI shows the same page in English.
"""

from __future__ import annotations

import signal

import pytest

from tests.browser.conftest import add_user, login, shot, text_of
from tests.scenarios.harness import DEV_OPEN_TRUST, RealNode, call, free_port

APPLICANT = "Lò Văn Páo"


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    base = tmp_path_factory.mktemp("conflict")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCENARIO_STATE_HOME", str(base / "state"))
    district = RealNode("Trung tâm tỉnh", "district", "40", base / "district", port=free_port(), env=DEV_OPEN_TRUST)
    commune = RealNode("UBND xã Tân Phú", "commune", "17272", base / "commune", port=free_port(), env=DEV_OPEN_TRUST)
    district.init()
    commune.init(district.url)
    add_user(district, "quantri", "district_admin", "Lê Văn Quản")
    district.start()
    commune.start()
    yield commune, district
    for n in (commune, district):
        n.stop(signal.SIGQUIT, wait=5)
    mp.undo()


def api(node: RealNode, method: str, path: str, body: dict | None = None) -> dict:
    status, answer = call(node, method, path, body)
    assert status < 300, (status, answer)
    return answer


def test_the_conflict_names_the_dossier_and_says_what_was_kept(pair, new_page):
    commune, district = pair
    d = api(commune, "POST", "/api/v1/dossiers", {
        "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
        "applicant": {"name": APPLICANT, "id_number": "040090007777"},
    })
    api(commune, "POST", f"/api/v1/dossiers/{d['id']}/status", {"to": "processing"})
    commune.cli("sync")
    api(commune, "POST", f"/api/v1/dossiers/{d['id']}/status",
        {"to": "supplement_requested", "reason": "Thiếu bản sao giấy chứng sinh"})
    api(district, "POST", f"/api/v1/dossiers/{d['id']}/status", {"to": "resolved"})
    commune.cli("sync")

    page = new_page()
    login(page, district, "quantri")
    page.goto(district.url + "/quan-tri/xung-dot")
    row = text_of(page, "tr[data-conflict-row]")
    assert d["code"] in row and APPLICANT in row and "Đăng ký khai sinh" in row, row
    assert "Yêu cầu bổ sung" in row and d["id"] not in row  # plain words, no internal ids
    shot(page, "i13-10-conflict-queue")
    page.locator("[data-conflict]").first.click()
    assert text_of(page, "[data-dossier-code]") == d["code"]
    assert text_of(page, "[data-applicant]") == APPLICANT
    assert "Thiếu bản sao giấy chứng sinh" in text_of(page, "[data-side='winner']")
    shot(page, "i13-11-conflict-detail")

    page.check("input[name=keep][value=loser]")
    page.evaluate("document.querySelector('form.stack').noValidate = true")
    page.click("button:has-text('Giải quyết xung đột')")
    assert "Cần ghi lý do giải quyết" in page.content()  # Vietnamese, not the use case's English
    page.check("input[name=keep][value=loser]")
    page.fill("#f-reason", "Hồ sơ đã đủ, giữ kết quả phê duyệt")
    page.click("button:has-text('Giải quyết xung đột')")
    assert "Đã giải quyết xung đột" in page.content()
    assert page.get_attribute("[data-conflict-status]", "data-conflict-status") == "resolved"
    assert text_of(page, "[data-side='loser'] h2") == "Đã chọn giữ"
    assert text_of(page, "[data-side='winner'] h2") == "Không giữ"
    assert text_of(page, "[data-dossier-status]") == "Đã xử lý xong"
    assert "giữ phiên bản còn lại" in text_of(page, "[data-resolution]")
    shot(page, "i13-12-conflict-resolved")
    assert api(district, "GET", f"/api/v1/dossiers/{d['id']}")["status"] == "resolved"

    page.goto(district.url + "/ngon-ngu/en?next=" + page.url.split(district.url)[1])
    assert "Conflict on dossier" in page.content() and "Kept" in text_of(page, "[data-side='loser'] h2")
    shot(page, "i13-13-conflict-resolved-english")
