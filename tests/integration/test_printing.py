"""Print views: every form renders on its paper with its required fields, the ledger filters by
Vietnamese day and numbers per year (Circular 01/2018/TT-VPCP arts. 9-10; Circular 03/2025/TT-VPCP
for dossiers received from 1 July 2025), provisional codes, full names, place name before the date."""

from __future__ import annotations

import re
from datetime import datetime

import pytest

from node import accounts, dossiers
from node.domain import dossier as domain
from node.domain.vietnam_time import VIETNAM
from tests.factories import sample_dossier
from tests.integration.web_helpers import API_USER, PASSWORD, login
from web.formatting import vn_date, vn_datetime_words
from web.printing import bp as printing_bp

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MOTTO = ("CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM", "Độc lập - Tự do - Hạnh phúc")
WORDS = re.compile(r"\d{2} giờ \d{2} phút, ngày \d{2} tháng \d{1,2} năm \d{4}")
DETAILS = {
    "email": "an.nguyen@example.vn",
    "components": [
        {"name": "Tờ khai đăng ký khai sinh", "kind": "ban_chinh", "quantity": 1},
        {"name": "Giấy chứng sinh", "kind": "ban_sao_chung_thuc", "quantity": 1},
    ],
    "sets": 1,
    "fees": [{"name": "Lệ phí đăng ký hộ tịch", "amount_vnd": 8000}],
    "result_delivery": "desk",
    "ledger": {"book": "02", "number": "137"},
    "processing_agency": "Công chức Tư pháp - Hộ tịch",
}


@pytest.fixture
def printing(app, client, monkeypatch):
    """The print views, with ``client`` signed in (printed forms need a session)."""
    # create_app may register the blueprint itself one day; then this is a no-op.
    if "printing" not in app.blueprints:
        app.register_blueprint(printing_bp)
    # these tests move the clock by hours after signing in; session expiry is test_web_auth's
    monkeypatch.setattr(accounts, "_IDLE_MS", 10**15)
    monkeypatch.setattr(accounts, "_ABSOLUTE_MS", 10**15)
    assert login(client, API_USER).status_code == 302
    return app


@pytest.fixture
def officers(sqlite_node, clock):
    """Two local accounts: the forms print their full names, never their logins."""
    accounts.create_account("le.hanh", "Lê Thị Hạnh", "clerk", PASSWORD, now=clock())
    accounts.create_account("pham.tu", "Phạm Văn Tư", "clerk", PASSWORD, now=clock())


@pytest.fixture
def dossier(sqlite_node, clock, officers):
    """Received, transferred, supplement requested and completed, then decided early."""
    state = sqlite_node.create_dossier(
        "le.hanh", sample_dossier(due_at=clock.now + 3 * DAY_MS, details=DETAILS)
    )
    for author, to, reason in (
        ("le.hanh", "processing", ""),
        ("pham.tu", "supplement_requested", "Thiếu bản sao Giấy chứng sinh có chứng thực"),
        ("pham.tu", "processing", "Đã bổ sung"),
        ("pham.tu", "resolved", ""),
    ):
        clock.advance(HOUR_MS)
        sqlite_node.change_status(author, state.id, to, reason)
    return sqlite_node.get_dossier(state.id)


# form -> (paper, required texts); the fixture's dossier is received in 2026: the 2025 set of forms
FORMS = {
    "bien-nhan": ("A4 portrait", ["Mẫu số 01 (Thông tư số 03/2025/TT-VPCP)", "Giấy tiếp nhận hồ sơ và hẹn trả kết quả",
                                  "Thành phần hồ sơ nộp gồm", "NGƯỜI TIẾP NHẬN HỒ SƠ", "Lê Thị Hạnh"]),
    "bo-sung": ("A5 portrait", ["Mẫu số 02 (Thông tư số 03/2025/TT-VPCP)", "Phiếu yêu cầu bổ sung, hoàn thiện hồ sơ",
                                "Thiếu bản sao Giấy chứng sinh có chứng thực", "NGƯỜI HƯỚNG DẪN", "Phạm Văn Tư"]),
    "tu-choi": ("A5 portrait", ["Mẫu số 03 (Thông tư số 03/2025/TT-VPCP)", "Phiếu từ chối tiếp nhận giải quyết hồ sơ",
                                "không tiếp nhận, giải quyết hồ sơ này", "NGƯỜI NỘP HỒ SƠ", "NGƯỜI TIẾP NHẬN HỒ SƠ"]),
    "xin-loi": ("A5 portrait", ["Mẫu số 04 (Thông tư số 03/2025/TT-VPCP)",
                                "Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết", "Kính gửi: Ông/Bà",
                                "xin lỗi Ông/Bà", "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ", "Nơi nhận"]),
    "thong-bao-dung": ("A5 portrait", ["Mẫu số 05 (Thông tư số 03/2025/TT-VPCP)", "Thông báo dừng giải quyết hồ sơ",
                                       "Kính gửi: Ông/Bà", "Bước giải quyết đã thực hiện", "Phí, lệ phí đã nộp",
                                       "THỦ TRƯỞNG CƠ QUAN, ĐƠN VỊ"]),
    "kiem-soat": ("A5 portrait", ["Mẫu số 06 (Thông tư số 03/2025/TT-VPCP)",
                                  "Phiếu kiểm soát quá trình giải quyết hồ sơ", "1. Giao: Bộ phận Một cửa",
                                  "2. Nhận: Bộ phận chuyên môn", "Trước hạn", "Phạm Văn Tư"]),
}  # fmt: skip
PAGE_SIZE = re.compile(r"@page\s*\{[^}]*size:\s*([^;]+);")


def page_sizes(html: str) -> set[str]:
    """Every paper size the page's CSS asks for (one, when the form is right)."""
    return {m.strip() for m in PAGE_SIZE.findall(html)}


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_renders_on_its_paper_with_its_required_fields(printing, client, sqlite_node, dossier, form):
    """Circular 01/2018/TT-VPCP art. 9(2): forms on A5, the receipt's two copies on one A4 sheet; the
    2025 set (Circular 03/2025/TT-VPCP) for a dossier received from 1 July 2025."""
    response = client.get(f"/in/{dossier.id}/{form}")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    html = response.get_data(as_text=True)
    paper, required = FORMS[form]
    assert page_sizes(html) == {paper}, form
    for text in (dossier.code, dossier.applicant_name, *MOTTO, sqlite_node.settings.NAME, *required):
        assert text in html, (form, text)
    assert dossier.procedure_name in html
    assert vn_date(dossier.received_at) in html  # dd/MM/yyyy
    assert vn_datetime_words(dossier.received_at) in html  # "… giờ … phút, ngày … tháng … năm …"
    assert WORDS.search(html)
    # Nghị định 30/2020: the unit's place name (địa danh) before the date; people by full name, not login
    assert re.search(r'<div class="place-date">Tân Phú, ngày \d{2} tháng \d{1,2} năm \d{4}</div>', html), form
    assert "le.hanh" not in html and "pham.tu" not in html
    # The QR code of the dossier code, inline: no image file, no CDN.
    assert re.search(r"<svg[^>]*>.*<title>" + re.escape(dossier.code) + "</title>", html, re.S)
    assert not re.search(r"(src|href)=\"https?://", html)


def test_receipt_slip_has_two_copies_and_every_item(printing, client, dossier):
    html = client.get(f"/in/{dossier.id}/bien-nhan").get_data(as_text=True)
    assert html.count("<h1>Giấy tiếp nhận hồ sơ và hẹn trả kết quả</h1>") == 2
    assert "(Liên 1: Lưu)" in html and "(Liên 2: Giao người nộp hồ sơ)" in html
    assert html.count("<svg") == 3  # the code on each copy, the rating page on the applicant's
    for item in ("1. Thành phần", "2. Số lượng hồ sơ", "3. Thời gian giải quyết", "4. Thời gian nhận hồ sơ",
                 "5. Thời gian trả kết quả", "6. Đăng ký nhận kết quả"):  # fmt: skip
        assert html.count(item) == 2, item
    # Appointment to the minute, processing time from the catalogue, details where given.
    due = vn_datetime_words(dossier.due_at)
    assert f'5. Thời gian trả kết quả giải quyết hồ sơ: <span class="strong">{due}</span>' in html
    assert "theo quy định là: trong ngày làm việc" in html  # 1.001193 khai sinh: same day (seed catalogue)
    assert "Giấy chứng sinh</td>" in html and "Bản sao có chứng thực" in html
    assert "Lệ phí đăng ký hộ tịch: 8.000 đồng" in html
    assert "☒ Bộ phận Một cửa" in html and "☐ Qua dịch vụ bưu chính công ích" in html
    assert "Quyển số: 02" in html and "Số thứ tự: 137" in html
    assert "040090001234" in html and "an.nguyen@example.vn" in html
    assert "Lê Thị Hạnh" in html and "le.hanh" not in html  # the receiving officer's full name, not the login


def test_unknown_fields_become_dotted_blanks(printing, client, sqlite_node):
    plain = sqlite_node.create_dossier("api", sample_dossier(phone=""))
    html = client.get(f"/in/{plain.id}/bien-nhan").get_data(as_text=True)
    # email, sets, appointment, fees, ledger book and number: twice each (two copies)
    assert html.count('class="blank"') >= 12
    assert "Email: <span class=\"blank\"" in html
    assert "(bộ)" in html and 'class="blankrow"' in html  # empty component rows to fill by hand
    assert "None" not in html and "Undefined" not in html


def test_malformed_details_do_not_break_printing(printing, client, sqlite_node):
    odd = sqlite_node.create_dossier("api", sample_dossier(details={"components": "giấy tờ", "fees": 5, "sets": ""}))
    html = client.get(f"/in/{odd.id}/bien-nhan").get_data(as_text=True)
    assert 'class="blankrow"' in html and "Số lượng hồ sơ: <span class=\"blank\"" in html


def test_refusal_and_control_slip_use_the_recorded_events(printing, client, sqlite_node, clock, officers):
    state = sqlite_node.create_dossier("le.hanh", sample_dossier())
    clock.advance(HOUR_MS)
    sqlite_node.change_status("le.hanh", state.id, "refused", "Không thuộc thẩm quyền giải quyết của xã")
    html = client.get(f"/in/{state.id}/tu-choi").get_data(as_text=True)
    assert "Không thuộc thẩm quyền giải quyết của xã" in html
    assert f"Thời gian từ chối: {vn_datetime_words(clock.now)}" in html
    slip = client.get(f"/in/{state.id}/kiem-soat").get_data(as_text=True)
    assert "2. Nhận: Người nộp hồ sơ (từ chối)" in slip


def test_control_slip_names_both_offices_of_a_recorded_transfer(printing, client, sqlite_node, clock):
    state = sqlite_node.create_dossier("api", sample_dossier())
    sqlite_node.change_status("api", state.id, "processing")
    clock.advance(HOUR_MS)
    sqlite_node.change_status("api", state.id, "processing", "liên thông", target_office="17329")
    slip = client.get(f"/in/{state.id}/kiem-soat").get_data(as_text=True)
    assert "1. Giao: Đơn vị 17272<br>2. Nhận: Đơn vị 17329" in slip
    assert f"{vn_datetime_words(clock.now)}</td>" in slip


def test_applicant_text_is_escaped(printing, client, sqlite_node):
    state = sqlite_node.create_dossier("api", sample_dossier(name="<b>Trần</b> Văn Bình"))
    html = client.get(f"/in/{state.id}/bien-nhan").get_data(as_text=True)
    assert "&lt;b&gt;Trần&lt;/b&gt; Văn Bình" in html and "<b>Trần</b>" not in html


def test_unknown_dossier_or_form_is_404(printing, client, dossier):
    missing = client.get("/in/khong-co/bien-nhan")
    assert missing.status_code == 404
    assert "Không tìm thấy hồ sơ" in missing.get_data(as_text=True)
    assert client.get(f"/in/{dossier.id}/mau-99").status_code == 404


def test_ledger_lists_the_days_asked_in_vietnam_time(printing, client, sqlite_node, clock):
    # The fake clock starts 17/05/2026 13:40 in Vietnam (06:40 UTC).
    first = sqlite_node.create_dossier("api", sample_dossier(name="Người Thứ Nhất"))
    sqlite_node.change_status("api", first.id, "processing")
    clock.advance(11 * HOUR_MS)  # 00:40 on 18/05 in Vietnam, still 17/05 in UTC
    second = sqlite_node.create_dossier("api", sample_dossier(name="Người Thứ Hai"))
    clock.advance(2 * DAY_MS)  # 20/05
    sqlite_node.create_dossier("api", sample_dossier(name="Người Thứ Ba"))

    html = client.get("/in/so-theo-doi?tu=17/05/2026&den=18/05/2026").get_data(as_text=True)
    assert "Sổ theo dõi hồ sơ" in html and all(m in html for m in MOTTO)
    assert "Từ ngày 17/05/2026 đến ngày 18/05/2026" in html
    assert html.index("Người Thứ Nhất") < html.index("Người Thứ Hai")  # oldest first
    assert "Người Thứ Ba" not in html
    assert first.code in html and second.code in html
    assert "18/05/2026<br>00:40" in html  # the Vietnamese day, not the UTC one

    only_18 = client.get("/in/so-theo-doi?tu=2026-05-18").get_data(as_text=True)
    assert "Người Thứ Hai" in only_18 and "Người Thứ Nhất" not in only_18

    today = client.get("/in/so-theo-doi").get_data(as_text=True)  # default: today (20/05)
    assert "Người Thứ Ba" in today and "Người Thứ Hai" not in today


def test_ledger_rejects_bad_dates(printing, client):
    bad = client.get("/in/so-theo-doi?tu=31/02/2026")
    assert bad.status_code == 400 and "Ngày không hợp lệ" in bad.get_data(as_text=True)
    backwards = client.get("/in/so-theo-doi?tu=18/05/2026&den=17/05/2026")
    assert backwards.status_code == 400


def test_ledger_when_nothing_was_received(printing, client):
    html = client.get("/in/so-theo-doi?tu=01/01/2026&den=02/01/2026").get_data(as_text=True)
    assert "Không có hồ sơ nào được tiếp nhận trong khoảng ngày này." in html


# -- issue 12, point 7: paper, form sets, provisional codes, full names, ledger numbers ----------


TRICH_LUC = {"code": "2.000635"}  # a copy of a civil-status extract: 8.000 đồng in the seed catalogue
def ms(y: int, m: int, d: int, hh: int = 9) -> int:
    return int(datetime(y, m, d, hh, tzinfo=VIETNAM).timestamp() * 1000)


@pytest.fixture
def stopped(sqlite_node, clock, officers):
    """Received with a paid fee, withdrawn by the applicant, then stopped."""
    body = sample_dossier(details=DETAILS, fee={"status": "paid", "receipt_no": "BL 0042"}, officer_name="Lê Thị Hạnh",
                          procedure=TRICH_LUC)
    state = sqlite_node.create_dossier("le.hanh", body)
    for to, reason in (("processing", ""), ("withdrawal_requested", "Người nộp xin rút hồ sơ để sửa tờ khai"),
                       ("stopped", "Người nộp đã rút hồ sơ")):
        clock.advance(HOUR_MS)
        sqlite_node.change_status("pham.tu", state.id, to, reason)
    return sqlite_node.get_dossier(state.id)


def test_mau_05_2025_notice_of_stopping_states_the_withdrawal_the_stop_and_the_fee(printing, client, stopped):
    """Circular 03/2025/TT-VPCP Mẫu 05 (notice of stopping), on A5 like the other forms."""
    html = client.get(f"/in/{stopped.id}/thong-bao-dung").get_data(as_text=True)
    assert page_sizes(html) == {"A5 portrait"}
    for text in ("Mẫu số 05 (Thông tư số 03/2025/TT-VPCP)", "Người nộp đã rút hồ sơ",
                 "Người nộp xin rút hồ sơ để sửa tờ khai", "8.000 đồng (biên lai số BL 0042)",
                 "Bước giải quyết đã thực hiện: Công dân yêu cầu rút hồ sơ"):
        assert text in html, text


def test_circular_01_2018_art_10_ledger_a4_numbered_continuously_per_year(printing, client, sqlite_node, clock):
    """Circular 01/2018 art. 10(2): the ledger's numbers run through the year, not through the page."""
    # the fake clock starts 17/05/2026; three dossiers that day, one on the 18th
    ids = [sqlite_node.create_dossier("api", sample_dossier(name=f"Người {i}")).id for i in range(3)]
    clock.advance(DAY_MS)
    fourth = sqlite_node.create_dossier("api", sample_dossier(name="Người 3"))
    html = client.get("/in/so-theo-doi?tu=18/05/2026").get_data(as_text=True)
    assert page_sizes(html) == {"A4 landscape"}
    assert "Mẫu số 07 (Thông tư số 03/2025/TT-VPCP)" in html and "Sổ theo dõi hồ sơ" in html
    assert re.findall(r"<td class=\"center\" data-number>(\d+)</td>", html) == ["4"]
    assert fourth.code in html and "Người 0" not in html
    whole = client.get("/in/so-theo-doi?tu=17/05/2026&den=18/05/2026").get_data(as_text=True)
    assert re.findall(r"data-number>(\d+)<", whole) == ["1", "2", "3", "4"]
    assert len(ids) == 3
    # the numbers restart on 1 January
    sqlite_node.create_dossier("api", sample_dossier(name="Cuối năm", received_at=ms(2025, 12, 31, 16)))
    sqlite_node.create_dossier("api", sample_dossier(name="Đầu năm", received_at=ms(2026, 1, 5, 8)))
    html = client.get("/in/so-theo-doi?tu=30/12/2025&den=06/01/2026").get_data(as_text=True)
    assert re.findall(r"data-number>(\d+)<", html) == ["1", "1"]


def test_circular_01_2018_forms_for_a_dossier_received_before_july_2025(printing, client, sqlite_node, officers):
    """A dossier received before 1 July 2025 (Decree 118/2025 in force) prints on the 2018 set."""
    old = sqlite_node.create_dossier("le.hanh", sample_dossier(received_at=ms(2025, 3, 10)))
    slip = client.get(f"/in/{old.id}/kiem-soat").get_data(as_text=True)
    assert "Mẫu số 05 (Thông tư số 01/2018/TT-VPCP)" in slip
    apology = client.get(f"/in/{old.id}/xin-loi").get_data(as_text=True)
    assert "Mẫu số 04 (Thông tư số 01/2018/TT-VPCP)" in apology
    assert "<h1>Phiếu xin lỗi và hẹn lại ngày trả kết quả</h1>" in apology
    assert "Mẫu số 01 (Thông tư số 01/2018/TT-VPCP)" in client.get(f"/in/{old.id}/bien-nhan").get_data(as_text=True)
    stop = client.get(f"/in/{old.id}/thong-bao-dung").get_data(as_text=True)
    assert "data-form-no" not in stop  # the 2018 set has no numbered stop notice


def test_receipt_prints_a_provisional_code_as_provisional_then_the_legal_code(printing, client, sqlite_node):
    """Mẫu 01 prints a legal dossier code only; TAM- is a provisional number until the next sync."""
    state = sqlite_node.create_dossier("api", sample_dossier())
    assert state.code.startswith(domain.PROVISIONAL_PREFIX)
    html = client.get(f"/in/{state.id}/bien-nhan").get_data(as_text=True)
    assert f"Mã hồ sơ: {state.code}" not in html
    assert html.count(f"Số tạm: {state.code}") == 2 and "mã hồ sơ chính thức được cấp ở lần đồng bộ tới" in html
    final = "000.00.40.H40-260517-0001"
    with sqlite_node.writer.transaction():  # what the sync's code assignment records (node.leasing)
        body = {"code": final, "provisional": state.code, "block": "b1"}
        sqlite_node.writer.record_on(dossiers.row(state.id), domain.CODE_ASSIGNED, body, "api")
    html = client.get(f"/in/{state.id}/bien-nhan").get_data(as_text=True)
    assert html.count(f"Mã hồ sơ: {final}") == 2 and "Số tạm" not in html


def test_receipt_prints_the_recorded_officer_name_and_the_fee(printing, client, sqlite_node):
    """Decree 61 art. 22: the fee recorded at reception is on the receipt; the officer by full name."""
    state = sqlite_node.create_dossier("canbo.lan", sample_dossier(
        officer_name="Nguyễn Thị Thu", fee={"status": "unpaid"}, procedure=TRICH_LUC))
    html = client.get(f"/in/{state.id}/bien-nhan").get_data(as_text=True)
    assert html.count('<td data-officer>Nguyễn Thị Thu</td>') == 2 and "canbo.lan" not in html
    assert "8.000 đồng,\n      Chưa nộp" in html
    # an officer the node does not know: a blank line to sign, not the login
    state = sqlite_node.create_dossier("someone", sample_dossier())
    html = client.get(f"/in/{state.id}/bien-nhan").get_data(as_text=True)
    assert '<td data-officer><span class="blank"' in html and "someone" not in html
