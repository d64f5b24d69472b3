"""The event store in plain Python: :class:`MemoryStore`, for tests and tools.

It keeps the promises of :mod:`sync.eventstore` (checked by the same contract suite as the
peewee store), so the fast store can stand in for a database in property tests and in-process
multi-node tests:

* ``(origin, scope, seq)`` is unique: :meth:`MemoryStore.insert_events` checks every position
  first and raises :class:`sync.eventstore.StoreIntegrityError` before changing anything.
* A feed's head is written with its events, so its seq is the count of the feed's events.
* :meth:`MemoryStore.write_transaction` is atomic: it snapshots the state and puts it back if
  the block raises (a nested one undoes only itself, like a savepoint). A transaction holds
  one re-entrant lock from start to end (the write lock taken at BEGIN) and every method takes
  it too, so another thread waits for the transaction: it never sees half of one.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sync.chain import SignedHead, StoredEvent
from sync.eventstore import FeedHead, PeerState, Quarantined, StoreIntegrityError
from sync.protocol import Profile, Vector
from sync.wire import GENESIS, Event, canonical_bytes, hash_bytes, load_stored_event

Feed = tuple[str, str]


@dataclass
class _State:
    events: dict[Feed, dict[int, tuple[str, int, str, bytes]]] = field(default_factory=dict)  # seq -> hash, hlc,..
    heads: dict[Feed, tuple[int, str]] = field(default_factory=dict)
    arrival: list[tuple[Feed, int]] = field(default_factory=list)  # arrival order, like EventRow.id
    by_entity: dict[str, list[tuple[Feed, int]]] = field(default_factory=dict)
    signatures: dict[Feed, dict[int, tuple[str, bytes]]] = field(default_factory=dict)  # seq -> hash, signature
    origins: dict[str, bytes] = field(default_factory=dict)
    profiles: dict[str, Profile] = field(default_factory=dict)
    peers: dict[str, dict[str, object]] = field(default_factory=dict)
    sessions: list[dict[str, object]] = field(default_factory=list)
    quarantine: dict[tuple[str, str, int, str], Quarantined] = field(default_factory=dict)
    nonces: dict[tuple[str, str], int] = field(default_factory=dict)
    revocations: dict[str, dict[str, object]] = field(default_factory=dict)

    def snapshot(self) -> _State:
        # Events and profiles are immutable values: copying the containers two levels deep is
        # enough to restore every mapping, and far cheaper than a full deep copy.
        return _State(
            events={k: dict(v) for k, v in self.events.items()},
            heads=dict(self.heads),
            arrival=list(self.arrival),
            by_entity={k: list(v) for k, v in self.by_entity.items()},
            signatures={k: dict(v) for k, v in self.signatures.items()},
            origins=dict(self.origins),
            profiles=dict(self.profiles),
            peers=copy.deepcopy(self.peers),
            sessions=[dict(s) for s in self.sessions],
            quarantine=dict(self.quarantine),
            nonces=dict(self.nonces),
            revocations=copy.deepcopy(self.revocations),
        )


class MemoryStore:
    """:class:`sync.eventstore.Store` in memory (lost when the object goes)."""

    def __init__(self) -> None:
        self._s = _State()
        self._lock = threading.RLock()
        self._generation = 0

    def __repr__(self) -> str:
        return f"MemoryStore({len(self._s.arrival)} events)"

    # -- transactions -----------------------------------------------------------------------

    @contextmanager
    def write_transaction(self) -> Iterator[None]:
        # Every level snapshots, so a nested block that raises undoes itself alone, like the
        # savepoint peewee opens for a nested ``atomic()``.
        with self._lock:
            saved, saved_generation = self._s.snapshot(), self._generation
            try:
                yield
            except BaseException:
                self._s, self._generation = saved, saved_generation
                raise

    # -- feeds ------------------------------------------------------------------------------

    def feed_head(self, origin: str, scope: str, *, for_update: bool = False) -> FeedHead:
        with self._lock:
            seq, h = self._s.heads.get((origin, scope), (0, GENESIS))
            return FeedHead(origin, scope, seq, h)

    def feed_heads(self, feeds: Iterable[tuple[str, str]], *,
                   for_update: bool = False) -> dict[tuple[str, str], FeedHead]:
        return {(o, s): self.feed_head(o, s) for o, s in feeds}

    def feeds(self) -> list[FeedHead]:
        with self._lock:
            return [FeedHead(o, s, seq, h) for (o, s), (seq, h) in sorted(self._s.heads.items())]

    def insert_events(self, events: list[Event], raws: list[bytes] | None = None,
                      hashes: list[str] | None = None) -> list[str]:
        if not events:
            return []
        raws = raws if raws is not None else [canonical_bytes(e) for e in events]
        hashes = hashes if hashes is not None else [hash_bytes(r) for r in raws]
        with self._lock:
            taken = set()
            for e in events:
                if e.seq in self._s.events.get(e.feed, {}) or (e.feed, e.seq) in taken:
                    raise StoreIntegrityError(f"feed {e.origin}:{e.scope} already holds seq {e.seq}")
                taken.add((e.feed, e.seq))
            for e, raw, h in zip(events, raws, hashes, strict=True):
                self._s.events.setdefault(e.feed, {})[e.seq] = (h, e.hlc, e.entity, bytes(raw))
                self._s.arrival.append((e.feed, e.seq))
                self._s.by_entity.setdefault(e.entity, []).append((e.feed, e.seq))
                self._s.heads[e.feed] = (e.seq, h)
        return hashes

    def hash_at(self, origin: str, scope: str, seq: int) -> str:
        with self._lock:
            held = self._s.events.get((origin, scope), {}).get(seq)
            return held[0] if held else ""

    def held_hashes(self, origin: str, scope: str, first: int, last: int) -> dict[int, str]:
        with self._lock:
            feed = self._s.events.get((origin, scope), {})
            return {seq: v[0] for seq, v in feed.items() if first <= seq <= last}

    def stored_feed(self, origin: str, scope: str, start: int = 1) -> Iterator[StoredEvent]:
        with self._lock:
            feed = self._s.events.get((origin, scope), {})
            held = [StoredEvent(seq=seq, hash=feed[seq][0], raw=feed[seq][3]) for seq in sorted(feed) if seq >= start]
        return iter(held)

    def max_hlc(self, origins: Iterable[str]) -> int:
        wanted = set(origins)
        with self._lock:
            return max((v[1] for (o, _), feed in self._s.events.items() if o in wanted for v in feed.values()),
                       default=0)

    # -- signed heads -----------------------------------------------------------------------

    def put_head_signature(self, head: SignedHead) -> None:
        with self._lock:
            self._s.origins.setdefault(head.origin, bytes(head.public_key))
            self._s.signatures.setdefault((head.origin, head.scope), {}).setdefault(
                head.seq, (head.hash, bytes(head.signature)))

    def put_head_signatures(self, heads: list[SignedHead]) -> None:
        for head in heads:
            self.put_head_signature(head)

    def head_signature(self, origin: str, scope: str, seq: int) -> bytes | None:
        with self._lock:
            held = self._s.signatures.get((origin, scope), {}).get(seq)
            return held[1] if held else None

    def signed_seqs(self, origin: str, scope: str, after: int) -> list[int]:
        with self._lock:
            return sorted(s for s in self._s.signatures.get((origin, scope), {}) if s > after)

    def latest_signed_head(self, origin: str, scope: str) -> SignedHead | None:
        with self._lock:
            sigs = self._s.signatures.get((origin, scope))
            if not sigs:
                return None
            seq = max(sigs)
            h, signature = sigs[seq]
            return SignedHead(origin, scope, seq, h, self._s.origins.get(origin, b""), signature)

    # -- entities ---------------------------------------------------------------------------

    def events_for_entities(self, entities: Iterable[str]) -> dict[str, list[Event]]:
        wanted = sorted(set(entities))
        with self._lock:
            held = self._s.by_entity
            return {e: [load_stored_event(self._s.events[feed][seq][3]) for feed, seq in held.get(e, [])]
                    for e in wanted}

    def held_event_counts(self, entities: Iterable[str]) -> dict[str, int]:
        with self._lock:
            return {e: len(self._s.by_entity[e]) for e in set(entities) if self._s.by_entity.get(e)}

    def all_entities(self, kind: str) -> list[str]:
        with self._lock:
            return sorted(e for e, held in self._s.by_entity.items() if held and e.startswith(kind + "/"))

    def count_events(self) -> int:
        with self._lock:
            return len(self._s.arrival)

    # -- profiles ---------------------------------------------------------------------------

    @property
    def profile_generation(self) -> int:
        return self._generation

    def save_profiles(self, profiles: Iterable[Profile]) -> list[str]:
        profiles = list(profiles)
        with self._lock:
            self._generation += 1
            before = {p.node_id: (self._s.profiles[p.node_id].role, self._s.profiles[p.node_id].unit)
                      for p in profiles if p.node_id in self._s.profiles}
            for p in profiles:
                if p.cert or p.node_id not in self._s.profiles:
                    self._s.profiles[p.node_id] = p
            return sorted({p.node_id for p in profiles
                           if p.cert and p.node_id in before and before[p.node_id] != (p.role, p.unit)})

    def load_profiles(self, node_ids: Iterable[str]) -> dict[str, Profile]:
        with self._lock:
            return {i: self._s.profiles[i] for i in sorted(set(node_ids)) if i in self._s.profiles}

    def profile_ids(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._s.profiles)

    # -- quarantine and nonces --------------------------------------------------------------

    def quarantine(self, events: Iterable[Quarantined]) -> None:
        with self._lock:
            for q in events:
                self._s.quarantine.setdefault((q.origin, q.scope, q.seq, q.hash), q)

    def quarantined(self, origin: str) -> list[Quarantined]:
        with self._lock:
            return [q for key, q in sorted(self._s.quarantine.items()) if key[0] == origin]

    def remember_nonce(self, node_id: str, nonce: str, now: int, window_ms: int) -> bool:
        with self._lock:
            self._s.nonces = {k: t for k, t in self._s.nonces.items() if t >= now - 2 * window_ms}
            if (node_id, nonce) in self._s.nonces:
                return False
            self._s.nonces[(node_id, nonce)] = now
            return True

    # -- peers ------------------------------------------------------------------------------

    def peer_state(self, node_id: str) -> PeerState:
        with self._lock:
            row = self._s.peers.get(node_id)
            if row is None:
                return PeerState(node_id, {}, False)
            return PeerState(node_id, json.loads(str(row["vector"])), True)

    def remember_peer(self, node_id: str, *, url: str = "", vector: Vector | None = None, now: int, ok: bool,
                      error: str = "", skew_ms: int | None = None) -> None:
        with self._lock:
            row = self._s.peers.setdefault(node_id, {"node_id": node_id, "url": "", "vector": "{}", "last_seen": 0,
                                                     "last_success": 0, "last_error": "", "clock_skew_ms": 0})
            row["last_seen"] = now
            if url:
                row["url"] = url
            if vector is not None:
                row["vector"] = json.dumps(vector, sort_keys=True)
            if ok:
                row["last_success"], row["last_error"] = now, ""
            elif error:
                row["last_error"] = error[:2000]
            if skew_ms is not None:
                row["clock_skew_ms"] = skew_ms

    def find_peer_by_url(self, url: str) -> str | None:
        with self._lock:
            seen = [(int(r["last_seen"]), i) for i, r in self._s.peers.items() if r["url"] == url]  # type: ignore[call-overload]
            return max(seen)[1] if seen else None

    # -- sessions ---------------------------------------------------------------------------

    def _lines(self, session: str, side: str, peer: str | None) -> list[dict[str, object]]:
        return [s for s in self._s.sessions
                if s["session"] == session and s["side"] == side and (peer is None or s["peer"] == peer)]

    def open_session(self, session: str, side: str, peer: str, peer_name: str, now: int,
                     link: str = "network") -> None:
        with self._lock:
            if self._lines(session, side, peer):
                return
            self._s.sessions.append({
                "id": len(self._s.sessions) + 1, "session": session, "side": side, "peer": peer,
                "peer_name": peer_name, "started_at": now, "ended_at": None, "events_in": 0, "events_out": 0,
                "bytes_in": 0, "bytes_out": 0, "exchanges": 0, "conflicts": 0, "outcome": "running",
                "error_code": "", "error": "", "link": link,
            })

    def session_exists(self, session: str, side: str) -> bool:
        with self._lock:
            return bool(self._lines(session, side, None))

    def add_to_session(self, session: str, side: str, *, now: int, peer: str | None = None, events_in: int = 0,
                       events_out: int = 0, bytes_in: int = 0, bytes_out: int = 0, conflicts: int = 0,
                       outcome: str | None = None, error_code: str = "", error: str = "") -> None:
        added = {"events_in": events_in, "events_out": events_out, "bytes_in": bytes_in, "bytes_out": bytes_out,
                 "exchanges": 1, "conflicts": conflicts}
        with self._lock:
            for line in self._lines(session, side, peer):
                for k, n in added.items():
                    line[k] = int(line[k]) + n  # type: ignore[call-overload]
                line["ended_at"] = now
                if outcome:
                    line["outcome"] = outcome
                if error_code or error:
                    line["error_code"], line["error"] = error_code, error[:4000]

    def record_bytes_out(self, session: str, side: str, n: int, peer: str | None = None) -> None:
        with self._lock:
            for line in self._lines(session, side, peer):
                line["bytes_out"] = int(line["bytes_out"]) + n  # type: ignore[call-overload]

    def name_session_peer(self, session: str, side: str, peer: str, peer_name: str) -> None:
        with self._lock:
            for line in self._lines(session, side, None):
                line["peer"], line["peer_name"] = peer, peer_name

    def close_session(self, session: str, side: str, *, outcome: str, error_code: str, error: str,
                      now: int) -> None:
        with self._lock:
            for line in self._lines(session, side, None):
                line.update(outcome=outcome, error_code=error_code, error=error[:4000], ended_at=now)

    def session_lines(self, session: str) -> list[dict[str, object]]:
        with self._lock:
            lines = [dict(s) for s in self._s.sessions if s["session"] == session]
        return sorted(lines, key=lambda s: (str(s["side"]), str(s["peer"])))

    # -- revocations ------------------------------------------------------------------------

    def revocation(self, node_id: str) -> dict[str, int] | None:
        with self._lock:
            row = self._s.revocations.get(node_id)
            return None if row is None else dict(row["after"])  # type: ignore[call-overload]

    def revocations(self, node_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        return {n: after for n in set(node_ids) if (after := self.revocation(n)) is not None}

    def put_revocation(self, node_id: str, after: dict[str, int], reason: str, revoked_at: int, event: str) -> None:
        with self._lock:
            row = self._s.revocations.get(node_id)
            if row is None:
                self._s.revocations[node_id] = {"after": dict(after), "reason": reason[:60], "revoked_at": revoked_at,
                                                "event": event}
            else:
                row.update(after=dict(after), event=event)
