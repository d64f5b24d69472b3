"""The client side of a sync session: exchange until neither side has anything left to send.

    while True:
        push  = what the peer lacks according to the vector it last acknowledged
        stop if nothing to push, the previous answer said no more, and one exchange was made
        answer = exchange(my vector, push)           # one HTTP request
        apply answer.pull in one transaction         # before anything is recorded as received
        remember answer.vector as the peer's state   # the acknowledgement of our push

Invariants
----------
* A sync with nothing to do is one exchange.
* We advance what we believe the peer holds only from its answer, which it sends after its
  commit; after a lost answer the next exchange re-pushes from the last acknowledged vector and
  the peer skips what it already has (idempotent by ``(origin, scope, seq)``).
* The session is logged on this side too, whatever happens: every path ends the row with an
  outcome (ok, partial, failed) and the error code and message.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

from sync.protocol import (
    Code,
    ExchangeRequest,
    Profile,
    ProtocolError,
    request_from_wire,
    response_from_wire,
    response_signing_bytes,
)
from sync.replica import Replica
from sync.transport import HttpTransport, Reply, Transport, TransportError

MAX_EXCHANGES = 10_000
MAX_GAP_RETRIES = 3


@dataclass
class SessionSummary:
    session: str
    peer: str = ""
    exchanges: int = 0
    events_out: int = 0
    events_in: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    outcome: str = "running"
    error_code: str = ""
    error: str = ""
    error_feed: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


Progress = Callable[[SessionSummary, int], None]  # (summary so far, events still to push)


class SyncClient:
    def __init__(
        self,
        replica: Replica,
        transport: Transport,
        peer_url: str,
        new_session_id: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self.replica = replica
        self.transport = transport
        self.peer_url = peer_url
        self.new_session_id = new_session_id

    def _peer_profile(self) -> Profile | None:
        node_id = self.replica.store.find_peer_by_url(self.peer_url)
        if node_id is None:
            return None
        return self.replica.store.load_profiles([node_id]).get(node_id)

    def sync(self, progress: Progress | None = None) -> SessionSummary:
        summary = SessionSummary(self.new_session_id())
        peer = self._peer_profile()
        store = self.replica.store
        peer_vector = store.peer_state(peer.node_id).vector if peer else {}
        introduce = peer is None
        summary.peer = peer.node_id if peer else ""
        more, gap_retries = False, 0
        store.open_session(summary.session, "client", peer.node_id if peer else "",
                           peer.name if peer else self.peer_url, self.replica.wall_ms())
        try:
            while summary.exchanges < MAX_EXCHANGES:
                # Before the peer has said who it is, offer what we would hold ourselves: a parent
                # holds at least that, and first contact then costs no extra round trip.
                out = self.replica.outgoing_for(peer or self.replica.me, peer_vector)
                if summary.exchanges and not more and not out.runs:
                    break
                profiles = tuple(out.profiles)
                if introduce:
                    profiles = (self.replica.me, *[p for p in profiles if p.node_id != self.replica.me.node_id])
                request = ExchangeRequest(
                    session=summary.session,
                    vector=self.replica.vector_for(peer) if peer else self.replica.vector_for(self.replica.me),
                    push=tuple(out.runs),
                    profiles=profiles,
                )
                wire = request.to_wire()
                request_from_wire(wire)  # never send what we would refuse ourselves
                try:
                    reply = self.transport.exchange(wire, introduce=introduce)
                except TransportError:
                    # One immediate retry on a fresh connection: a server closing an idle
                    # keep-alive connection races our next request. Exchanges are idempotent
                    # (a new nonce; events already applied are skipped), so this is safe.
                    reply = self.transport.exchange(wire, introduce=introduce)
                summary.exchanges += 1
                summary.bytes_out += reply.bytes_out
                summary.bytes_in += reply.bytes_in
                response = response_from_wire(reply.message)
                answering = self.replica.trust.admit(response.node) if response.node is not None else peer
                if answering is None:
                    raise ProtocolError(Code.UNKNOWN_NODE, "the peer did not say who it is")
                self._check_answer(reply, answering)
                if peer is None or response.node is not None:
                    peer = self._learn_peer(answering, summary)
                pushed = out.events
                error = response.error
                if error:
                    code = error.get("code", "")
                    if code == Code.UNKNOWN_NODE and not introduce:
                        introduce = True
                        more = True
                        continue
                    if code == Code.GAP and gap_retries < MAX_GAP_RETRIES:
                        gap_retries += 1  # the peer holds less than we thought: resend from its vector
                        pushed = 0
                    else:
                        raise ProtocolError(Code(code) if code in Code._value2member_map_ else Code.INTERNAL,
                                            error.get("message", ""), error.get("feed", ""))
                introduce = False
                received = self.replica.ingest(response.pull, response.profiles, peer, summary.session).applied
                peer_vector = dict(response.vector)
                now = self.replica.wall_ms()
                skew = response.time - now if response.time else None
                store.remember_peer(peer.node_id, url=self.peer_url, vector=peer_vector, now=now, ok=True,
                                    skew_ms=skew)
                summary.events_out += pushed
                summary.events_in += received
                more = response.more
                store.add_to_session(summary.session, "client", now=now, events_in=received, events_out=pushed,
                                     bytes_in=reply.bytes_in, bytes_out=reply.bytes_out)
                if progress:
                    remaining = self.replica.outgoing_for(peer, peer_vector, 1 << 62).events
                    progress(summary, remaining)
            summary.outcome = "ok"
        except ProtocolError as e:
            summary.outcome, summary.error_code, summary.error = self._failed(summary), e.code.value, e.message
            summary.error_feed = e.feed
        except TransportError as e:
            summary.outcome, summary.error_code, summary.error = self._failed(summary), "transport", str(e)
        finally:
            self._close(summary, peer)
        return summary

    def _failed(self, summary: SessionSummary) -> str:
        return "partial" if summary.events_in or summary.events_out else "failed"

    def _check_answer(self, reply: Reply, peer: Profile) -> None:
        """Accept nothing the expected peer did not sign for this very request."""
        if not reply.signature and reply.server_node == "" and not isinstance(self.transport, HttpTransport):
            return  # an in-process transport (tests, tools) carries no HTTP headers
        # The answer may name its node (refusals and first contact do); the signature is what
        # counts, checked with the key of the peer we expect.
        if reply.server_node and reply.server_node != peer.node_id:
            raise TransportError(f"answer from node {reply.server_node}, expected {peer.node_id}")
        try:
            self.replica.verify_signature(
                peer.public_key, response_signing_bytes(peer.node_id, reply.nonce, reply.digest), reply.signature
            )
        except Exception as e:
            raise TransportError(f"answer not signed by {peer.node_id}: refused") from e

    def _learn_peer(self, profile: Profile, summary: SessionSummary) -> Profile:
        self.replica.keep_profiles([profile])
        self.replica.store.remember_peer(profile.node_id, url=self.peer_url, now=self.replica.wall_ms(), ok=True)
        self.replica.store.name_session_peer(summary.session, "client", profile.node_id, profile.name)
        summary.peer = profile.node_id
        return profile

    def _close(self, summary: SessionSummary, peer: Profile | None) -> None:
        self.replica.store.close_session(summary.session, "client", outcome=summary.outcome,
                                         error_code=summary.error_code, error=summary.error,
                                         now=self.replica.wall_ms())
        if peer is not None and not summary.ok:
            self.replica.store.remember_peer(peer.node_id, now=self.replica.wall_ms(), ok=False, error=summary.error)
