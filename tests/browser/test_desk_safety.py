"""Issue 13 points 2 and 3 in a real browser: the desk has no destructive default.

- The procedure picker shows one procedure per line with its code and processing time.
- The dossier page's next-step list starts on no step; refusal needs a reason (the browser
  stops the form, the server refuses a blank one too); a final step asks for confirmation;
  the refusal slip (Mẫu 03) prints the reason given.

Screenshots go to ``test-artifacts/browser/`` (git-ignored).
"""

from __future__ import annotations

import signal

import pytest

from tests.browser.conftest import add_user, login, shot, text_of
from tests.scenarios.harness import DEV_OPEN_TRUST, RealNode, call, free_port

REASON = "Hồ sơ không thuộc thẩm quyền giải quyết của xã"


@pytest.fixture(scope="module")
def commune(tmp_path_factory):
    base = tmp_path_factory.mktemp("desk")
    mp = pytest.MonkeyPatch()
    mp.setenv("SCENARIO_STATE_HOME", str(base / "state"))
    node = RealNode("UBND xã Tân Phú", "commune", "17272", base / "commune", port=free_port(), env=DEV_OPEN_TRUST)
    node.init()
    add_user(node, "canbo.lan", "clerk", "Nguyễn Thị Lan")
    node.start()
    yield node
    node.stop(signal.SIGQUIT, wait=5)
    mp.undo()


def new_dossier(node: RealNode) -> dict:
    status, d = call(node, "POST", "/api/v1/dossiers", {
        "procedure": {"code": "1.001193", "name": "Đăng ký khai sinh"},
        "applicant": {"name": "Lò Văn Páo", "id_number": "040090007777"},
    })
    assert status == 201, d
    return d


def test_procedure_picker_puts_each_procedure_on_its_own_line(commune, new_page):
    page = new_page()
    login(page, commune, "canbo.lan")
    page.goto(commune.url + "/mot-cua/tiep-nhan")
    options = page.locator("label.procedure-option")
    assert options.count() >= 20
    tops = [options.nth(i).bounding_box()["y"] for i in range(5)]
    assert tops == sorted(tops) and len(set(tops)) == 5, tops  # stacked, not run together
    assert page.evaluate("getComputedStyle(document.querySelector('label.procedure-option')).display") == "flex"
    first = text_of(page, "label.procedure-option >> nth=0")
    assert "Mã thủ tục" in first and "Thời hạn giải quyết" in first and "làm việc" in first, first
    shot(page, "i13-01-procedure-picker")
    page.fill("#f-filter", "khai sinh")  # the filter stays as it is
    visible = page.locator("label.procedure-option:visible")
    assert 1 <= visible.count() < options.count()
    shot(page, "i13-02-procedure-picker-filtered")


def test_next_step_starts_on_no_step_and_refusal_needs_a_reason_and_confirmation(commune, new_page):
    d = new_dossier(commune)
    page = new_page()
    login(page, commune, "canbo.lan")
    page.goto(f"{commune.url}/mot-cua/ho-so/{d['id']}")
    assert page.eval_on_selector("#f-to", "s => s.value") == ""  # nothing chosen to begin with
    assert not page.is_visible("[data-step-confirm]")
    page.click("button:has-text('Ghi nhận')")  # Enter on a fresh page changes nothing
    assert "/ho-so/" in page.url and page.eval_on_selector("#f-to", "s => s.validity.valueMissing")
    shot(page, "i13-03-next-step-empty")

    page.select_option("#f-to", "refused")
    assert page.is_visible("[data-step-confirm]")
    assert page.eval_on_selector("#f-reason", "e => e.required")
    shot(page, "i13-04-refusal-asks-reason-and-confirmation")
    # without the browser's checks the server still refuses a blank reason, in Vietnamese
    page.evaluate("document.querySelector('[data-step-select]').form.noValidate = true")
    page.check("[data-step-confirm]")
    page.click("button:has-text('Ghi nhận')")
    assert "cần ghi lý do" in page.content()
    assert call(commune, "GET", f"/api/v1/dossiers/{d['id']}")[1]["status"] == "received"
    shot(page, "i13-05-refusal-without-reason-refused")
    # a reason but no confirmation: still not refused
    page.evaluate("document.querySelector('[data-step-select]').form.noValidate = true")
    page.select_option("#f-to", "refused")
    page.fill("#f-reason", REASON)
    page.click("button:has-text('Ghi nhận')")
    assert "không hoàn tác được" in page.content()
    assert call(commune, "GET", f"/api/v1/dossiers/{d['id']}")[1]["status"] == "received"

    page.select_option("#f-to", "refused")
    page.fill("#f-reason", REASON)
    page.check("[data-step-confirm]")
    page.click("button:has-text('Ghi nhận')")
    assert "Đã chuyển hồ sơ sang trạng thái" in page.content()
    assert call(commune, "GET", f"/api/v1/dossiers/{d['id']}")[1]["status"] == "refused"
    shot(page, "i13-06-refused-with-reason")
    page.goto(f"{commune.url}/in/{d['id']}/tu-choi")
    assert REASON in page.content()
    shot(page, "i13-07-refusal-slip-with-reason")


def test_the_api_refuses_a_supplement_request_without_reason(commune):
    d = new_dossier(commune)
    status, body = call(commune, "POST", f"/api/v1/dossiers/{d['id']}/status", {"to": "supplement_requested"})
    assert 400 <= status < 500 and body["error"]["field"] == "reason", body


def test_catalogue_labels_keep_their_diacritics_and_offices_have_names(commune, new_page):
    """Issue 13.7: "Bản chính", "Xuất trình" (not "ban chinh"), the office by its name."""
    page = new_page()
    login(page, commune, "canbo.lan")
    page.goto(commune.url + "/mot-cua/tiep-nhan/thanh-phan?thu_tuc=ho-tich.khai-sinh")
    listing = text_of(page, ".checklist")
    assert "Bản chính" in listing and "Xuất trình" in listing, listing
    assert "ban chinh" not in listing.lower() and "xuat trinh" not in listing.lower()
    shot(page, "i13-08-components-with-diacritics")
    d = new_dossier(commune)
    page.goto(f"{commune.url}/mot-cua/ho-so/{d['id']}")
    assert "Xã Tân Phú, Nghệ An (17272)" in page.content()
    shot(page, "i13-09-dossier-office-name")
