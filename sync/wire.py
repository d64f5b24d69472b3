"""The event and its one canonical encoding (pure core: stdlib only).

Everything a node knows is an :class:`Event`: immutable, appended to a *feed*, hashed and
(through its feed's signed head) signed by its origin. This module is the single place where
events become bytes and bytes become events; hashing, signing, storage and the wire all use
:func:`canonical_bytes`, so there is exactly one byte form of an event.

Invariants
----------
* Canonical bytes are JSON with sorted keys, no insignificant white space, UTF-8 (no ``\\u``
  escapes for non-ASCII), strings in Unicode NFC, integers only (no floats: a float's text form
  is not stable across languages), no ``NaN``. :func:`parse_event` refuses any byte string that
  is not already canonical, so a stored or received event has exactly one encoding and its hash
  is a function of its content.
* A *feed* is ``(origin, scope)``. ``seq`` counts from 1 without gaps inside a feed, and
  ``prev`` is the hash of the feed's previous event (``""`` at seq 1): a hash chain. Chains are
  per (origin, scope) rather than per origin because partial replication hands a commune only
  the feeds of its own unit; a per-origin chain would have holes on every receiver that does
  not hold every scope the origin writes to (DESIGN §2).
* ``parents`` name the entity's head events the author had seen, by reference
  ``origin:scope:seq`` rather than by hash. A reference is as binding as a hash here because a
  feed is a single signed linear history (a second history for one feed is a fork, detected and
  quarantined, never merged), and it costs a few compressible characters on the wire instead of
  32 incompressible bytes per event.
* The event hash is SHA-256 over a domain-separation prefix plus the canonical bytes, so an
  event hash can never be confused with the hash of any other signed structure.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

EVENT_FORMAT = 1
EVENT_HASH_PREFIX = b"motcua/event/v1\x00"
HEAD_SIGN_PREFIX = b"motcua/head/v1\x00"
GENESIS = ""  # ``prev`` of a feed's first event

NODE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
SCOPE_RE = re.compile(r"^(\*|[0-9A-Za-z][0-9A-Za-z._-]{0,39})$")
TYPE_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
REF_RE = re.compile(r"^([0-9a-f]{32}):(\*|[0-9A-Za-z][0-9A-Za-z._-]{0,39}):([1-9][0-9]{0,17})$")
HASH_RE = re.compile(r"^[0-9a-f]{64}$")

SHARED_SCOPE = "*"  # reference data every node receives (catalogue, calendar, revocations)
MAX_EVENT_BYTES = 64 * 1024  # a dossier event is ~0.5 KB; anything near this is an attack or a bug


class WireError(ValueError):
    """Raised when bytes or values do not form a valid canonical event."""


def _normalise(value: Any, path: str = "$") -> Any:
    """Return ``value`` with every string in NFC; refuse types the encoding cannot carry."""
    if isinstance(value, str):
        return unicodedata.normalize("NFC", value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        # Beyond 2**53 JavaScript and many JSON parsers lose precision; refuse rather than
        # let two peers disagree about a number.
        if abs(value) > 2**63 - 1:
            raise WireError(f"{path}: integer out of range")
        return value
    if isinstance(value, float):
        raise WireError(f"{path}: floats are not allowed in events (use integers or strings)")
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise WireError(f"{path}: object keys must be strings")
            out[unicodedata.normalize("NFC", k)] = _normalise(v, f"{path}.{k}")
        return out
    if isinstance(value, list | tuple):
        return [_normalise(v, f"{path}[{i}]") for i, v in enumerate(value)]
    raise WireError(f"{path}: unsupported type {type(value).__name__}")


def _check_canonical_value(value: Any, path: str) -> None:
    """Raise unless ``value`` is already what :func:`_normalise` would make of it (no copy)."""
    if isinstance(value, str):
        if not value.isascii() and not unicodedata.is_normalized("NFC", value):
            raise WireError(f"{path}: strings must be in Unicode NFC")
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if abs(value) > 2**63 - 1:
            raise WireError(f"{path}: integer out of range")
    elif isinstance(value, float):
        raise WireError(f"{path}: floats are not allowed in events (use integers or strings)")
    elif isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise WireError(f"{path}: object keys must be strings")
            if not k.isascii() and not unicodedata.is_normalized("NFC", k):
                raise WireError(f"{path}: keys must be in Unicode NFC")
            _check_canonical_value(v, path + "." + k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_canonical_value(v, f"{path}[{i}]")
    else:
        raise WireError(f"{path}: unsupported type {type(value).__name__}")


# One encoder for every call: ``json.dumps`` with options builds a new encoder each time, which
# cost as much as the encoding itself for an event-sized value.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_json(value: Any) -> bytes:
    """Encode an already-normalised JSON value in the one canonical byte form."""
    return _CANONICAL.encode(value).encode("utf-8")


def make_ref(origin: str, scope: str, seq: int) -> str:
    """Reference of an event: ``origin:scope:seq``."""
    return f"{origin}:{scope}:{seq}"


def parse_ref(ref: str) -> tuple[str, str, int]:
    """Split an event reference; raise :class:`WireError` on a malformed one."""
    m = REF_RE.match(ref)
    if not m:
        raise WireError(f"malformed event reference {ref!r}")
    return m.group(1), m.group(2), int(m.group(3))


@dataclass(frozen=True, slots=True)
class Event:
    """One immutable fact, as signed by its origin (see the module docstring)."""

    origin: str
    scope: str
    seq: int
    prev: str
    hlc: int
    at: int  # wall time of the act on the origin, epoch milliseconds (legal facts keep it)
    author: str
    entity: str  # "<kind>/<id>"
    type: str
    body: Mapping[str, Any] = field(default_factory=dict)
    parents: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        return make_ref(self.origin, self.scope, self.seq)

    @property
    def feed(self) -> tuple[str, str]:
        return (self.origin, self.scope)

    @property
    def entity_kind(self) -> str:
        return self.entity.split("/", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": EVENT_FORMAT,
            "origin": self.origin,
            "scope": self.scope,
            "seq": self.seq,
            "prev": self.prev,
            "hlc": self.hlc,
            "at": self.at,
            "author": self.author,
            "entity": self.entity,
            "type": self.type,
            "body": self.body,
            "parents": list(self.parents),
        }


def _require(cond: bool, message: str) -> None:
    if not cond:
        raise WireError(message)


def build_event(
    *,
    origin: str,
    scope: str,
    seq: int,
    prev: str,
    hlc: int,
    at: int,
    author: str,
    entity: str,
    type: str,
    body: Mapping[str, Any],
    parents: tuple[str, ...] | list[str] = (),
) -> Event:
    """Construct a validated event with normalised strings; no side effects."""
    event = Event(
        origin=origin,
        scope=unicodedata.normalize("NFC", scope),
        seq=seq,
        prev=prev,
        hlc=hlc,
        at=at,
        author=unicodedata.normalize("NFC", author),
        entity=unicodedata.normalize("NFC", entity),
        type=type,
        body=_normalise(dict(body), "$.body"),
        parents=tuple(sorted(set(parents))),
    )
    validate_event(event)
    return event


def validate_event(e: Event) -> None:
    """Check field shapes; raise :class:`WireError` naming the first bad field."""
    _require(bool(NODE_ID_RE.match(e.origin)), f"origin {e.origin!r} is not a node id")
    _require(bool(SCOPE_RE.match(e.scope)), f"scope {e.scope!r} is not a unit code or '*'")
    _require(type(e.seq) is int and e.seq >= 1, f"seq must be a positive integer, got {e.seq!r}")
    if e.seq == 1:
        _require(e.prev == GENESIS, "the first event of a feed must have an empty prev")
    else:
        _require(bool(HASH_RE.match(e.prev)), f"prev {e.prev!r} is not a SHA-256 hex digest")
    _require(type(e.hlc) is int and 0 <= e.hlc < 2**63, "hlc must be a non-negative 63-bit integer")
    _require(type(e.at) is int and 0 <= e.at < 2**53, "at must be epoch milliseconds")
    _require(isinstance(e.author, str) and 0 < len(e.author) <= 120, "author must be 1-120 characters")
    kind, sep, ident = e.entity.partition("/")
    _require(bool(sep and kind and ident) and len(e.entity) <= 200, f"entity {e.entity!r} must be kind/id")
    _require(bool(TYPE_RE.match(e.type)), f"type {e.type!r} must look like 'dossier.received'")
    _require(isinstance(e.body, Mapping), "body must be an object")
    _require(len(e.parents) <= 64, "too many parents")
    for p in e.parents:
        parse_ref(p)
    _require(list(e.parents) == sorted(set(e.parents)), "parents must be sorted and unique")


def canonical_bytes(e: Event) -> bytes:
    """The one byte form of an event, used for hashing, signing, storage and the wire."""
    return canonical_json(e.to_dict())


def hash_bytes(raw: bytes) -> str:
    """Event hash of canonical bytes (hex SHA-256 with a domain prefix)."""
    return hashlib.sha256(EVENT_HASH_PREFIX + raw).hexdigest()


def event_hash(e: Event) -> str:
    return hash_bytes(canonical_bytes(e))


_FIELDS = ("v", "origin", "scope", "seq", "prev", "hlc", "at", "author", "entity", "type", "body", "parents")


def event_from_dict(d: Mapping[str, Any], *, check_body: bool = True) -> Event:
    """Build an event from its dict form; raise :class:`WireError` if it is not exactly one.

    ``check_body=False`` skips the per-value walk of the body for callers that check the
    canonical text as a whole instead (:func:`check_canonical_text`), which is cheaper.
    """
    _require(isinstance(d, Mapping), "an event must be a JSON object")
    _require(set(d) == set(_FIELDS), f"event fields must be exactly {sorted(_FIELDS)}, got {sorted(d)}")
    _require(d["v"] == EVENT_FORMAT, f"unknown event format {d['v']!r}")
    for name in ("origin", "scope", "prev", "author", "entity", "type"):
        _require(isinstance(d[name], str), f"{name} must be a string")
    _require(isinstance(d["parents"], list), "parents must be a list")
    _require(all(isinstance(p, str) for p in d["parents"]), "parents must be strings")
    # Received events are checked, not repaired: a float or a non-NFC string would make the
    # receiver's canonical bytes differ from what peers in other languages compute.
    if check_body:
        _check_canonical_value(d["body"], "$.body")
    for name in ("scope", "author", "entity"):
        _require(unicodedata.normalize("NFC", d[name]) == d[name], f"{name} must be in Unicode NFC")
    e = Event(
        origin=d["origin"],
        scope=d["scope"],
        seq=d["seq"],
        prev=d["prev"],
        hlc=d["hlc"],
        at=d["at"],
        author=d["author"],
        entity=d["entity"],
        type=d["type"],
        body=d["body"],
        parents=tuple(d["parents"]),
    )
    validate_event(e)
    return e


def parse_event(raw: bytes) -> Event:
    """Decode canonical bytes into an event; refuse anything that is not canonical."""
    _require(len(raw) <= MAX_EVENT_BYTES, f"event of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    try:
        d = json.loads(raw.decode("utf-8"), parse_float=_refuse_float, parse_constant=_refuse_float)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise WireError(f"event is not UTF-8 JSON: {e}") from e
    event = event_from_dict(d, check_body=False)
    _require(canonical_bytes(event) == raw, "event bytes are not in canonical form")
    check_canonical_text(raw)
    return event


def check_canonical_text(raw: bytes) -> None:
    """Raise unless canonical bytes hold NFC text only.

    Checking the whole JSON text at once is equivalent to checking each string: the JSON
    punctuation between strings is ASCII that never composes with a neighbour. Floats cannot
    appear here (the caller parsed with floats refused, or built the event from checked values).
    """
    if not raw.isascii() and not unicodedata.is_normalized("NFC", raw.decode("utf-8")):
        raise WireError("strings must be in Unicode NFC")


def load_stored_event(raw: bytes) -> Event:
    """Decode an event this node stored after verifying it, without re-checking it.

    Derived state is rebuilt from stored events often (every ingest refolds the dossiers it
    touches); re-validating canonical form each time doubled the hub's ingest cost. Stored
    events were checked on the way in, and ``motcua verify`` re-checks them on demand.
    """
    d = json.loads(raw)
    return Event(
        origin=d["origin"], scope=d["scope"], seq=d["seq"], prev=d["prev"], hlc=d["hlc"], at=d["at"],
        author=d["author"], entity=d["entity"], type=d["type"], body=d["body"], parents=tuple(d["parents"]),
    )


def _refuse_float(text: str) -> Any:
    raise WireError(f"non-integer number {text!r} in event")


def head_message(origin: str, scope: str, seq: int, head_hash: str) -> bytes:
    """Bytes an origin signs to vouch for its feed up to ``seq`` (hash chain covers the rest)."""
    return HEAD_SIGN_PREFIX + canonical_json(
        {"origin": origin, "scope": scope, "seq": seq, "hash": head_hash}
    )


def node_id_from_public_key(public_key: bytes) -> str:
    """A node's id: the first 128 bits of SHA-256 of its raw Ed25519 public key, in hex."""
    return hashlib.sha256(b"motcua/node-id/v1\x00" + public_key).hexdigest()[:32]
