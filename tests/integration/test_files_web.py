"""Attached files through the desk pages and the JSON API: upload, thumbnail, viewer, refusals."""

from __future__ import annotations

import io

import pytest

from tests.factories import sample_dossier
from tests.files_helpers import random_bytes_pdf, scan_jpeg
from tests.integration.web_helpers import add, cheap_hashing, login, token_of


@pytest.fixture
def desk(app, clock, monkeypatch):
    cheap_hashing(monkeypatch)
    add("lan", "clerk", clock(), "Nguyễn Thị Lan")
    c = app.test_client()
    login(c, "lan")
    return c


def _form(client, **extra):
    return {"csrf_token": token_of(client, "/mot-cua/"), **extra}


def test_a_scan_attached_on_the_dossier_page_shows_its_thumbnail_and_opens_as_pdf(desk, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    data = _form(desk, component="Tờ khai", file=[(io.BytesIO(scan_jpeg()), "trang1.jpg"),
                                                   (io.BytesIO(scan_jpeg(seed=3)), "trang2.jpg")])
    r = desk.post(f"/mot-cua/ho-so/{d.id}/tep", data=data, content_type="multipart/form-data",
                  follow_redirects=True)
    assert r.status_code == 200 and "Đã đính kèm trang1.jpg" in r.text
    assert 'data-state="complete"' in r.text and "data-thumb" in r.text and "Đính kèm tệp" in r.text
    a = sqlite_node_listing(sqlite_node, d.id)[0]
    thumb = desk.get(f"/mot-cua/tep/{a['thumb_hash']}/anh-nho")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    pdf = desk.get(f"/mot-cua/tep/{a['file_hash']}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF-")


def sqlite_node_listing(node, dossier_id):
    from node import files

    return files.listing(node, dossier_id)


def test_a_corrupt_upload_is_refused_with_a_message_and_nothing_attached(desk, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    data = _form(desk, file=[(io.BytesIO(b"\xff\xd8\xff\xe0 broken jpeg"), "scan.jpg")])
    r = desk.post(f"/mot-cua/ho-so/{d.id}/tep", data=data, content_type="multipart/form-data",
                  follow_redirects=True)
    assert "Tệp không phải ảnh JPEG/PNG hay tệp PDF đọc được" in r.text and "data-attachment=" not in r.text


def test_the_electronic_result_rides_on_the_resolution(desk, sqlite_node):
    d = sqlite_node.create_dossier("t", sample_dossier())
    sqlite_node.change_status("t", d.id, "processing")
    data = _form(desk, to="resolved", confirm="1", result_file=[(io.BytesIO(random_bytes_pdf(5000)), "kq.pdf")])
    r = desk.post(f"/mot-cua/ho-so/{d.id}/trang-thai", data=data, content_type="multipart/form-data",
                  follow_redirects=True)
    assert "Đã đính kèm kết quả điện tử" in r.text
    assert [a["kind"] for a in sqlite_node_listing(sqlite_node, d.id)] == ["result"]


def test_the_api_attaches_lists_reads_and_refuses_in_its_error_shape(client, sqlite_node, monkeypatch):
    from node import files

    d = sqlite_node.create_dossier("t", sample_dossier())
    monkeypatch.setattr(files, "max_bytes", lambda node: 200_000)  # bodies under the test client's 500 KB spool
    big = client.post(f"/api/v1/dossiers/{d.id}/files", content_type="multipart/form-data",
                      data={"file": (io.BytesIO(random_bytes_pdf(300_000)), "to.pdf")})
    assert big.status_code == 422 and big.json["error"]["code"] == "invalid_input"
    assert "file too large" in big.json["error"]["message"]
    ok = client.post(f"/api/v1/dossiers/{d.id}/files", content_type="multipart/form-data",
                     data={"file": (io.BytesIO(random_bytes_pdf(100_000)), "nho.pdf"), "component": "Đơn"})
    assert ok.status_code == 201 and ok.json["state"] == "complete"
    items = client.get(f"/api/v1/dossiers/{d.id}/files").json["items"]
    assert [i["name"] for i in items] == ["nho.pdf"]
    assert client.get(f"/api/v1/files/{items[0]['file_hash']}").data == random_bytes_pdf(100_000)
    assert client.get(f"/api/v1/files/{'0' * 64}").json["error"]["code"] == "not_found"
    assert client.get("/api/v1/dossiers/nope/files").status_code == 404
    assert client.post("/api/v1/dossiers/nope/files", data={}).status_code == 404


def test_the_sync_status_counts_files_pending(sqlite_node):
    from node import files

    d = sqlite_node.create_dossier("t", sample_dossier())
    files.attach(sqlite_node, "t", d.id, [random_bytes_pdf(50_000)])
    status = sqlite_node.sync_status()["files"]
    assert status == {"files_up": 0, "bytes_up": 0, "files_down": 0, "bytes_down": 0}  # no parent met yet
    assert files.pending(sqlite_node, "a" * 32) == {"files_up": 1, "bytes_up": 50_000, "files_down": 0,
                                                    "bytes_down": 0}


def test_asking_for_a_file_on_demand_goes_back_to_its_dossier(desk, sqlite_node):
    from node import files
    from node.filerows import FileStateRow

    d = sqlite_node.create_dossier("t", sample_dossier())
    a = files.attach(sqlite_node, "t", d.id, [random_bytes_pdf(3000)])
    r = desk.post(f"/mot-cua/tep/{a['file_hash']}/tai-ve", data=_form(desk),
                  headers={"Referer": "https://elsewhere.example/"})
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/mot-cua/ho-so/{d.id}#tep")
    assert FileStateRow.get(FileStateRow.file_hash == a["file_hash"]).wanted
    r = desk.post(f"/mot-cua/tep/{'0' * 64}/tai-ve", data=_form(desk))
    assert r.status_code == 302 and r.headers["Location"].endswith("/mot-cua/")
    assert desk.get(f"/mot-cua/tep/{'0' * 64}").status_code == 404
    assert desk.get("/mot-cua/tep/khong-phai-ma-bam").status_code == 404
