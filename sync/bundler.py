"""Writing and reading bundles over a :class:`sync.replica.Replica`: the same outbox cuts the runs
a push would carry, the same ingestor applies them, batch by batch, each in one transaction.

The file form and its checks are :mod:`sync.bundle`; the sealing (encryption to the recipient)
and the node key come in as a :class:`Sealing`, so this module holds no key and imports no
crypto library; the node's glue (files, the parent, the sync log) is :mod:`node.bundles`.

Invariants
----------
* **Nothing unverified is applied.** :func:`open_bundle` checks shape, length, digest,
  recipient, decryption, the writer's certificate (the trust policy's ``admit``, as for a
  profile in a push) and the writer's signature, and only then decompresses; :func:`apply_payload`
  checks that every run continues what this node holds (a later part before an earlier one is
  refused whole, ``out_of_order``) before the first batch is ingested.
* **Idempotent.** Ingest skips events already held (by ``(origin, scope, seq)``, checked by
  hash), so a bundle applied twice, or an old one after a newer one, adds nothing.
* **Resumable at batch granularity.** Each batch is one ingest transaction, as over the
  network; an import cut by a power loss keeps the batches it committed and a second import
  of the same file applies the rest.
* Export is deterministic for a state and a vector (the outbox's order), and computed from the
  vector the recipient last *acknowledged*: an export never assumes the previous one arrived.

File chunks (attachments) have their section in the payload and a hook on each side, both empty
today: :func:`write_bundles` takes ``chunks_for(runs)``, the chunks the events of a part
reference that the recipient lacks (a chunk store plugs in there); :func:`apply_payload` refuses
a payload carrying chunks (``unsupported``) until a chunk sink is passed in, so a bundle is
never half applied, events without the files they sign.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import zstandard

from sync import codec
from sync.bundle import (
    Batch,
    BundleError,
    Header,
    Payload,
    check_payload,
    frame,
    join_signed,
    read_header,
    signed_part,
    signing_bytes,
    split_signed,
)
from sync.protocol import Profile, ProtocolError, Run, StoredCompact, Vector, feed_key, split_feed_key
from sync.replica import Replica

MAX_PLAIN_BYTES = 1 << 30  # a part decompresses to at most 1 GiB (a signed, certified writer's)
_LEVEL = 6  # as the wire (sync.codec): the bundle must cost no more bytes than the network


@dataclass(frozen=True)
class Sealing:
    """This node's part in a bundle: sign with its key, seal to a recipient, open its own."""

    sign: Callable[[bytes], bytes]
    seal: Callable[[bytes, bytes], bytes]  # (recipient's Ed25519 public key, plaintext) -> body
    open: Callable[[bytes], bytes]  # body -> plaintext; raises on a box it cannot open


@dataclass
class Written:
    data: bytes
    payload: Payload


@dataclass
class Applied:
    events: int = 0
    skipped: int = 0
    batches: int = 0
    new_events: list = field(default_factory=list)


# Where file chunks will come from once attachments exist (h17's chunk store): a function of the
# runs a part carries, returning the chunks their events reference that the recipient lacks.
ChunksFor = Callable[[list], list]


def no_chunks(runs: list) -> list:
    return []


def write_bundles(replica: Replica, recipient: Profile, peer_vector: Vector, sealing: Sealing, *, now: int,
                  bundle_id: str, kind: str = "data", ack_of: str = "", max_bytes: int | None = None,
                  chunks_for: ChunksFor = no_chunks) -> list[Written]:
    """The parts of one export to ``recipient``: what it lacks according to ``peer_vector``.

    Every part holds at least one batch (an empty export is one part with none: it still
    carries the writer's vector, which is what an acknowledgement is). With ``max_bytes`` a part
    closes before the next batch would take it past that size (estimated from the compression
    ratio so far; a batch is at most ``max_bytes`` uncompressed, so it always fits a part alone).
    """
    budget = min(replica.batch_bytes, max_bytes) if max_bytes else replica.batch_bytes
    vector = dict(peer_vector)
    mine = replica.vector_for(recipient)
    parts: list[list[Batch]] = [[]]
    # what a part costs besides its batches: magic, header line, signature, the writer's
    # profile, the vector, the box (48 bytes), JSON around it all
    overhead = 600 + len(json.dumps(replica.me.to_wire())) + len(json.dumps(mine))
    sizes = [overhead]
    ratio, more = 0.5, True
    while more:
        out = replica.outgoing_for(recipient, vector, budget)
        if not out.runs:
            break
        batch = Batch(tuple(_plain(r) for r in out.runs), tuple(out.profiles))
        raw = len(json.dumps(batch.to_wire(), separators=(",", ":")))
        estimate = int(raw * ratio * 1.1)
        if max_bytes and parts[-1] and sizes[-1] + estimate > max_bytes:
            parts.append([])
            sizes.append(overhead)
        parts[-1].append(batch)
        sizes[-1] += estimate
        for run in out.runs:
            vector[run.feed] = run.end
        more = out.more
        if max_bytes and len(parts[-1]) == 1:  # measure the real ratio once per part
            ratio = max(0.05, len(codec.encode(batch.to_wire())[0]) / max(raw, 1))
            sizes[-1] = overhead + int(raw * ratio * 1.1)
    written = []
    for i, batches in enumerate(parts, start=1):
        header = Header(kind, bundle_id, i, replica.me.node_id, recipient.node_id, now)
        runs = [r for b in batches for r in b.runs]
        payload = Payload(header, replica.me, mine, tuple(batches), more=i < len(parts), ack_of=ack_of,
                          chunks=tuple(chunks_for(runs)))
        written.append(Written(seal_payload(payload, recipient, sealing), payload))
    return written


def _plain(run: Run) -> Run:
    """The run with its events as plain mappings: the outbox hands stored events over as their
    stored bytes (:class:`sync.protocol.StoredCompact`, spliced into a network message by
    :func:`sync.codec.message_json`); a bundle's payload is one JSON document built by ``json``,
    which takes dicts only."""
    if not any(isinstance(e, StoredCompact) for e in run.events):
        return run
    return replace(run, events=tuple(dict(e) if isinstance(e, StoredCompact) else e for e in run.events))


def seal_payload(payload: Payload, recipient: Profile, sealing: Sealing) -> bytes:
    text = json.dumps(payload.to_wire(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    compressed = zstandard.ZstdCompressor(level=_LEVEL).compress(text)
    digest = hashlib.sha256(signed_part(payload.sender, compressed)).digest()
    signature = sealing.sign(signing_bytes(payload.header, digest))
    return frame(payload.header, sealing.seal(recipient.public_key, join_signed(signature, payload.sender,
                                                                                  compressed)))


def open_bundle(data: bytes, replica: Replica, sealing: Sealing) -> Payload:
    """The verified payload of a bundle written to this node, or :class:`BundleError`.

    The writer is admitted by the trust policy (with a district CA: its certificate, valid and
    not revoked; role, unit and name from it) and its signature checked with the key that
    certificate certifies, before the payload is decompressed.
    """
    header, body = read_header(data)
    me = replica.me.node_id
    if header.recipient != me:
        raise BundleError("wrong_recipient", f"this bundle is for node {header.recipient}, and this node is {me}: "
                          "it cannot be read here; take it to the node it was written for")
    try:
        plain = sealing.open(body)
    except Exception as e:  # whatever the box raises: it did not open with our key
        raise BundleError("unreadable", "the bundle does not open with this node's key: it was altered, or sealed "
                          "to another node") from e
    signature, sender, signed, compressed = split_signed(plain)
    if sender.node_id != header.sender:
        raise BundleError("tampered", "the writer named in the header is not the one who signed")
    try:
        sender = replica.trust.admit(sender)
    except ProtocolError as e:
        raise BundleError(e.code.value, f"the writer {header.sender} is not trusted here: {e.message}") from e
    if replica.trust.is_revoked(sender.node_id):  # as its requests would be over the network
        raise BundleError("revoked", f"the writer {header.sender} has been revoked by the district")
    try:
        replica.verify_signature(sender.public_key, signing_bytes(header, hashlib.sha256(signed).digest()), signature)
    except Exception as e:
        raise BundleError("tampered", f"the signature of {header.sender} does not verify: the bundle was altered "
                          "after it was written") from e
    try:
        decoded = codec.decode(compressed, MAX_PLAIN_BYTES)
    except ProtocolError as e:
        raise BundleError("corrupted", f"the signed payload does not decode: {e.message}") from e
    return check_payload(decoded, header, sender)


def apply_payload(replica: Replica, payload: Payload, session: str) -> Applied:
    """Ingest the payload's batches in order, each in one transaction (see the invariants).

    :raises BundleError: ``out_of_order`` before anything is applied, ``unsupported`` for chunks.
    :raises ProtocolError: what the ingestor refuses (its codes, as for a network batch).
    """
    if payload.chunks:
        raise BundleError("unsupported", "this bundle carries file chunks, which this node cannot store yet: "
                          "upgrade it, then import the bundle again")
    first: dict[str, int] = {}
    for batch in payload.batches:
        for run in batch.runs:
            first.setdefault(run.feed, run.start)
    for feed, start in first.items():
        origin, scope = split_feed_key(feed)
        held = replica.store.feed_head(origin, scope).seq
        if start > held + 1:
            part = f"part {payload.header.part} of bundle {payload.header.id}"
            raise BundleError("out_of_order", f"{part} continues {feed} from seq {start}, and this node holds up to "
                              f"{held}: import the earlier part (or bundle) first")
    applied = Applied()
    for batch in payload.batches:
        result = replica.ingest(batch.runs, batch.profiles, payload.sender, session)
        applied.events += result.applied
        applied.skipped += result.skipped
        applied.batches += 1
        applied.new_events.extend(result.new_events)
    return applied


def lacking(vector: Vector, held: Vector) -> int:
    """Events ``held`` has beyond ``vector`` (what an export would carry, before cutting)."""
    return sum(seq - vector.get(key, 0) for key, seq in held.items() if seq > vector.get(key, 0))


__all__ = ["Applied", "BundleError", "Sealing", "Written", "apply_payload", "feed_key", "lacking", "open_bundle",
           "write_bundles"]
