"""The sync endpoint as a Flask blueprint: ``POST /sync/v1/exchange``.

Thin on purpose: authenticate the caller, decode, hand the exchange to the node's
:class:`sync.replica.Replica`, encode. Every refusal has the one error shape
``{"protocol": 1, "error": {"code", "message", "feed"}}`` with a stable code (see
:class:`sync.protocol.Code`), is logged in the sync log when the caller is known, and leaves
nothing of a refused batch behind. The caller's identity comes from the request signature,
never from the body.
"""

from __future__ import annotations

import hashlib

from flask import Blueprint, Response, current_app, request

from sync import codec, ledger
from sync.protocol import (
    HTTP_STATUS,
    MAX_REQUEST_BYTES,
    PROTOCOL_VERSION,
    Code,
    ProtocolError,
    request_from_wire,
    request_signing_bytes,
    unb64,
)
from sync.replica import Replica
from sync.transport import EXCHANGE_PATH
from sync.wire import NODE_ID_RE

bp = Blueprint("sync", __name__)

MAX_COMPRESSED_BYTES = 16 * 1024 * 1024
CLOCK_WINDOW_MS = 24 * 3600 * 1000  # request-time sanity only; replay protection is the trust issue


def _replica() -> Replica:
    return current_app.extensions["motcua.replica"]


def _answer(message: dict, status: int = 200) -> Response:
    body, _ = codec.encode(message)
    return Response(body, status=status, headers={"Content-Type": codec.CONTENT_TYPE,
                                                  "Content-Encoding": codec.CONTENT_ENCODING})


def _refuse(e: ProtocolError, node_id: str = "", message: object = None) -> Response:
    error = {"code": e.code.value, "message": e.message, "feed": e.feed}
    session = message.get("session") if isinstance(message, dict) else None
    if node_id and isinstance(session, str) and 8 <= len(session) <= 64:
        # A refused exchange from an identifiable caller still leaves a line in the sync log.
        replica = _replica()
        ledger.open_session(session, "server", node_id, "", replica.wall_ms())
        ledger.add_to_session(session, "server", now=replica.wall_ms(), outcome="failed",
                              error_code=e.code.value, error=e.message)
    return _answer({"protocol": PROTOCOL_VERSION, "vector": {}, "error": error}, HTTP_STATUS[e.code])


@bp.post(EXCHANGE_PATH)
def exchange() -> Response:
    replica = _replica()
    node_id, message = "", None
    try:
        length = request.content_length or 0
        if length > MAX_COMPRESSED_BYTES:
            raise ProtocolError(Code.TOO_LARGE, f"body of {length} bytes exceeds {MAX_COMPRESSED_BYTES}")
        body = request.get_data(cache=False)
        if len(body) > MAX_COMPRESSED_BYTES:
            raise ProtocolError(Code.TOO_LARGE, "body too large")
        node_id = request.headers.get("X-Motcua-Node", "")
        if not NODE_ID_RE.match(node_id):
            raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Node must name the calling node")
        try:
            sent_at = int(request.headers.get("X-Motcua-Time", ""))
        except ValueError:
            raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Time must be epoch milliseconds") from None
        if abs(sent_at - replica.wall_ms()) > CLOCK_WINDOW_MS:
            raise ProtocolError(Code.UNAUTHENTICATED, "request time is more than a day away from ours")
        signature = unb64(request.headers.get("X-Motcua-Sig", ""), "X-Motcua-Sig")
        message = codec.decode(body, MAX_REQUEST_BYTES)
        req = request_from_wire(message)
        caller = replica.resolve_caller(node_id, req.profiles)
        try:
            replica.verify_signature(
                caller.public_key,
                request_signing_bytes(node_id, sent_at, EXCHANGE_PATH, hashlib.sha256(body).digest()),
                signature,
            )
        except Exception as e:
            raise ProtocolError(Code.UNAUTHENTICATED, "request signature does not verify") from e
        response, _ = replica.serve_exchange(req, caller, len(body))
        answer = _answer(response.to_wire())
        ledger.record_bytes_out(req.session, "server", answer.content_length or 0)
        return answer
    except ProtocolError as e:
        current_app.logger.warning("sync exchange refused: %s", e)
        return _refuse(e, node_id if NODE_ID_RE.match(node_id) else "", message)
