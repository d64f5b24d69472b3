"""Crafting sync peers in memory, for tests that talk to one real node over its HTTP endpoint.

The node's own tables go through one proxy (``node.db.database``), so a test process
has one node database at a time. Tests of the sync endpoint therefore run ONE real node (the
server) and build its callers here out of thin air: a fresh key, a self-signed profile, events
chained by hash, runs signed at their head, requests signed like ``HttpTransport`` signs them.
Everything is a plain function so a test can break exactly one thing at a time.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from node import projection
from node.domain.dossier import validate_received
from node.models import DossierRow
from node.signing import NodeKey
from sync import codec
from sync.exchange import ExchangeRequest, request_signing_bytes
from sync.ledger import ProfileRow, QuarantineRow, SyncSessionRow
from sync.protocol import PROTOCOL_VERSION, Profile, Run, b64, compact
from sync.store import EventRow, FeedRow, HeadSignatureRow, OriginRow
from sync.transport import EXCHANGE_PATH
from sync.wire import EVENT_FORMAT, GENESIS, build_event, canonical_bytes, canonical_json, hash_bytes, head_message
from tests.factories import sample_dossier

BASE_MS = 1_779_000_000_000  # FakeClock's default start


@dataclass(frozen=True)
class Client:
    """A peer that exists only in memory: its key and its signed profile."""

    key: NodeKey
    profile: Profile

    @property
    def node_id(self) -> str:
        return self.key.node_id

    @property
    def unit(self) -> str:
        return self.profile.unit


def signed_profile(key: NodeKey, role: str, unit: str, name: str = "") -> Profile:
    """A self-signed profile, as ``node.services.make_profile`` makes one."""
    unsigned = Profile(key.node_id, key.public_key, role, unit, name or f"test {role} {unit}")
    return Profile(unsigned.node_id, unsigned.public_key, role, unit, unsigned.name, key.sign(unsigned.statement()))


def make_client(role: str, unit: str, name: str = "") -> Client:
    key = NodeKey.generate()
    return Client(key, signed_profile(key, role, unit, name))


# -- events and runs -----------------------------------------------------------------------


def dossier_body(origin: str, seq: int, variant: str = "") -> dict[str, Any]:
    """A valid ``dossier.received`` body (so the server's dossier table moves when it is applied)."""
    data = sample_dossier(name=f"Người Thử {seq}", id_number=f"0400900{seq % 100000:05d}")
    return validate_received({"received_at": BASE_MS + seq, "code": f"T-{origin[:6]}-{seq}",
                              "note": variant, **data})


def make_events(
    origin: str, scope: str, start: int, n: int, prev_hash: str = GENESIS, variant: str = "",
    body: Callable[[int], Mapping[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Full event dicts ``start .. start+n-1`` of feed ``(origin, scope)``, chained from ``prev_hash``."""
    out, prev = [], prev_hash
    for seq in range(start, start + n):
        e = build_event(
            origin=origin, scope=scope, seq=seq, prev=prev, hlc=(BASE_MS + seq) << 16, at=BASE_MS + seq,
            author="cán bộ một cửa", entity=f"dossier/{origin}:{scope}:{seq}", type="dossier.received",
            body=body(seq) if body else dossier_body(origin, seq, variant),
        )
        prev = hash_bytes(canonical_bytes(e))
        out.append(e.to_dict())
    return out


def chain_hash(origin: str, scope: str, start: int, prev: str, events: Sequence[Mapping[str, Any]]) -> str:
    """The hash a receiver recomputes for the last of ``events`` (compact or full dicts)."""
    for i, e in enumerate(events):
        # canonical_json of the full dict is canonical_bytes of the event, without validating it:
        # tests sign content that the receiver must refuse.
        full = {"v": EVENT_FORMAT, "origin": origin, "scope": scope, "seq": start + i, "prev": prev, **compact(e)}
        prev = hash_bytes(canonical_json(full))
    return prev


def make_run(
    client: Client,
    scope: str,
    start: int = 1,
    n: int = 3,
    prev_hash: str = GENESIS,
    *,
    origin: Client | None = None,
    signer: NodeKey | None = None,
    variant: str = "",
    mutate: Callable[[list[dict[str, Any]]], object] | None = None,
    edit: Callable[[list[dict[str, Any]]], object] | None = None,
    body: Callable[[int], Mapping[str, Any]] | None = None,
) -> Run:
    """A run of ``n`` events of feed ``(origin or client, scope)`` signed at its head.

    ``signer`` signs the head instead of the origin's key (a forgery); ``mutate`` edits the
    compact events *after* signing (tampering in transit); ``variant`` changes the content
    (a second history when the seqs are already held); ``edit`` changes the compact events
    *before* signing (content its origin really signed, e.g. from a buggy or hostile node).
    """
    author = origin or client
    full = make_events(author.node_id, scope, start, n, prev_hash, variant, body)
    events = [compact(e) for e in full]
    if edit is not None:
        edit(events)
    last = chain_hash(author.node_id, scope, start, prev_hash, events)
    key = signer or author.key
    signature = key.sign(head_message(author.node_id, scope, start + n - 1, last))
    if mutate is not None:
        mutate(events)
    return Run(author.node_id, scope, start, prev_hash, tuple(events), signature)


def run_last_hash(run: Run) -> str:
    return chain_hash(run.origin, run.scope, run.start, run.prev, run.events)


def make_request(
    client: Client,
    runs: Iterable[Run] = (),
    *,
    profiles: Iterable[Profile] | None = None,
    vector: Mapping[str, int] | None = None,
    session: str | None = None,
    protocol: int = PROTOCOL_VERSION,
) -> ExchangeRequest:
    """An exchange from ``client``: by default it introduces itself and claims to hold what it pushes."""
    runs = tuple(runs)
    return ExchangeRequest(
        session=session or uuid.uuid4().hex,
        vector=dict(vector) if vector is not None else {r.feed: r.end for r in runs},
        push=runs,
        profiles=tuple(profiles) if profiles is not None else (client.profile,),
        protocol=protocol,
    )


# -- HTTP ----------------------------------------------------------------------------------


def server_now(test_client) -> int:
    return test_client.application.extensions["motcua.replica"].wall_ms()


def signed_headers(
    client: Client, body: bytes, now: int, signer: NodeKey | None = None, nonce: str | None = None,
    introduce: bool = True,
) -> dict[str, str]:
    """Headers as ``HttpTransport.exchange`` sends them (a fresh nonce unless one is given); by
    default as on first contact, introducing the client by its certificate (or, without one,
    its public key) so the server can check the signature before reading the body."""
    key = signer or client.key
    nonce = nonce or secrets.token_urlsafe(16)
    digest = hashlib.sha256(body).digest()
    signature = key.sign(request_signing_bytes(client.node_id, now, nonce, EXCHANGE_PATH, digest))
    headers = {
        "Content-Type": codec.CONTENT_TYPE,
        "Content-Encoding": codec.CONTENT_ENCODING,
        "X-Motcua-Node": client.node_id,
        "X-Motcua-Time": str(now),
        "X-Motcua-Nonce": nonce,
        "X-Motcua-Sig": b64(signature),
    }
    if introduce:
        if client.profile.cert:
            headers["X-Motcua-Cert"] = b64(client.profile.cert)
        else:
            headers["X-Motcua-Key"] = b64(client.key.public_key)
    return headers


def post_body(test_client, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, Any] | None]:
    """POST raw bytes; return the status and the decoded answer (None if it is not a sync answer)."""
    response = test_client.post(EXCHANGE_PATH, data=body, headers=dict(headers))
    message = None
    if response.headers.get("Content-Type", "").split(";")[0] == codec.CONTENT_TYPE:
        message = codec.decode(response.get_data())
    return response.status_code, message


def post_signed(test_client, client: Client, body: bytes, now: int | None = None) -> tuple[int, dict | None]:
    now = server_now(test_client) if now is None else now
    return post_body(test_client, body, signed_headers(client, body, now))


def encode_wire(message: Mapping[str, Any]) -> bytes:
    return codec.encode(dict(message))[0]


def post_exchange(test_client, client: Client, request: ExchangeRequest | Mapping[str, Any]) -> tuple[int, dict | None]:
    """Encode ``request`` (a message or its wire dict), sign it as ``client`` and POST it."""
    wire = request.to_wire() if isinstance(request, ExchangeRequest) else request
    return post_signed(test_client, client, encode_wire(wire))


# -- what the server holds -----------------------------------------------------------------


def _table_digest(rows: Iterable[Sequence[Any]]) -> tuple[int, str]:
    h, n = hashlib.sha256(), 0
    for row in rows:
        n += 1
        h.update(json.dumps([bytes(v).hex() if isinstance(v, bytes | memoryview) else v for v in row]).encode())
        h.update(b"\n")
    return n, h.hexdigest()


def stored_state() -> dict[str, tuple[int, str]]:
    """Count and digest of every table a batch may write (events, feeds, heads, origins, profiles,
    dossiers). Two equal snapshots mean nothing of a batch was stored."""
    return {
        "event": _table_digest(
            EventRow.select(EventRow.origin, EventRow.scope, EventRow.seq, EventRow.hash, EventRow.raw)
            .order_by(EventRow.origin, EventRow.scope, EventRow.seq).tuples()
        ),
        "feed": _table_digest(FeedRow.select().order_by(FeedRow.origin, FeedRow.scope).tuples()),
        "head_signature": _table_digest(
            HeadSignatureRow.select()
            .order_by(HeadSignatureRow.origin, HeadSignatureRow.scope, HeadSignatureRow.seq).tuples()
        ),
        "origin": _table_digest(OriginRow.select().order_by(OriginRow.node_id).tuples()),
        "node_profile": _table_digest(ProfileRow.select().order_by(ProfileRow.node_id).tuples()),
        "dossier": (DossierRow.select().count(), projection.derived_digest()),
    }


def server_session(session: str) -> SyncSessionRow | None:
    return SyncSessionRow.get_or_none((SyncSessionRow.session == session) & (SyncSessionRow.side == "server"))


def quarantined(origin: str) -> list[tuple[str, int, str]]:
    rows = QuarantineRow.select().where(QuarantineRow.origin == origin).order_by(QuarantineRow.scope, QuarantineRow.seq)
    return [(r.scope, r.seq, r.hash) for r in rows]
