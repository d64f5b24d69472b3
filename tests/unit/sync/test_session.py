"""The client's sync session (``sync.session``) in pairs with a hub, in process, with no sockets
and no database (h11's ``ConnectionPair`` pattern).

The hub is the server's pure handling: :func:`sync.auth.check_headers` and
:func:`sync.auth.authenticate` on a request signed as ``HttpTransport`` signs it, the real codec
and message parsing, an answer signed for the request's nonce; its store is a dict of feeds,
each run checked against its origin's head signature. The client's store is a dict too, and a
small driver does what ``sync.engine`` does with the actions the session returns.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field, replace

import pytest

from node.signing import NodeKey, verify_signature
from sync import auth, codec
from sync.exchange import ExchangeResponse, Reply, request_from_wire, response_signing_bytes
from sync.protocol import Code, Profile, ProtocolError, Run, Vector, feed_key, may_hold
from sync.session import (
    TRANSPORT,
    Acknowledge,
    ClientSession,
    Fail,
    Ingest,
    LearnPeer,
    PeerCheck,
    Push,
    may_serve,
)
from sync.transport import TransportError
from sync.wire import GENESIS, SHARED_SCOPE, head_message
from tests.sync_helpers import BASE_MS, Client, make_client, make_run, run_last_hash, signed_headers

UNIT, OTHER_UNIT = "17272", "17275"
RUN_EVENTS = 3  # events per signed run
MAX_RUNS = 1  # runs per message: small, so a sync takes several exchanges


@dataclass
class Feed:
    """Runs of one feed as held, contiguous from seq 1."""

    runs: list[Run] = field(default_factory=list)

    @property
    def head(self) -> int:
        return self.runs[-1].end if self.runs else 0

    @property
    def last_hash(self) -> str:
        return run_last_hash(self.runs[-1]) if self.runs else GENESIS

    def accept(self, run: Run, key_of: dict[str, bytes]) -> int:
        """Append what is new in ``run``; return how many events were new (0 if all held)."""
        if run.start > self.head + 1:
            raise ProtocolError(Code.GAP, f"run starts at {run.start}, we hold {self.head}", run.feed)
        verify_signature(key_of[run.origin], head_message(run.origin, run.scope, run.end, run_last_hash(run)),
                         run.signature)
        if run.end <= self.head:
            return 0
        skip = self.head - run.start + 1
        held_hash = self.last_hash
        fresh = Run(run.origin, run.scope, self.head + 1, held_hash, run.events[skip:], run.signature)
        assert run_last_hash(fresh) == run_last_hash(run), "a second history of the feed"
        self.runs.append(fresh)
        return len(fresh.events)

    def after(self, seq: int) -> list[Run]:
        """Runs beyond ``seq``, re-cut to start there (a relay cuts at heads it received)."""
        out = []
        for run in self.runs:
            if run.end <= seq:
                continue
            skip = max(0, seq - run.start + 1)
            prev = run.prev if skip == 0 else run_last_hash(Run(run.origin, run.scope, run.start, run.prev,
                                                                 run.events[:skip], b""))
            out.append(Run(run.origin, run.scope, run.start + skip, prev, run.events[skip:], run.signature))
        return out


def own_feed(node: Client, scope: str, n: int) -> Feed:
    """A feed of ``n`` events written by ``node``, signed at every RUN_EVENTS-th seq."""
    feed = Feed()
    for start in range(1, n + 1, RUN_EVENTS):
        feed.runs.append(make_run(node, scope, start, min(RUN_EVENTS, n - start + 1), feed.last_hash))
    return feed


@dataclass
class Peer:
    """A node's store in memory: feeds, the profiles it knows, and (as a client) its ledger."""

    node: Client
    feeds: dict[str, Feed] = field(default_factory=dict)
    known: dict[str, Profile] = field(default_factory=dict)
    peer: Profile | None = None  # the ledger: peer known at the hub's address...
    peer_vector: Vector = field(default_factory=dict)  # ...and what it last acknowledged

    def __post_init__(self) -> None:
        self.known[self.node.node_id] = self.node.profile

    def vector(self, holder: Profile) -> Vector:
        return {k: f.head for k, f in self.feeds.items() if f.runs and may_hold(holder, k.split(":")[1])}

    def missing(self, holder: Profile, vector: Vector) -> tuple[list[Run], bool]:
        runs = [r for k, f in sorted(self.feeds.items()) if may_hold(holder, k.split(":")[1])
                for r in f.after(vector.get(k, 0))]
        return runs[:MAX_RUNS], len(runs) > MAX_RUNS

    def accept(self, runs, profiles) -> int:
        for p in profiles:
            self.known.setdefault(p.node_id, p)
        key_of = {n: p.public_key for n, p in self.known.items()}
        return sum(self.feeds.setdefault(r.feed, Feed()).accept(r, key_of) for r in runs)

    def held(self, feed: str) -> list[int]:
        """Every seq held of ``feed``, in order (duplicates would show)."""
        return [r.start + i for r in self.feeds.get(feed, Feed()).runs for i in range(len(r.events))]


class Hub(Peer):
    """The server side, by the server's pure handling (see the module docstring)."""

    signer: NodeKey | None = None  # signs answers; another key makes forged answers

    def handle(self, body: bytes, headers: dict[str, str]) -> tuple[bytes, str, bytes]:
        signed = auth.check_headers(headers, content_length=len(body), max_body_bytes=1 << 24, address="memory",
                                    throttled_ms=lambda node_id: 0)
        identified = self.known.get(signed.node_id) or Profile(signed.node_id, signed.key, "", "", "")
        caller = auth.authenticate(signed, identified, body, verify_signature=verify_signature, vouch=lambda p: p,
                                   remember_nonce=lambda *_: True, now=BASE_MS).caller
        req = request_from_wire(codec.decode(body))
        for p in req.profiles:
            if p.node_id == caller.node_id:
                caller = p
        error = None
        try:
            self.accept(req.push, req.profiles)
        except ProtocolError as e:
            error = {"code": e.code.value, "message": e.message, "feed": e.feed}
        pull, more = self.missing(caller, req.vector)
        response = ExchangeResponse(
            session=req.session, vector=self.vector(caller), pull=tuple(pull),
            profiles=tuple(self.known[o] for o in {r.origin for r in pull} if o not in
                           {p.node_id for p in req.profiles}),
            more=more, error=error, node=self.node.profile if req.profiles else None, time=BASE_MS + 1500,
        )
        out, _ = codec.encode(response.to_wire())
        signer = self.signer or self.node.key
        signature = signer.sign(response_signing_bytes(self.node.node_id, signed.nonce, hashlib.sha256(out).digest()))
        return out, signed.nonce, signature


@dataclass
class Wire:
    """The transport: signs requests like ``HttpTransport``; may cut the answer of one exchange."""

    client: Client
    hub: Hub
    cut_answer_of: int = 0  # the n-th exchange's answer is lost after the hub committed
    unsigned: bool = False  # a transport that brings back no signature
    sent: list[dict] = field(default_factory=list)

    def exchange(self, message: dict, introduce: bool = False) -> Reply:
        self.sent.append(message)
        body, _ = codec.encode(message)
        headers = signed_headers(self.client, body, BASE_MS, introduce=introduce)
        out, nonce, signature = self.hub.handle(body, headers)
        if len(self.sent) == self.cut_answer_of:
            raise TransportError("connection reset by peer")
        return Reply(codec.decode(out), len(body), len(out), 200, nonce, "", b"" if self.unsigned else signature,
                     hashlib.sha256(out).digest())


def check_for(revoked: frozenset[str] = frozenset()) -> PeerCheck:
    return PeerCheck(admit=lambda p: p, is_revoked=lambda node_id: node_id in revoked,
                     verify_signature=verify_signature)


_session_ids = (f"session-{i:04d}" for i in itertools.count())


def sync(client: Peer, wire: Wire, revoked: frozenset[str] = frozenset()) -> tuple[ClientSession, list]:
    """One session, driven as ``sync.engine`` drives it; returns the session and its actions."""
    session = ClientSession(client.node.profile, next(_session_ids), check_for(revoked), client.peer,
                            client.peer_vector)
    actions: list = []
    while True:
        target = session.push_target
        push = Push()
        if target is not None:
            runs, _ = client.missing(target, session.peer_vector)
            push = Push(runs, [client.known[o] for o in {r.origin for r in runs}], sum(len(r.events) for r in runs))
        request = session.next_request(client.vector(target or client.node.profile), push)
        if request is None:
            return session, actions
        for action in session.receive(wire.exchange(request.to_wire(), session.introduce), BASE_MS):
            actions.append(action)
            if isinstance(action, LearnPeer):
                client.peer = action.profile
                client.known[action.profile.node_id] = action.profile
            elif isinstance(action, Ingest):
                client.accept(action.runs, action.profiles)
            elif isinstance(action, Acknowledge):
                client.peer_vector = action.vector
            elif isinstance(action, Fail):
                return session, actions


def pair(commune_events: int = 7, hub_events: int = 5, hub_node: Client | None = None):
    commune = Peer(make_client("commune", UNIT))
    commune.feeds[feed_key(commune.node.node_id, UNIT)] = own_feed(commune.node, UNIT, commune_events)
    hub = Hub(hub_node or make_client("district", "40"))
    if hub_events:
        hub.feeds[feed_key(hub.node.node_id, SHARED_SCOPE)] = own_feed(hub.node, SHARED_SCOPE, hub_events)
    return commune, hub, Wire(commune.node, hub)


def pushed_events(wire: Wire) -> int:
    return sum(len(r["events"]) for m in wire.sent for r in m.get("push", []))


# -- full sync, no-op, resume ------------------------------------------------------------------


def test_first_contact_pulls_first_and_pushes_only_to_the_verified_peer():
    commune, hub, wire = pair(commune_events=7, hub_events=5)
    session, actions = sync(commune, wire)
    assert session.done and not [a for a in actions if isinstance(a, Fail)]
    first = wire.sent[0]
    assert "push" not in first and [p["node_id"] for p in first["profiles"]] == [commune.node.node_id]
    assert {a.profile.node_id for a in actions if isinstance(a, LearnPeer)} == {hub.node.node_id}
    mine, theirs = feed_key(commune.node.node_id, UNIT), feed_key(hub.node.node_id, SHARED_SCOPE)
    assert hub.held(mine) == list(range(1, 8)) and commune.held(theirs) == list(range(1, 6))
    assert commune.peer_vector == {mine: 7, theirs: 5}
    assert len(wire.sent) == 4  # intro (pull 3), push 3 (pull 2), push 3, push 1


def test_a_sync_with_nothing_to_do_is_one_exchange():
    commune, hub, wire = pair(commune_events=4, hub_events=2)
    sync(commune, wire)
    again = Wire(commune.node, hub)
    session, actions = sync(commune, again)
    assert len(again.sent) == 1 and "push" not in again.sent[0] and "profiles" not in again.sent[0]
    assert [type(a) for a in actions] == [Ingest, Acknowledge] and actions[0].runs == ()
    assert session.done


def test_a_first_contact_with_nothing_to_do_is_one_exchange_too():
    commune, _, wire = pair(commune_events=0, hub_events=0)
    session, actions = sync(commune, wire)
    assert len(wire.sent) == 1 and session.done
    assert [type(a) for a in actions] == [LearnPeer, Ingest, Acknowledge]


@pytest.mark.parametrize("cut", [2, 3])
def test_a_session_cut_mid_batch_resumes_from_the_last_acknowledgement(cut):
    commune, hub, wire = pair(commune_events=10, hub_events=4)
    wire.cut_answer_of = cut
    with pytest.raises(TransportError):
        sync(commune, wire)
    mine = feed_key(commune.node.node_id, UNIT)
    acknowledged = commune.peer_vector.get(mine, 0)
    assert hub.held(mine)[-1] > acknowledged  # the hub committed a push whose answer was lost
    resumed = Wire(commune.node, hub)
    session, _ = sync(commune, resumed)
    assert session.done and resumed.sent[0]["push"][0]["from"] == acknowledged + 1  # re-sent from the ack
    assert hub.held(mine) == list(range(1, 11))  # nothing lost, nothing twice
    assert commune.held(feed_key(hub.node.node_id, SHARED_SCOPE)) == [1, 2, 3, 4]
    assert commune.peer_vector[mine] == 10


def test_a_gap_makes_the_session_resend_from_the_answers_vector():
    commune, hub, wire = pair(commune_events=6, hub_events=0)
    sync(commune, wire)
    mine = feed_key(commune.node.node_id, UNIT)
    hub.feeds[mine].runs = hub.feeds[mine].runs[:1]  # the hub was restored from a backup: it holds 1..3
    commune.feeds[mine] = own_feed(commune.node, UNIT, 8)
    again = Wire(commune.node, hub)
    session, actions = sync(commune, again)
    assert session.done and session.gap_retries == 1 and not [a for a in actions if isinstance(a, Fail)]
    assert again.sent[1]["push"][0]["from"] == 4 and hub.held(mine) == list(range(1, 9))


# -- rejected answers and peers ----------------------------------------------------------------


def failure(actions) -> Fail:
    assert actions and isinstance(actions[-1], Fail), actions
    assert not [a for a in actions if isinstance(a, Ingest | Acknowledge)], "something of a refused answer applied"
    return actions[-1]


def test_an_answer_signed_by_another_key_is_refused_and_nothing_pushed():
    commune, hub, wire = pair()
    hub.signer = NodeKey.generate()
    session, actions = sync(commune, wire)
    fail = failure(actions)
    assert (fail.code, session.done) == (TRANSPORT, True) and "not signed by" in fail.message
    assert pushed_events(wire) == 0 and len(wire.sent) == 1 and commune.peer is None


def test_an_answer_without_a_signature_is_refused_whatever_the_transport():
    commune, _, wire = pair()
    wire.unsigned = True
    _, actions = sync(commune, wire)
    assert failure(actions).code == TRANSPORT and pushed_events(wire) == 0


def test_a_known_peer_answered_by_another_node_is_refused():
    """The address now answers with another node's key, which does not name itself: refused."""
    commune, hub, wire = pair()
    sync(commune, wire)
    impostor = Hub(make_client("district", "40"))
    impostor.known.update(hub.known)  # it even knows the commune
    impostor.feeds = hub.feeds
    _, actions = sync(commune, Wire(commune.node, impostor))
    assert failure(actions).code == TRANSPORT and commune.peer.node_id == hub.node.node_id


@pytest.mark.parametrize(
    ("role", "unit"), [("commune", OTHER_UNIT), ("mobile", UNIT), ("mobile", OTHER_UNIT)]
)
def test_a_node_that_may_not_serve_us_gets_no_event(role, unit):
    """The security finding: the node answering must be one we may sync up to (its role and
    unit as its certificate says); a commune of another unit, or any laptop, gets no push."""
    commune, hub, wire = pair(hub_node=make_client(role, unit))
    session, actions = sync(commune, wire)
    fail = failure(actions)
    assert fail.code == Code.UNTRUSTED.value and hub.node.node_id in fail.message
    assert pushed_events(wire) == 0 and len(wire.sent) == 1 and session.push_target is None
    assert not [a for a in actions if isinstance(a, LearnPeer)] and commune.peer is None


def test_a_revoked_hub_gets_no_event_on_first_contact_nor_later():
    commune, hub, wire = pair()
    _, actions = sync(commune, wire, revoked=frozenset({hub.node.node_id}))
    assert failure(actions).code == Code.REVOKED.value and pushed_events(wire) == 0
    commune.peer, commune.peer_vector = hub.node.profile, {}  # known from before its revocation
    later = Wire(commune.node, hub)
    session, actions = sync(commune, later, revoked=frozenset({hub.node.node_id}))
    assert session.push_target is None and failure(actions).code == Code.REVOKED.value
    assert pushed_events(later) == 0


def test_the_admitted_profile_decides_not_the_one_claimed():
    """Role and unit come from what the trust policy admits (the certificate), not the claim."""
    commune, hub, wire = pair(hub_node=make_client("district", "40"))
    as_certified = replace(hub.node.profile, role="mobile")
    check = PeerCheck(admit=lambda p: as_certified if p.node_id == hub.node.node_id else p,
                      is_revoked=lambda _: False, verify_signature=verify_signature)
    session = ClientSession(commune.node.profile, "session-admit", check)
    request = session.next_request({}, Push([make_run(commune.node, UNIT, 1, 1)], [], 1))
    assert request.push == ()  # dropped: nobody verified yet
    actions = session.receive(wire.exchange(request.to_wire(), introduce=True), BASE_MS)
    assert failure(actions).code == Code.UNTRUSTED.value


def resigned(reply: Reply, hub: Hub, **changes) -> Reply:
    """``reply`` with its message changed and signed again by the hub, as a real answer would be."""
    message = dict(reply.message, **changes)
    digest = hashlib.sha256(codec.encode(message)[0]).digest()
    signature = hub.node.key.sign(response_signing_bytes(hub.node.node_id, reply.nonce, digest))
    return replace(reply, message=message, digest=digest, signature=signature)


def known_session(commune: Peer, hub: Hub, name: str) -> tuple[ClientSession, Reply]:
    """A session with a hub known from an earlier one, and the answer to its first request."""
    session = ClientSession(commune.node.profile, name, check_for(), commune.peer, commune.peer_vector)
    request = session.next_request(commune.vector(commune.peer))
    return session, Wire(commune.node, hub).exchange(request.to_wire())


def test_a_refusal_of_the_verified_peer_ends_the_session_with_its_code():
    commune, hub, wire = pair()
    sync(commune, wire)
    session, reply = known_session(commune, hub, "session-fork")
    fork = resigned(reply, hub, error={"code": "fork", "message": "second history", "feed": "a:b"})
    assert failure(session.receive(fork, BASE_MS)) == Fail("fork", "second history", "a:b") and session.done
    assert session.next_request({}) is None


def test_an_answer_naming_another_node_is_refused():
    commune, hub, wire = pair()
    sync(commune, wire)
    session, reply = known_session(commune, hub, "session-name")
    fail = failure(session.receive(replace(reply, server_node="b" * 32), BASE_MS))
    assert fail.code == TRANSPORT and "expected " + hub.node.node_id in fail.message


@pytest.mark.parametrize(
    ("me", "peer", "allowed"),
    [
        (("commune", UNIT), ("district", "40"), True),
        (("mobile", UNIT), ("district", "40"), True),
        (("district", "40"), ("district", "41"), True),  # hubs chain: district -> province
        (("mobile", UNIT), ("commune", UNIT), True),
        (("commune", UNIT), ("commune", UNIT), True),
        (("mobile", UNIT), ("commune", OTHER_UNIT), False),
        (("commune", UNIT), ("mobile", UNIT), False),
        (("district", "40"), ("commune", UNIT), False),
    ],
)
def test_who_may_serve_whom(me, peer, allowed):
    def profile(role, unit):
        return Profile("a" * 32, b"k", role, unit, "")

    assert may_serve(profile(*me), profile(*peer)) is allowed


def test_one_exchange_at_a_time():
    commune, _, _ = pair()
    session = ClientSession(commune.node.profile, "session-once", check_for())
    session.next_request({})
    with pytest.raises(RuntimeError):
        session.next_request({})
