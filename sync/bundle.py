"""Bundles: sync batches written to a file and carried on a USB stick (pure core, sans-IO).

A bundle is what a network exchange would have carried, for nodes with no link at all
(DESIGN §3). Its *payload* is the same runs and profiles a push or pull carries, cut by the same
outbox and applied by the same ingestor (:mod:`sync.bundler`); this module is only the file's
form and its checks, with the sealing and the signature passed in as callables.

File layout (``docs/sync-protocol.md`` §10)::

    "MOTCUA-BUNDLE/1\\n"
    header: one line of canonical JSON {v, kind, id, part, from, to, created, bytes, sha256} "\\n"
    body:   sealed box to the recipient of
            signature(64) ‖ u32 length ‖ writer's profile (JSON, with its certificate) ‖ zstd(JSON payload)

* ``kind`` is ``data`` (what the recipient lacks) or ``ack`` (what the importer now holds,
  plus what the sender lacks, travelling back). ``part`` numbers the files of one export
  cut by ``--max-size``; each part is a bundle of its own.
* ``bytes`` and ``sha256`` describe the body as written, so a copy cut short (``truncated``)
  or damaged on the stick (``corrupted``) is told apart *before* any decryption is tried.
* The signature, by the writer's Ed25519 node key, covers :func:`signing_bytes`: the header's
  fields that say who, to whom, which bundle (everything but ``bytes``/``sha256``, which depend
  on the ciphertext) and the SHA-256 of the writer's profile and the compressed payload. The
  profile sits before the payload so that, as at the sync endpoint, the writer is identified
  (its certificate checked) and its signature verified *before* anything is decompressed. The
  payload repeats the header, and the two must agree: a header edited on the stick (another
  recipient, another id, another part) is refused even when its body still opens. Signing
  *inside* the sealed box, with the recipient's id under the signature, means a bundle cannot
  be re-sealed to a third node and pass as written to it.

Invariants
----------
* Nothing here touches a file, a key or a clock; every refusal raises :class:`BundleError` with
  a stable ``code`` and a message fit for the person holding the stick.
* The checks run in the order of :func:`read_header` then :func:`check_payload`: shape, length,
  digest, recipient, then (in the driver) decryption, the writer's certificate, its signature;
  nothing of a bundle is applied before all of them held.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync.protocol import Profile, ProtocolError, Run, Vector, parse_vector, profile_from_wire, run_from_wire
from sync.wire import NODE_ID_RE

MAGIC = b"MOTCUA-BUNDLE/1\n"
VERSION = 1
SIGN_PREFIX = b"motcua/bundle/v1\x00"
KINDS = ("data", "ack")
MAX_HEADER_BYTES = 4096
SIGNATURE_BYTES = 64
BUNDLE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
CHUNKS = "chunks"  # the payload section reserved for file chunks (attachments): empty today


class BundleError(Exception):
    """A bundle refused: ``code`` is stable (``not_a_bundle``, ``truncated``, ``corrupted``,
    ``wrong_recipient``, ``unreadable``, ``tampered``, ``untrusted``, ``replayed``, ``out_of_order``,
    ``unsupported``, ``no_recipient``), ``message`` says what to do."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Header:
    kind: str
    id: str
    part: int
    sender: str
    recipient: str
    created: int
    bytes: int = 0
    sha256: str = ""

    def core(self) -> dict[str, Any]:
        """The fields the writer signs and the payload repeats."""
        return {"v": VERSION, "kind": self.kind, "id": self.id, "part": self.part, "from": self.sender,
                "to": self.recipient, "created": self.created}

    def line(self) -> bytes:
        full = {**self.core(), "bytes": self.bytes, "sha256": self.sha256}
        return json.dumps(full, sort_keys=True, separators=(",", ":")).encode() + b"\n"


@dataclass(frozen=True)
class Batch:
    """One ingest batch, applied in one transaction, as a pushed or pulled batch is."""

    runs: tuple[Run, ...]
    profiles: tuple[Profile, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"runs": [r.to_wire() for r in self.runs], "profiles": [p.to_wire() for p in self.profiles]}


@dataclass(frozen=True)
class Payload:
    header: Header
    sender: Profile  # the writer's own profile, with its certificate (the section before the payload)
    vector: Vector  # what the writer held, of the feeds the recipient may hold, when it wrote
    batches: tuple[Batch, ...] = ()
    more: bool = False  # the writer had more than fit (``--max-size``): further parts follow
    ack_of: str = ""  # for an ack: the id of the bundle it acknowledges
    chunks: tuple[Any, ...] = ()  # reserved: file chunks, once attachments exist

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"header": self.header.core(), "vector": self.vector,
                               "batches": [b.to_wire() for b in self.batches], CHUNKS: list(self.chunks)}
        if self.more:
            out["more"] = True
        if self.ack_of:
            out["ack_of"] = self.ack_of
        return out

    @property
    def events(self) -> int:
        return sum(len(r.events) for b in self.batches for r in b.runs)


def signing_bytes(header: Header, payload_digest: bytes) -> bytes:
    """What the writer signs: the header's own fields and the digest of the compressed payload."""
    core = json.dumps(header.core(), sort_keys=True, separators=(",", ":")).encode()
    return SIGN_PREFIX + hashlib.sha256(core).digest() + payload_digest


def frame(header: Header, body: bytes) -> bytes:
    """The file's bytes: magic, the header line (with the body's length and digest), the body."""
    full = Header(header.kind, header.id, header.part, header.sender, header.recipient, header.created, len(body),
                  hashlib.sha256(body).hexdigest())
    return MAGIC + full.line() + body


def read_header(data: bytes) -> tuple[Header, bytes]:
    """The header and body of a bundle file, checked for shape, length and digest (no key needed).

    :raises BundleError: ``not_a_bundle``, ``truncated``, ``corrupted``.
    """
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data[: len(MAGIC)]) and len(data) < len(MAGIC):
            raise BundleError("truncated", f"the file stops after {len(data)} bytes, inside the bundle's first line")
        raise BundleError("not_a_bundle", "this file is not a motcua bundle (it does not start with MOTCUA-BUNDLE/1)")
    end = data.find(b"\n", len(MAGIC), len(MAGIC) + MAX_HEADER_BYTES)
    if end < 0:
        if len(data) < len(MAGIC) + MAX_HEADER_BYTES:
            raise BundleError("truncated", f"the file stops after {len(data)} bytes, inside the bundle's header")
        raise BundleError("corrupted", "the bundle's header line is damaged (no end within 4 KiB)")
    try:
        d = json.loads(data[len(MAGIC) : end])
        header = Header(d["kind"], d["id"], d["part"], d["from"], d["to"], d["created"], d["bytes"], d["sha256"])
        if not (d.get("v") == VERSION and header.kind in KINDS and BUNDLE_ID_RE.match(header.id)
                and NODE_ID_RE.match(header.sender) and NODE_ID_RE.match(header.recipient)
                and all(type(v) is int and v >= 0 for v in (header.part, header.created, header.bytes))
                and isinstance(header.sha256, str) and len(header.sha256) == 64):
            raise ValueError("fields out of shape")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise BundleError("corrupted", f"the bundle's header is damaged ({e})") from e
    body = data[end + 1 :]
    if len(body) < header.bytes:
        raise BundleError("truncated", f"the copy was cut short: {len(body)} of {header.bytes} bytes of the bundle "
                          "are on the stick; copy it again from the sending node")
    if len(body) > header.bytes:
        raise BundleError("corrupted", f"{len(body) - header.bytes} bytes more than the bundle wrote follow it")
    if hashlib.sha256(body).hexdigest() != header.sha256:
        raise BundleError("corrupted", "the bundle's bytes changed on the stick (its SHA-256 does not match "
                          "its header): copy it again from the sending node")
    return header, body


def join_signed(signature: bytes, sender: Profile, compressed: bytes) -> bytes:
    """The plaintext that is sealed: signature, the writer's profile, the compressed payload."""
    profile = json.dumps(sender.to_wire(), sort_keys=True, separators=(",", ":")).encode()
    return signature + len(profile).to_bytes(4, "big") + profile + compressed


def signed_part(sender: Profile, compressed: bytes) -> bytes:
    """The bytes whose SHA-256 the signature covers (profile section and payload)."""
    return join_signed(b"", sender, compressed)


def split_signed(plain: bytes) -> tuple[bytes, Profile, bytes, bytes]:
    """(signature, writer's profile, signed bytes, compressed payload) of an opened body.

    :raises BundleError: ``tampered`` when the opened bytes do not have this shape.
    """
    head = SIGNATURE_BYTES + 4
    size = int.from_bytes(plain[SIGNATURE_BYTES:head], "big") if len(plain) >= head else -1
    if size < 0 or size > MAX_HEADER_BYTES * 4 or len(plain) < head + size:
        raise BundleError("tampered", "the opened bundle does not hold a signed payload")
    try:
        sender = profile_from_wire(json.loads(plain[head : head + size]))
    except (ValueError, ProtocolError) as e:
        raise BundleError("tampered", f"the writer's profile in the bundle does not parse ({e})") from e
    return plain[:SIGNATURE_BYTES], sender, plain[SIGNATURE_BYTES:], plain[head + size :]


def check_payload(d: Any, header: Header, sender: Profile) -> Payload:
    """The decoded payload, which must repeat ``header``'s signed fields.

    :raises BundleError: ``tampered`` (the outer header was edited), ``unsupported`` (file
        chunks, which this node cannot store yet), ``corrupted`` (a shape that does not parse).
    """
    if not isinstance(d, Mapping):
        raise BundleError("corrupted", "the bundle's payload is not an object")
    if d.get("header") != header.core():
        raise BundleError("tampered", "the bundle's header was altered: it does not match what its writer signed")
    try:
        batches = d.get("batches", [])
        chunks = d.get(CHUNKS, [])
        if not isinstance(batches, list) or not isinstance(chunks, list):
            raise TypeError("batches and chunks must be lists")
        payload = Payload(
            header=header,
            sender=sender,
            vector=parse_vector(d.get("vector", {})),
            batches=tuple(Batch(tuple(run_from_wire(r) for r in _list(b, "runs")),
                                tuple(profile_from_wire(p) for p in _list(b, "profiles"))) for b in batches),
            more=d.get("more") is True,
            ack_of=str(d.get("ack_of", "")),
            chunks=tuple(chunks),
        )
    except (ProtocolError, TypeError, AttributeError) as e:
        raise BundleError("corrupted", f"the bundle's payload does not parse ({e})") from e
    if payload.sender.node_id != header.sender:
        raise BundleError("tampered", "the bundle's writer profile names another node than its header")
    return payload


def _list(d: Any, key: str) -> list:
    value = d.get(key, []) if isinstance(d, Mapping) else None
    if not isinstance(value, list):
        raise TypeError(f"{key} must be a list")
    return value
