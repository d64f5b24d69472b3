"""The sync endpoint as a Flask blueprint: ``POST /sync/v1/exchange``.

Thin on purpose, and in this order:

1. **Authenticate, from the headers and the raw bytes only**, by the pure functions of
   :mod:`sync.auth`: the node id, time, nonce and signature headers are checked for shape; the
   trust policy says whose key must have signed (:meth:`sync.trust.Trust.identify`: a profile in
   the ledger, or the certificate the caller introduces itself with in ``X-Motcua-Cert``; nothing
   from the body); the body is read, up to :data:`MAX_COMPRESSED_BYTES`, and its SHA-256 checked
   under the request signature; then the trust policy vouches for the signer (certificate chain,
   revocation), the request time must be within a day of ours and the nonce new.
   A stranger's body is therefore never decompressed or parsed, and one that names nobody this
   node could trust is not even read.
2. **Only then decode** (bounded decompression, depth and integer limits: :mod:`sync.codec`),
   hand the exchange to the node's :class:`sync.replica.Replica`, encode.

A refusal in step 1 is counted per client address and may throttle it (:mod:`sync.gate`); it
is never written to the sync log or node health under the node id the caller claimed. A refusal
in step 2 comes from an authenticated caller and gets its line in the sync log, and so does a
request whose signature held but whose time is more than a day off (the caller's clock). Every refusal
has the one error shape ``{"protocol": 1, "error": {"code", "message", "feed"}}`` with a stable
code (see :class:`sync.protocol.Code`) and leaves nothing of a refused batch behind; an
unexpected error gets the same shape with the code ``internal`` (HTTP 500). Every answer is
signed by this node and bound to the request's nonce.
"""

from __future__ import annotations

import hashlib
import uuid

from flask import Blueprint, Response, current_app, request

from sync import auth, codec
from sync.auth import CLOCK_WINDOW_MS, Authenticated
from sync.exchange import EXCHANGE_PATH, NONCE_RE, SESSION_RE, request_from_wire, response_signing_bytes
from sync.gate import RefusalGate
from sync.protocol import HTTP_STATUS, MAX_REQUEST_BYTES, PROTOCOL_VERSION, Code, Profile, ProtocolError, b64
from sync.replica import Replica
from sync.wire import NODE_ID_RE

bp = Blueprint("sync", __name__)

MAX_COMPRESSED_BYTES = 16 * 1024 * 1024
_READ_CHUNK = 1 << 20


def _replica() -> Replica:
    return current_app.extensions["motcua.replica"]


def _gate() -> RefusalGate:
    gate = current_app.extensions.get("motcua.sync_gate")
    if gate is None:
        gate = current_app.extensions.setdefault("motcua.sync_gate", RefusalGate(_replica().wall_ms))
    return gate


def _answer(message: dict, status: int = 200, headers: dict | None = None) -> Response:
    """Encode and sign an answer: the caller accepts nothing this node did not sign, bound to
    the nonce of the request it answers (so an answer cannot be replayed to another request)."""
    replica = _replica()
    body, _ = codec.encode(message)
    nonce = request.headers.get("X-Motcua-Nonce", "")
    nonce = nonce if NONCE_RE.match(nonce) else ""
    signature = replica.log.signer.sign(
        response_signing_bytes(replica.me.node_id, nonce, hashlib.sha256(body).digest())
    )
    out = {
        "Content-Type": codec.CONTENT_TYPE,
        "Content-Encoding": codec.CONTENT_ENCODING,
        "X-Motcua-Sig": b64(signature),
        **(headers or {}),
    }
    if status != 200:
        out["X-Motcua-Node"] = replica.me.node_id  # who refused, for the caller's log
    return Response(body, status=status, headers=out)


def _refuse(e: ProtocolError, headers: dict | None = None) -> Response:
    error = {"code": e.code.value, "message": e.message, "feed": e.feed}
    # a refusal names this node, so a caller meeting it for the first time can check the signature
    me = _replica().me.to_wire()
    return _answer({"protocol": PROTOCOL_VERSION, "vector": {}, "error": error, "node": me}, HTTP_STATUS[e.code],
                   headers)


def _log_refusal(e: ProtocolError, caller: Profile, message: object) -> None:
    """A refused exchange of an *authenticated* caller leaves a line in the sync log.

    It never writes into an existing session's line of another caller, nor turns a session
    that succeeded into a failed one: a session id that is unreadable or already logged gets
    a fresh id of the server's own.
    """
    session = message.get("session") if isinstance(message, dict) else None
    store = _replica().store
    if not (isinstance(session, str) and SESSION_RE.match(session)) or store.session_exists(session, "server"):
        session = uuid.uuid4().hex
    now = _replica().wall_ms()
    store.open_session(session, "server", caller.node_id, caller.name, now)
    store.add_to_session(session, "server", now=now, peer=caller.node_id, outcome="failed",
                         error_code=e.code.value, error=e.message)


def _fail(exc: Exception, caller: Profile | None, message: object, session: str) -> Response:
    """An unexpected error: the one error shape (and, for an authenticated caller, a line in the
    sync log) rather than an HTML 500. The batch was rolled back with its transaction."""
    current_app.logger.error("sync exchange failed", exc_info=exc)
    internal = ProtocolError(Code.INTERNAL, f"internal error ({type(exc).__name__}); see the server log")
    error = {"code": internal.code.value, "message": internal.message, "feed": ""}
    try:
        if caller is not None and session:  # its own session line says why it failed
            now, store = _replica().wall_ms(), _replica().store
            store.open_session(session, "server", caller.node_id, caller.name, now)
            store.add_to_session(session, "server", now=now, peer=caller.node_id, outcome="failed",
                                 error_code=internal.code.value, error=internal.message)
        elif caller is not None:
            _log_refusal(internal, caller, message)
    except Exception:  # the database itself may be what failed; the answer still goes out
        current_app.logger.exception("could not log the failed sync exchange")
    return _answer({"protocol": PROTOCOL_VERSION, "vector": {}, "error": error}, HTTP_STATUS[internal.code])


def _read_body() -> bytes:
    """The raw body, refused with ``too_large`` past :data:`MAX_COMPRESSED_BYTES` (read in chunks:
    a chunked body without a Content-Length is bounded too; a declared one was checked before)."""
    chunks, size = [], 0
    while chunk := request.stream.read(min(_READ_CHUNK, MAX_COMPRESSED_BYTES + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_COMPRESSED_BYTES:
            raise ProtocolError(Code.TOO_LARGE, "body too large")
    return b"".join(chunks)


def _authenticate(replica: Replica, gate: RefusalGate, address: str, path: str = EXCHANGE_PATH) -> Authenticated:
    """Step 1 of the module docstring, by the pure functions of :mod:`sync.auth`; the I/O is
    ours: the headers, the body (read only once the signer is identified), the ledger. The file
    exchange (``web/files_sync.py``) authenticates through here too, with its own ``path``."""
    signed = auth.check_headers(
        request.headers, content_length=request.content_length, max_body_bytes=MAX_COMPRESSED_BYTES,
        address=address,
        throttled_ms=lambda node_id: 0 if replica.trust.is_known(node_id) else gate.throttled_for(address),
    )
    identified = replica.trust.identify(signed.node_id, signed.cert, signed.key)
    body = _read_body()
    now = replica.wall_ms()
    return auth.authenticate(
        signed, identified, body, verify_signature=replica.verify_signature, vouch=replica.trust.vouch,
        remember_nonce=lambda node_id, nonce: replica.store.remember_nonce(node_id, nonce, now, CLOCK_WINDOW_MS),
        now=now, path=path,
    )


@bp.post(EXCHANGE_PATH)
def exchange() -> Response:
    replica, gate = _replica(), _gate()
    address = request.remote_addr or "-"
    node_id = request.headers.get("X-Motcua-Node", "")
    try:
        authenticated = _authenticate(replica, gate, address)
    except auth.StaleRequest as e:
        _log_refusal(e, e.caller, None)
        return _refuse(e)
    except ProtocolError as e:
        gate.refused(address, e.code.value, node_id if NODE_ID_RE.match(node_id) else "", e.message)
        headers = None
        if e.code == Code.THROTTLED:
            headers = {"Retry-After": str(max(1, (gate.throttled_for(address) + 999) // 1000))}
        return _refuse(e, headers)
    except Exception as e:
        return _fail(e, None, None, "")
    message, caller, session = None, authenticated.caller, ""
    try:
        message = codec.decode(authenticated.body, MAX_REQUEST_BYTES)
        req = request_from_wire(message)
        caller = replica.resolve_caller(authenticated.caller, req.profiles)
        session = req.session
        response, _ = replica.serve_exchange(req, caller, len(authenticated.body), caller_time=authenticated.sent_at)
        answer = _answer(response.to_wire())
        replica.store.record_bytes_out(req.session, "server", answer.content_length or 0, peer=caller.node_id)
        return answer
    except ProtocolError as e:
        current_app.logger.warning("sync exchange of %s refused: %s", caller.node_id, e)
        _log_refusal(e, caller, message)
        return _refuse(e)
    except Exception as e:
        return _fail(e, caller, message, session)
