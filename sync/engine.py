"""Drives a :class:`sync.session.ClientSession` over a transport: the I/O of the client side.

The protocol state (who the peer is and whether it is verified, what it acknowledged, when to
stop, which refusals to retry) is the session's, a pure machine tested on its own
(``tests/unit/sync/test_session.py``). This module does what the machine cannot: it reads the
peer known at this address and what it acknowledged from the ledger, cuts the push from the
store (:meth:`sync.replica.Replica.outgoing_for`), sends each request over the transport,
performs the actions the machine returns (remember the peer, ingest the pull in one transaction,
record the acknowledgement), and logs the session.

Invariants
----------
* Whatever the transport, every answer goes through the session, which refuses one the expected
  peer did not sign, and pushes nothing before the peer is verified (:mod:`sync.session`).
* A lost answer is retried once on a fresh connection with the same request: exchanges are
  idempotent (a new nonce; events already applied are skipped).
* The session is logged on this side too, whatever happens: every path ends the row with an
  outcome (ok, partial, failed) and the error code and message.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sync.exchange import request_from_wire
from sync.protocol import Code, Profile, ProtocolError
from sync.replica import Replica
from sync.session import (
    NOTHING,
    TRANSPORT,
    Acknowledge,
    ClientSession,
    Fail,
    Ingest,
    LearnPeer,
    PeerCheck,
    Push,
)
from sync.transport import Transport, TransportError


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
    files: Any = None  # what the file exchanges after the events did (node.filesync.FileSyncSummary)

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

    def _peer_check(self) -> PeerCheck:
        trust = self.replica.trust
        return PeerCheck(admit=trust.admit, is_revoked=trust.is_revoked, verify_signature=self.replica.verify_signature)

    def sync(self, progress: Progress | None = None) -> SessionSummary:
        summary = SessionSummary(self.new_session_id())
        known = self._peer_profile()
        session = ClientSession(self.replica.me, summary.session, self._peer_check(), known,
                                self.replica.store.peer_state(known.node_id).vector if known else {},
                                use_digest=not known or known.node_id not in self.replica.digest_refused)
        summary.peer = known.node_id if known else ""
        self.replica.store.open_session(summary.session, "client", known.node_id if known else "",
                            known.name if known else self.peer_url, self.replica.wall_ms())
        try:
            while True:
                target = session.push_target
                out = self.replica.outgoing_for(target, session.peer_vector) if target else None
                push = Push(out.runs, out.profiles, out.events) if out else NOTHING
                # Before the peer is verified, offer what we would hold ourselves: a parent holds
                # at least that.
                request = session.next_request(self.replica.vector_for(target or self.replica.me), push)
                if request is None:
                    break
                wire = request.to_wire()
                request_from_wire(wire)  # never send what we would refuse ourselves
                try:
                    reply = self.transport.exchange(wire, introduce=session.introduce)
                except TransportError:
                    # One immediate retry on a fresh connection: a server closing an idle
                    # keep-alive connection races our next request. Exchanges are idempotent
                    # (a new nonce; events already applied are skipped), so this is safe.
                    reply = self.transport.exchange(wire, introduce=session.introduce)
                summary.exchanges += 1
                summary.bytes_out += reply.bytes_out
                summary.bytes_in += reply.bytes_in
                received = 0
                for action in session.receive(reply, self.replica.wall_ms()):
                    if isinstance(action, LearnPeer):
                        self._learn_peer(action.profile, summary)
                    elif isinstance(action, Ingest):
                        received = self.replica.ingest(action.runs, action.profiles, action.sender,
                                                       summary.session).applied
                    elif isinstance(action, Acknowledge):
                        self._acknowledged(action, summary, received, reply.bytes_in, reply.bytes_out, progress)
                    elif isinstance(action, Fail):
                        if action.code == TRANSPORT:
                            raise TransportError(action.message)
                        raise ProtocolError(Code(action.code), action.message, action.feed)
            summary.outcome = "ok"
            if session.push_refused is not None:  # pulled, but the peer could store nothing of ours
                refused = session.push_refused
                summary.outcome, summary.error_code = self._failed(summary), refused.code
                summary.error = refused.message
        except ProtocolError as e:
            summary.outcome, summary.error_code, summary.error = self._failed(summary), e.code.value, e.message
            summary.error_feed = e.feed
        except TransportError as e:
            summary.outcome, summary.error_code, summary.error = self._failed(summary), "transport", str(e)
        finally:
            if not session.use_digest and session.peer is not None:
                self.replica.digest_refused.add(session.peer.node_id)  # an older peer: protocol 1 from now on
            self._close(summary, session.peer)
        return summary

    def _acknowledged(self, ack: Acknowledge, summary: SessionSummary, received: int, bytes_in: int,
                      bytes_out: int, progress: Progress | None) -> None:
        now = self.replica.wall_ms()
        self.replica.store.remember_peer(ack.peer.node_id, url=self.peer_url, vector=ack.vector, now=now, ok=True,
                             skew_ms=ack.skew_ms)
        summary.events_out += ack.pushed
        summary.events_in += received
        self.replica.store.add_to_session(summary.session, "client", now=now, events_in=received, events_out=ack.pushed,
                              bytes_in=bytes_in, bytes_out=bytes_out)
        if progress:
            remaining = self.replica.outgoing_for(ack.peer, ack.vector, 1 << 62).events
            progress(summary, remaining)

    def _failed(self, summary: SessionSummary) -> str:
        return "partial" if summary.events_in or summary.events_out else "failed"

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
