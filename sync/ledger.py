"""What sync remembers besides events: known node profiles, peers, session logs, quarantine.

* ``ProfileRow``: every node whose events we hold or relay, with the statement it signed.
* ``PeerRow``: each node we exchange with directly, and the vector it last *acknowledged*
  (its answer after a durable commit). The client pushes from there, so a dropped connection
  costs at most the batch in flight, never an acknowledged one.
* ``SyncSessionRow``: one row per session per side: peer, times, events and bytes each way,
  exchanges, conflicts, outcome and error; what district admins read.
* ``QuarantineRow``: events of a second history of a feed (a restored or cloned node). They are
  kept for the admin, never applied.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import peewee as pw

from sync.protocol import Profile, Vector
from sync.store import BaseRow


class ProfileRow(BaseRow):
    node_id = pw.CharField(max_length=32, primary_key=True)
    public_key = pw.BlobField()
    role = pw.CharField(max_length=10)
    unit = pw.CharField(max_length=40)
    name = pw.CharField(max_length=200)
    signature = pw.BlobField()
    cert = pw.BlobField(default=b"")  # DER, when a district CA certified this node

    class Meta:
        table_name = "node_profile"


class PeerRow(BaseRow):
    node_id = pw.CharField(max_length=32, primary_key=True)
    url = pw.CharField(max_length=300, default="")
    vector = pw.TextField(default="{}")  # JSON: what the peer durably holds, as it last said
    last_seen = pw.BigIntegerField(default=0)
    last_success = pw.BigIntegerField(default=0)
    last_error = pw.TextField(default="")
    clock_skew_ms = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "peer"


class SyncSessionRow(BaseRow):
    id = pw.BigAutoField()
    session = pw.CharField(max_length=64, index=True)
    side = pw.CharField(max_length=6)  # client | server
    peer = pw.CharField(max_length=32, index=True)
    peer_name = pw.CharField(max_length=200, default="")
    started_at = pw.BigIntegerField(index=True)
    ended_at = pw.BigIntegerField(null=True)
    events_in = pw.IntegerField(default=0)
    events_out = pw.IntegerField(default=0)
    bytes_in = pw.BigIntegerField(default=0)
    bytes_out = pw.BigIntegerField(default=0)
    exchanges = pw.IntegerField(default=0)
    conflicts = pw.IntegerField(default=0)
    outcome = pw.CharField(max_length=12, default="running", index=True)  # running|ok|partial|failed
    error_code = pw.CharField(max_length=40, default="")
    error = pw.TextField(default="")

    class Meta:
        table_name = "sync_session"
        # Per peer: a session id chosen by one caller must never let another caller's
        # exchanges be counted in (or overwrite) its line.
        indexes = ((("session", "side", "peer"), True),)


class QuarantineRow(BaseRow):
    id = pw.BigAutoField()
    origin = pw.CharField(max_length=32, index=True)
    scope = pw.CharField(max_length=40)
    seq = pw.BigIntegerField()
    hash = pw.CharField(max_length=64)
    raw = pw.BlobField()
    reason = pw.CharField(max_length=40)
    sender = pw.CharField(max_length=32)
    session = pw.CharField(max_length=64)
    received_at = pw.BigIntegerField()

    class Meta:
        table_name = "quarantine"
        indexes = ((("origin", "scope", "seq", "hash"), True),)


class SeenNonceRow(BaseRow):
    """Request nonces seen within the clock window: a request replayed byte for byte is refused."""

    node_id = pw.CharField(max_length=32)
    nonce = pw.CharField(max_length=64)
    seen_at = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "seen_nonce"
        primary_key = pw.CompositeKey("node_id", "nonce")


LEDGER_MODELS: tuple[type[BaseRow], ...] = (ProfileRow, PeerRow, SyncSessionRow, QuarantineRow)


_saved_generation = 0  # bumped whenever this process saves profiles (see KnownIds)


def save_profiles(profiles: Iterable[Profile]) -> list[str]:
    """Keep admitted profiles; a certified one replaces a self-signed one, never the reverse.

    Returns the ids whose kept role or unit changed: state derived with the old ones (the
    authority of their events) must be derived again.
    """
    global _saved_generation
    _saved_generation += 1
    profiles = list(profiles)
    ids = sorted({p.node_id for p in profiles})
    kept = ProfileRow.select(ProfileRow.node_id, ProfileRow.role, ProfileRow.unit).where(ProfileRow.node_id.in_(ids))
    before = {r.node_id: (r.role, r.unit) for r in kept} if ids else {}
    for p in profiles:
        values = {"public_key": p.public_key, "role": p.role, "unit": p.unit, "name": p.name,
                  "signature": p.signature, "cert": p.cert}
        query = ProfileRow.insert(node_id=p.node_id, **values)
        if p.cert:
            query = query.on_conflict(conflict_target=[ProfileRow.node_id],
                                      update={getattr(ProfileRow, k): v for k, v in values.items()})
        else:
            query = query.on_conflict_ignore()
        query.execute()
    return sorted({p.node_id for p in profiles
                   if p.cert and p.node_id in before and before[p.node_id] != (p.role, p.unit)})


class KnownIds:
    """The node ids this node holds a profile of, in memory.

    The sync endpoint asks it first, so a request naming a node nobody here knows is refused
    without a database round trip (a connection per request, on a hub being flooded with random
    ids). The set is reloaded on a miss only when this process saved profiles since the last
    load, or after ``refresh_s`` (another process, e.g. a ``motcua sync`` run by hand, may have):
    a flood of unknown ids costs one query per ``refresh_s`` at most.
    """

    def __init__(self, refresh_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
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
            stale = self._generation != _saved_generation or self.clock() - self._loaded_at >= self.refresh_s
            if self._ids is None or stale:
                self._generation = _saved_generation
                self._ids = frozenset(r[0] for r in ProfileRow.select(ProfileRow.node_id).tuples())
                self._loaded_at = self.clock()
            return node_id in self._ids


def remember_nonce(node_id: str, nonce: str, now: int, window_ms: int) -> bool:
    """Record a request nonce; False if it was already seen (a replay)."""
    SeenNonceRow.delete().where(SeenNonceRow.seen_at < now - 2 * window_ms).execute()
    inserted = SeenNonceRow.insert(node_id=node_id, nonce=nonce, seen_at=now).on_conflict_ignore().execute()
    return bool(inserted) and SeenNonceRow.select().where(
        (SeenNonceRow.node_id == node_id) & (SeenNonceRow.nonce == nonce) & (SeenNonceRow.seen_at == now)
    ).exists()


def load_profiles(node_ids: Iterable[str]) -> dict[str, Profile]:
    ids = sorted(set(node_ids))
    out = {}
    for start in range(0, len(ids), 500):
        for r in ProfileRow.select().where(ProfileRow.node_id.in_(ids[start : start + 500])):
            out[r.node_id] = Profile(
                r.node_id, bytes(r.public_key), r.role, r.unit, r.name, bytes(r.signature), bytes(r.cert or b"")
            )
    return out


@dataclass
class PeerState:
    node_id: str
    vector: Vector
    known: bool


def peer_state(node_id: str) -> PeerState:
    row = PeerRow.get_or_none(PeerRow.node_id == node_id)
    if row is None:
        return PeerState(node_id, {}, False)
    return PeerState(node_id, json.loads(row.vector), True)


def remember_peer(node_id: str, *, url: str = "", vector: Vector | None = None, now: int, ok: bool,
                  error: str = "", skew_ms: int | None = None) -> None:
    values: dict = {PeerRow.last_seen: now}
    if url:
        values[PeerRow.url] = url
    if vector is not None:
        values[PeerRow.vector] = json.dumps(vector, sort_keys=True)
    if ok:
        values[PeerRow.last_success] = now
        values[PeerRow.last_error] = ""
    elif error:
        values[PeerRow.last_error] = error[:2000]
    if skew_ms is not None:
        values[PeerRow.clock_skew_ms] = skew_ms
    insert = {f.name: v for f, v in values.items()}
    PeerRow.insert(node_id=node_id, **insert).on_conflict(
        conflict_target=[PeerRow.node_id], update=values
    ).execute()


def open_session(session: str, side: str, peer: str, peer_name: str, now: int) -> None:
    SyncSessionRow.insert(
        session=session, side=side, peer=peer, peer_name=peer_name, started_at=now
    ).on_conflict_ignore().execute()


def add_to_session(session: str, side: str, *, now: int, peer: str | None = None, events_in: int = 0,
                   events_out: int = 0,
                   bytes_in: int = 0, bytes_out: int = 0, conflicts: int = 0, outcome: str | None = None,
                   error_code: str = "", error: str = "") -> None:
    values: dict = {
        SyncSessionRow.events_in: SyncSessionRow.events_in + events_in,
        SyncSessionRow.events_out: SyncSessionRow.events_out + events_out,
        SyncSessionRow.bytes_in: SyncSessionRow.bytes_in + bytes_in,
        SyncSessionRow.bytes_out: SyncSessionRow.bytes_out + bytes_out,
        SyncSessionRow.exchanges: SyncSessionRow.exchanges + 1,
        SyncSessionRow.conflicts: SyncSessionRow.conflicts + conflicts,
        SyncSessionRow.ended_at: now,
    }
    if outcome:
        values[SyncSessionRow.outcome] = outcome
    if error_code or error:
        values[SyncSessionRow.error_code] = error_code
        values[SyncSessionRow.error] = error[:4000]
    where = (SyncSessionRow.session == session) & (SyncSessionRow.side == side)
    if peer is not None:
        where &= SyncSessionRow.peer == peer
    SyncSessionRow.update(values).where(where).execute()


def record_bytes_out(session: str, side: str, n: int, peer: str | None = None) -> None:
    where = (SyncSessionRow.session == session) & (SyncSessionRow.side == side)
    if peer is not None:
        where &= SyncSessionRow.peer == peer
    SyncSessionRow.update({SyncSessionRow.bytes_out: SyncSessionRow.bytes_out + n}).where(where).execute()


def find_peer_by_url(url: str) -> str | None:
    row = PeerRow.select(PeerRow.node_id).where(PeerRow.url == url).order_by(PeerRow.last_seen.desc()).first()
    return row.node_id if row else None
