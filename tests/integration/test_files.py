"""Attached files on one node: normalising, content checks, size cap, dedup, at rest, rebuild."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from node import files, projection
from node.domain.attachment import ATTACHED, CHUNK_SIZE
from node.domain.errors import DomainError
from node.models import AttachmentRow
from tests.factories import sample_dossier
from tests.files_helpers import random_bytes_pdf, scan_jpeg


@pytest.fixture
def dossier(sqlite_node):
    return sqlite_node.create_dossier("cán bộ", sample_dossier())


def test_a_scan_becomes_one_pdf_with_its_chunks_in_the_signed_event(sqlite_node, dossier):
    pages = [scan_jpeg(1700, 1200, seed=1, orientation=6), scan_jpeg(seed=2)]  # a phone held sideways
    a = files.attach(sqlite_node, "cán bộ", dossier.id, pages, name="don.pdf", component="Đơn đề nghị")
    assert a["state"] == "complete" and a["pages"] == 2 and a["media_type"] == "application/pdf"
    data, media = files.read(sqlite_node, a["file_hash"])
    assert data.startswith(b"%PDF-") and media == "application/pdf"
    event = next(e for e in sqlite_node.timeline(dossier.id) if e["type"] == ATTACHED)
    assert event["body"]["file"]["hash"] == a["file_hash"]
    assert len(event["body"]["file"]["chunks"]) == -(-len(data) // CHUNK_SIZE)
    thumb, _ = files.read(sqlite_node, a["thumb_hash"])
    with Image.open(io.BytesIO(thumb)) as t:
        assert t.height > t.width  # EXIF orientation 6 applied: the first page stands up
    assert files.listing(sqlite_node, dossier.id)[0]["file_hash"] == a["file_hash"]


def test_a_large_photo_is_downscaled_and_can_be_grayscale(sqlite_node, dossier):
    a = files.attach(sqlite_node, "cán bộ", dossier.id, [scan_jpeg(2600, 3600, noise=5000)], grayscale=True)
    assert a["size"] < a["original_size"]
    thumb, _ = files.read(sqlite_node, a["thumb_hash"])
    with Image.open(io.BytesIO(thumb)) as t:
        assert t.mode == "L"


@pytest.mark.parametrize("content", [b"GIF89a not an image", scan_jpeg()[:3000], b"%PDF-1.4 no end", b"MZ\x90\x00"])
def test_unknown_or_corrupt_files_are_refused_by_content(sqlite_node, dossier, content):
    with pytest.raises(DomainError, match=r"not a readable|not accepted|PDF"):
        files.attach(sqlite_node, "cán bộ", dossier.id, [content], name="scan.jpg")
    assert AttachmentRow.select().count() == 0


def test_the_size_cap_says_both_sizes(sqlite_node, dossier):
    sqlite_node.settings.values["MAX_FILE_MB"] = 1
    with pytest.raises(DomainError, match=r"file too large: 1\.\d MB .*at most 1\.0 MB"):
        files.attach(sqlite_node, "cán bộ", dossier.id, [random_bytes_pdf(1_200_000)])
    assert AttachmentRow.select().count() == 0


def test_identical_content_is_stored_once_and_sealed_at_rest(sqlite_node, dossier):
    pdf = random_bytes_pdf(300_000)
    first = files.attach(sqlite_node, "cán bộ", dossier.id, [pdf])
    stored = sqlite_node.chunks.count()
    other = sqlite_node.create_dossier("cán bộ", sample_dossier(name="Trần Thị Bình", id_number="040090009999"))
    second = files.attach(sqlite_node, "cán bộ", other.id, [pdf])
    assert first["file_hash"] == second["file_hash"] and sqlite_node.chunks.count() == stored == 10
    on_disk = b"".join(p.read_bytes() for p in sqlite_node.chunks.root.glob("??/*"))
    names = {p.name for p in sqlite_node.chunks.root.rglob("*")}
    assert pdf[100:132] not in on_disk and first["file_hash"] not in names


def test_a_result_waits_for_the_resolution(sqlite_node, dossier):
    with pytest.raises(DomainError, match="once the dossier is resolved"):
        files.attach(sqlite_node, "cán bộ", dossier.id, [random_bytes_pdf(2000)], kind="result")
    for to in ("processing", "resolved"):
        sqlite_node.change_status("cán bộ", dossier.id, to)
    assert files.attach(sqlite_node, "cán bộ", dossier.id, [random_bytes_pdf(2000)], kind="result")["kind"] == "result"


def test_rebuild_and_verify_cover_attachments(sqlite_node, dossier):
    a = files.attach(sqlite_node, "cán bộ", dossier.id, [random_bytes_pdf(150_000)])
    before = projection.derived_digest()
    AttachmentRow.delete().execute()
    assert projection.derived_digest() != before
    projection.rebuild()
    assert projection.derived_digest() == before and files.listing(sqlite_node, dossier.id)[0]["state"] == "complete"
    assert files.verify(sqlite_node) == {"files": 1, "ok": 1, "damaged": 0, "bytes": 150_000}
    victim = sorted(sqlite_node.chunks.root.glob("??/*"))[0]
    blob = bytearray(victim.read_bytes())
    blob[-1] ^= 1
    victim.write_bytes(bytes(blob))
    report = files.verify(sqlite_node)
    assert report["damaged"] == 1 and files.listing(sqlite_node, dossier.id)[0]["state"] == "receiving"
    with pytest.raises(DomainError):
        files.read(sqlite_node, a["file_hash"])


def test_retention_previews_then_purges_only_files_no_kept_dossier_shares(sqlite_node, clock):
    from node import retention

    shared, own = random_bytes_pdf(40_000, seed=1), random_bytes_pdf(40_000, seed=2)
    refused = sqlite_node.create_dossier("cán bộ", sample_dossier())
    kept = sqlite_node.create_dossier("cán bộ", sample_dossier(name="Trần Thị Bình", id_number="040090009999"))
    a = files.attach(sqlite_node, "cán bộ", refused.id, [own])
    files.attach(sqlite_node, "cán bộ", refused.id, [shared])
    files.attach(sqlite_node, "cán bộ", kept.id, [shared])
    sqlite_node.change_status("cán bộ", refused.id, "refused", reason="Không thuộc thẩm quyền")
    assert retention.preview(sqlite_node)["files"] == 0  # FILES_RETENTION_DAYS = 0: kept for ever
    sqlite_node.settings.values["FILES_RETENTION_DAYS"] = 30
    assert retention.preview(sqlite_node)["files"] == 0  # refused today
    clock.advance(31 * 86_400_000)
    plan = retention.preview(sqlite_node)
    assert plan["files"] == 1 and plan["bytes"] == 40_000  # the shared scan is kept by the other dossier
    before = sqlite_node.chunks.count()
    with pytest.raises(ValueError, match="preview again"):
        retention.purge(sqlite_node, 2)
    done = retention.purge(sqlite_node, 1)
    assert done["chunks_removed"] == 2 and sqlite_node.chunks.count() == before - 2  # the shared one stays
    states = {x["file_hash"]: x["state"] for x in files.listing(sqlite_node, refused.id)}
    assert states[a["file_hash"]] == "purged"
    assert files.listing(sqlite_node, kept.id)[0]["state"] == "complete"
    assert files.read(sqlite_node, files.listing(sqlite_node, kept.id)[0]["file_hash"])[0] == shared
    assert retention.preview(sqlite_node)["files"] == 0 and len(sqlite_node.timeline(refused.id)) == 4
