"""The file exchange endpoint: ``POST /sync/v1/files`` (blueprint ``files_sync``, issue 17).

Authenticated exactly like ``/sync/v1/exchange`` and by the same code
(:func:`sync.server._authenticate`, with this path signed into the request): headers first, the
body read only once the signer is identified, its digest checked under the request signature,
the signer vouched for (certificate chain, revocation), the nonce new. Only then is the frame
decoded (:mod:`sync.chunkwire`) and handed to :func:`node.filesync.serve`. Every answer, refusals
included, is a frame signed by this node over the request's nonce; a refusal carries ``error``
{code, message} with the codes of :class:`sync.protocol.Code`.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, request

from node import fileserve
from sync import chunkwire, server
from sync.exchange import NONCE_RE
from sync.protocol import HTTP_STATUS, PROTOCOL_VERSION, Code, ProtocolError, b64
from sync.wire import NODE_ID_RE

bp = Blueprint("files_sync", __name__)


def _answer(body: bytes, status: int = 200) -> Response:
    node = current_app.extensions["motcua.node"]
    nonce = request.headers.get("X-Motcua-Nonce", "")
    nonce = nonce if NONCE_RE.match(nonce) else ""
    headers = {"Content-Type": chunkwire.CONTENT_TYPE, "X-Motcua-Sig": b64(fileserve.sign_answer(node, nonce, body)),
               "X-Motcua-Node": node.node_id}
    return Response(body, status=status, headers=headers)


def _refuse(e: ProtocolError) -> Response:
    error = {"code": e.code.value, "message": e.message}
    return _answer(chunkwire.encode({"protocol": PROTOCOL_VERSION, "error": error}), HTTP_STATUS[e.code])


@bp.post(chunkwire.FILES_PATH)
def files_exchange() -> Response:
    replica, gate = current_app.extensions["motcua.replica"], server._gate()
    address = request.remote_addr or "-"
    try:
        authenticated = server._authenticate(replica, gate, address, path=chunkwire.FILES_PATH)
    except ProtocolError as e:
        node_id = request.headers.get("X-Motcua-Node", "")
        gate.refused(address, e.code.value, node_id if NODE_ID_RE.match(node_id) else "", e.message)
        return _refuse(e)
    try:
        return _answer(fileserve.serve(current_app.extensions["motcua.node"], authenticated.caller,
                                      authenticated.body))
    except ProtocolError as e:
        return _refuse(e)
    except Exception as e:  # the one error shape, never an HTML 500
        current_app.logger.error("file exchange failed", exc_info=e)
        return _refuse(ProtocolError(Code.INTERNAL, f"internal error ({type(e).__name__}); see the server log"))
