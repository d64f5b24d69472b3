"""The sync side of a node whose database cannot be written: it still serves pulls.

A node on a read-only disk must let its peers and the district pull what it holds: that is how
its data is rescued. Serving a pull reads the events, but the server side also keeps records as
it goes, and each of them would be a failed write (a 500) on a read-only database.
:class:`ReadOnlyStore` wraps the node's store for its :class:`sync.replica.Replica` and answers
those bookkeeping writes without the database:

* **request nonces** (replay protection) are kept in this process's memory, for the same window
  as the ledger keeps them. A replay is therefore still refused by this process; a replay to
  another worker process of the same node, or after a restart, is not (a pull changes nothing on
  the server, and its answer is signed for the nonce the replayer already saw, so it learns
  nothing new from it);
* **the sync session log and the peer health rows** are not kept: they are records *about* the
  exchange, not data, and this node's sync-log page reads the database, so lines kept in memory
  would be shown nowhere. Each session goes to the application log instead;
* **callers' profiles** (a laptop or PC met for the first time) are kept in memory, so the next
  exchange of the same caller is authenticated by the key it presented once, as on a writable
  node, instead of being refused ``unknown_node`` before every batch (and throttled after a
  few). They only authenticate: nothing is derived from them (the derived state is the
  database's, and stays as it is);
* **head signatures** are not stored: the replica signs the head again for each answer
  (Ed25519 signatures are deterministic, so the peer receives the same bytes either way).

Everything else reads through to the wrapped store. A write that *is* data (a push, a
revocation, a quarantine) is not absorbed here: the replica refuses a push with
``read_only`` before touching the store (:meth:`sync.replica.Replica.serve_exchange`), and the
store's own write raises should anything else try.

Invariant: nothing this wrapper absorbs is data the node would lose; the database is never
written through it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from sync.chain import SignedHead
from sync.eventstore import Store
from sync.protocol import Profile, Vector

log = logging.getLogger(__name__)


class ReadOnlyStore:
    """``store`` for a replica on a read-only database (see the module docstring)."""

    read_only = True

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._nonces: dict[tuple[str, str], int] = {}
        self._profiles: dict[str, Profile] = {}
        self._generation = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)

    def remember_nonce(self, node_id: str, nonce: str, now: int, window_ms: int) -> bool:
        with self._lock:
            self._nonces = {k: t for k, t in self._nonces.items() if t >= now - 2 * window_ms}
            if (node_id, nonce) in self._nonces:
                return False
            self._nonces[(node_id, nonce)] = now
            return True

    # -- profiles: the database's, and the callers' met since this process started ----------------

    @property
    def profile_generation(self) -> int:
        return self._store.profile_generation + self._generation

    def save_profiles(self, profiles: Iterable[Profile]) -> list[str]:
        """Keep in memory the profiles the database does not hold as they are; nothing changes in
        the database, so no origin's state is derived again (``[]``)."""
        profiles = list(profiles)
        held = self.load_profiles(p.node_id for p in profiles)
        with self._lock:
            for p in profiles:
                if held.get(p.node_id) != p:
                    self._profiles[p.node_id] = p
                    self._generation += 1
        return []

    def load_profiles(self, node_ids: Iterable[str]) -> dict[str, Profile]:
        ids = set(node_ids)
        out = self._store.load_profiles(ids)
        with self._lock:
            out.update({i: self._profiles[i] for i in ids if i in self._profiles})
        return out

    def profile_ids(self) -> frozenset[str]:
        with self._lock:
            return self._store.profile_ids() | frozenset(self._profiles)

    # -- records about exchanges ---------------------------------------------------------------

    def put_head_signature(self, head: SignedHead) -> None:
        pass  # signed again at the next answer (deterministic signatures)

    def remember_peer(self, node_id: str, *, url: str = "", vector: Vector | None = None, now: int, ok: bool,
                      error: str = "", skew_ms: int | None = None) -> None:
        pass  # node health is a record about peers, not data (module docstring)

    def open_session(self, session: str, side: str, peer: str, peer_name: str, now: int) -> None:
        log.info("read-only database: sync session %s (%s) with %s %s not kept in the sync log",
                 session, side, peer, peer_name)

    def session_exists(self, session: str, side: str) -> bool:
        return False  # no line is kept, so none exists to protect

    def add_to_session(self, session: str, side: str, *, now: int, peer: str | None = None, **counts: Any) -> None:
        log.info("read-only database: sync session %s (%s) with %s: %s", session, side, peer or "-",
                 ", ".join(f"{k}={v}" for k, v in counts.items() if v not in ("", 0)))

    def record_bytes_out(self, session: str, side: str, n: int, peer: str | None = None) -> None:
        pass

    def name_session_peer(self, session: str, side: str, peer: str, peer_name: str) -> None:
        pass

    def close_session(self, session: str, side: str, **kw: Any) -> None:
        pass
