"""The web UI's pages through the Flask test client: the desk's receive flow and dossier page,
search, the field intake, "sync now", the district console, the public lookup, and the
translations (Vietnamese by default with diacritics, English complete)."""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path

import pytest
from jinja2 import Environment

from node.models import AccessLogRow
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, make_node, token_of

ROOT = Path(__file__).resolve().parents[2]
DAY = 24 * 3600 * 1000


@pytest.fixture
def client(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock(), "Nguyễn Thị Lan")
    add("an", "mobile", clock(), "Phạm Văn An")
    c = app.test_client()
    login(c, "lan")
    return c


def receive(client, **applicant) -> str:
    """Walk the desk's receive flow; return the new dossier's page path."""
    r = client.get("/mot-cua/tiep-nhan/thanh-phan?thu_tuc=ho-tich.khai-sinh")
    token = token_of(client, "/mot-cua/")
    picked = re.findall(r'name="component" value="(\d+)" checked', r.text)
    form = {"csrf_token": token, "thu_tuc": "ho-tich.khai-sinh", "component": picked, "sets": "1",
            "name": "Trần Văn Bình", "id_number": "040090001234", "phone": "0912345678", "address": "Xóm 3",
            **applicant}
    assert client.post("/mot-cua/tiep-nhan/nguoi-nop", data=form).status_code == 200
    review = client.post("/mot-cua/tiep-nhan/xac-nhan", data=form)
    assert review.status_code == 200 and "data-due" in review.text
    saved = client.post("/mot-cua/tiep-nhan/luu", data=form)
    assert saved.status_code == 302
    return saved.headers["Location"]


def test_receive_flow_creates_the_dossier_with_appointment_and_documents(client, sqlite_node, clock):
    path = receive(client)
    page = client.get(path)
    assert page.status_code == 200 and "In giấy biên nhận (Mẫu 01)" in page.text
    (d,), _total = sqlite_node.list_dossiers()
    assert d["applicant_name"] == "Trần Văn Bình" and d["channel"] == "desk" and d["due_at"] > clock()
    created = sqlite_node.timeline(d["id"])[0]
    assert created["author"] == "lan"  # the personal account, not a desk name
    assert [c["name"] for c in created["body"]["details"]["components"]]
    assert f"/in/{d['id']}/bien-nhan" in page.text and 'data-verified="1"' in page.text
    receipt = client.get(f"/in/{d['id']}/bien-nhan")
    assert receipt.status_code == 200 and d["code"] in receipt.text


def test_receive_flow_checks_the_id_number_and_required_documents(client):
    token = token_of(client, "/mot-cua/")
    base = {"csrf_token": token, "thu_tuc": "ho-tich.khai-sinh", "sets": "1", "name": "Lê C"}
    missing = client.post("/mot-cua/tiep-nhan/nguoi-nop", data={**base, "component": []})
    assert missing.status_code == 422 and "Thiếu thành phần bắt buộc" in missing.text
    r = client.get("/mot-cua/tiep-nhan/thanh-phan?thu_tuc=ho-tich.khai-sinh")
    picked = re.findall(r'name="component" value="(\d+)" checked', r.text)
    for bad, message in (("04009000123", "phải gồm đúng 12 chữ số"), ("0400900012a4", "chỉ gồm chữ số"),
                         ("999090001234", "Ba số đầu không phải")):
        r = client.post("/mot-cua/tiep-nhan/xac-nhan", data={**base, "component": picked, "id_number": bad})
        assert r.status_code == 422 and message in r.text, bad
    ok = client.post("/mot-cua/tiep-nhan/xac-nhan", data={**base, "component": picked, "id_number": "040196001234"})
    assert "năm sinh 1996" in ok.text and "Nghệ An" in ok.text


def test_dossier_page_offers_the_allowed_transitions_and_records_one(client, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    page = client.get(f"/mot-cua/ho-so/{d.id}")
    options = re.findall(r'<option value="([a-z_]+)"', page.text)
    assert set(options) == {"processing", "supplement_requested", "withdrawal_requested", "refused"}
    client.post(f"/mot-cua/ho-so/{d.id}/trang-thai",
                data={"to": "returned", "csrf_token": token_of(client, "/mot-cua/")})
    assert sqlite_node.get_dossier(d.id).status == "received"  # refused by the domain, said on the page
    form = {"to": "processing", "reason": "Chuyển chuyên môn", "csrf_token": token_of(client, "/mot-cua/")}
    r = client.post(f"/mot-cua/ho-so/{d.id}/trang-thai", follow_redirects=True, data=form)
    assert "Đã chuyển hồ sơ sang trạng thái" in r.text and "Chuyển chuyên môn" in r.text
    assert sqlite_node.get_dossier(d.id).status == "processing"


def test_search_by_folded_name_code_and_id_number(client, sqlite_node, clock):
    a = sqlite_node.create_dossier("t", sample_dossier(name="Nguyễn Thị Ánh", id_number="040190000001"))
    clock.advance(1000)
    sqlite_node.create_dossier("t", sample_dossier(name="Đỗ Văn Đạt", id_number="040190000002"))
    for q, expect in (("nguyen thi anh", [a.code]), ("ANH", [a.code]), ("do van dat", None), ("040190000001", [a.code]),
                      (a.code.lower(), [a.code]), (a.code[:-1], None), ("khong ai", [])):
        r = client.get("/mot-cua/tim-kiem", query_string={"q": q})
        codes = re.findall(r'/mot-cua/ho-so/[^"]+">([^<]+)</a>', r.text)
        if expect is None:
            assert codes, q
        else:
            assert codes == expect, q


def test_dashboard_counts_today_due_soon_overdue_and_unsynced(client, sqlite_node, clock):
    late = sqlite_node.create_dossier("t", sample_dossier(due_at=clock() + DAY))
    clock.advance(2 * DAY)
    soon = sqlite_node.create_dossier("t", sample_dossier(name="Lê Văn Sớm", due_at=clock() + DAY))
    login(client, "lan")  # two days later: a new session
    page = client.get("/mot-cua/")
    counts = dict(re.findall(r'data-count="(\w+)">(\d+)', page.text))
    assert counts == {"today": "1", "soon": "1", "overdue": "1", "pending": "2"}  # never synced: both events
    assert late.code in page.text and soon.code in page.text


def test_mobile_fast_intake_one_screen_at_a_time(app, clock, sqlite_node, monkeypatch):
    cheap_hashing(monkeypatch)
    add("an", "mobile", clock())
    c = app.test_client()
    login(c, "an")
    token = token_of(c, "/luu-dong/")
    form = {"csrf_token": token, "step": "0", "thu_tuc": "ho-tich.khai-sinh-luu-dong", "name": "Vàng A Dế"}
    r = c.post("/luu-dong/tiep-nhan", data=form)
    assert r.status_code == 200 and 'id="f-id_number"' in r.text and 'id="f-name"' not in r.text
    bad = c.post("/luu-dong/tiep-nhan", data={**form, "step": "1", "id_number": "123"})
    assert bad.status_code == 422 and "12 chữ số" in bad.text
    form.update(step="1", id_number="011089004321")
    assert 'id="f-address"' in c.post("/luu-dong/tiep-nhan", data=form).text
    form.update(step="2", address="Bản Na Lạn")
    assert 'name="component"' in c.post("/luu-dong/tiep-nhan", data=form).text
    form.update(step="3", component=["0", "1", "2"], sets="1")
    review = c.post("/luu-dong/tiep-nhan", data=form)
    assert "data-due" in review.text and "Lưu hồ sơ" in review.text
    saved = c.post("/luu-dong/tiep-nhan", data={**form, "step": "4"})
    assert saved.status_code == 302
    (d,), _ = sqlite_node.list_dossiers()
    assert d["channel"] == "mobile" and d["applicant_name"] == "Vàng A Dế" and d["address"] == "Bản Na Lạn"
    assert "Vàng A Dế" in c.get("/luu-dong/").text  # today's applicants


def test_id_card_application_is_a_police_pre_registration_without_biometrics(client, sqlite_node):
    """Issue 12.8: no commune dossier, code or receipt; a list and an appointment for the police."""
    page = client.get("/luu-dong/can-cuoc")
    assert "không thu sinh trắc học" in page.text
    assert not re.search(r'name="(fingerprint|iris|photo)', page.text)
    form = {"csrf_token": token_of(client, "/luu-dong/"), "request": "cap_doi", "name": "Hà Thị Mai",
            "id_number": "040195004567", "birth_date": "12/03/1995", "session_date": "20/05/2026", "slot": "08:30"}
    r = client.post("/luu-dong/can-cuoc", data=form)
    assert r.status_code == 302 and "/luu-dong/can-cuoc/danh-sach?ngay=20/05/2026" in r.headers["Location"]
    assert sqlite_node.list_dossiers()[1] == 0  # no dossier, so no dossier code and no receipt
    listing = client.get("/luu-dong/can-cuoc/danh-sach?ngay=20/05/2026").text
    assert "Hà Thị Mai" in listing and "040195004567" in listing and "12/03/1995" in listing
    export = client.get("/luu-dong/can-cuoc/danh-sach.csv?ngay=20/05/2026")
    assert export.mimetype == "text/csv" and export.text.startswith("\ufeffSTT,Họ và tên,Số định danh cá nhân")
    assert "Hà Thị Mai,040195004567,12/03/1995,Nữ" in export.text and ",Cấp đổi,20/05/2026,08:30," in export.text
    assert client.get("/luu-dong/can-cuoc/danh-sach.csv?ngay=21/05/2026").text.count("\n") == 1  # header only


def test_id_card_registration_dates_are_refused_with_the_reason(client, sqlite_node):
    """Issue 12.8 (Luật Căn cước 2023): real dates, the birth year the ID number encodes, a future session."""
    form = {"csrf_token": token_of(client, "/luu-dong/"), "request": "cap_moi", "name": "Hà Thị Mai",
            "id_number": "040195004567", "birth_date": "12/03/1995", "session_date": "20/05/2026"}
    for field, value, message in (("birth_date", "31/02/1995", "Ngày không có thật"),
                                  ("birth_date", "12/03/1996", "Năm sinh không khớp"),
                                  ("session_date", "16/05/2026", "Ngày hẹn đã qua")):
        r = client.post("/luu-dong/can-cuoc", data={**form, field: value})
        assert r.status_code == 422 and message in r.text, field


def test_sync_now_lists_only_known_peers_and_reports_a_failed_link(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    laptop = make_node(tmp_path, clock, role="mobile", unit="17272", name="laptop")
    parent = "http://127.0.0.1:9"  # discard port: nothing answers
    from tests.factories import make_settings

    laptop.settings = make_settings(tmp_path / "laptop", role="mobile", PARENT_URL=parent)
    app = create_app(laptop.settings, node=laptop)
    add("an", "mobile", clock())
    c = app.test_client()
    login(c, "an")
    page = c.get("/luu-dong/dong-bo")
    assert parent in page.text
    token = token_of(c, "/luu-dong/dong-bo")
    assert c.post("/luu-dong/dong-bo", data={"csrf_token": token, "peer": "5"}).status_code == 302  # no such peer
    assert c.post("/luu-dong/dong-bo", data={"csrf_token": token, "peer": "0"}).status_code == 302
    app.extensions["motcua.web_sync"].wait()
    progress = c.get("/luu-dong/dong-bo/tien-do").get_json()
    assert progress["running"] is False and progress["outcome"] == "failed" and progress["url"] == parent
    failed = c.get("/luu-dong/dong-bo").text
    assert 'data-sync-outcome="failed"' in failed
    # in plain words (issue 13.5); the raw exception only folded away under "technical details"
    assert 'data-sync-error="transport"' in failed and "dữ liệu vẫn được lưu trên máy này" in failed
    plain = failed.split("data-sync-error")[1].split("</p>")[0]
    assert "Error" not in plain and "Exception" not in plain
    laptop.close()


@pytest.fixture
def hub(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    node = make_node(tmp_path, clock, role="district", unit="40", name="hub")
    app = create_app(node.settings, node=node)
    add("quantri", "district_admin", clock())
    for i, outcome in enumerate(("ok", "failed", "ok")):
        node.store.open_session(f"s{i}", "server", f"{i:032x}", f"Xã {i}", clock() + i)
        node.store.add_to_session(f"s{i}", "server", now=clock() + i + 50, events_in=3, outcome=outcome,
                                  error_code="" if outcome == "ok" else "gap")
    c = app.test_client()
    login(c, "quantri")
    yield node, c
    node.close()


def test_district_sync_log_filters_and_session_detail(hub):
    _node, c = hub
    all_rows = c.get("/quan-tri/dong-bo").text
    assert all_rows.count("data-session=") == 3
    failed = c.get("/quan-tri/dong-bo?ket_qua=failed").text
    assert re.findall(r'data-session="(\w+)"', failed) == ["s1"]
    one = c.get(f"/quan-tri/dong-bo?may={2:032x}").text
    assert re.findall(r'data-session="(\w+)"', one) == ["s2"]
    assert c.get("/quan-tri/dong-bo?tu=01/01/2000&den=02/01/2000").text.count("data-session=") == 0
    bad = c.get("/quan-tri/dong-bo?tu=31/02/2026").text  # issue 13.5: said, not silently ignored
    assert "Ngày “31/02/2026” (ô “Từ ngày”) không hợp lệ" in bad and bad.count("data-session=") == 3
    assert "không hợp lệ" in c.get("/quan-tri/thong-ke?den=hôm qua").text
    row_id = re.search(r'/quan-tri/dong-bo/(\d+)"', failed).group(1)
    detail = c.get(f"/quan-tri/dong-bo/{row_id}")
    assert detail.status_code == 200 and "gap" in detail.text and 'data-outcome="failed"' in detail.text
    assert c.get("/quan-tri/dong-bo/999999").status_code == 404


def test_district_statistics_chart_and_exports(hub, clock):
    node, c = hub
    node.create_dossier("t", sample_dossier(due_at=clock() + DAY))
    page = c.get("/quan-tri/thong-ke")
    assert "<svg" in page.text and 'class="chart"' in page.text and "<script" not in page.text.split("<main>")[1]
    csv = c.get("/quan-tri/thong-ke?dinh_dang=csv")
    assert csv.data.startswith("\ufeff".encode()) and "Tiếp nhận" in csv.data.decode("utf-8-sig")
    assert "\r\n40,test district 40,1,0,0,1,0,0\r\n" in csv.data.decode("utf-8-sig")
    xlsx = c.get("/quan-tri/thong-ke?dinh_dang=xlsx")
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.data)).active
    assert [cell.value for cell in sheet[3]] == ["40", "test district 40", 1, 0, 0, 1, 0, 0]


def test_district_late_dossiers_and_conflict_queue(hub, clock):
    node, c = hub
    late = node.create_dossier("t", sample_dossier(due_at=clock() + DAY))
    clock.advance(3 * DAY)
    login(c, "quantri")
    page = c.get("/quan-tri/tre-han")
    assert late.code in page.text and 'data-late="40">1<' in page.text
    assert "Không có xung đột" in c.get("/quan-tri/xung-dot").text
    assert c.get("/quan-tri/xung-dot/nope").status_code == 404
    assert "data-node" in c.get("/quan-tri/may").text


def test_public_lookup_shows_only_what_the_receipt_shows(app, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier(name="Nguyễn Văn Riêng", id_number="040090009999"))
    check = sqlite_node.lookup_check(d.id)
    r = app.test_client().get("/tra-cuu", query_string={"ma": d.code.lower(), "kiem_tra": check.lower()})
    assert r.status_code == 200 and d.code in r.text and "Được tiếp nhận" in r.text
    for private in ("Nguyễn Văn Riêng", "040090009999", "0912345678", "Xóm 3"):
        assert private not in r.text
    assert app.test_client().get("/tra-cuu?ma=KHONG-CO-1").status_code == 404
    assert AccessLogRow.select().count() == 0  # nothing personal was read


def test_vietnamese_by_default_english_on_request(client):
    vi = client.get("/mot-cua/")
    assert '<html lang="vi">' in vi.text and "Tiếp nhận hôm nay" in vi.text and "Đăng xuất" in vi.text
    client.get("/ngon-ngu/en")
    en = client.get("/mot-cua/")
    assert '<html lang="en">' in en.text and "Received today" in en.text and "Sign out" in en.text
    assert client.get("/ngon-ngu/xx").status_code == 404
    assert client.get("/ngon-ngu/en?next=https://example.org/").headers["Location"] == "/"


def _messages() -> set[str]:
    env = Environment(extensions=["jinja2.ext.i18n"])
    found: set[str] = set()
    for path in (ROOT / "web" / "templates").rglob("*.html"):
        if "print" in path.parts:
            continue  # printed forms are Vietnamese legal documents, never translated
        for _line, _func, message in env.extract_translations(path.read_text(encoding="utf-8")):
            if isinstance(message, str):
                found.add(message)
            elif message:  # ngettext: a tuple; a dynamic _(label) gives None (its values are listed elsewhere)
                found.update(m for m in message if isinstance(m, str))
    for path in [*(ROOT / "web").glob("*.py"), *(ROOT / "node" / "cli").glob("*.py")]:  # the CLI shares it
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("_", "N_")
                    and node.args and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
    from web.labels import translatable

    return found | set(translatable())


def test_english_catalogue_is_complete_and_has_no_stale_entries():
    from web.i18n import catalogue as english

    english.cache_clear()
    catalogue = dict(english("en"))
    assert all(catalogue.values()), [vi for vi, en in catalogue.items() if not en]  # every entry translated
    messages = _messages()
    assert len(messages) > 200
    assert sorted(messages - set(catalogue)) == []
    assert sorted(set(catalogue) - messages) == []
    for vi, en in catalogue.items():
        assert re.findall(r"%\(\w+\)s", vi) == re.findall(r"%\(\w+\)s", en), vi
    # the Vietnamese source text carries its diacritics (no "Tiep nhan ho so" placeholders)
    assert sum(1 for m in messages if re.search(r"[À-ỹ]", m)) > 0.9 * len(messages)


def test_sync_now_lists_lan_peers_of_this_unit_only(client, app, monkeypatch):
    from sync.discovery import ServiceRecord
    from web import mobile

    heard = [ServiceRecord("a" * 32, "commune", "17272", "UBND xã Tân Phú", "127.0.0.1", 8751),
             ServiceRecord("b" * 32, "commune", "99999", "Xã khác", "127.0.0.2", 8751),
             ServiceRecord("c" * 32, "district", "40", "Trung tâm", "127.0.0.3", 8750)]
    monkeypatch.setattr(mobile, "_discover", lambda seconds: heard)
    r = client.post("/luu-dong/dong-bo/tim-may", data={"csrf_token": token_of(client, "/luu-dong/dong-bo")})
    assert r.status_code == 302
    page = client.get("/luu-dong/dong-bo").text
    assert "UBND xã Tân Phú" in page and "http://127.0.0.1:8751" in page and "Trung tâm" in page
    assert "Xã khác" not in page  # another commune's node is never offered
