"""The client's side of a sync session as a pure state machine (sans-IO, in the style of h11).

The machine holds what the caller knows of the session: the peer as verified, the vector the peer
last acknowledged, whether to introduce ourselves, whether the peer said it has more. It does no
I/O: the driver (:mod:`sync.engine`) asks it for the next request, sends it over any transport,
and feeds the answer back; the machine answers with *actions* the driver performs (learn the
peer, ingest the pull, record the acknowledgement) or a :class:`Fail`. Time comes in with the
answer; signatures and certificates are checked by an injected :class:`PeerCheck`.

    while (request := session.next_request(my_vector, push)) is not None:
        reply = transport.exchange(request.to_wire(), introduce=session.introduce)
        for action in session.receive(reply, now):
            perform(action)                          # Fail ends the session

``push`` is what the peer lacks according to :attr:`ClientSession.peer_vector`, cut for
:attr:`ClientSession.push_target`; the driver computes it from its store.

Rules
-----
1. **No event leaves before the peer is verified.** Until an answer has shown who the peer is,
   and that node passed the checks below, :attr:`push_target` is None and requests carry no
   push (:meth:`next_request` drops one it is given): first contact is a pull-only introduction,
   and pushing starts with the second exchange. The checks: the node's profile is admitted by
   the trust policy (its certificate from the district CA: role, unit and name come from it),
   it is not revoked, and its role and unit make it a node we may sync up to
   (:func:`may_serve`, DESIGN §1 and §5). A peer known from an earlier session is checked the
   same way (revocation and role) before its first push.
2. **Every answer is signed for this very request** by the node we expect, whatever the
   transport: an answer without a signature, naming another node, or whose signature does not
   verify is refused, and nothing of it is applied.
3. **A sync with nothing to do is one exchange**, known peer or not: the session ends when an
   exchange was made, the last answer said no ``more`` and there is nothing to push.
4. **The acknowledgement is the answer's vector.** :attr:`peer_vector` advances only from an
   answer, which the peer sends after committing our push; after a lost answer a new session
   re-pushes from the last acknowledged vector and the peer skips what it holds.
5. A refusal ``unknown_node`` makes us introduce ourselves once and try again; ``gap`` makes us
   resend from the answer's vector (up to :data:`MAX_GAP_RETRIES`); ``read_only`` (the peer's
   database cannot be written) makes us pull without pushing for the rest of the session, which
   then ends with that refusal in :attr:`ClientSession.push_refused`: a peer on a read-only disk
   is still pulled from, so its data is rescued; any other refusal fails.
6. **The expected no-op carries a digest, not the vector** (protocol 2): a first exchange to a
   verified peer, with nothing to push and our vector equal to what the peer acknowledged last,
   sends only the vector's digest. A matching answer acknowledges that very vector; a
   mismatch brings the peer's vector and we ask again with ours. A peer that refuses protocol
   2 (``unsupported_version``: an older node) is asked again at once in protocol 1, and
   :attr:`use_digest` stays off for it. The driver turns the rule on (``use_digest``); off, the
   session speaks protocol 1 only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sync.chain import SignatureVerifier
from sync.exchange import ExchangeRequest, Reply, response_from_wire, response_signing_bytes
from sync.protocol import DIGEST_PROTOCOL, Code, Profile, ProtocolError, Run, Vector, vector_digest

MAX_EXCHANGES = 10_000
MAX_GAP_RETRIES = 3
TRANSPORT = "transport"  # the error code of an answer refused for its signature (as for a lost link)


def may_serve(me: Profile, peer: Profile) -> bool:
    """Whether ``me`` may sync up to ``peer`` and push it its events (the topology of DESIGN §1).

    A hub (role ``district``, at any level: hubs chain district -> province) may serve anyone;
    a commune node serves its own unit's laptops (and a second PC of the same commune); a
    laptop is nobody's parent. Roles and units are the peer's as admitted: from its certificate
    when a CA is in force.
    """
    if peer.role == "district":
        return True
    return peer.role == "commune" and peer.unit == me.unit


@dataclass(frozen=True)
class PeerCheck:
    """What the session needs from the trust policy, passed in as values and callables."""

    admit: Callable[[Profile], Profile]  # the profile as trusted (certificate), or ProtocolError
    is_revoked: Callable[[str], bool]  # node id -> revoked by the district
    verify_signature: SignatureVerifier


@dataclass(frozen=True)
class Push:
    """What the driver found the peer lacks: runs, their origins' profiles, their event count."""

    runs: Sequence[Run] = ()
    profiles: Sequence[Profile] = ()
    events: int = 0


NOTHING = Push()


# -- actions -------------------------------------------------------------------------------


@dataclass(frozen=True)
class LearnPeer:
    """The answering node, verified: remember it as the peer at this address."""

    profile: Profile


@dataclass(frozen=True)
class Ingest:
    """Apply the pull (verified by the ingest, all or nothing) as sent by ``sender``."""

    runs: tuple[Run, ...]
    profiles: tuple[Profile, ...]
    sender: Profile


@dataclass(frozen=True)
class Acknowledge:
    """The peer committed our push: ``vector`` is what it holds now; ``pushed`` events went up."""

    peer: Profile
    vector: Vector
    pushed: int
    skew_ms: int | None  # the peer's clock minus ours, when it said its time


@dataclass(frozen=True)
class Fail:
    """The session ends here: ``code`` is a :class:`sync.protocol.Code` value or ``transport``."""

    code: str
    message: str
    feed: str = ""


Action = LearnPeer | Ingest | Acknowledge | Fail


class ClientSession:
    """One session with one peer, from our side. See the module docstring for its rules."""

    def __init__(
        self,
        me: Profile,
        session: str,
        check: PeerCheck,
        peer: Profile | None = None,
        peer_vector: Vector | None = None,
        max_exchanges: int = MAX_EXCHANGES,
        use_digest: bool = False,
    ) -> None:
        self.me = me
        self.session = session
        self.check = check
        self.peer = peer  # whom we expect to answer (known from an earlier session, or learned)
        self.peer_vector: Vector = dict(peer_vector or {})
        self.max_exchanges = max_exchanges
        self.verified = False  # the peer passed the checks of rule 1 in this session
        self.introduce = peer is None
        self.exchanges = 0
        self.more = False
        self.gap_retries = 0
        self.done = False
        self._in_flight: int | None = None  # events pushed by the request awaiting its answer
        self.use_digest = use_digest  # rule 6; off for a peer that refused protocol 2
        self._sent_vector: Vector = {}  # the vector of the request in flight (digested or not)
        self._sent_digest = ""
        self.push_refused: Fail | None = None  # the peer refused pushes (read_only): pull only
        if peer is not None and self._refusal(peer) is None:
            self.verified = True

    @property
    def push_target(self) -> Profile | None:
        """The peer to cut a push for, or None while no push may be sent (rule 1)."""
        return self.peer if self.verified and self.push_refused is None else None

    def _refusal(self, peer: Profile) -> Fail | None:
        if self.check.is_revoked(peer.node_id):
            return Fail(Code.REVOKED.value, f"the peer {peer.node_id} has been revoked by the district: refused")
        if not may_serve(self.me, peer):
            return Fail(Code.UNTRUSTED.value, f"the peer {peer.node_id} is a {peer.role} of unit {peer.unit}: not "
                        f"a node a {self.me.role} of unit {self.me.unit} syncs with")
        return None

    def next_request(self, my_vector: Vector, push: Push = NOTHING) -> ExchangeRequest | None:
        """The next exchange to send, or None when the session is over (rule 3).

        :param my_vector: what we hold of the feeds the peer (or, before we know it, we) may hold.
        :param push: what the peer lacks, cut for :attr:`push_target`; dropped while that is None.
        """
        if self._in_flight is not None:
            raise RuntimeError("an exchange is already in flight: receive its answer first")
        if self.done:
            return None
        if self.push_target is None:
            push = NOTHING
        if (self.exchanges and not self.more and not push.runs) or self.exchanges >= self.max_exchanges:
            self.done = True
            return None
        profiles = tuple(push.profiles)
        if self.introduce:
            profiles = (self.me, *[p for p in profiles if p.node_id != self.me.node_id])
        self._in_flight = push.events
        self._sent_vector = dict(my_vector)
        self._sent_digest = ""
        if (self.use_digest and self.verified and not self.introduce and not self.exchanges and not push.runs
                and not profiles and self._sent_vector == self.peer_vector):
            self._sent_digest = vector_digest(self._sent_vector)
            return ExchangeRequest(session=self.session, vector={}, protocol=DIGEST_PROTOCOL,
                                   vector_digest=self._sent_digest)
        return ExchangeRequest(session=self.session, vector=dict(my_vector), push=tuple(push.runs), profiles=profiles)

    def receive(self, reply: Reply, now: int) -> list[Action]:
        """The answer to the request in flight, and what to do about it (rules 1, 2, 4, 5)."""
        if self._in_flight is None:
            raise RuntimeError("no exchange is in flight: ask next_request first")
        pushed, self._in_flight = self._in_flight, None
        self.exchanges += 1
        actions: list[Action] = []
        try:
            response = response_from_wire(reply.message)
            answering = self.check.admit(response.node) if response.node is not None else self.peer
        except ProtocolError as e:
            return self._fail(actions, Fail(e.code.value, e.message, e.feed))
        if answering is None:
            return self._fail(actions, Fail(Code.UNKNOWN_NODE.value, "the peer did not say who it is"))
        rejected = self._check_signature(reply, answering)
        if rejected is not None:
            return self._fail(actions, rejected)
        if self.peer is None or answering.node_id != self.peer.node_id:
            self.verified = False  # another node answers at this address: checked afresh
        if not self.verified:
            refusal = self._refusal(answering)
            if refusal is not None:
                return self._fail(actions, refusal)
            self.verified = True
        if self.peer is None or response.node is not None:
            actions.append(LearnPeer(answering))
        self.peer = answering
        if response.error:
            code = response.error.get("code", "")
            if code == Code.UNSUPPORTED_VERSION and self._sent_digest:
                self.use_digest, self.more = False, True  # an older peer: ask again in protocol 1
                return actions
            if code == Code.UNKNOWN_NODE and not self.introduce:
                self.introduce, self.more = True, True
                return actions
            if code == Code.READ_ONLY and pushed and self.push_refused is None:
                self.push_refused = Fail(code, response.error.get("message", ""), response.error.get("feed", ""))
                self.more = True  # ask again, pull only (rule 5)
                return actions
            if code == Code.GAP and self.gap_retries < MAX_GAP_RETRIES:
                self.gap_retries += 1  # the peer holds less than we thought: resend from its vector
                pushed = 0
            else:
                known = code if code in Code._value2member_map_ else Code.INTERNAL.value
                return self._fail(actions, Fail(known, response.error.get("message", ""),
                                                response.error.get("feed", "")))
        self.introduce = False
        if self._sent_digest and response.unchanged:
            self.peer_vector = dict(self._sent_vector)  # the peer holds exactly what we digested
        else:
            self.peer_vector = dict(response.vector)
        self.more = response.more or (bool(self._sent_digest) and not response.unchanged)
        actions.append(Ingest(response.pull, response.profiles, answering))
        actions.append(Acknowledge(answering, dict(self.peer_vector), pushed,
                                   response.time - now if response.time else None))
        return actions

    def _check_signature(self, reply: Reply, peer: Profile) -> Fail | None:
        """Rule 2: accept nothing the expected peer did not sign for this very request."""
        # The answer may name its node (refusals do); the signature is what counts, checked
        # with the key of the peer we expect.
        if reply.server_node and reply.server_node != peer.node_id:
            return Fail(TRANSPORT, f"answer from node {reply.server_node}, expected {peer.node_id}")
        refused = Fail(TRANSPORT, f"answer not signed by {peer.node_id}: refused")
        if not reply.signature:
            return refused
        try:
            self.check.verify_signature(
                peer.public_key, response_signing_bytes(peer.node_id, reply.nonce, reply.digest), reply.signature
            )
        except Exception:  # whatever the verifier raises on a bad signature
            return refused
        return None

    def _fail(self, actions: list[Action], fail: Fail) -> list[Action]:
        self.done = True
        actions.append(fail)
        return actions
