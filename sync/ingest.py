"""Applying received runs: verify everything, then store everything, in one transaction.

Order of checks for a batch (any failure refuses the whole batch and stores nothing of it):

1. profiles: each presented profile's key hashes to its id and the trust policy admits it (a
   certificate of the district CA when one is in force; else its self-signature, and unless the
   development switch is on, only a node already known here);
2. per run: the origin's profile is known (presented now or held) — else ``unknown_origin``;
   the origin may write the run's scope, the sender may hold it, and so may this node — else
   ``scope_denied``;
3. under the write lock: the run starts at or before our head + 1 — else ``gap``; every event
   is rebuilt from its compact form, its hash chained to the previous one (the stated ``prev``
   must equal the hash we hold before the run — else ``fork``), and the origin's head signature
   checked against the recomputed last hash — else ``bad_signature``;
4. events we already hold are compared by hash: equal means a replay (skipped: idempotent by
   ``(origin, scope, seq)``), different means a second signed history: ``fork``. Its events
   are written to the quarantine in a separate transaction after the rollback, for the admin;
5. new events are inserted, the head signature kept for relaying, the derived state updated
   (``on_events``; and ``on_profiles`` for origins whose kept role or unit just changed), all
   before commit. The caller acknowledges only after this returns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sync.chain import ChainError, SignatureVerifier, SignedHead, check_head
from sync.eventstore import FeedHead, Quarantined, Store
from sync.protocol import Code, Profile, ProtocolError, Run, may_hold, may_write
from sync.trust import REVOKED, OpenTrust, Trust, apply_revocations
from sync.wire import (
    GENESIS,
    MAX_EVENT_BYTES,
    Event,
    WireError,
    canonical_json,
    check_canonical_text,
    event_from_dict,
    hash_bytes,
)


@dataclass
class IngestResult:
    new_events: list[Event] = field(default_factory=list)
    skipped: int = 0
    max_hlc: int = 0

    @property
    def applied(self) -> int:
        return len(self.new_events)


@dataclass
class _Prepared:
    run: Run
    events: list[Event]
    raws: list[bytes]
    hashes: list[str]
    first_new: int  # index of the first event we do not hold yet


DEADLOCK_RETRIES = 3
_RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure


def _retryable(exc: BaseException) -> bool:
    """A database error that means "run the same transaction again" (the driver's, or peewee's
    wrapper of it: the SQLSTATE is on the exception or on its cause)."""
    seen: BaseException | None = exc
    for _ in range(4):
        if seen is None:
            return False
        if getattr(seen, "sqlstate", None) in _RETRYABLE_SQLSTATES:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class ForkDetected(ProtocolError):
    """A verified run contradicts events we hold: a second history of the feed."""

    def __init__(self, run: Run, seq: int, prepared: _Prepared | None, message: str) -> None:
        super().__init__(Code.FORK, message, run.feed)
        self.run = run
        self.seq = seq
        self.prepared = prepared


def _prev_hash_before(store: Store, run: Run, head: FeedHead) -> str:
    before = run.start - 1
    if before == 0:
        return GENESIS
    if before == head.seq:
        return head.hash
    return store.hash_at(run.origin, run.scope, before)


def _prepare(store: Store, run: Run, head: FeedHead, origin: Profile,
             verify_signature: SignatureVerifier) -> _Prepared:
    if run.start > head.seq + 1:
        raise ProtocolError(Code.GAP, f"run of {run.feed} starts at {run.start}, we hold up to {head.seq}", run.feed)
    expected_prev = _prev_hash_before(store, run, head)
    prev = run.prev  # chain from what the sender states, so a fork is still verified as signed
    events, raws, hashes = [], [], []
    for d in run.full_event_dicts():
        d["prev"] = prev
        try:
            event = event_from_dict(d, check_body=False)
            # ValueError: a lone surrogate ("\ud800" is a valid JSON escape but no UTF-8), or a
            # non-finite number should one ever get past event_from_dict: a refusal, not a 500.
            # ``d`` holds exactly the checked event's fields (event_from_dict refuses anything
            # else), so its encoding is the event's canonical form, without rebuilding the dict
            raw = canonical_json(d)
            check_canonical_text(raw)
        except (WireError, ValueError) as e:
            raise ProtocolError(Code.MALFORMED, f"{run.feed} seq {d['seq']}: {e}", run.feed) from e
        if len(raw) > MAX_EVENT_BYTES:
            raise ProtocolError(Code.TOO_LARGE, f"{run.feed} seq {event.seq} exceeds {MAX_EVENT_BYTES} bytes",
                                run.feed)
        prev = hash_bytes(raw)
        events.append(event)
        raws.append(raw)
        hashes.append(prev)
    try:
        check_head(SignedHead(run.origin, run.scope, run.end, prev, origin.public_key, run.signature),
                   verify_signature)
    except ChainError as e:
        raise ProtocolError(Code.BAD_SIGNATURE, f"{run.feed} up to seq {run.end}: {e.detail}", run.feed) from e
    first_new = max(0, head.seq - run.start + 1)
    if run.prev != expected_prev:
        raise ForkDetected(run, run.start, _Prepared(run, events, raws, hashes, first_new),
                           f"{run.feed}: history before seq {run.start} differs from ours")
    if first_new:
        held = store.held_hashes(run.origin, run.scope, run.start, min(head.seq, run.end))
        for i in range(min(first_new, len(events))):
            if held.get(events[i].seq) != hashes[i]:
                prepared = _Prepared(run, events, raws, hashes, first_new)
                raise ForkDetected(run, events[i].seq, prepared,
                                   f"{run.feed}: seq {events[i].seq} differs from the event we hold")
    return _Prepared(run, events, raws, hashes, first_new)


def _cutoff(cutoffs: dict[str, dict[str, int]], origin: str, scope: str) -> int | None:
    """Last valid seq of a revoked origin's feed (as :func:`sync.trust.revoked_after`), or None."""
    after = cutoffs.get(origin)
    return None if after is None else int(after.get(scope, 0))


class Ingestor:
    """Applies batches of runs for one node, into its store; see the module docstring."""

    def __init__(
        self,
        store: Store,
        me: Profile,
        verify_signature: SignatureVerifier,
        on_events: Callable[[list[Event]], object],
        wall_ms: Callable[[], int],
        trust: Trust | None = None,
        on_profiles: Callable[[list[str]], object] | None = None,
    ) -> None:
        self.store = store
        self.me = me
        self.verify_signature = verify_signature
        self.on_events = on_events
        self.on_profiles = on_profiles  # origins whose role or unit changed: derive their state again
        self.wall_ms = wall_ms
        self.trust: Trust = trust or OpenTrust(verify_signature, store)

    def apply(self, runs: Iterable[Run], profiles: Iterable[Profile], sender: Profile, session: str) -> IngestResult:
        runs = list(runs)
        # Every profile shown is admitted by the trust policy: with a district CA its role and
        # unit come from the certificate, whatever the profile claims.
        profiles = [self.trust.admit(p) for p in profiles]
        if len({r.feed for r in runs}) != len(runs):
            raise ProtocolError(Code.MALFORMED, "a batch carries at most one run per feed")
        for attempt in range(DEADLOCK_RETRIES + 1):
            try:
                with self.store.write_transaction():
                    return self._apply_locked(runs, profiles, sender)
            except ForkDetected as fork:
                self._quarantine(fork, sender, session)
                raise
            except Exception as e:
                # PostgreSQL broke a lock cycle (or a serialisation conflict) by failing this
                # transaction, which rolled back whole: applying the batch again is safe. Locks are
                # taken in one order (below), so this is a rare event, not a storm.
                if attempt == DEADLOCK_RETRIES or not _retryable(e):
                    raise
        raise AssertionError("unreachable")

    def _apply_locked(self, runs: list[Run], profiles: list[Profile], sender: Profile) -> IngestResult:
        store = self.store
        known = store.load_profiles({r.origin for r in runs} - {p.node_id for p in profiles})
        known.update({p.node_id: p for p in profiles})
        known.setdefault(sender.node_id, sender)
        cutoffs = store.revocations({r.origin for r in runs})  # one read per batch, not per run
        for run in runs:
            origin = known.get(run.origin)
            if origin is None:
                raise ProtocolError(Code.UNKNOWN_ORIGIN, f"no profile for origin {run.origin}", run.feed)
            if not may_write(origin, run.scope):
                raise ProtocolError(Code.SCOPE_DENIED, f"{origin.role} {run.origin} may not write unit {run.scope}",
                                    run.feed)
            if not may_hold(sender, run.scope) or not may_hold(self.me, run.scope):
                raise ProtocolError(Code.SCOPE_DENIED, f"unit {run.scope} is not shared between these nodes",
                                    run.feed)
            limit = _cutoff(cutoffs, run.origin, run.scope)
            if limit is not None and run.end > limit:
                raise ProtocolError(Code.REVOKED, f"origin {run.origin} was revoked after seq {limit} of "
                                    f"unit {run.scope}; refusing up to seq {run.end}", run.feed)
        changed = store.save_profiles(p for p in profiles if p.node_id != self.me.node_id)
        result = IngestResult()
        new_events: list[Event] = []
        new_raws: list[bytes] = []
        new_hashes: list[str] = []
        signed: list[SignedHead] = []
        # Every feed of the batch is locked before any is read, in one order (by feed key), in one
        # read (and on PostgreSQL one lock statement; see ``Store.feed_heads``): a hub serving
        # several worker processes takes batches naming the same feeds concurrently (a commune and
        # its laptop relaying each other's), and two that locked them in batch order could each
        # hold one and wait for the other. The locks are held to commit, so no two transactions
        # take the same seq and a head is never written from a stale read.
        heads = store.feed_heads([(r.origin, r.scope) for r in runs], for_update=True)
        for run in runs:
            head = heads[(run.origin, run.scope)]
            prepared = _prepare(store, run, head, known[run.origin], self.verify_signature)
            result.skipped += min(prepared.first_new, len(prepared.events))
            fresh = slice(prepared.first_new, None)
            if not prepared.events[fresh]:
                continue
            new_events.extend(prepared.events[fresh])
            new_raws.extend(prepared.raws[fresh])
            new_hashes.extend(prepared.hashes[fresh])
            signed.append(SignedHead(run.origin, run.scope, run.end, prepared.hashes[-1],
                                     known[run.origin].public_key, run.signature))
        if new_events:
            store.put_head_signatures(signed)
            store.insert_events(new_events, new_raws, new_hashes)
            # who is a district: the profiles as kept (what the derived state reads too), not as
            # presented in this batch
            revokers = {e.origin for e in new_events if e.type == REVOKED}
            if revokers:
                roles = {node_id: p.role for node_id, p in store.load_profiles(revokers).items()}
                apply_revocations(store, new_events, roles)
            self.on_events(new_events)
            result.new_events = new_events
            result.max_hlc = max(e.hlc for e in new_events)
        if changed and self.on_profiles:
            self.on_profiles(changed)
        return result

    def _quarantine(self, fork: ForkDetected, sender: Profile, session: str) -> None:
        prepared = fork.prepared
        now = self.wall_ms()
        rows = [] if prepared is None else [
            Quarantined(e.origin, e.scope, e.seq, h, raw, "fork", sender.node_id, session, now)
            for e, raw, h in zip(prepared.events, prepared.raws, prepared.hashes, strict=True)
            if e.seq >= fork.seq
        ]
        with self.store.write_transaction():
            self.store.quarantine(rows)
