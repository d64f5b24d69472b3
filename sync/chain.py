"""Verification of a feed: hash chain, order, completeness and origin signature (pure core).

A feed ``(origin, scope)`` is valid when its events, in order, have seq 1..N (or a contiguous
run continuing a known head), each ``prev`` equals the hash of the event before it, every event
names the feed's origin and scope, and a *signed head* ``(origin, scope, seq, hash)`` made with
the key whose hash is the origin id vouches for the last hash.

Why signed heads rather than a signature per event: each event's hash covers ``prev``, so one
signature on the head authenticates every event below it. A signature per event would cost 64
incompressible bytes on the wire and ~0.1 ms of CPU at the hub for every event, more than a
compressed dossier event itself (DESIGN §2). The origin signs a head once per local write
transaction and on demand when it cuts a batch; relays forward heads they received verbatim.

Every failure raises :class:`ChainError` with a stable :class:`Reason` and the reference of the
event where verification stopped, so an operator reads *what* broke and *where*.

Signature checking is injected (``verify_signature``) so this module stays free of
cryptography; :mod:`node.signing` provides the Ed25519 implementation.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sync.wire import (
    GENESIS,
    Event,
    WireError,
    hash_bytes,
    head_message,
    make_ref,
    node_id_from_public_key,
    parse_event,
)

# (public_key, message, signature) -> None; raises on a bad signature.
SignatureVerifier = Callable[[bytes, bytes, bytes], None]


class Reason(enum.StrEnum):
    MALFORMED = "malformed"  # bytes are not a canonical event
    TAMPERED = "tampered"  # content does not match its hash, or prev does not match
    REORDERED = "reordered"  # an event stands at the wrong position
    GAP = "gap"  # an event is missing inside the chain
    TRUNCATED = "truncated"  # the chain ends before the signed head
    FORGED = "forged"  # the head signature does not verify
    FOREIGN = "foreign"  # an event or key belongs to another origin or scope
    UNSIGNED = "unsigned"  # no signed head covers the events


class ChainError(Exception):
    """A feed failed verification; ``reason`` is stable, ``ref`` says where."""

    def __init__(self, reason: Reason, ref: str, detail: str) -> None:
        super().__init__(f"{reason.value} at {ref}: {detail}")
        self.reason = reason
        self.ref = ref
        self.detail = detail


@dataclass(frozen=True, slots=True)
class SignedHead:
    """An origin's signature over its feed's head."""

    origin: str
    scope: str
    seq: int
    hash: str
    public_key: bytes
    signature: bytes

    def message(self) -> bytes:
        return head_message(self.origin, self.scope, self.seq, self.hash)


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as kept by a store: its position, the hash recorded for it, and its bytes."""

    seq: int
    hash: str
    raw: bytes


def check_head(head: SignedHead, verify_signature: SignatureVerifier) -> None:
    """Check that ``head`` is signed by the key its origin id names."""
    ref = make_ref(head.origin, head.scope, head.seq)
    if node_id_from_public_key(head.public_key) != head.origin:
        raise ChainError(Reason.FOREIGN, ref, "the signing key does not belong to this origin")
    try:
        verify_signature(head.public_key, head.message(), head.signature)
    except Exception as e:  # the verifier's own exception type is an implementation detail
        raise ChainError(Reason.FORGED, ref, "head signature does not verify") from e


def verify_events(
    origin: str,
    scope: str,
    events: list[tuple[Event, str]],
    *,
    after_seq: int = 0,
    after_hash: str = GENESIS,
) -> str:
    """Check a contiguous run of parsed events ``(event, hash)`` continuing a known head.

    Returns the hash of the last event (or ``after_hash`` for an empty run).
    """
    expected, prev = after_seq + 1, after_hash
    seqs = {e.seq for e, _ in events}
    for event, h in events:
        ref = make_ref(origin, scope, expected)
        if (event.origin, event.scope) != (origin, scope):
            raise ChainError(Reason.FOREIGN, ref, f"event of feed {event.origin}:{event.scope} in this feed")
        if event.seq != expected:
            reason = Reason.GAP if event.seq > expected and expected not in seqs else Reason.REORDERED
            raise ChainError(reason, ref, f"expected seq {expected}, found {event.seq}")
        if event.prev != prev:
            raise ChainError(Reason.TAMPERED, ref, "prev does not match the hash of the previous event")
        expected, prev = expected + 1, h
    return prev


def verify_stored_feed(
    origin: str,
    scope: str,
    rows: Iterable[StoredEvent],
    head: SignedHead | None,
    verify_signature: SignatureVerifier,
) -> int:
    """Verify a whole stored feed from seq 1 against its latest signed head.

    ``rows`` come in the store's seq order. Returns the number of events verified.
    """
    parsed: list[tuple[Event, str]] = []
    for row in rows:
        ref = make_ref(origin, scope, row.seq)
        try:
            event = parse_event(row.raw)
        except WireError as e:
            raise ChainError(Reason.MALFORMED, ref, str(e)) from e
        actual = hash_bytes(row.raw)
        if actual != row.hash:
            raise ChainError(Reason.TAMPERED, ref, "content does not match its recorded hash")
        if event.seq != row.seq:
            raise ChainError(Reason.REORDERED, ref, f"row holds the event with seq {event.seq}")
        parsed.append((event, actual))
    last_hash = verify_events(origin, scope, parsed)
    count = len(parsed)
    if count == 0:
        return 0
    tail_ref = make_ref(origin, scope, count)
    if head is None:
        raise ChainError(Reason.UNSIGNED, tail_ref, "no signed head for this feed")
    if (head.origin, head.scope) != (origin, scope):
        raise ChainError(Reason.FOREIGN, tail_ref, "signed head belongs to another feed")
    check_head(head, verify_signature)
    if head.seq > count:
        raise ChainError(
            Reason.TRUNCATED, tail_ref, f"feed ends at seq {count} but its origin signed seq {head.seq}"
        )
    if head.seq < count:
        raise ChainError(Reason.UNSIGNED, tail_ref, f"events after seq {head.seq} carry no signature")
    if head.hash != last_hash:
        raise ChainError(Reason.TAMPERED, tail_ref, "last event does not match the signed head")
    return count
