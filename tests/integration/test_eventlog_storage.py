"""The event log as stored, on SQLite and on PostgreSQL: tampering is found, writes are atomic,
derived state is a rebuildable function of the events."""

from __future__ import annotations

import pytest

from node import projection
from node.domain.errors import InvalidTransition
from node.models import DossierRow
from sync.store import EventRow, FeedRow, HeadSignatureRow
from tests.factories import sample_dossier


def populate(node, n: int = 4):
    ids = []
    for i in range(n):
        d = node.create_dossier("clerk", sample_dossier(name=f"Người Thứ {i}", id_number=f"0400900{i:05d}"))
        node.change_status("clerk", d.id, "processing", "chuyển xử lý")
        ids.append(d.id)
    return ids


def only_failure(node):
    bad = [r for r in node.verify() if not r.ok]
    assert len(bad) == 1, bad
    return bad[0]


def own_rows(node):
    return list(EventRow.select().where(EventRow.origin == node.node_id).order_by(EventRow.seq))


def test_fresh_log_verifies(node):
    populate(node)
    reports = node.verify()
    assert [(r.ok, r.events) for r in reports] == [(True, 8)]


def test_changing_any_byte_of_a_stored_event_is_detected(node):
    populate(node, 2)
    target = own_rows(node)[1]
    original = bytes(target.raw)
    for i in range(len(original)):
        damaged = bytearray(original)
        damaged[i] ^= 0x01
        EventRow.update(raw=bytes(damaged)).where(EventRow.id == target.id).execute()
        failure = only_failure(node)
        assert failure.reason in ("tampered", "malformed"), (i, failure)
        assert failure.ref.endswith(":2")
    EventRow.update(raw=original).where(EventRow.id == target.id).execute()
    assert all(r.ok for r in node.verify())


def test_dropping_an_event_in_the_middle_is_a_gap(node):
    populate(node)
    EventRow.delete().where(EventRow.id == own_rows(node)[3].id).execute()
    failure = only_failure(node)
    assert (failure.reason, failure.ref.rsplit(":", 1)[1]) == ("gap", "4")


def test_dropping_the_last_event_is_truncation(node):
    populate(node)
    EventRow.delete().where(EventRow.id == own_rows(node)[-1].id).execute()
    assert only_failure(node).reason == "truncated"


def test_swapping_two_stored_events_is_reordering(node):
    populate(node)
    a, b = own_rows(node)[2:4]
    EventRow.update(raw=bytes(b.raw), hash=b.hash).where(EventRow.id == a.id).execute()
    EventRow.update(raw=bytes(a.raw), hash=a.hash).where(EventRow.id == b.id).execute()
    assert only_failure(node).reason == "reordered"


def test_replacing_the_signature_is_forgery(node):
    populate(node, 1)
    HeadSignatureRow.update(signature=bytes(64)).execute()
    assert only_failure(node).reason == "forged"


def test_a_failure_between_append_and_state_update_leaves_neither(node, monkeypatch):
    populate(node, 1)
    events, dossiers, heads = EventRow.select().count(), DossierRow.select().count(), list(FeedRow.select().dicts())
    digest = node.digest()

    def explode(_events):
        raise RuntimeError("injected failure after the append")

    monkeypatch.setattr(projection, "project", explode)
    with pytest.raises(RuntimeError, match="injected"):
        node.create_dossier("clerk", sample_dossier(name="Không Được Lưu"))
    assert EventRow.select().count() == events
    assert DossierRow.select().count() == dossiers
    assert list(FeedRow.select().dicts()) == heads
    assert HeadSignatureRow.select().where(HeadSignatureRow.seq > heads[0]["head_seq"]).count() == 0
    assert node.digest() == digest
    monkeypatch.undo()
    # the log is still consistent and writable: the next seq was not burnt
    d = node.create_dossier("clerk", sample_dossier(name="Sau Sự Cố"))
    assert d.id.endswith(f":{heads[0]['head_seq'] + 1}")
    assert all(r.ok for r in node.verify())


def test_refused_transition_writes_nothing(node):
    (dossier_id,) = populate(node, 1)
    count = EventRow.select().count()
    with pytest.raises(InvalidTransition):
        node.change_status("clerk", dossier_id, "returned")
    assert EventRow.select().count() == count


def test_rebuild_leaves_the_derived_digest_unchanged(node):
    ids = populate(node, 6)
    node.update_dossier("clerk", ids[0], {"applicant.phone": "0900000000"})
    node.change_status("clerk", ids[1], "resolved")
    before = node.digest()
    assert node.rebuild() == 6
    assert node.digest() == before


def test_rebuild_repairs_a_damaged_derived_table(node):
    ids = populate(node, 3)
    before = node.digest()
    DossierRow.update(status="returned").where(DossierRow.id == ids[0]).execute()
    DossierRow.delete().where(DossierRow.id == ids[1]).execute()
    assert node.digest() != before
    node.rebuild()
    assert node.digest() == before


def test_seq_is_gap_free_per_feed_and_heads_are_signed(node):
    populate(node, 3)
    seqs = [r.seq for r in own_rows(node)]
    assert seqs == list(range(1, 7))
    head = node.store.latest_signed_head(node.node_id, node.scope)
    assert head is not None and head.seq == 6


def test_hlc_stamps_increase_even_if_the_clock_goes_back(node, clock):
    d = node.create_dossier("clerk", sample_dossier())
    clock.advance(-3_600_000)
    node.change_status("clerk", d.id, "processing")
    stamps = [r.hlc for r in own_rows(node)]
    assert stamps == sorted(stamps) and len(set(stamps)) == 2
