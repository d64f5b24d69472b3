"""This node's own feeds: building, appending and signing local events, in the store it is given.

Use :meth:`LocalLog.transaction` around every local write::

    with log.transaction():
        event = log.append(scope=..., entity=..., type=..., body=..., author=..., parents=...)
        project([event])          # derived state, same transaction

Invariants
----------
* Events are appended and the derived state is updated in one database transaction; the signed
  head for every feed touched is written in that same transaction, just before commit, so a
  committed event is always covered by a signature and a rolled-back one leaves nothing.
* One signature per feed per transaction, not per event (see :mod:`sync.chain`).
* Seq numbers come from the stored feed head read under the write lock, never from memory, so a
  second process on the same database (CLI while the server runs) cannot take the same seq.
* The clock starts from the newest stamp of this node's own events, so stamps keep increasing
  across restarts even if the PC clock went backwards.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Protocol

from sync.chain import SignedHead
from sync.clock import HybridClock
from sync.eventstore import EventStore, FeedHead
from sync.wire import Event, build_event, canonical_bytes, hash_bytes, head_message


class Signer(Protocol):
    node_id: str
    public_key: bytes

    def sign(self, message: bytes) -> bytes: ...


class OutsideTransaction(RuntimeError):
    """Raised when a local event is appended outside :meth:`LocalLog.transaction`."""


class LocalLog:
    def __init__(
        self,
        store: EventStore,
        signer: Signer,
        wall_ms: Callable[[], int],
        max_forward_skew_ms: int = 5 * 60 * 1000,
    ) -> None:
        self.store = store
        self.signer = signer
        self.origin = signer.node_id
        self.wall_ms = wall_ms
        self.clock = HybridClock(self._last_own_stamp(), max_forward_skew_ms)
        self._lock = threading.RLock()
        self._local = threading.local()
        # Called with the new heads of this node's feeds after each local commit (the write
        # gate keeps a copy outside the database to notice a restore from an old backup).
        self.after_commit: Callable[[list[FeedHead]], None] | None = None

    def _last_own_stamp(self) -> int:
        return self.store.max_hlc([self.origin])

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A write transaction in which :meth:`append` may be called; signs heads at the end."""
        with self._lock:
            if getattr(self._local, "dirty", None) is not None:
                yield  # nested: the outermost transaction signs
                return
            self._local.dirty = {}
            try:
                with self.store.write_transaction():
                    yield
                    self._sign_dirty_heads()
                committed = list(self._local.dirty.values())
            finally:
                self._local.dirty = None
            if committed and self.after_commit is not None:
                self.after_commit(committed)

    def append(
        self,
        *,
        scope: str,
        entity: str,
        type: str,
        body: Mapping[str, Any],
        author: str,
        parents: tuple[str, ...] | list[str] = (),
        at: int | None = None,
    ) -> Event:
        """Build, check and insert one local event; return it."""
        dirty = getattr(self._local, "dirty", None)
        if dirty is None:
            raise OutsideTransaction("local events must be appended inside LocalLog.transaction()")
        head = dirty.get(scope) or self.store.feed_head(self.origin, scope, for_update=True)
        now = self.wall_ms()
        event = build_event(
            origin=self.origin,
            scope=scope,
            seq=head.seq + 1,
            prev=head.hash,
            hlc=self.clock.tick(now),
            at=now if at is None else at,
            author=author,
            entity=entity,
            type=type,
            body=body,
            parents=parents,
        )
        raw = canonical_bytes(event)
        self.store.insert_events([event], [raw])
        dirty[scope] = FeedHead(self.origin, scope, event.seq, hash_bytes(raw))
        return event

    def sign_head(self, head: FeedHead) -> SignedHead:
        """Sign this node's feed head (also used when cutting a batch at an unsigned seq)."""
        signature = self.signer.sign(head_message(head.origin, head.scope, head.seq, head.hash))
        signed = SignedHead(head.origin, head.scope, head.seq, head.hash, self.signer.public_key, signature)
        self.store.put_head_signature(signed)
        return signed

    def _sign_dirty_heads(self) -> None:
        for head in self._local.dirty.values():
            self.sign_head(head)
