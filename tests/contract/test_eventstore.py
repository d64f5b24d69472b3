"""The storage contract (:mod:`sync.eventstore`), one class per behaviour, run on every store.

Kinto's pattern (``kinto/core/storage/testing.py``): the promises are written once, here, and
``make_store`` (``conftest.py``) gives each test a memory, a SQLite and a PostgreSQL store. A
store that passes can stand in for the others: that is what lets the property tests and the
in-process multi-node tests run on memory.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest

from sync.chain import SignedHead
from sync.eventstore import Quarantined, Store, StoreIntegrityError
from sync.protocol import Profile
from sync.wire import GENESIS, Event, build_event, canonical_bytes, hash_bytes

A = "a" * 32
B = "b" * 32
UNIT = "17272"
BASE = 1_779_000_000_000


def chain(origin: str, scope: str, start: int, n: int, prev: str = GENESIS, entity: Any = None) -> list[Event]:
    """Events ``start .. start+n-1`` of a feed, chained by hash from ``prev``."""
    out = []
    if start > 1 and prev == GENESIS:
        prev = "0" * 64  # some other history: the store does not check chains, only positions
    for seq in range(start, start + n):
        e = build_event(
            origin=origin, scope=scope, seq=seq, prev=prev, hlc=(BASE + seq) << 16, at=BASE + seq, author="cb",
            entity=entity(seq) if entity else f"dossier/{origin[:4]}-{scope}-{seq}", type="dossier.received",
            body={"n": seq, "tên": "Nguyễn Văn An"},
        )
        prev = hash_bytes(canonical_bytes(e))
        out.append(e)
    return out


def append(store: Store, events: list[Event]) -> list[str]:
    with store.write_transaction():
        return store.insert_events(events)


def profile(node_id: str, role: str = "commune", unit: str = UNIT, name: str = "xã", cert: bytes = b"") -> Profile:
    return Profile(node_id, b"k" + node_id.encode(), role, unit, name, b"sig", cert)


class TestFeeds:
    def test_an_unknown_feed_has_an_empty_head(self, store: Store):
        head = store.feed_head(A, UNIT)
        assert (head.seq, head.hash) == (0, GENESIS)
        assert store.feeds() == [] and store.count_events() == 0

    def test_the_head_is_the_count_and_the_last_hash(self, store: Store):
        events = chain(A, UNIT, 1, 5)
        hashes = append(store, events[:3]) + append(store, events[3:])
        assert hashes == [hash_bytes(canonical_bytes(e)) for e in events]
        head = store.feed_head(A, UNIT, for_update=True)
        assert (head.seq, head.hash) == (5, hashes[-1])
        assert len(list(store.stored_feed(A, UNIT))) == head.seq == store.count_events()

    def test_feeds_are_listed_by_origin_then_scope(self, store: Store):
        append(store, chain(B, UNIT, 1, 1) + chain(A, "40", 1, 2) + chain(A, UNIT, 1, 1))
        assert [(h.origin, h.scope, h.seq) for h in store.feeds()] == [(A, UNIT, 1), (A, "40", 2), (B, UNIT, 1)]

    def test_stored_bytes_are_the_canonical_bytes_given(self, store: Store):
        events = chain(A, UNIT, 1, 3)
        raws = [canonical_bytes(e) for e in events]
        with store.write_transaction():
            store.insert_events(events, raws)
        held = list(store.stored_feed(A, UNIT, start=2))
        assert [(s.seq, s.raw, s.hash) for s in held] == [(i + 1, raws[i], hash_bytes(raws[i])) for i in (1, 2)]

    def test_hashes_by_position(self, store: Store):
        hashes = append(store, chain(A, UNIT, 1, 4))
        assert store.hash_at(A, UNIT, 2) == hashes[1]
        assert store.hash_at(A, UNIT, 0) == store.hash_at(A, UNIT, 9) == store.hash_at(B, UNIT, 1) == ""
        assert store.held_hashes(A, UNIT, 2, 3) == {2: hashes[1], 3: hashes[2]}
        assert store.held_hashes(A, UNIT, 5, 8) == {}

    def test_newest_stamp_of_some_origins(self, store: Store):
        append(store, chain(A, UNIT, 1, 3) + chain(B, UNIT, 1, 7))
        assert store.max_hlc([A]) == (BASE + 3) << 16
        assert store.max_hlc([A, B]) == (BASE + 7) << 16
        assert store.max_hlc(["c" * 32]) == store.max_hlc([]) == 0


class TestUniquePositions:
    def test_a_taken_position_is_refused(self, store: Store):
        append(store, chain(A, UNIT, 1, 2))
        with pytest.raises(StoreIntegrityError):  # a second history of seq 2
            append(store, [chain(A, UNIT, 2, 1, entity=lambda s: "dossier/second-history")[0]])
        assert store.feed_head(A, UNIT).seq == 2 and store.count_events() == 2

    def test_a_refused_insert_leaves_nothing_of_its_transaction(self, store: Store):
        append(store, chain(A, UNIT, 1, 1))
        with pytest.raises(StoreIntegrityError), store.write_transaction():
            store.insert_events(chain(B, UNIT, 1, 2))
            store.insert_events(chain(A, UNIT, 1, 1, entity=lambda s: "dossier/again"))
        assert store.feeds() == [store.feed_head(A, UNIT)]
        assert store.count_events() == 1
        assert store.events_for_entities(["dossier/again"]) == {"dossier/again": []}

    def test_the_same_position_twice_in_one_batch_is_refused(self, store: Store):
        e = chain(A, UNIT, 1, 1)[0]
        with pytest.raises(StoreIntegrityError):
            append(store, [e, e])
        assert store.count_events() == 0


class TestAtomicity:
    def test_an_exception_undoes_everything_written_in_the_transaction(self, store: Store):
        append(store, chain(A, UNIT, 1, 1))
        before = (store.feeds(), store.count_events())
        with pytest.raises(RuntimeError), store.write_transaction():
            store.insert_events(chain(A, UNIT, 2, 2, prev=store.feed_head(A, UNIT).hash))
            store.put_head_signature(SignedHead(A, UNIT, 3, "h", b"key", b"sig"))
            store.save_profiles([profile(B)])
            store.quarantine([Quarantined(A, UNIT, 2, "x", b"raw", "fork", B, "s1", BASE)])
            store.put_revocation(B, {UNIT: 1}, "lost", BASE, "ref")
            store.open_session("s1", "server", B, "xã", BASE)
            store.remember_peer(B, now=BASE, ok=True)
            raise RuntimeError("power cut")
        assert (store.feeds(), store.count_events()) == before
        assert store.head_signature(A, UNIT, 3) is None and store.latest_signed_head(A, UNIT) is None
        assert store.load_profiles([B]) == {} and store.quarantined(A) == []
        assert store.revocation(B) is None and not store.session_exists("s1", "server")
        assert not store.peer_state(B).known

    def test_a_nested_transaction_that_fails_undoes_only_itself(self, store: Store):
        with store.write_transaction():
            store.insert_events(chain(A, UNIT, 1, 1))
            with pytest.raises(RuntimeError), store.write_transaction():
                store.insert_events(chain(B, UNIT, 1, 1))
                raise RuntimeError("inner")
        assert [h.origin for h in store.feeds()] == [A]

    def test_writers_in_two_threads_never_take_the_same_seq(self, store: Store):
        """Each writer reads the head under the write lock and appends the next seq."""
        errors: list[BaseException] = []

        def writer(tag: str) -> None:
            try:
                for i in range(15):
                    with store.write_transaction():
                        head = store.feed_head(A, UNIT, for_update=True)
                        store.insert_events(chain(A, UNIT, head.seq + 1, 1, prev=head.hash,
                                                  entity=lambda s, i=i: f"dossier/{tag}-{i}"))
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)
            finally:
                if hasattr(store, "db"):
                    store.db.close()  # this thread's connection (peewee keeps one per thread)

        threads = [threading.Thread(target=writer, args=(t,)) for t in "xy"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        held = list(store.stored_feed(A, UNIT))
        assert [s.seq for s in held] == list(range(1, 31))
        assert store.feed_head(A, UNIT).seq == 30


class TestSignedHeads:
    def test_the_first_signature_at_a_seq_is_kept(self, store: Store):
        store.put_head_signature(SignedHead(A, UNIT, 2, "h2", b"key", b"first"))
        store.put_head_signature(SignedHead(A, UNIT, 2, "h2", b"key", b"second"))
        assert store.head_signature(A, UNIT, 2) == b"first"
        assert store.head_signature(A, UNIT, 1) is None

    def test_signed_seqs_and_the_latest_signed_head(self, store: Store):
        for seq in (5, 1, 3):
            store.put_head_signature(SignedHead(A, UNIT, seq, f"h{seq}", b"key-a", b"s%d" % seq))
        assert store.signed_seqs(A, UNIT, 0) == [1, 3, 5]
        assert store.signed_seqs(A, UNIT, 3) == [5]
        latest = store.latest_signed_head(A, UNIT)
        assert latest == SignedHead(A, UNIT, 5, "h5", b"key-a", b"s5")
        assert store.latest_signed_head(A, "40") is None


class TestEntities:
    def test_events_grouped_by_entity(self, store: Store):
        events = chain(A, UNIT, 1, 4, entity=lambda s: f"dossier/d{s % 2}")
        append(store, events)
        got = store.events_for_entities(["dossier/d1", "dossier/d0", "dossier/none"])
        assert got["dossier/d1"] == [events[0], events[2]]
        assert got["dossier/d0"] == [events[1], events[3]]
        assert got["dossier/none"] == []
        assert store.held_event_counts(["dossier/d0", "dossier/none"]) == {"dossier/d0": 2}

    def test_entities_of_a_kind(self, store: Store):
        append(store, chain(A, UNIT, 1, 3, entity=lambda s: ["dossier/x", "ref/y", "dossier/w"][s - 1]))
        append(store, chain(B, UNIT, 1, 1, entity=lambda s: "dossier/x"))
        assert store.all_entities("dossier") == ["dossier/w", "dossier/x"]
        assert store.all_entities("ref") == ["ref/y"]
        assert store.all_entities("dossie") == []


class TestProfiles:
    def test_a_self_signed_profile_never_replaces_a_kept_one(self, store: Store):
        assert store.save_profiles([profile(A, name="first")]) == []
        assert store.save_profiles([profile(A, role="district", unit="40", name="liar")]) == []
        assert store.load_profiles([A, B]) == {A: profile(A, name="first")}

    def test_a_certified_profile_replaces_and_reports_a_changed_role_or_unit(self, store: Store):
        store.save_profiles([profile(A), profile(B)])
        changed = store.save_profiles([profile(A, unit="17278", cert=b"der"), profile(B, name="new", cert=b"der")])
        assert changed == [A]  # B's role and unit stayed
        assert store.load_profiles([A])[A].unit == "17278" and store.load_profiles([B])[B].name == "new"

    def test_profile_ids_and_generation(self, store: Store):
        generation = store.profile_generation
        store.save_profiles([profile(A), profile(B)])
        assert store.profile_ids() == frozenset({A, B})
        assert store.profile_generation != generation


class TestQuarantineAndNonces:
    def test_quarantined_events_are_kept_once(self, store: Store):
        q = [Quarantined(A, UNIT, s, f"h{s}", b"raw%d" % s, "fork", B, "s1", BASE) for s in (2, 1)]
        with store.write_transaction():
            store.quarantine(q)
            store.quarantine(q[:1])
        assert [(x.seq, x.raw) for x in store.quarantined(A)] == [(1, b"raw1"), (2, b"raw2")]
        assert store.quarantined(B) == []

    def test_a_nonce_is_accepted_once_within_the_window(self, store: Store):
        assert store.remember_nonce(A, "n1", BASE, 1000)
        assert not store.remember_nonce(A, "n1", BASE + 10, 1000)
        assert store.remember_nonce(B, "n1", BASE + 10, 1000)  # nonces are per node
        assert store.remember_nonce(A, "n1", BASE + 5000, 1000)  # forgotten after two windows


class TestPeers:
    def test_what_a_peer_acknowledged(self, store: Store):
        assert store.peer_state(A).known is False
        store.remember_peer(A, url="https://hub", vector={f"{B}:{UNIT}": 3}, now=BASE, ok=True)
        store.remember_peer(A, now=BASE + 1, ok=False, error="timeout")  # keeps vector and url
        state = store.peer_state(A)
        assert state.known and state.vector == {f"{B}:{UNIT}": 3}
        assert store.find_peer_by_url("https://hub") == A

    def test_the_peer_last_seen_at_an_address(self, store: Store):
        store.remember_peer(A, url="https://hub", now=BASE, ok=True)
        store.remember_peer(B, url="https://hub", now=BASE + 5, ok=True)
        assert store.find_peer_by_url("https://hub") == B
        assert store.find_peer_by_url("https://other") is None


class TestSessions:
    def test_a_session_line_counts_each_exchange(self, store: Store):
        store.open_session("s1", "server", A, "xã", BASE)
        store.open_session("s1", "server", A, "xã", BASE + 1)  # ignored: the line exists
        store.add_to_session("s1", "server", now=BASE + 2, peer=A, events_in=3, bytes_in=100)
        store.add_to_session("s1", "server", now=BASE + 3, peer=A, events_out=2, outcome="ok")
        store.record_bytes_out("s1", "server", 50, peer=A)
        (line,) = store.session_lines("s1")
        assert {k: line[k] for k in ("peer", "events_in", "events_out", "bytes_in", "bytes_out", "exchanges",
                                     "outcome", "started_at", "ended_at")} == {
            "peer": A, "events_in": 3, "events_out": 2, "bytes_in": 100, "bytes_out": 50, "exchanges": 2,
            "outcome": "ok", "started_at": BASE, "ended_at": BASE + 3}
        assert store.session_exists("s1", "server") and not store.session_exists("s1", "client")

    def test_another_callers_line_is_never_touched(self, store: Store):
        store.open_session("s1", "server", A, "a", BASE)
        store.open_session("s1", "server", B, "b", BASE)
        store.add_to_session("s1", "server", now=BASE + 1, peer=B, outcome="failed", error_code="gap", error="x")
        lines = {line["peer"]: line for line in store.session_lines("s1")}
        assert lines[A]["outcome"] == "running" and lines[B]["outcome"] == "failed"

    def test_a_client_line_learns_its_peer_and_is_closed(self, store: Store):
        store.open_session("c1", "client", "", "https://hub", BASE)
        store.name_session_peer("c1", "client", A, "huyện")
        store.close_session("c1", "client", outcome="partial", error_code="transport", error="e" * 5000, now=BASE + 9)
        (line,) = store.session_lines("c1")
        assert (line["peer"], line["peer_name"], line["outcome"], line["ended_at"]) == (A, "huyện", "partial",
                                                                                        BASE + 9)
        assert len(str(line["error"])) == 4000


class TestRevocations:
    def test_a_revocation_is_kept_and_replaced(self, store: Store):
        assert store.revocation(A) is None
        store.put_revocation(A, {UNIT: 5}, "lost laptop", BASE, "ref1")
        store.put_revocation(A, {UNIT: 3, "40": 0}, "lost laptop", BASE + 1, "ref2")
        assert store.revocation(A) == {UNIT: 3, "40": 0}
