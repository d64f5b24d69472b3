"""Feed verification on in-memory data: each kind of damage gets its own precise reason."""

from __future__ import annotations

from dataclasses import replace

import pytest

from node.signing import NodeKey, verify_signature
from sync.chain import ChainError, Reason, SignedHead, StoredEvent, verify_stored_feed
from sync.wire import GENESIS, build_event, canonical_bytes, hash_bytes, head_message


def make_feed(key: NodeKey, n: int, scope: str = "17272"):
    rows, prev = [], GENESIS
    for seq in range(1, n + 1):
        e = build_event(
            origin=key.node_id, scope=scope, seq=seq, prev=prev, hlc=seq << 16, at=1_000 + seq,
            author="clerk", entity=f"dossier/{seq}", type="dossier.received", body={"i": seq},
        )
        raw = canonical_bytes(e)
        prev = hash_bytes(raw)
        rows.append(StoredEvent(seq, prev, raw))
    head = SignedHead(key.node_id, scope, n, prev, key.public_key, key.sign(head_message(key.node_id, scope, n, prev)))
    return rows, head


@pytest.fixture(scope="module")
def key():
    return NodeKey.generate()


def check(key, rows, head):
    return verify_stored_feed(key.node_id, "17272", rows, head, verify_signature)


def reason_of(key, rows, head) -> Reason:
    with pytest.raises(ChainError) as info:
        check(key, rows, head)
    return info.value.reason


def test_intact_feed_verifies(key):
    rows, head = make_feed(key, 5)
    assert check(key, rows, head) == 5


def test_dropped_middle_event_is_a_gap(key):
    rows, head = make_feed(key, 5)
    assert reason_of(key, rows[:2] + rows[3:], head) == Reason.GAP


def test_dropped_last_event_is_truncation(key):
    rows, head = make_feed(key, 5)
    assert reason_of(key, rows[:4], head) == Reason.TRUNCATED


def test_swapped_events_are_reordered(key):
    rows, head = make_feed(key, 5)
    swapped = [*rows[:1], rows[2], rows[1], *rows[3:]]
    assert reason_of(key, swapped, head) == Reason.REORDERED


def test_changed_content_is_tampering(key):
    rows, head = make_feed(key, 3)
    bad = replace(rows[1], raw=rows[1].raw.replace(b'"i":2', b'"i":7'))
    assert reason_of(key, [rows[0], bad, rows[2]], head) == Reason.TAMPERED


def test_rehashed_content_still_breaks_the_chain(key):
    rows, head = make_feed(key, 3)
    raw = rows[1].raw.replace(b'"i":2', b'"i":7')
    bad = StoredEvent(2, hash_bytes(raw), raw)  # attacker also fixes the stored hash
    assert reason_of(key, [rows[0], bad, rows[2]], head) == Reason.TAMPERED


def test_rewritten_last_event_fails_against_the_signed_head(key):
    rows, head = make_feed(key, 3)
    raw = rows[2].raw.replace(b'"i":3', b'"i":9')
    bad = StoredEvent(3, hash_bytes(raw), raw)
    assert reason_of(key, [*rows[:2], bad], head) == Reason.TAMPERED


def test_a_head_signed_by_another_key_is_foreign(key):
    rows, head = make_feed(key, 3)
    other = NodeKey.generate()
    forged = replace(head, public_key=other.public_key, signature=other.sign(head.message()))
    assert reason_of(key, rows, forged) == Reason.FOREIGN


def test_a_bad_signature_is_forged(key):
    rows, head = make_feed(key, 3)
    forged = replace(head, signature=bytes(64))
    assert reason_of(key, rows, forged) == Reason.FORGED


def test_events_of_another_origin_are_foreign(key):
    other = NodeKey.generate()
    theirs, _ = make_feed(other, 3)
    _, head = make_feed(key, 3)
    assert reason_of(key, theirs, head) == Reason.FOREIGN


def test_missing_head_is_unsigned(key):
    rows, _ = make_feed(key, 2)
    assert reason_of(key, rows, None) == Reason.UNSIGNED


def test_garbage_bytes_are_malformed(key):
    rows, head = make_feed(key, 2)
    bad = StoredEvent(2, rows[1].hash, b"\xff\xfe")
    assert reason_of(key, [rows[0], bad], head) == Reason.MALFORMED


def test_error_names_the_event_where_it_stopped(key):
    rows, head = make_feed(key, 5)
    with pytest.raises(ChainError) as info:
        check(key, rows[:2] + rows[3:], head)
    assert info.value.ref == f"{key.node_id}:17272:3"
