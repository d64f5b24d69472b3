"""Sync protocol v1 (and v2: v1 plus a vector digest for the no-op): the exchange messages,
their signatures and the reply a transport brings back (pure core).

An exchange is one request (:class:`ExchangeRequest`: the caller's vector, the runs it pushes,
profiles) and one answer (:class:`ExchangeResponse`: the peer's vector after committing the push,
the runs the caller lacks, an error if the push was refused). Runs, profiles, error codes and
the scope policy they rely on are :mod:`sync.protocol`; how the session uses these messages is
:mod:`sync.session`.

Both directions are signed over the digest of the compressed body: the request by the caller
(:func:`request_signing_bytes`, checked before the server reads anything: :mod:`sync.auth`),
the answer by the server, bound to the request's nonce (:func:`response_signing_bytes`), so an
answer cannot be replayed to another request. A :class:`Reply` is what any transport hands the
session: the decoded answer plus what is needed to check that signature.

Invariants
----------
* Pure functions of their inputs; parsing never trusts shapes and raises
  :class:`sync.protocol.ProtocolError` with a stable code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sync.protocol import (
    DEFAULT_BATCH_BYTES,
    DIGEST_PROTOCOL,
    MAX_REQUEST_BYTES,
    PROTOCOL_VERSION,
    PROTOCOL_VERSIONS,
    Code,
    Profile,
    ProtocolError,
    Run,
    Vector,
    parse_vector,
    profile_from_wire,
    run_from_wire,
)

EXCHANGE_PATH = "/sync/v1/exchange"  # the one endpoint; signed into every request
REQUEST_SIGN_PREFIX = b"motcua/request/v1\x00"


@dataclass(frozen=True)
class ExchangeRequest:
    session: str
    vector: Vector
    push: tuple[Run, ...] = ()
    profiles: tuple[Profile, ...] = ()  # the caller's own on first contact, and push origins'
    max_bytes: int = DEFAULT_BATCH_BYTES
    protocol: int = PROTOCOL_VERSION
    vector_digest: str = ""  # protocol 2: instead of ``vector``, its digest (the expected no-op)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"protocol": self.protocol, "session": self.session}
        if self.vector_digest:
            out["vector_digest"] = self.vector_digest
        else:
            out["vector"] = self.vector
        if self.push:
            out["push"] = [r.to_wire() for r in self.push]
        if self.profiles:
            out["profiles"] = [p.to_wire() for p in self.profiles]
        if self.max_bytes != DEFAULT_BATCH_BYTES:
            out["max_bytes"] = self.max_bytes
        return out


@dataclass(frozen=True)
class ExchangeResponse:
    session: str
    vector: Vector
    pull: tuple[Run, ...] = ()
    profiles: tuple[Profile, ...] = ()
    more: bool = False
    error: Mapping[str, str] | None = None  # {"code", "message", "feed"} if the push was refused
    node: Profile | None = None  # the answering node, so the caller learns its peer
    time: int = 0  # the answering node's wall clock (ms), for skew reports
    protocol: int = PROTOCOL_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)
    # protocol 2: the request's digest matched our vector, which is therefore not sent (the
    # answer is signed for the request's nonce, so "unchanged" speaks of that request's digest)
    unchanged: bool = False
    mismatch: bool = False  # protocol 2: the request's digest did not match; send the vector

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"protocol": self.protocol, "session": self.session}
        if self.unchanged:
            out["unchanged"] = True
        else:
            out["vector"] = self.vector
        if self.mismatch:
            out["vector_mismatch"] = True
        if self.pull:
            out["pull"] = [r.to_wire() for r in self.pull]
        if self.profiles:
            out["profiles"] = [p.to_wire() for p in self.profiles]
        if self.more:
            out["more"] = True
        if self.error:
            out["error"] = dict(self.error)
        if self.node:
            out["node"] = self.node.to_wire()
        if self.time:
            out["time"] = self.time
        return out


SESSION_RE = re.compile(r"^[0-9A-Za-z-]{8,64}$")


DIGEST_RE = re.compile(r"^[0-9a-f]{32}$")


def _check_version(d: Mapping[str, Any]) -> int:
    protocol = d.get("protocol")
    if type(protocol) is not int or protocol not in PROTOCOL_VERSIONS:
        raise ProtocolError(
            Code.UNSUPPORTED_VERSION,
            f"protocol {protocol!r} is not supported; this node speaks {', '.join(map(str, PROTOCOL_VERSIONS))}",
        )
    return protocol


def _digest_of(d: Mapping[str, Any], protocol: int) -> str:
    """The ``vector_digest`` of a protocol-2 message ("" if none); version 1 knows no digest."""
    digest = d.get("vector_digest", "") if protocol >= DIGEST_PROTOCOL else ""
    if not isinstance(digest, str) or (digest and not DIGEST_RE.match(digest)):
        raise ProtocolError(Code.MALFORMED, "vector_digest must be 32 hex digits")
    return digest


def request_from_wire(d: Any) -> ExchangeRequest:
    if not isinstance(d, Mapping):
        raise ProtocolError(Code.BAD_REQUEST, "the request must be a JSON object")
    protocol = _check_version(d)
    digest = _digest_of(d, protocol)
    if protocol == DIGEST_PROTOCOL and (not digest or any(k in d for k in ("vector", "push", "profiles"))):
        # version 2 is only the no-op probe; everything else is still spoken as version 1
        raise ProtocolError(Code.UNSUPPORTED_VERSION,
                            f"protocol {DIGEST_PROTOCOL} carries only a vector digest (a sync expected to have "
                            f"nothing to do); send anything else as protocol {PROTOCOL_VERSION}")
    session = d.get("session")
    if not (isinstance(session, str) and SESSION_RE.match(session)):
        raise ProtocolError(Code.MALFORMED, "session must be 8-64 characters of [0-9A-Za-z-]")
    max_bytes = d.get("max_bytes", DEFAULT_BATCH_BYTES)
    if type(max_bytes) is not int or not 1024 <= max_bytes <= MAX_REQUEST_BYTES:
        raise ProtocolError(Code.MALFORMED, "max_bytes out of range")
    push, profiles = d.get("push", []), d.get("profiles", [])
    if not isinstance(push, list) or not isinstance(profiles, list):
        raise ProtocolError(Code.MALFORMED, "push and profiles must be lists")
    return ExchangeRequest(
        session=session,
        vector=parse_vector(d.get("vector", {}) if digest else d.get("vector")),
        push=tuple(run_from_wire(r) for r in push),
        profiles=tuple(profile_from_wire(p) for p in profiles),
        max_bytes=max_bytes,
        protocol=protocol,
        vector_digest=digest,
    )


def response_from_wire(d: Any) -> ExchangeResponse:
    if not isinstance(d, Mapping):
        raise ProtocolError(Code.BAD_REQUEST, "the response must be a JSON object")
    protocol = _check_version(d)
    error = d.get("error")
    if error is not None and not isinstance(error, Mapping):
        raise ProtocolError(Code.MALFORMED, "error must be an object")
    pull, profiles = d.get("pull", []), d.get("profiles", [])
    if not isinstance(pull, list) or not isinstance(profiles, list):
        raise ProtocolError(Code.MALFORMED, "pull and profiles must be lists")
    return ExchangeResponse(
        session=str(d.get("session", "")),
        vector=parse_vector(d.get("vector", {})),
        pull=tuple(run_from_wire(r) for r in pull),
        profiles=tuple(profile_from_wire(p) for p in profiles),
        more=bool(d.get("more", False)),
        error=error,
        node=profile_from_wire(d["node"]) if d.get("node") else None,
        time=int(d.get("time", 0)) if type(d.get("time", 0)) is int else 0,
        protocol=protocol,
        unchanged=protocol >= DIGEST_PROTOCOL and d.get("unchanged") is True,
        mismatch=protocol >= DIGEST_PROTOCOL and d.get("vector_mismatch") is True,
    )


RESPONSE_SIGN_PREFIX = b"motcua/response/v1\x00"


def request_signing_bytes(node_id: str, time_ms: int, nonce: str, path: str, body_digest: bytes) -> bytes:
    """What a caller signs: who, when, a never-repeated nonce, where, and the body's digest."""
    return REQUEST_SIGN_PREFIX + f"{node_id}\n{time_ms}\n{nonce}\n{path}\n".encode() + body_digest


def response_signing_bytes(node_id: str, request_nonce: str, body_digest: bytes) -> bytes:
    """What a server signs: its id, the nonce of the request it answers, and its body's digest.

    Binding the request's nonce means an answer cannot be replayed to another request.
    """
    return RESPONSE_SIGN_PREFIX + f"{node_id}\n{request_nonce}\n".encode() + body_digest


NONCE_RE = re.compile(r"^[0-9A-Za-z_-]{16,64}$")


@dataclass
class Reply:
    """An answer as a transport brings it back: the decoded message and what signs it."""

    message: dict[str, Any]
    bytes_out: int  # compressed body bytes sent
    bytes_in: int  # compressed body bytes received
    status: int
    nonce: str = ""  # of the request this answers
    server_node: str = ""  # X-Motcua-Node of the answer
    signature: bytes = b""  # X-Motcua-Sig of the answer
    digest: bytes = b""  # SHA-256 of the answer's body
    content: bytes = b""  # the raw answer, for exchanges not in JSON (sync.chunkwire)
