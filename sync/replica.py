"""A node as a sync participant: its profile, log, ingest and outbox, and the server side of an
exchange. Both the HTTP blueprint and the client engine go through a :class:`Replica`.

The server side is stateless per caller: what to send is computed from the vector in the
request, what was received is acknowledged by the vector in the answer, written only after the
push committed. A replayed request therefore changes nothing and gets the same answer.
"""

from __future__ import annotations

from collections.abc import Callable

from sync.chain import SignatureVerifier, SignedHead
from sync.eventstore import FeedHead, Store
from sync.exchange import ExchangeRequest, ExchangeResponse
from sync.ingest import Ingestor, IngestResult
from sync.log import LocalLog
from sync.outbox import Outgoing, build_outgoing, local_vector
from sync.protocol import (
    DEFAULT_BATCH_BYTES,
    Code,
    Profile,
    ProtocolError,
    Vector,
    may_hold,
    split_feed_key,
    vector_digest,
)
from sync.readonly import ReadOnlyStore
from sync.trust import OpenTrust, Trust
from sync.wire import Event, head_message


class Replica:
    """One node's sync side, over its store (the one its local log writes to)."""

    def __init__(
        self,
        store: Store,
        me: Profile,
        log: LocalLog,
        verify_signature: SignatureVerifier,
        on_events: Callable[[list[Event]], object],
        wall_ms: Callable[[], int],
        batch_bytes: int = DEFAULT_BATCH_BYTES,
        trust: Trust | None = None,
        on_profiles: Callable[[list[str]], object] | None = None,
        read_only: bool = False,
    ) -> None:
        # On a read-only database the replica serves pulls only: its bookkeeping goes to memory
        # or the log (sync.readonly), a push is refused with read_only (serve_exchange).
        self.read_only = read_only
        if read_only and not isinstance(store, ReadOnlyStore):
            store = ReadOnlyStore(store)  # type: ignore[assignment]
        self.store: Store = store
        self.me = me
        self.log = log
        self.verify_signature = verify_signature
        self.wall_ms = wall_ms
        self.batch_bytes = batch_bytes
        self.trust: Trust = trust or OpenTrust(verify_signature, self.store)
        self.on_profiles = on_profiles
        self.digest_refused: set[str] = set()  # peers that refused protocol 2 (older nodes), this process
        self.ingestor = Ingestor(store, me, verify_signature, self._on_events(on_events), wall_ms, self.trust,
                                 on_profiles)
        if not read_only:  # on a read-only database the profile is already there, or cannot be
            self.keep_profiles([me])

    def keep_profiles(self, profiles: list[Profile]) -> None:
        """Save profiles and, in the same transaction, re-derive what origins whose role or unit
        changed had made (their authority was judged with the old ones)."""
        with self.store.write_transaction():
            changed = self.store.save_profiles(profiles)
            if changed and self.on_profiles:
                self.on_profiles(changed)

    def _on_events(self, project: Callable[[list[Event]], object]) -> Callable[[list[Event]], object]:
        def apply(events: list[Event]) -> object:
            # Received stamps move our clock forward, within the skew bound (sync.clock).
            self.log.clock.observe(max(e.hlc for e in events), self.wall_ms())
            return project(events)

        return apply

    # -- shared helpers ------------------------------------------------------------------

    def sign_own_head(self, head: FeedHead) -> bytes:
        kept = self.store.head_signature(head.origin, head.scope, head.seq)
        if kept is not None:
            return kept
        signature = self.log.signer.sign(head_message(head.origin, head.scope, head.seq, head.hash))
        if self.read_only:
            return signature  # signed again next time (sync.readonly)
        with self.store.write_transaction():
            self.store.put_head_signature(
                SignedHead(head.origin, head.scope, head.seq, head.hash, self.me.public_key, signature)
            )
        return signature

    def vector_for(self, peer: Profile) -> Vector:
        return local_vector(self.store, lambda scope: may_hold(peer, scope))

    def outgoing_for(self, peer: Profile, peer_vector: Vector, budget: int | None = None) -> Outgoing:
        known_origins = {split_feed_key(k)[0] for k in peer_vector}
        return build_outgoing(
            self.store,
            peer_vector,
            lambda scope: may_hold(peer, scope),
            budget or self.batch_bytes,
            self.me.node_id,
            self.sign_own_head,
            lambda origin: origin in known_origins or origin == peer.node_id,
            self.trust.revoked_after,
            self.store.revocations,
        )

    def ingest(self, runs, profiles, sender: Profile, session: str) -> IngestResult:
        if self.read_only:  # as a client: what the peer sends cannot be stored; a clean refusal, not a 500
            if runs:
                raise ProtocolError(Code.READ_ONLY, "this node's database is read-only: it cannot take in what the "
                                    "peer sends")
            return IngestResult()
        return self.ingestor.apply(runs, profiles, sender, session)

    # -- server side ---------------------------------------------------------------------

    def resolve_caller(self, authenticated: Profile, presented: tuple[Profile, ...]) -> Profile:
        """The caller as this node trusts it for this exchange.

        ``authenticated`` signed the request (its key came from the ledger or a certificate,
        see :meth:`sync.trust.Trust.identify`). A profile it presents of itself is admitted by
        the trust policy (certificate, or known profile, or trust on first use on a
        development node) and must be for the same key; a first contact on a development node
        must present one, since only its self-signed profile says what it is.
        """
        for p in presented:
            if p.node_id == authenticated.node_id:
                admitted = self.trust.check_caller(p)
                if admitted.public_key != authenticated.public_key:
                    raise ProtocolError(Code.UNAUTHENTICATED, "the presented profile is for another key")
                return admitted
        if not authenticated.role:
            raise ProtocolError(Code.UNKNOWN_NODE, f"node {authenticated.node_id} is not known here; send its "
                                "profile")
        return authenticated

    def serve_exchange(
        self, req: ExchangeRequest, caller: Profile, bytes_in: int, caller_time: int | None = None
    ) -> tuple[ExchangeResponse, int]:
        """Apply the caller's push, then answer with our vector and what it lacks.

        Returns the response and the number of events in its pull (for the session log).
        """
        now = self.wall_ms()
        if self.read_only and req.push:
            # Nothing of it could be stored: refused whole, before any write, so the caller keeps
            # it for another peer (or for this one once its disk is writable again).
            raise ProtocolError(Code.READ_ONLY, "this node's database is read-only: it serves pulls and refuses "
                                "pushes; push to another node")
        self.store.open_session(req.session, "server", caller.node_id, caller.name, now)
        error = None
        received = 0
        if req.push or req.profiles:
            try:
                if self.read_only:  # no push here (refused above): the profiles, kept in memory
                    self.store.save_profiles(self.trust.admit(p) for p in req.profiles if p.node_id != self.me.node_id)
                else:
                    received = self.ingest(req.push, req.profiles, caller, req.session).applied
            except ProtocolError as e:
                error = {"code": e.code.value, "message": e.message, "feed": e.feed}
        vector = self.vector_for(caller)
        caller_vector: Vector | None = req.vector
        if req.vector_digest:
            # Protocol 2: the caller expects a no-op and sent only its vector's digest. Equal
            # digests mean equal vectors: nothing to send, and the digest answers for our vector.
            # Otherwise we cannot know what it lacks: our vector, no pull, and it asks again
            # with its own (two exchanges instead of one, only when something changed).
            matched = vector_digest(vector) == req.vector_digest
            caller_vector = vector if matched else None
            out = Outgoing([], [], not matched, 0)
        else:
            out = self.outgoing_for(caller, req.vector, min(req.max_bytes, self.batch_bytes))
        response = ExchangeResponse(
            session=req.session,
            vector={} if req.vector_digest and caller_vector is not None else vector,
            pull=tuple(out.runs),
            profiles=tuple(out.profiles),
            more=out.more,
            error=error,
            node=self.me if req.profiles else None,
            time=now,
            protocol=req.protocol,
            unchanged=bool(req.vector_digest) and caller_vector is not None,
            mismatch=bool(req.vector_digest) and caller_vector is None,
        )
        # the caller's clock as it signed the request: node health flags PCs that are far off
        skew = caller_time - now if caller_time is not None else None
        self.store.remember_peer(caller.node_id, vector=caller_vector, now=now, ok=error is None,
                             error=error["message"] if error else "", skew_ms=skew)
        self.store.add_to_session(
            req.session, "server", now=self.wall_ms(), peer=caller.node_id, events_in=received, events_out=out.events,
            bytes_in=bytes_in, outcome="failed" if error else "ok",
            error_code=error["code"] if error else "", error=error["message"] if error else "",
        )
        return response, out.events
