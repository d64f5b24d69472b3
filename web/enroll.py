"""``POST /sync/v1/enroll``: a node redeems a one-time pairing code for its certificate.

Only on a district node that holds the CA. Attempts are rate-limited per client address (the
code is short enough to type, so guessing must stay slow), and every answer is JSON with the
one error shape of the API.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

from flask import Blueprint, Response, current_app, jsonify, request

from certs.errors import CertsError, EnrollmentRefused

bp = Blueprint("enroll", __name__)

WINDOW_SECONDS = 15 * 60
MAX_ATTEMPTS = 10
_attempts: dict[str, deque[float]] = defaultdict(deque)
_lock = threading.Lock()


def _limited(address: str) -> bool:
    now = time.monotonic()
    with _lock:
        q = _attempts[address]
        while q and q[0] < now - WINDOW_SECONDS:
            q.popleft()
        if len(q) >= MAX_ATTEMPTS:
            return True
        q.append(now)
        return False


def _error(status: int, code: str, message: str) -> tuple[Response, int]:
    return jsonify({"error": {"code": code, "message": message}}), status


@bp.post("/sync/v1/enroll")
def enroll() -> Response | tuple[Response, int]:
    from node.enrollment import ca_layout, redeem

    node = current_app.extensions["motcua.node"]
    if not ca_layout(node).certificate.exists():
        return _error(404, "no_ca", "this node holds no certificate authority")
    if _limited(request.remote_addr or "?"):
        return _error(429, "too_many_attempts", "too many enrollment attempts; wait 15 minutes")
    payload = request.get_json(silent=True)
    if not isinstance(payload, dict):
        return _error(400, "bad_json", "the body must be a JSON enrollment request")
    try:
        answer = redeem(node, payload)
    except EnrollmentRefused as e:
        return _error(403, e.failure.value, str(e))
    except CertsError as e:
        current_app.logger.error("enrollment failed: %s", e)
        return _error(500, "ca_error", "the certificate authority could not issue: see the district log")
    current_app.logger.info("enrolled node %s", payload.get("node_id"))
    return jsonify(answer)
