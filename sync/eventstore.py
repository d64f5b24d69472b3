"""The storage seam of sync: what the ingestor, the local log, the outbox and the ledger need
from a database, as one typed interface with no database library behind it.

Two implementations keep the same promises, checked by one contract suite
(``tests/contract/``, Kinto's pattern): :class:`sync.store.PeeweeStore` (SQLite on a commune PC,
PostgreSQL at the hub; each instance bound to its own database, so two nodes can live in one
process) and :class:`sync.memory.MemoryStore` (plain Python, for tests and tools).

Invariants every implementation keeps
-------------------------------------
* ``(origin, scope, seq)`` is unique: inserting an event whose feed position is taken raises
  :class:`StoreIntegrityError` (and, inside :meth:`EventStore.write_transaction`, rolls the
  whole transaction back).
* A feed's head seq equals the number of that feed's events held: heads are written by
  :meth:`EventStore.insert_events` together with the events, never separately.
* :meth:`EventStore.write_transaction` is atomic: an exception inside it leaves nothing of it
  behind (events, heads, signatures, profiles, quarantine, revocations, sessions); it takes the
  write lock at its start, so reads inside it are not stale and two writers never both take
  the same seq. A nested call is a savepoint: if its block raises, only it is undone.
* Stored events keep the exact canonical bytes they were hashed and signed over.
* Profiles: a certified profile replaces a self-signed one, never the reverse.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from sync.chain import SignedHead, StoredEvent
from sync.protocol import Profile, Vector
from sync.wire import Event


class StoreIntegrityError(Exception):
    """Raised when a write would break a store invariant: a feed position that is taken."""


@dataclass(frozen=True, slots=True)
class FeedHead:
    """Head of one (origin, scope) feed as held on this node (seq 0 and GENESIS when empty)."""

    origin: str
    scope: str
    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class PeerState:
    """What we last heard a direct peer durably holds."""

    node_id: str
    vector: Vector
    known: bool


@dataclass(frozen=True, slots=True)
class Quarantined:
    """An event of a second history of a feed, kept for the admin and never applied."""

    origin: str
    scope: str
    seq: int
    hash: str
    raw: bytes
    reason: str
    sender: str
    session: str
    received_at: int


class EventStore(Protocol):
    """Events, feed heads and signed heads of every feed this node holds."""

    def write_transaction(self) -> AbstractContextManager[object]:
        """A transaction holding the write lock from its start; a nested one is a savepoint."""
        ...

    def feed_head(self, origin: str, scope: str, *, for_update: bool = False) -> FeedHead:
        """The feed's head (seq 0, GENESIS if empty); ``for_update`` locks it where it matters."""
        ...

    def feed_heads(self, feeds: Iterable[tuple[str, str]], *,
                   for_update: bool = False) -> dict[tuple[str, str], FeedHead]:
        """:meth:`feed_head` of many feeds at once (one query, whatever their number)."""
        ...

    def feeds(self) -> list[FeedHead]:
        """Every feed held, ordered by (origin, scope)."""
        ...

    def insert_events(self, events: list[Event], raws: list[bytes] | None = None,
                      hashes: list[str] | None = None) -> list[str]:
        """Insert events the caller checked to extend their feeds; advance heads; return hashes.

        Must run inside :meth:`write_transaction`. ``raws`` are the canonical bytes and
        ``hashes`` their hashes when the caller already has them (the ingest hashed them to
        check the chain: an event is hashed once).
        """
        ...

    def hash_at(self, origin: str, scope: str, seq: int) -> str:
        """Hash of the feed's event at ``seq``, or "" when not held (seq 0 included)."""
        ...

    def held_hashes(self, origin: str, scope: str, first: int, last: int) -> dict[int, str]:
        """seq -> hash of the feed's events held in ``first .. last``."""
        ...

    def stored_feed(self, origin: str, scope: str, start: int = 1) -> Iterator[StoredEvent]:
        """The feed's events from ``start``, in seq order, with their stored bytes."""
        ...

    def max_hlc(self, origins: Iterable[str]) -> int:
        """The newest stamp among events of ``origins`` (0 if none)."""
        ...

    def put_head_signature(self, head: SignedHead) -> None:
        """Keep an origin's signature over its feed at a seq (and its key); first one wins."""
        ...

    def put_head_signatures(self, heads: list[SignedHead]) -> None:
        """:meth:`put_head_signature` of many heads, in a few statements."""
        ...

    def head_signature(self, origin: str, scope: str, seq: int) -> bytes | None:
        """The signature kept for the feed at exactly ``seq``, if any."""
        ...

    def signed_seqs(self, origin: str, scope: str, after: int) -> list[int]:
        """Seqs past ``after`` at which a signature of the feed is kept, ascending."""
        ...

    def latest_signed_head(self, origin: str, scope: str) -> SignedHead | None:
        """The signed head with the highest seq (public key "" if the origin is unknown)."""
        ...

    def events_for_entities(self, entities: Iterable[str]) -> dict[str, list[Event]]:
        """All events of the given entities, parsed, grouped by entity (every asked key present)."""
        ...

    def held_event_counts(self, entities: Iterable[str]) -> dict[str, int]:
        """How many events are held per entity (entities with none are absent)."""
        ...

    def all_entities(self, kind: str) -> list[str]:
        """Distinct entities ``kind/...`` held, sorted."""
        ...

    def count_events(self) -> int:
        ...


class Ledger(Protocol):
    """What sync remembers besides events: profiles, peers, sessions, quarantine, nonces,
    revocations (see :mod:`sync.ledger` for what each is for)."""

    def save_profiles(self, profiles: Iterable[Profile]) -> list[str]:
        """Keep admitted profiles; return ids whose kept role or unit changed."""
        ...

    def load_profiles(self, node_ids: Iterable[str]) -> dict[str, Profile]:
        ...

    def profile_ids(self) -> frozenset[str]:
        """Every node id a profile is held of."""
        ...

    @property
    def profile_generation(self) -> int:
        """Bumped whenever this store object saves profiles (cache invalidation)."""
        ...

    def quarantine(self, events: Iterable[Quarantined]) -> None:
        """Keep events of a second history; an event already kept (same hash) is ignored."""
        ...

    def quarantined(self, origin: str) -> list[Quarantined]:
        """The quarantined events of ``origin``, ordered by (scope, seq)."""
        ...

    def remember_nonce(self, node_id: str, nonce: str, now: int, window_ms: int) -> bool:
        """Record a request nonce; False if it was already seen (a replay)."""
        ...

    def peer_state(self, node_id: str) -> PeerState:
        ...

    def remember_peer(self, node_id: str, *, url: str = "", vector: Vector | None = None, now: int, ok: bool,
                      error: str = "", skew_ms: int | None = None) -> None:
        ...

    def find_peer_by_url(self, url: str) -> str | None:
        """The peer last seen at ``url``."""
        ...

    def open_session(self, session: str, side: str, peer: str, peer_name: str, now: int,
                     link: str = "network") -> None:
        """Start a session line (ignored if the (session, side, peer) line exists); ``link`` is
        ``network`` or ``usb`` (a bundle carried on a stick)."""
        ...

    def session_exists(self, session: str, side: str) -> bool:
        ...

    def add_to_session(self, session: str, side: str, *, now: int, peer: str | None = None, events_in: int = 0,
                       events_out: int = 0, bytes_in: int = 0, bytes_out: int = 0, conflicts: int = 0,
                       outcome: str | None = None, error_code: str = "", error: str = "") -> None:
        """Count one exchange into the session's line(s)."""
        ...

    def record_bytes_out(self, session: str, side: str, n: int, peer: str | None = None) -> None:
        ...

    def name_session_peer(self, session: str, side: str, peer: str, peer_name: str) -> None:
        """Set who the session was with, once the peer said so."""
        ...

    def close_session(self, session: str, side: str, *, outcome: str, error_code: str, error: str,
                      now: int) -> None:
        ...

    def session_lines(self, session: str) -> list[dict[str, object]]:
        """The session's lines as column -> value dicts (for tools and tests)."""
        ...

    def revocation(self, node_id: str) -> dict[str, int] | None:
        """Last valid seq per unit of a revoked node, or None if it is not revoked."""
        ...

    def revocations(self, node_ids: Iterable[str]) -> dict[str, dict[str, int]]:
        """:meth:`revocation` of many nodes at once: only the revoked ones are keys."""
        ...

    def put_revocation(self, node_id: str, after: dict[str, int], reason: str, revoked_at: int, event: str) -> None:
        """Record (or replace the cut-offs of) a revocation."""
        ...


class Store(EventStore, Ledger, Protocol):
    """Everything sync stores; what :class:`sync.ingest.Ingestor` and a replica are given."""
