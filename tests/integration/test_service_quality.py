"""Issue 12, points 9-11 at the desk and the console: fees recorded at reception (Decree 61/2018
art. 22), citizen satisfaction when the result is returned (Decree 61 art. 31; Circular
01/2018/TT-VPCP arts. 12-14), their totals per unit and period, and transfers (liên thông) to a
unit picked from the administrative-unit list."""

from __future__ import annotations

import hashlib
import re

import pytest

from node import projection
from node.domain.errors import DomainError
from node.domain.lookup import display
from node.models import DERIVED_MODELS, AttachmentRow, DossierServiceRow
from sync.wire import canonical_json
from tests.factories import sample_dossier
from tests.integration.web_helpers import add, cheap_hashing, login, make_node, token_of

TRICH_LUC = "ho-tich.ban-sao-trich-luc"  # 8.000 đồng in the seed catalogue


@pytest.fixture
def desk(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "head", clock(), "Nguyễn Thị Lan")
    c = app.test_client()
    login(c, "lan")
    return c


def _to_returned(node, dossier_id):
    for to in ("processing", "resolved", "returned"):
        node.change_status("lan", dossier_id, to, "")


def test_decree_61_art_22_desk_records_the_fee_at_reception_with_its_receipt(desk, sqlite_node):
    r = desk.get(f"/mot-cua/tiep-nhan/thanh-phan?thu_tuc={TRICH_LUC}")
    picked = re.findall(r'name="component" value="(\d+)" checked', r.text)
    form = {"csrf_token": token_of(desk, "/mot-cua/"), "thu_tuc": TRICH_LUC, "component": picked, "sets": "1",
            "name": "Trần Văn Bình", "id_number": "040090001234"}
    review = desk.post("/mot-cua/tiep-nhan/xac-nhan", data=form)
    assert "data-fee" in review.text and "8.000" in review.text
    for bad in ({}, {"fee_status": "paid"}, {"fee_status": "unpaid", "fee_receipt": "BL 1"}):
        assert desk.post("/mot-cua/tiep-nhan/luu", data={**form, **bad}).status_code == 422, bad
    assert sqlite_node.list_dossiers()[1] == 0
    saved = desk.post("/mot-cua/tiep-nhan/luu", data={**form, "fee_status": "paid", "fee_receipt": "BL 0007"})
    assert saved.status_code == 302
    (d,), _ = sqlite_node.list_dossiers()
    state = sqlite_node.get_dossier(d["id"])
    assert (state.fee_status, state.fee_amount_vnd, state.fee_receipt) == ("paid", 8000, "BL 0007")
    reception = sqlite_node.timeline(d["id"])[0]["body"]
    assert reception["fee"] == {"status": "paid", "amount_vnd": 8000, "receipt_no": "BL 0007"}
    assert reception["officer_name"] == "Nguyễn Thị Lan"  # signed with the reception: the forms print it
    # a fee left unpaid at reception is paid later, from the dossier page
    state = sqlite_node.create_dossier("lan", sample_dossier(procedure={"code": "2.000635"}, fee={"status": "unpaid"}))
    path = f"/mot-cua/ho-so/{state.id}"
    page = desk.get(path).text
    assert 'data-fee-status="unpaid"' in page and "data-fee-paid" in page
    r = desk.post(f"{path}/phi", data={"csrf_token": token_of(desk, path), "fee_receipt": "BL 0099",
                                       "idempotency_key": "k" * 32})
    assert r.status_code == 302
    after = sqlite_node.get_dossier(state.id)
    assert (after.fee_status, after.fee_amount_vnd, after.fee_receipt) == ("paid", 8000, "BL 0099")
    assert 'data-fee-status="paid"' in desk.get(path).text


def test_circular_01_2018_art_12_desk_tablet_rating_once_when_returned(desk, sqlite_node):
    state = sqlite_node.create_dossier("lan", sample_dossier())
    path = f"/mot-cua/ho-so/{state.id}/danh-gia"
    assert "data-not-returned" in desk.get(path).text
    _to_returned(sqlite_node, state.id)
    assert "data-desk-rating" in desk.get(f"/mot-cua/ho-so/{state.id}").text
    page = desk.get(path)
    assert "data-rating-form" in page.text and "Rất hài lòng" in page.text
    r = desk.post(path, data={"csrf_token": token_of(desk, path), "level": "very_satisfied"})
    assert r.status_code == 200 and "data-rated" in r.text
    again = desk.post(path, data={"csrf_token": token_of(desk, path), "level": "not_satisfied"})
    assert again.status_code == 422
    after = sqlite_node.get_dossier(state.id)
    assert (after.rating, after.rating_channel) == ("very_satisfied", "desk")
    rated = [e for e in sqlite_node.timeline(state.id) if e["type"] == "dossier.rated"]
    assert len(rated) == 1 and rated[0]["author"] == "cong-dan"  # a signed event like every change


def test_decree_61_art_31_public_page_behind_the_qr_rates_with_the_receipt_codes(app, sqlite_node):
    state = sqlite_node.create_dossier("lan", sample_dossier())
    check = display(sqlite_node.lookup_check(state.id))
    c = app.test_client()
    url = f"/danh-gia?ma={state.code}&kiem_tra={check}"
    assert "data-not-returned" in c.get(url).text
    assert c.get(f"/danh-gia?ma={state.code}&kiem_tra=ZZZZZZ").status_code == 404
    _to_returned(sqlite_node, state.id)
    page = c.get(url)
    assert "data-rating-form" in page.text and state.applicant_name not in page.text  # nothing personal
    odd = c.post("/danh-gia", data={"csrf_token": token_of(c, url), "ma": state.code, "kiem_tra": check,
                                    "level": "5 sao", "comment": "x" * 5000})
    assert odd.status_code == 422 and sqlite_node.get_dossier(state.id).rating == ""  # refused, nothing written
    r = c.post("/danh-gia", data={"csrf_token": token_of(c, url), "ma": state.code, "kiem_tra": check,
                                  "level": "satisfied", "comment": "Nhanh"})
    assert r.status_code == 200 and "data-rated" in r.text
    assert "data-already-rated" in c.get(url).text
    after = sqlite_node.get_dossier(state.id)
    assert (after.rating, after.rating_channel, after.rating_comment) == ("satisfied", "qr", "Nhanh")
    with pytest.raises(DomainError):
        sqlite_node.rate_dossier("cong-dan", state.id, {"level": "satisfied"})


def test_decree_61_arts_22_31_statistics_page_totals_fees_and_ratings_per_unit(tmp_path, clock, monkeypatch):
    from node.app import create_app

    cheap_hashing(monkeypatch)
    hub = make_node(tmp_path, clock, role="district", unit="40", name="hub")
    try:
        fees = ({"status": "paid", "receipt_no": "BL 1"}, {"status": "paid", "receipt_no": "BL 2"},
                {"status": "unpaid"}, {"status": "exempt"})
        ids = [hub.create_dossier("an", sample_dossier(procedure={"code": "2.000635"}, fee=f)).id for f in fees]
        hub.create_dossier("an", sample_dossier())  # no fee recorded: counts in no fee total
        for i, level in ((0, "very_satisfied"), (1, "not_satisfied")):
            _to_returned(hub, ids[i])
            hub.rate_dossier("cong-dan", ids[i], {"level": level, "channel": "desk"})
        add("quantri", "district_admin", clock())
        c = create_app(hub.settings, node=hub).test_client()
        login(c, "quantri")
        page = c.get("/quan-tri/thong-ke").text
        fee_table = page[page.index("data-fee-totals"):page.index("data-ratings")]
        cells = re.findall(r'<td class="num"[^>]*>([^<]*)</td>', fee_table)
        assert cells == ["2", "1", "1", "16.000", "8.000"]
        rating_table = page[page.index("data-ratings"):]
        assert re.findall(r'<td class="num">([^<]*)</td>', rating_table)[:5] == ["1", "0", "1", "2", "50.0"]
    finally:
        hub.close()


def test_digest_of_older_events_is_unchanged_by_the_fee_and_rating_table(sqlite_node):
    """A node holding only events from before fees, ratings and attached files digests as it did
    before their tables."""
    d = sqlite_node.create_dossier("lan", sample_dossier())
    sqlite_node.change_status("lan", d.id, "processing")
    old = hashlib.sha256()
    for model in DERIVED_MODELS:
        if model in (DossierServiceRow, AttachmentRow):
            continue  # what the digest was before these tables existed (issues 12 and 17)
        old.update(model._meta.table_name.encode() + b"\x00")
        for row in model.select().order_by(model._meta.primary_key).dicts().iterator():
            old.update(canonical_json(row) + b"\n")
    assert projection.derived_digest() == old.hexdigest()


def test_transfer_picks_the_receiving_unit_from_the_list_never_free_text(desk, sqlite_node):
    """Issue 12.11: liên thông goes to a unit of the administrative-unit list (node.units)."""
    state = sqlite_node.create_dossier("lan", sample_dossier())
    sqlite_node.change_status("lan", state.id, "processing")
    page = desk.get(f"/mot-cua/ho-so/{state.id}").text
    picker = page[page.index("data-transfer-units"):]
    picker = picker[:picker.index("</select>")]
    assert '<option value="17329">' in picker and '<option value="40">' in picker
    assert 'name="target_office" type="text"' not in page
    for bad in ("Xã bên cạnh", "17275", "9999"):  # free text, and codes the list does not hold
        with pytest.raises(DomainError):
            sqlite_node.change_status("lan", state.id, "processing", "liên thông", target_office=bad)
    moved = sqlite_node.change_status("lan", state.id, "processing", "liên thông", target_office="17329")
    assert moved.owner == "17329"


def test_registrations_fees_and_ratings_sync_from_the_laptop_to_the_commune(tmp_path, clock):
    """Signed events like every other change: the commune folds what the laptop recorded."""
    from node.id_cards import registrations
    from tests.multinode import carry, make_node, use

    laptop = make_node(tmp_path, "laptop", clock, role="mobile")
    commune = make_node(tmp_path, "commune", clock)
    try:
        use(laptop)
        laptop.register_id_card("an", {"procedure": "can-cuoc.cap-the-can-cuoc-luu-dong", "name": "Hà Thị Mai",
                                       "id_number": "040195004567", "birth_date": "12/03/1995", "request": "cap_moi",
                                       "session_date": "20/05/2026"}, 14)
        d = laptop.create_dossier("an", sample_dossier(procedure={"code": "2.000635"}, fee={"status": "exempt"}))
        _to_returned(laptop, d.id)
        laptop.rate_dossier("cong-dan", d.id, {"level": "satisfied", "channel": "desk"})
        assert carry(laptop, commune) >= 6
        use(commune)
        assert [r.name for r in registrations()] == ["Hà Thị Mai"]
        row = DossierServiceRow.get(DossierServiceRow.dossier_id == d.id)
        assert (row.fee_status, row.rating, row.rating_channel) == ("exempt", "satisfied", "desk")
        before = commune.digest()
        commune.rebuild()
        assert commune.digest() == before
    finally:
        laptop.close()
        commune.close()


def test_api_reception_records_the_fee_and_the_accounts_own_full_name(client, sqlite_node):
    """Decree 61 art. 22 through the API; the officer's name comes from the account, not the body."""
    body = sample_dossier(procedure={"code": "2.000635"}, fee={"status": "paid", "receipt_no": "BL 5"},
                          officer_name="Người Khác")
    r = client.post("/api/v1/dossiers", json=body)
    assert r.status_code == 201, r.json
    reception = sqlite_node.timeline(r.json["id"])[0]["body"]
    assert reception["officer_name"] == "Cán bộ Thử" and reception["fee"]["amount_vnd"] == 8000
    bad = client.post("/api/v1/dossiers", json={**body, "fee": {"status": "paid"}})
    assert bad.status_code == 422 and bad.json["error"]["field"] == "fee.receipt_no"
