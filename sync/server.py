"""The sync endpoint as a Flask blueprint: ``POST /sync/v1/exchange``.

Thin on purpose: authenticate the caller, decode, hand the exchange to the node's
:class:`sync.replica.Replica`, encode. Every refusal has the one error shape
``{"protocol": 1, "error": {"code", "message", "feed"}}`` with a stable code (see
:class:`sync.protocol.Code`), is logged in the sync log when the caller is known, and leaves
nothing of a refused batch behind; an unexpected error gets the same shape with the code
``internal`` (HTTP 500) and its own log line. The caller's identity comes from the request
signature, never from the body; every answer is signed by this node and bound to the
request's nonce.
"""

from __future__ import annotations

import hashlib
import uuid

from flask import Blueprint, Response, current_app, request

from sync import codec, ledger
from sync.protocol import (
    HTTP_STATUS,
    MAX_REQUEST_BYTES,
    NONCE_RE,
    PROTOCOL_VERSION,
    SESSION_RE,
    Code,
    Profile,
    ProtocolError,
    b64,
    request_from_wire,
    request_signing_bytes,
    response_signing_bytes,
    unb64,
)
from sync.replica import Replica
from sync.transport import EXCHANGE_PATH
from sync.wire import NODE_ID_RE

bp = Blueprint("sync", __name__)

MAX_COMPRESSED_BYTES = 16 * 1024 * 1024
# A request older or newer than this is refused; within it, its nonce is remembered, so a
# request replayed byte for byte is refused too. A day, because commune PC clocks drift.
CLOCK_WINDOW_MS = 24 * 3600 * 1000


def _replica() -> Replica:
    return current_app.extensions["motcua.replica"]


def _answer(message: dict, status: int = 200) -> Response:
    """Encode and sign an answer: the caller accepts nothing this node did not sign, bound to
    the nonce of the request it answers (so an answer cannot be replayed to another request)."""
    replica = _replica()
    body, _ = codec.encode(message)
    nonce = request.headers.get("X-Motcua-Nonce", "")
    nonce = nonce if NONCE_RE.match(nonce) else ""
    signature = replica.log.signer.sign(
        response_signing_bytes(replica.me.node_id, nonce, hashlib.sha256(body).digest())
    )
    headers = {
        "Content-Type": codec.CONTENT_TYPE,
        "Content-Encoding": codec.CONTENT_ENCODING,
        "X-Motcua-Sig": b64(signature),
    }
    if status != 200:
        headers["X-Motcua-Node"] = replica.me.node_id  # who refused, for the caller's log
    return Response(body, status=status, headers=headers)


def _log_refusal(e: ProtocolError, node_id: str, message: object) -> None:
    """A refused exchange from an identifiable caller still leaves a line in the sync log.

    Also when the refusal came before the body was read: a PC clock a day off is the commonest
    reason a commune never syncs, and the district admin must see it. Every refusal here comes
    before the caller is authenticated, so it never writes into an existing session's line (a
    replayed session id must not turn another node's successful session into a failed one).
    """
    session = message.get("session") if isinstance(message, dict) else None
    if not (isinstance(session, str) and SESSION_RE.match(session)) or ledger.SyncSessionRow.get_or_none(
        (ledger.SyncSessionRow.session == session) & (ledger.SyncSessionRow.side == "server")
    ):
        session = uuid.uuid4().hex
    now = _replica().wall_ms()
    ledger.open_session(session, "server", node_id, "", now)
    ledger.add_to_session(session, "server", now=now, peer=node_id, outcome="failed", error_code=e.code.value,
                          error=e.message)


def _refuse(e: ProtocolError, node_id: str = "", message: object = None) -> Response:
    error = {"code": e.code.value, "message": e.message, "feed": e.feed}
    if node_id:
        _log_refusal(e, node_id, message)
    # a refusal names this node, so a caller meeting it for the first time can check the signature
    me = _replica().me.to_wire()
    return _answer({"protocol": PROTOCOL_VERSION, "vector": {}, "error": error, "node": me}, HTTP_STATUS[e.code])


def _fail(exc: Exception, node_id: str, message: object, caller: Profile | None, session: str) -> Response:
    """An unexpected error: the one error shape and a line in the sync log rather than an HTML
    500 and a session left "running" forever. The batch was rolled back with its transaction."""
    current_app.logger.error("sync exchange failed", exc_info=exc)
    internal = ProtocolError(Code.INTERNAL, f"internal error ({type(exc).__name__}); see the server log")
    error = {"code": internal.code.value, "message": internal.message, "feed": ""}
    try:
        if caller is not None:  # authenticated: its own session line says why it failed
            now = _replica().wall_ms()
            ledger.open_session(session, "server", caller.node_id, caller.name, now)
            ledger.add_to_session(session, "server", now=now, outcome="failed", error_code=internal.code.value,
                                  error=internal.message)
        elif node_id:
            _log_refusal(internal, node_id, message)
    except Exception:  # the database itself may be what failed; the answer still goes out
        current_app.logger.exception("could not log the failed sync exchange")
    return _answer({"protocol": PROTOCOL_VERSION, "vector": {}, "error": error}, HTTP_STATUS[internal.code])


@bp.post(EXCHANGE_PATH)
def exchange() -> Response:
    replica = _replica()
    node_id, message, caller, session = "", None, None, ""
    try:
        node_id = request.headers.get("X-Motcua-Node", "")  # read first, so even an oversize body is logged
        length = request.content_length or 0
        if length > MAX_COMPRESSED_BYTES:
            raise ProtocolError(Code.TOO_LARGE, f"body of {length} bytes exceeds {MAX_COMPRESSED_BYTES}")
        body = request.get_data(cache=False)
        if len(body) > MAX_COMPRESSED_BYTES:
            raise ProtocolError(Code.TOO_LARGE, "body too large")
        if not NODE_ID_RE.match(node_id):
            raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Node must name the calling node")
        try:
            sent_at = int(request.headers.get("X-Motcua-Time", ""))
        except ValueError:
            raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Time must be epoch milliseconds") from None
        if abs(sent_at - replica.wall_ms()) > CLOCK_WINDOW_MS:
            raise ProtocolError(Code.UNAUTHENTICATED, "request time is more than a day away from ours")
        try:
            signature = unb64(request.headers.get("X-Motcua-Sig", ""), "X-Motcua-Sig")
        except ProtocolError as e:
            raise ProtocolError(Code.UNAUTHENTICATED, e.message) from e
        nonce = request.headers.get("X-Motcua-Nonce", "")
        if not NONCE_RE.match(nonce):
            raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Nonce must be 16-64 URL-safe characters")
        message = codec.decode(body, MAX_REQUEST_BYTES)
        req = request_from_wire(message)
        claimed = replica.resolve_caller(node_id, req.profiles)
        try:
            replica.verify_signature(
                claimed.public_key,
                request_signing_bytes(node_id, sent_at, nonce, EXCHANGE_PATH, hashlib.sha256(body).digest()),
                signature,
            )
        except Exception as e:
            raise ProtocolError(Code.UNAUTHENTICATED, "request signature does not verify") from e
        # Only after the signature holds, so nobody can burn another node's nonces.
        if not ledger.remember_nonce(node_id, nonce, replica.wall_ms(), CLOCK_WINDOW_MS):
            raise ProtocolError(Code.REPLAYED, "this request was already received (same nonce): refused")
        caller, session = claimed, req.session
        response, _ = replica.serve_exchange(req, caller, len(body), caller_time=sent_at)
        answer = _answer(response.to_wire())
        ledger.record_bytes_out(req.session, "server", answer.content_length or 0, peer=caller.node_id)
        return answer
    except ProtocolError as e:
        current_app.logger.warning("sync exchange refused: %s", e)
        return _refuse(e, node_id if NODE_ID_RE.match(node_id) else "", message)
    except Exception as e:
        return _fail(e, node_id if NODE_ID_RE.match(node_id) else "", message, caller, session)
