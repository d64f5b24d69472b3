"""Sync protocol v1: runs, profiles, scope policy and error codes (pure core).

The exchange messages built from these are :mod:`sync.exchange`.

One exchange is one HTTP request. The caller sends its version vector (feed -> highest
contiguous seq it holds) and the runs of events it believes the peer lacks; the answer carries
the peer's vector after durably applying that push, and the runs the caller lacks. The caller's
vector *is* its acknowledgement of earlier answers, so the server keeps no per-client cursor
and no checkpoint document can disagree with the data (the PouchDB failure mode). The full
contract, with examples, is ``docs/sync-protocol.md``.

Runs
----
A *run* is a contiguous slice ``from .. from+n-1`` of one feed plus the origin's signature on
its last hash. On the wire an event drops the fields the receiver can derive (``v``, origin,
scope, seq, prev): the receiver rebuilds them, recomputes every hash, and checks the one head
signature, which therefore authenticates every event of the run (see :mod:`sync.chain`).

Profiles
--------
A profile is a node's signed statement of who it is (id, public key, role, unit, name). It
travels with the runs of its origin so that relays can forward a laptop's work to the district
verbatim. Until certificates arrive (the trust issue), a profile is self-signed: it proves
possession of the key whose hash is the node id, and the role and unit are taken as declared;
the certificate will take the same slot and make the role and unit authoritative.

Invariants
----------
* Everything here is a pure function of its inputs; compression and I/O live elsewhere.
* Parsing never trusts shapes: every malformed message raises :class:`ProtocolError` with a
  stable :class:`Code`, which the server answers as is.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sync.wire import (
    EVENT_FORMAT,
    NODE_ID_RE,
    SCOPE_RE,
    SHARED_SCOPE,
    WireError,
    canonical_json,
    node_id_from_public_key,
)

PROTOCOL_VERSION = 1  # what every message is sent as, unless it carries a vector digest
DIGEST_PROTOCOL = 2  # version 1 plus ``vector_digest``: a no-op sync without the vector (§3)
PROTOCOL_VERSIONS = (PROTOCOL_VERSION, DIGEST_PROTOCOL)  # what this node reads and answers
VECTOR_DIGEST_PREFIX = b"motcua/vector/v1\x00"
PROFILE_SIGN_PREFIX = b"motcua/profile/v1\x00"
ROLES = ("commune", "mobile", "district")
MAX_REQUEST_BYTES = 48 * 1024 * 1024  # decompressed; a batch is bounded below this
# Uncompressed JSON per direction per exchange. On a 300 ms link round trips cost more than
# bytes: 16 MiB moves 10,000 dossiers (~1 MiB compressed) in two exchanges.
DEFAULT_BATCH_BYTES = 16 * 1024 * 1024


class Code(enum.StrEnum):
    """Stable error codes (documented in docs/sync-protocol.md; never renumber or reuse)."""

    BAD_REQUEST = "bad_request"  # not a protocol message at all
    UNSUPPORTED_VERSION = "unsupported_version"
    TOO_LARGE = "too_large"
    MALFORMED = "malformed"  # a field or event has the wrong shape
    UNAUTHENTICATED = "unauthenticated"  # the request signature is missing or wrong
    UNKNOWN_NODE = "unknown_node"  # the caller has not presented its profile
    UNKNOWN_ORIGIN = "unknown_origin"  # a run's origin has no known profile
    BAD_PROFILE = "bad_profile"
    BAD_SIGNATURE = "bad_signature"  # a run's head signature does not verify
    BROKEN_CHAIN = "broken_chain"
    SCOPE_DENIED = "scope_denied"  # an event outside what the sender or its origin may write
    GAP = "gap"  # a run does not start right after what the receiver holds
    FORK = "fork"  # a second history of a feed: quarantined, never merged
    WRITE_BLOCKED = "write_blocked"
    REPLAYED = "replayed"  # a request with a nonce already seen
    UNTRUSTED = "untrusted"  # no valid certificate of this district's CA
    REVOKED = "revoked"  # the node, or events after its revocation point
    THROTTLED = "throttled"  # too many unauthenticated requests from this address lately
    READ_ONLY = "read_only"  # the node's database cannot be written: it serves pulls, refuses pushes
    INTERNAL = "internal"


HTTP_STATUS: Mapping[Code, int] = {
    Code.BAD_REQUEST: 400,
    Code.UNSUPPORTED_VERSION: 400,
    Code.TOO_LARGE: 413,
    Code.MALFORMED: 400,
    Code.UNAUTHENTICATED: 401,
    Code.UNKNOWN_NODE: 401,
    Code.UNKNOWN_ORIGIN: 422,
    Code.BAD_PROFILE: 422,
    Code.BAD_SIGNATURE: 422,
    Code.BROKEN_CHAIN: 422,
    Code.SCOPE_DENIED: 403,
    Code.GAP: 409,
    Code.FORK: 409,
    Code.WRITE_BLOCKED: 503,
    Code.READ_ONLY: 503,
    Code.REPLAYED: 401,
    Code.UNTRUSTED: 403,
    Code.REVOKED: 403,
    Code.THROTTLED: 429,
    Code.INTERNAL: 500,
}


class ProtocolError(Exception):
    """A message or batch was refused; ``code`` is stable, ``message`` is for the log."""

    def __init__(self, code: Code, message: str, feed: str = "") -> None:
        super().__init__(f"{code.value}: {message}")
        self.code = code
        self.message = message
        self.feed = feed


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise ProtocolError(Code.MALFORMED, f"{what} must be base64 text")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as e:
        raise ProtocolError(Code.MALFORMED, f"{what} is not valid base64") from e


def feed_key(origin: str, scope: str) -> str:
    return f"{origin}:{scope}"


def split_feed_key(key: str) -> tuple[str, str]:
    origin, sep, scope = key.partition(":")
    if not (sep and NODE_ID_RE.match(origin) and SCOPE_RE.match(scope)):
        raise ProtocolError(Code.MALFORMED, f"bad feed key {key!r}")
    return origin, scope


Vector = dict[str, int]


def parse_vector(value: Any) -> Vector:
    if not isinstance(value, Mapping):
        raise ProtocolError(Code.MALFORMED, "vector must be an object")
    out: Vector = {}
    for key, seq in value.items():
        split_feed_key(key)
        if type(seq) is not int or seq < 0:
            raise ProtocolError(Code.MALFORMED, f"vector entry {key} must be a non-negative integer")
        out[key] = seq
    return out


def vector_digest(vector: Vector) -> str:
    """128 bits of SHA-256 over the canonical vector: equal digests, equal vectors."""
    return hashlib.sha256(VECTOR_DIGEST_PREFIX + canonical_json(vector)).hexdigest()[:32]


# -- profiles ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Profile:
    node_id: str
    public_key: bytes
    role: str
    unit: str
    name: str
    signature: bytes = b""
    cert: bytes = b""  # DER certificate from the district CA; role/unit/name are then taken from it

    def statement(self) -> bytes:
        return PROFILE_SIGN_PREFIX + canonical_json(
            {
                "node_id": self.node_id,
                "public_key": b64(self.public_key),
                "role": self.role,
                "unit": self.unit,
                "name": self.name,
            }
        )

    def to_wire(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "public_key": b64(self.public_key),
            "role": self.role,
            "unit": self.unit,
            "name": self.name,
            "sig": b64(self.signature),
            **({"cert": b64(self.cert)} if self.cert else {}),
        }


def profile_from_wire(d: Any) -> Profile:
    if not isinstance(d, Mapping):
        raise ProtocolError(Code.BAD_PROFILE, "a profile must be an object")
    try:
        p = Profile(
            node_id=str(d["node_id"]),
            public_key=unb64(d["public_key"], "profile key"),
            role=str(d["role"]),
            unit=str(d["unit"]),
            name=str(d["name"])[:200],
            signature=unb64(d["sig"], "profile signature"),
            cert=unb64(d["cert"], "profile certificate") if d.get("cert") else b"",
        )
    except KeyError as e:
        raise ProtocolError(Code.BAD_PROFILE, f"profile lacks {e.args[0]}") from e
    if p.role not in ROLES:
        raise ProtocolError(Code.BAD_PROFILE, f"unknown role {p.role!r}")
    if not SCOPE_RE.match(p.unit) or p.unit == SHARED_SCOPE:
        raise ProtocolError(Code.BAD_PROFILE, f"bad unit {p.unit!r}")
    if node_id_from_public_key(p.public_key) != p.node_id:
        raise ProtocolError(Code.BAD_PROFILE, "profile key does not hash to its node id")
    try:
        p.name.encode("utf-8")  # a lone surrogate is valid JSON but no database can store it
    except UnicodeEncodeError as e:
        raise ProtocolError(Code.BAD_PROFILE, "profile name is not valid Unicode text") from e
    return p


# -- scope policy --------------------------------------------------------------------------


def may_hold(profile: Profile, scope: str) -> bool:
    """Partial replication: a commune or laptop holds its own unit and shared reference data."""
    if profile.role == "district":
        return True
    return scope in (profile.unit, SHARED_SCOPE)


def may_write(profile: Profile, scope: str) -> bool:
    """Which feeds an origin may author: its own unit; the district also any unit and '*'."""
    if profile.role == "district":
        return True
    return scope == profile.unit


# -- runs ----------------------------------------------------------------------------------

_COMPACT_FIELDS = ("hlc", "at", "author", "entity", "type", "body", "parents")


@dataclass(frozen=True, slots=True)
class Run:
    """A contiguous slice of one feed, compact events, and the head signature at its end."""

    origin: str
    scope: str
    start: int
    prev: str
    events: tuple[Mapping[str, Any], ...]
    signature: bytes

    @property
    def feed(self) -> str:
        return feed_key(self.origin, self.scope)

    @property
    def end(self) -> int:
        return self.start + len(self.events) - 1

    def full_event_dicts(self) -> list[dict[str, Any]]:
        """Event dicts with the derivable fields restored; ``prev`` is filled by the receiver."""
        return [
            {
                "v": EVENT_FORMAT,
                "origin": self.origin,
                "scope": self.scope,
                "seq": self.start + i,
                "prev": "",
                **{k: e[k] for k in _COMPACT_FIELDS},
            }
            for i, e in enumerate(self.events)
        ]

    def to_wire(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "scope": self.scope,
            "from": self.start,
            "prev": self.prev,
            "events": list(self.events),
            "sig": b64(self.signature),
        }


def compact(event_dict: Mapping[str, Any]) -> dict[str, Any]:
    return {k: event_dict[k] for k in _COMPACT_FIELDS}


class StoredCompact(Mapping[str, Any]):
    """A stored event's compact wire form, kept as the stored canonical bytes.

    What a node sends is what it stored: the bytes are cut, not parsed and re-encoded
    (:meth:`wire_bytes`), which gives the members of ``compact(json.loads(raw))``, in canonical
    (sorted) key order, with the stored escaping. Read as a mapping (an
    in-process ingest, a test) it parses itself once; its keys are known without parsing.
    """

    __slots__ = ("_parsed", "raw")

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self._parsed: dict[str, Any] | None = None

    def _dict(self) -> dict[str, Any]:
        if self._parsed is None:
            self._parsed = compact(json.loads(self.raw))
        return self._parsed

    def __getitem__(self, key: str) -> Any:
        return self._dict()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(_COMPACT_FIELDS)

    def __len__(self) -> int:
        return len(_COMPACT_FIELDS)

    def wire_bytes(self) -> bytes:
        """The compact JSON: the canonical bytes without ``origin``, ``prev``, ``scope``, ``seq``, ``v``.

        Canonical keys are sorted (at, author, body, entity, hlc, origin, parents, prev, scope,
        seq, type, v) and nothing after ``hlc`` can hold an object, so the top-level keys are
        found from the end; anything unexpected falls back to parsing.
        """
        raw = self.raw
        try:
            if not (raw.startswith(b'{"at":') and raw.endswith(b',"v":1}')):
                raise ValueError
            i = raw.rindex(b',"origin":"')
            j = raw.index(b',"parents":[', i)
            k = raw.index(b',"prev":"', j)
            t = raw.index(b',"type":"', k)
        except ValueError:
            return json.dumps(self._dict(), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return b"".join((raw[:i], raw[j:k], raw[t : len(raw) - 7], b"}"))


def run_from_wire(d: Any) -> Run:
    if not isinstance(d, Mapping):
        raise ProtocolError(Code.MALFORMED, "a run must be an object")
    try:
        origin, scope, start, prev, events = d["origin"], d["scope"], d["from"], d["prev"], d["events"]
        signature = unb64(d["sig"], "run signature")
    except KeyError as e:
        raise ProtocolError(Code.MALFORMED, f"run lacks {e.args[0]}") from e
    if not (isinstance(origin, str) and NODE_ID_RE.match(origin)):
        raise ProtocolError(Code.MALFORMED, "run origin is not a node id")
    if not (isinstance(scope, str) and SCOPE_RE.match(scope)):
        raise ProtocolError(Code.MALFORMED, "run scope is not a unit code")
    if type(start) is not int or start < 1 or not isinstance(prev, str):
        raise ProtocolError(Code.MALFORMED, "run 'from' must be a positive integer, 'prev' text")
    if not isinstance(events, list) or not events:
        raise ProtocolError(Code.MALFORMED, "run events must be a non-empty list")
    for e in events:
        if not isinstance(e, Mapping) or set(e) != set(_COMPACT_FIELDS):
            raise ProtocolError(Code.MALFORMED, f"compact events have exactly the fields {_COMPACT_FIELDS}")
    return Run(origin, scope, start, prev, tuple(events), signature)


__all__ = ["WireError"]
