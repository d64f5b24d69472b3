"""The acceptance journeys of issue 6 in a real browser against real ``motcua serve`` processes:
a district hub, a commune under it and an outreach laptop under the commune.

1. A clerk signs in, receives a dossier step by step and prints its receipt.
2. The mobile team takes an application while the commune is unreachable, then syncs to it.
3. A district admin finds the commune's sync session in the log and resolves a conflict.
4. The public lookup finds the dossier and shows no personal data.
5. A clerk attaches a scan at reception, sees its thumbnail and opens the PDF (issue 17).

Each page is saved as a screenshot under ``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
import signal
import urllib.request

import pytest

from tests.browser.conftest import add_user, login, shot, text_of
from tests.files_helpers import scan_jpeg
from tests.scenarios.harness import DEV_OPEN_TRUST, RealNode, call, free_port

APPLICANT = "Hoàng Thị Mỹ Duyên"
APPLICANT_ID = "040196001234"


def api(node: RealNode, method: str, path: str, body: dict | None = None) -> dict:
    """A JSON API call with the node's API token (tests.scenarios.harness); fails on an error."""
    status, answer = call(node, method, path, body)
    assert status < 300, (status, answer)
    return answer


def halt(node: RealNode) -> None:
    """Stop a node at once, as a power cut or a lost link would; a plain stop waits up to 20 s
    for the browser's keep-alive connections."""
    node.stop(signal.SIGQUIT, wait=5)


@pytest.fixture(scope="module")
def world(tmp_path_factory, monkeypatch_module):
    base = tmp_path_factory.mktemp("ui")
    monkeypatch_module.setenv("SCENARIO_STATE_HOME", str(base / "state"))
    # Plain http between nodes open to each other (the development switch, so every page shows its
    # red banner): these journeys are about the UI; certificates are tests/scenarios/test_trust.py.
    district = RealNode("Trung tâm tỉnh", "district", "40", base / "district", port=free_port(), env=DEV_OPEN_TRUST)
    commune = RealNode("UBND xã Tân Phú", "commune", "17272", base / "commune", port=free_port(), env=DEV_OPEN_TRUST)
    mobile = RealNode("Tổ lưu động Tân Phú", "mobile", "17272", base / "mobile", env=DEV_OPEN_TRUST)
    district.init()
    commune.init(district.url)
    mobile.init(commune.url)
    add_user(district, "quantri", "district_admin", "Lê Văn Quản")
    add_user(commune, "canbo.lan", "clerk", "Nguyễn Thị Lan")
    add_user(mobile, "luudong.an", "mobile", "Phạm Văn An")
    nodes = {"district": district, "commune": commune, "mobile": mobile, "codes": {}}
    district.start()
    commune.start()
    mobile.start()
    yield nodes
    for n in (mobile, commune, district):
        halt(n)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_clerk_receives_a_dossier_and_prints_its_receipt(world, new_page):
    commune = world["commune"]
    page = new_page()
    page.goto(commune.url + "/")
    assert "/dang-nhap" in page.url
    shot(page, "01-login")
    login(page, commune, "canbo.lan")
    assert page.url.endswith("/mot-cua/")
    assert "Tổng quan bộ phận một cửa" in page.content()
    shot(page, "02-clerk-dashboard")

    page.click("text=Tiếp nhận hồ sơ mới")
    page.fill("#f-filter", "khai sinh")  # filtering works without diacritics
    shot(page, "03-receive-procedure")
    page.check("input[name=thu_tuc][value='ho-tich.khai-sinh']")
    page.click("button:has-text('Tiếp tục')")
    shot(page, "04-receive-components")
    page.click("button:has-text('Tiếp tục')")  # required documents are ticked by default

    page.fill("#f-name", APPLICANT)
    page.fill("#f-id_number", "04019600123")  # 11 digits: the browser's pattern check stops it
    page.evaluate("document.querySelector('form.stack').noValidate = true")
    page.click("button:has-text('Xem ngày hẹn trả')")
    assert "Số định danh cá nhân phải gồm đúng 12 chữ số." in page.content()
    shot(page, "05-receive-applicant-id-error")
    page.fill("#f-id_number", APPLICANT_ID)
    page.fill("#f-phone", "0912 345 678")
    page.fill("#f-address", "Xóm 3, thôn Đông")
    page.click("button:has-text('Xem ngày hẹn trả')")
    due = text_of(page, "[data-due]")
    assert re.match(r"\d{2}/\d{2}/\d{4} \d{2}:\d{2}", due), due
    assert "năm sinh 1996" in page.content()  # decoded from the ID number
    shot(page, "06-receive-appointment")
    page.click("button:has-text('Tiếp nhận và in biên nhận')")

    assert "/mot-cua/ho-so/" in page.url
    code = text_of(page, "[data-code]")
    world["codes"]["desk"] = code
    assert page.locator("[data-verified='1']").count() >= 1
    shot(page, "07-dossier-page")
    receipt_url = page.get_attribute("[data-print-receipt]", "href")
    blocked: list[str] = []  # the browser reports what the Content-Security-Policy refused
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(commune.url + receipt_url)
    assert code in page.content() and APPLICANT.upper() in page.content().upper()
    assert "GIẤY TIẾP NHẬN HỒ SƠ" in page.content().upper()
    assert re.fullmatch(r"[0-9A-Z]{3}-[0-9A-Z]{3}", text_of(page, "[data-lookup-check]").split(": ")[1])
    # the form's own CSS and print button run under its nonce: styled, nothing refused
    assert page.evaluate("getComputedStyle(document.querySelector('.sheet')).width") != "auto"
    assert page.evaluate("getComputedStyle(document.body).fontFamily").startswith('"Times New Roman"')
    assert blocked == []
    shot(page, "08-receipt-print")

    page.goto(commune.url + "/mot-cua/tim-kiem?q=duyen")  # no diacritics
    assert code in page.content()
    shot(page, "09-search")
    page.goto(commune.url + "/ngon-ngu/en?next=/mot-cua/")
    assert "One-stop desk dashboard" in page.content()
    shot(page, "10-dashboard-english")
    page.goto(commune.url + "/ngon-ngu/vi?next=/mot-cua/")


def test_mobile_takes_an_application_offline_then_syncs_to_its_commune(world, new_page):
    commune, mobile = world["commune"], world["mobile"]
    halt(commune)  # no link: the laptop is in a hamlet
    page = new_page()
    login(page, mobile, "luudong.an")
    assert page.url.endswith("/luu-dong/")
    shot(page, "11-mobile-home")

    page.click("text=Tiếp nhận nhanh")
    page.select_option("#f-thu_tuc", "ho-tich.khai-sinh-luu-dong")
    page.fill("#f-name", "Vàng A Dế")
    page.keyboard.press("Enter")  # keyboard only: Enter moves on
    page.fill("#f-id_number", "011089004321")
    page.keyboard.press("Enter")
    page.fill("#f-address", "Bản Na Lạn")
    shot(page, "12-mobile-intake-step3")
    page.keyboard.press("Enter")
    page.click("button:has-text('Tiếp')")  # documents: the required ones are ticked
    shot(page, "13-mobile-intake-review")
    page.click("button:has-text('Lưu hồ sơ')")
    assert "/mot-cua/ho-so/" in page.url
    code = text_of(page, "[data-code]")
    world["codes"]["mobile"] = code
    page.goto(mobile.url + "/luu-dong/")  # issue 13.6: the team's own intake on the home page
    assert code in page.content() and int(text_of(page, "[data-own-count]")) >= 1
    shot(page, "13b-mobile-home-own-intake")

    page.goto(mobile.url + "/luu-dong/dong-bo")
    assert int(text_of(page, "[data-pending-up]")) >= 1
    page.click("button:has-text('Đồng bộ ngay')")
    page.wait_for_selector("[data-sync-outcome]")
    assert page.get_attribute("[data-sync-outcome]", "data-sync-outcome") == "failed"
    assert "dữ liệu vẫn được lưu trên máy này" in text_of(page, "[data-sync-error]")  # issue 13.5: plain words
    shot(page, "14-mobile-sync-no-link")

    commune.start()  # back in range of the commune office
    page.goto(mobile.url + "/luu-dong/dong-bo")
    page.click("button:has-text('Đồng bộ ngay')")
    page.wait_for_selector("[data-sync-outcome='ok']", timeout=30_000)
    assert text_of(page, "[data-pending-up]") == "0"
    shot(page, "15-mobile-sync-done")
    found = api(commune, "GET", "/api/v1/dossiers?q=" + urllib.request.quote(code))
    assert [d["code"] for d in found["items"]] == [code]


def test_district_admin_finds_the_session_and_resolves_a_conflict(world, new_page):
    commune, district = world["commune"], world["district"]
    dossier = api(commune, "POST", "/api/v1/dossiers", {
        "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
        "applicant": {"name": "Lò Văn Páo", "id_number": "040090007777"},
    })
    api(commune, "POST", f"/api/v1/dossiers/{dossier['id']}/status", {"to": "processing"})
    commune.cli("sync")
    # offline from each other: the commune asks for a supplement, the district approves
    supplement = {"to": "supplement_requested", "reason": "Thiếu bản sao giấy chứng sinh"}
    api(commune, "POST", f"/api/v1/dossiers/{dossier['id']}/status", supplement)
    api(district, "POST", f"/api/v1/dossiers/{dossier['id']}/status", {"to": "resolved"})
    out = commune.cli("sync").stdout
    session = re.search(r"session (\w+)", out).group(1)

    page = new_page()
    login(page, district, "quantri")
    assert "/quan-tri/dong-bo" in page.url
    page.select_option("#f-may", commune.node_id)
    page.select_option("#f-kq", "ok")
    page.click("button:has-text('Lọc')")
    row = page.locator(f"tr[data-session='{session}']")
    assert row.count() == 1, f"session {session} not in the filtered log"
    shot(page, "16-district-sync-log")
    row.locator("a").first.click()
    assert session in page.content() and page.get_attribute("[data-outcome]", "data-outcome") == "ok"
    shot(page, "17-district-session")

    page.click("header nav >> text=Tình trạng máy")
    assert commune.node_id in page.content()
    shot(page, "18-district-nodes")

    page.click("header nav >> text=Xung đột")
    page.locator("[data-conflict]").first.click()
    assert page.locator("[data-side='winner']").count() == 1 and page.locator("[data-side='loser']").count() == 1
    assert "Yêu cầu bổ sung giấy tờ" in text_of(page, "[data-side='winner']")
    assert "Đã xử lý xong" in text_of(page, "[data-side='loser']")
    shot(page, "19-district-conflict")
    page.check("input[name=keep][value=loser]")
    page.fill("#f-reason", "Hồ sơ đã đủ, giữ kết quả phê duyệt")
    page.click("button:has-text('Giải quyết xung đột')")
    assert "Đã giải quyết xung đột" in page.content()
    shot(page, "20-district-conflict-resolved")
    assert api(district, "GET", f"/api/v1/dossiers/{dossier['id']}")["status"] == "resolved"

    page.click("header nav >> text=Thống kê")
    assert page.locator("svg.chart").count() == 1
    shot(page, "21-district-statistics")
    page.click("header nav >> text=Hồ sơ trễ hạn")
    shot(page, "22-district-late")


def test_public_lookup_finds_the_dossier_without_personal_data(world, new_page):
    commune = world["commune"]
    code = world["codes"].get("desk")
    if code is None:  # the clerk journey failed: still check the lookup on a dossier of our own
        code = api(commune, "POST", "/api/v1/dossiers", {
            "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
            "applicant": {"name": APPLICANT, "id_number": APPLICANT_ID}})["code"]
    found = api(commune, "GET", "/api/v1/dossiers?q=" + code)["items"][0]
    check = api(commune, "GET", "/api/v1/dossiers/" + found["id"])["lookup_check"]
    page = new_page()
    page.goto(commune.url + "/tra-cuu")
    page.fill("#f-ma", code)
    page.fill("#f-kiem-tra", check)
    page.click("button:has-text('Tra cứu')")
    assert text_of(page, "[data-code]") == code
    assert text_of(page, "[data-status]")
    html = page.content()
    assert APPLICANT_ID not in html and "0912" not in html and "Xóm 3" not in html and APPLICANT not in html
    shot(page, "23-public-lookup")


def test_a_copied_session_cookie_stops_working_after_logout(world, new_page):
    commune = world["commune"]
    page = new_page()
    login(page, commune, "canbo.lan")
    cookie = next(c for c in page.context.cookies() if c["name"] == "motcua_auth")
    page.click("button:has-text('Đăng xuất')")
    thief = new_page()
    thief.context.add_cookies([cookie])
    thief.goto(commune.url + "/mot-cua/")
    assert "/dang-nhap" in thief.url


def test_a_scan_attached_at_reception_shows_its_thumbnail_and_opens_as_a_pdf(world, new_page, tmp_path):
    """Issue 17: a clerk attaches a generated scan on the page the reception lands on, sees its
    thumbnail and opens the PDF."""
    commune = world["commune"]
    page = new_page()
    login(page, commune, "canbo.lan")
    page.goto(commune.url + "/mot-cua/tiep-nhan")
    page.check("input[name=thu_tuc][value='ho-tich.khai-sinh']")
    page.click("button:has-text('Tiếp tục')")
    page.click("button:has-text('Tiếp tục')")
    page.fill("#f-name", "Đỗ Thị Hoa")
    page.fill("#f-id_number", "040196004321")
    page.click("button:has-text('Xem ngày hẹn trả')")
    page.click("button:has-text('Tiếp nhận và in biên nhận')")
    assert "/mot-cua/ho-so/" in page.url

    scan = tmp_path / "to-khai.jpg"
    scan.write_bytes(scan_jpeg(1700, 1200, seed=4, orientation=6))  # a phone photo taken sideways
    assert page.get_attribute("#f-file", "capture") is not None
    page.set_input_files("#f-file", str(scan))
    page.fill("#f-component", "Tờ khai đăng ký khai sinh")
    page.click("[data-attach-form] button[type=submit]")  # sent with progress (motcua.js), then the answer
    page.wait_for_selector("text=Đã đính kèm to-khai.jpg")
    thumb = page.locator("[data-attachment][data-state=complete] img[data-thumb]")
    thumb.wait_for()
    assert page.evaluate("document.querySelector('img[data-thumb]').naturalWidth") > 0
    assert page.evaluate("(() => { const i = document.querySelector('img[data-thumb]');"
                         " return i.naturalHeight > i.naturalWidth; })()")  # turned upright
    shot(page, "17-attachment-thumbnail")

    with page.context.expect_page() as opened:
        page.click("[data-open-file]")
    viewer = opened.value
    assert "/mot-cua/tep/" in viewer.url
    answer = page.context.request.get(viewer.url)
    assert answer.status == 200 and answer.headers["content-type"] == "application/pdf"
    assert answer.body().startswith(b"%PDF-")
