"""Authenticating a sync request from its headers and raw body (pure core, sans-IO).

The sync endpoint (:mod:`sync.server`) reads the HTTP request and answers it; this module
decides, from values only, whether the request is from whom it says. It runs in two steps
because the body must not even be read for a caller nobody here could trust:

1. :func:`check_headers`: the shape of ``X-Motcua-Node``, ``-Time``, ``-Nonce``, ``-Sig`` and
   the introduction headers (``-Cert``, ``-Key``); the declared length; whether the caller's
   address is throttled. Then the server asks its trust policy whose key must have signed
   (:meth:`sync.trust.Trust.identify`: the ledger or the introduction headers, never the body)
   and reads the body.
2. :func:`authenticate`: the body's SHA-256 under the request signature, with that key; then the
   trust policy vouches for the signer (certificate, revocation); the nonce is new; the request
   time is within :data:`CLOCK_WINDOW_MS` of ours.

Invariants
----------
* No I/O and no clock here: the trust policy's lookups, the nonce memory and ``now`` are passed
  in; the signature check is an injected :data:`sync.chain.SignatureVerifier`.
* Every refusal raises :class:`sync.protocol.ProtocolError` with a stable code, in the order
  ``docs/sync-protocol.md`` §3 lists them; a signature that held but a time a day off raises
  :class:`StaleRequest`, which names the signer so that its refusal may be logged under it.
* A nonce is spent only after the signature held, so nobody can burn another node's nonces.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sync.chain import SignatureVerifier
from sync.exchange import EXCHANGE_PATH, NONCE_RE, request_signing_bytes
from sync.protocol import Code, Profile, ProtocolError, unb64
from sync.wire import NODE_ID_RE

# A request older or newer than this is refused; within it, its nonce is remembered, so a
# request replayed byte for byte is refused too. A day, because commune PC clocks drift.
CLOCK_WINDOW_MS = 24 * 3600 * 1000
MAX_INTRODUCTION_CHARS = 6000  # X-Motcua-Cert: base64 of a certificate of at most 4 KiB


@dataclass(frozen=True)
class SignedRequest:
    """What the headers of a request say, checked for shape only."""

    node_id: str
    sent_at: int
    nonce: str
    signature: bytes
    cert: bytes = b""  # X-Motcua-Cert: DER certificate, on first contact of an enrolled caller
    key: bytes = b""  # X-Motcua-Key: raw public key, on first contact of a development node


@dataclass
class Authenticated:
    caller: Profile
    body: bytes
    sent_at: int


class StaleRequest(ProtocolError):
    """A request its caller's key signed, but stamped more than a day away from our clock."""

    def __init__(self, caller: Profile) -> None:
        super().__init__(Code.UNAUTHENTICATED, "request time is more than a day away from ours: check the clock of "
                         "the calling node (or this request was replayed)")
        self.caller = caller


def _header_bytes(headers: Mapping[str, str], name: str) -> bytes:
    value = headers.get(name, "")
    if not value:
        return b""
    if len(value) > MAX_INTRODUCTION_CHARS:
        raise ProtocolError(Code.UNAUTHENTICATED, f"{name} is too long")
    try:
        return unb64(value, name)
    except ProtocolError as e:
        raise ProtocolError(Code.UNAUTHENTICATED, e.message) from e


def check_headers(
    headers: Mapping[str, str],
    *,
    content_length: int | None,
    max_body_bytes: int,
    address: str,
    throttled_ms: Callable[[str], int],
) -> SignedRequest:
    """Step 1: the request's headers, before anything else is looked at.

    :param content_length: as declared (None for a chunked body, bounded while it is read).
    :param address: the caller's address, for the message of a throttled request.
    :param throttled_ms: how long the caller's address is still throttled, given the node id it
        names (0 for a node this server knows: an office behind an attacker's NAT keeps syncing).
    :raises ProtocolError: ``unauthenticated``, ``throttled`` or ``too_large``.
    """
    node_id = headers.get("X-Motcua-Node", "")
    if not NODE_ID_RE.match(node_id):
        raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Node must name the calling node")
    wait = throttled_ms(node_id)
    if wait:
        raise ProtocolError(Code.THROTTLED, f"too many refused requests from {address}; retry in "
                            f"{(wait + 999) // 1000} s")
    if content_length is not None and content_length > max_body_bytes:
        raise ProtocolError(Code.TOO_LARGE, f"body of {content_length} bytes exceeds {max_body_bytes}")
    try:
        sent_at = int(headers.get("X-Motcua-Time", ""))
    except ValueError:
        raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Time must be epoch milliseconds") from None
    nonce = headers.get("X-Motcua-Nonce", "")
    if not NONCE_RE.match(nonce):
        raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Nonce must be 16-64 URL-safe characters")
    signature = _header_bytes(headers, "X-Motcua-Sig")
    if not signature:
        raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Sig is missing")
    return SignedRequest(node_id, sent_at, nonce, signature, _header_bytes(headers, "X-Motcua-Cert"),
                         _header_bytes(headers, "X-Motcua-Key"))


def authenticate(
    signed: SignedRequest,
    identified: Profile,
    body: bytes,
    *,
    verify_signature: SignatureVerifier,
    vouch: Callable[[Profile], Profile],
    remember_nonce: Callable[[str, str], bool],
    now: int,
    path: str = EXCHANGE_PATH,
) -> Authenticated:
    """Step 2: the request signature over the body, with the key of ``identified``.

    :param identified: whose key must have signed (the trust policy's ``identify``).
    :param vouch: the trust policy's ``vouch``: may the signer sync (certificate, revocation)?
    :param remember_nonce: ``(node_id, nonce) -> False`` if that nonce was already seen.
    :raises ProtocolError: ``unauthenticated``, ``untrusted``, ``revoked``, ``replayed``;
        :class:`StaleRequest` for a good signature on a time a day away from ``now``.
    """
    try:
        verify_signature(
            identified.public_key,
            request_signing_bytes(signed.node_id, signed.sent_at, signed.nonce, path, hashlib.sha256(body).digest()),
            signed.signature,
        )
    except Exception as e:
        raise ProtocolError(Code.UNAUTHENTICATED, "request signature does not verify") from e
    caller = vouch(identified)
    if not remember_nonce(signed.node_id, signed.nonce):
        raise ProtocolError(Code.REPLAYED, "this request was already received (same nonce): refused")
    if abs(signed.sent_at - now) > CLOCK_WINDOW_MS:
        # Checked after the signature: the caller's own key signed this, so its sync-log line may
        # name it. A PC clock a day off is the commonest reason a commune never syncs, and the
        # district admin must see it. (A request replayed a day later would be the only other
        # way here, and its nonce is now spent: the same bytes again are `replayed`, unlogged.)
        raise StaleRequest(caller)
    return Authenticated(caller, body, signed.sent_at)
