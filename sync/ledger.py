"""What sync remembers besides events: known node profiles, peers, session logs, quarantine,
request nonces and revocations; :class:`PeeweeLedger` keeps them on peewee.

* profiles (``ProfileRow``): every node whose events we hold or relay, with the statement it
  signed. A certified profile replaces a self-signed one, never the reverse.
* peers (``PeerRow``): each node we exchange with directly, and the vector it last
  *acknowledged* (its answer after a durable commit). The client pushes from there, so a
  dropped connection costs at most the batch in flight, never an acknowledged one.
* sessions (``SyncSessionRow``): one row per session per side: peer, times, events and bytes
  each way, exchanges, conflicts, outcome and error; what district admins read.
* quarantine (``QuarantineRow``): events of a second history of a feed (a restored or cloned
  node). They are kept for the admin, never applied.
* nonces (``SeenNonceRow``) and revocations (``RevocationRow``, see :mod:`sync.trust`).

:class:`KnownIds` caches the profile ids of one store in memory for the sync entrance.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from sync.eventstore import Ledger, PeerState, Quarantined
from sync.protocol import Profile, Vector
from sync.rows import (
    LEDGER_MODELS,
    PeerRow,
    ProfileRow,
    QuarantineRow,
    SeenNonceRow,
    SyncSessionRow,
)

if TYPE_CHECKING:
    from sync.rows import Rows

__all__ = [
    "LEDGER_MODELS",
    "KnownIds",
    "PeerRow",
    "PeerState",
    "PeeweeLedger",
    "ProfileRow",
    "QuarantineRow",
    "SeenNonceRow",
    "SyncSessionRow",
]


def _as_bytes(value: bytes | memoryview | str | None) -> bytes:
    if value is None:
        return b""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass")
    return bytes(value)


class PeeweeLedger:
    """The :class:`sync.eventstore.Ledger` half of :class:`sync.store.PeeweeStore`."""

    rows: Rows

    def __init__(self) -> None:
        self._generation = 0

    @property
    def profile_generation(self) -> int:
        return self._generation

    # -- profiles ---------------------------------------------------------------------------

    def save_profiles(self, profiles: Iterable[Profile]) -> list[str]:
        """Keep admitted profiles; a certified one replaces a self-signed one, never the reverse.

        Returns the ids whose kept role or unit changed: state derived with the old ones (the
        authority of their events) must be derived again.
        """
        P = self.rows.Profile
        self._generation += 1
        profiles = list(profiles)
        ids = sorted({p.node_id for p in profiles})
        kept = P.select(P.node_id, P.role, P.unit).where(P.node_id.in_(ids)).tuples() if ids else []
        before = {node_id: (role, unit) for node_id, role, unit in kept}
        # in one order (by node id): on PostgreSQL an upsert locks the row to commit, and two
        # concurrent batches presenting the same profiles in different orders would deadlock
        for p in sorted(profiles, key=lambda p: p.node_id):
            values = {"public_key": p.public_key, "role": p.role, "unit": p.unit, "name": p.name,
                      "signature": p.signature, "cert": p.cert}
            query = P.insert(node_id=p.node_id, **values)
            if p.cert:
                query = query.on_conflict(conflict_target=[P.node_id],
                                          update={getattr(P, k): v for k, v in values.items()})
            else:
                query = query.on_conflict_ignore()
            query.execute()
        return sorted({p.node_id for p in profiles
                       if p.cert and p.node_id in before and before[p.node_id] != (p.role, p.unit)})

    def load_profiles(self, node_ids: Iterable[str]) -> dict[str, Profile]:
        P = self.rows.Profile
        ids = sorted(set(node_ids))
        out = {}
        for start in range(0, len(ids), 500):
            for r in P.select().where(P.node_id.in_(ids[start : start + 500])):
                out[r.node_id] = Profile(r.node_id, bytes(r.public_key), r.role, r.unit, r.name, bytes(r.signature),
                                         _as_bytes(r.cert))
        return out

    def profile_ids(self) -> frozenset[str]:
        P = self.rows.Profile
        return frozenset(node_id for (node_id,) in P.select(P.node_id).tuples())

    # -- quarantine -------------------------------------------------------------------------

    def quarantine(self, events: Iterable[Quarantined]) -> None:
        Q = self.rows.Quarantine
        rows = [{"origin": q.origin, "scope": q.scope, "seq": q.seq, "hash": q.hash, "raw": q.raw, "reason": q.reason,
                 "sender": q.sender, "session": q.session, "received_at": q.received_at} for q in events]
        for start in range(0, len(rows), 100):
            Q.insert_many(rows[start : start + 100]).on_conflict_ignore().execute()

    def quarantined(self, origin: str) -> list[Quarantined]:
        Q = self.rows.Quarantine
        query = Q.select().where(Q.origin == origin).order_by(Q.scope, Q.seq, Q.hash)
        return [Quarantined(r.origin, r.scope, r.seq, r.hash, _as_bytes(r.raw), r.reason, r.sender, r.session,
                            r.received_at) for r in query]

    # -- nonces -----------------------------------------------------------------------------

    def remember_nonce(self, node_id: str, nonce: str, now: int, window_ms: int) -> bool:
        """Record a request nonce; False if it was already seen (a replay)."""
        N = self.rows.SeenNonce
        N.delete().where(N.seen_at < now - 2 * window_ms).execute()
        inserted = N.insert(node_id=node_id, nonce=nonce, seen_at=now).on_conflict_ignore().execute()
        return bool(inserted) and N.select().where(
            (N.node_id == node_id) & (N.nonce == nonce) & (N.seen_at == now)
        ).exists()

    # -- peers ------------------------------------------------------------------------------

    def peer_state(self, node_id: str) -> PeerState:
        row = self.rows.Peer.get_or_none(self.rows.Peer.node_id == node_id)
        if row is None:
            return PeerState(node_id, {}, False)
        return PeerState(node_id, json.loads(row.vector), True)

    def remember_peer(self, node_id: str, *, url: str = "", vector: Vector | None = None, now: int, ok: bool,
                      error: str = "", skew_ms: int | None = None) -> None:
        Peer = self.rows.Peer
        values: dict = {Peer.last_seen: now}
        if url:
            values[Peer.url] = url
        if vector is not None:
            values[Peer.vector] = json.dumps(vector, sort_keys=True)
        if ok:
            values[Peer.last_success] = now
            values[Peer.last_error] = ""
        elif error:
            values[Peer.last_error] = error[:2000]
        if skew_ms is not None:
            values[Peer.clock_skew_ms] = skew_ms
        insert = {f.name: v for f, v in values.items()}
        Peer.insert(node_id=node_id, **insert).on_conflict(conflict_target=[Peer.node_id], update=values).execute()

    def find_peer_by_url(self, url: str) -> str | None:
        Peer = self.rows.Peer
        row = Peer.select(Peer.node_id).where(Peer.url == url).order_by(Peer.last_seen.desc()).first()
        return row.node_id if row else None

    # -- sessions ---------------------------------------------------------------------------

    def open_session(self, session: str, side: str, peer: str, peer_name: str, now: int,
                     link: str = "network") -> None:
        self.rows.SyncSession.insert(
            session=session, side=side, peer=peer, peer_name=peer_name, started_at=now, link=link
        ).on_conflict_ignore().execute()

    def session_exists(self, session: str, side: str) -> bool:
        S = self.rows.SyncSession
        return S.select().where((S.session == session) & (S.side == side)).exists()

    def _session_where(self, session: str, side: str, peer: str | None):
        S = self.rows.SyncSession
        where = (S.session == session) & (S.side == side)
        if peer is not None:
            where &= S.peer == peer
        return where

    def add_to_session(self, session: str, side: str, *, now: int, peer: str | None = None, events_in: int = 0,
                       events_out: int = 0, bytes_in: int = 0, bytes_out: int = 0, conflicts: int = 0,
                       outcome: str | None = None, error_code: str = "", error: str = "") -> None:
        S = self.rows.SyncSession
        values: dict = {
            S.events_in: S.events_in + events_in,
            S.events_out: S.events_out + events_out,
            S.bytes_in: S.bytes_in + bytes_in,
            S.bytes_out: S.bytes_out + bytes_out,
            S.exchanges: S.exchanges + 1,
            S.conflicts: S.conflicts + conflicts,
            S.ended_at: now,
        }
        if outcome:
            values[S.outcome] = outcome
        if error_code or error:
            values[S.error_code] = error_code
            values[S.error] = error[:4000]
        S.update(values).where(self._session_where(session, side, peer)).execute()

    def record_bytes_out(self, session: str, side: str, n: int, peer: str | None = None) -> None:
        S = self.rows.SyncSession
        S.update({S.bytes_out: S.bytes_out + n}).where(self._session_where(session, side, peer)).execute()

    def name_session_peer(self, session: str, side: str, peer: str, peer_name: str) -> None:
        S = self.rows.SyncSession
        S.update(peer=peer, peer_name=peer_name).where(self._session_where(session, side, None)).execute()

    def close_session(self, session: str, side: str, *, outcome: str, error_code: str, error: str,
                      now: int) -> None:
        S = self.rows.SyncSession
        S.update(outcome=outcome, error_code=error_code, error=error[:4000], ended_at=now).where(
            self._session_where(session, side, None)).execute()

    def session_lines(self, session: str) -> list[dict[str, object]]:
        S = self.rows.SyncSession
        return list(S.select().where(S.session == session).order_by(S.side, S.peer).dicts())

    # -- revocations ------------------------------------------------------------------------

    def revocation(self, node_id: str) -> dict[str, int] | None:
        R = self.rows.Revocation
        row = R.select(R.after).where(R.node_id == node_id).first()
        return None if row is None else {k: int(v) for k, v in json.loads(row.after).items()}

    def revocations(self, node_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        R = self.rows.Revocation
        ids = sorted(set(node_ids))
        out = {}
        for start in range(0, len(ids), 500):
            for node_id, after in R.select(R.node_id, R.after).where(R.node_id.in_(ids[start : start + 500])).tuples():
                out[node_id] = {k: int(v) for k, v in json.loads(after).items()}
        return out

    def put_revocation(self, node_id: str, after: dict[str, int], reason: str, revoked_at: int, event: str) -> None:
        R = self.rows.Revocation
        text = json.dumps(after, sort_keys=True)
        R.insert(node_id=node_id, after=text, reason=reason[:60], revoked_at=revoked_at, event=event).on_conflict(
            conflict_target=[R.node_id], update={R.after: text, R.event: event},
        ).execute()


class KnownIds:
    """The node ids a store holds a profile of, in memory.

    The sync endpoint asks it first, so a request naming a node nobody here knows is refused
    without a database round trip (a connection per request, on a hub being flooded with random
    ids). The set is reloaded on a miss only when the store saved profiles since the last load,
    or after ``refresh_s`` (another process, e.g. a ``motcua sync`` run by hand, may have):
    a flood of unknown ids costs one query per ``refresh_s`` at most.
    """

    def __init__(self, store: Ledger, refresh_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.refresh_s = refresh_s
        self.clock = clock
        self._ids: frozenset[str] | None = None
        self._loaded_at = 0.0
        self._generation = -1
        self._lock = threading.Lock()

    def __contains__(self, node_id: str) -> bool:
        ids = self._ids
        if ids is not None and node_id in ids:
            return True
        with self._lock:
            generation = self.store.profile_generation
            stale = self._generation != generation or self.clock() - self._loaded_at >= self.refresh_s
            if self._ids is None or stale:
                self._generation = generation
                self._ids = self.store.profile_ids()
                self._loaded_at = self.clock()
            return node_id in self._ids
