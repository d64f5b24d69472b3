"""``POST /sync/v1/enroll``: a node redeems a one-time pairing code for its certificate; and the
two https helpers of ``node/https.py``: ``POST /sync/v1/tls-cert`` (a certified node gets its
ECDSA P-256 https certificate, on the district) and ``GET /sync/v1/tls-ca`` (the district TLS CA
with the CA's signature of it, on every node that pins one; blueprint ``tlsca``).

Enrollment and TLS requests are only on a district node that holds the CA. Enrollment is
reached before anything authenticates the caller (the proof of the code is *in* the body), so it
reads as little as it can and refuses bad input cheaply, always in the API's error shape
(``{"error": {"code", "message", "field"}}``), never a 500 for what a client sent:

- every attempt is charged to the client's address first (IPv6: its /64): :data:`BURST` at once,
  then one per :data:`ATTEMPT_INTERVAL_MS` (the code is short enough to type, so guessing must
  stay slow); an address out of allowance gets 429 with ``Retry-After`` before its body is read.
  The table is a :class:`node.ratelimit.RateLimiter`: bounded, and an address whose debt is paid
  is forgotten;
- at most :data:`MAX_ENROLL_BYTES` are read (a request is about 300 bytes): a larger
  ``Content-Length`` is refused (413) before the body is read;
- the body is parsed by :func:`web.jsonbody.read_object` (deep nesting, huge integers and bad
  UTF-8 are 400, not server errors), then checked field by field
  (:meth:`certs.enrollment.EnrollmentRequest.from_dict`) before the pairing ledger is read.

A TLS request goes through the same steps (its own allowance, :data:`MAX_TLS_REQUEST_BYTES`):
it carries a node certificate and up to 32 names, and it is honoured only for a node certificate
of this district that is valid and not revoked, signed by that certificate's key.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request

from certs.errors import CertsError, EnrollmentFailure, EnrollmentRefused
from node.domain.errors import DomainError
from node.ratelimit import RateLimiter, address_key
from web.auth import client_ip, now_ms
from web.jsonbody import BadJson, read_object

bp = Blueprint("enroll", __name__)

tlsca_bp = Blueprint("tlsca", __name__)

MAX_ENROLL_BYTES = 4096
MAX_TLS_REQUEST_BYTES = 16 * 1024  # a node certificate (~1 KB as hex) and up to 32 names
BURST = 10
ATTEMPT_INTERVAL_MS = 90 * 1000  # 10 attempts per 15 minutes once the burst is spent


@bp.record_once
def _setup(state) -> None:
    state.app.extensions["motcua.enroll_limit"] = RateLimiter(BURST, ATTEMPT_INTERVAL_MS)
    state.app.extensions["motcua.tls_limit"] = RateLimiter(BURST, ATTEMPT_INTERVAL_MS)


def limiter(name: str = "motcua.enroll_limit") -> RateLimiter:
    return current_app.extensions[name]


def _error(status: int, code: str, message: str, field: str | None = None,
           headers: dict[str, str] | None = None) -> tuple[Response, int] | tuple[Response, int, dict[str, str]]:
    answer = jsonify({"error": {"code": code, "message": message, "field": field}})
    return (answer, status, headers) if headers else (answer, status)


def _throttled(name: str = "motcua.enroll_limit") -> tuple[Response, int, dict[str, str]] | None:
    """Charge this attempt to the client's address; the 429 answer if it has none left."""
    who, now = address_key(client_ip()), now_ms()
    wait = limiter(name).retry_after_ms(who, now)
    if not wait:
        limiter(name).spend(who, now)
        return None
    # A refusal costs nothing more: it reads no body and no ledger, and a typist who retried
    # too soon is not locked out for longer.
    return _error(429, "too_many_attempts", f"too many enrollment attempts; wait {-(-wait // 60_000)} minute(s)",
                  headers={"Retry-After": str(-(-wait // 1000))})


@bp.post("/sync/v1/enroll")
def enroll() -> Response | tuple:
    from node.enrollment import ca_layout, redeem

    node = current_app.extensions["motcua.node"]
    if not ca_layout(node).certificate.exists():
        return _error(404, "no_ca", "this node holds no certificate authority")
    if (limited := _throttled()) is not None:
        return limited
    try:
        payload = read_object(request, limit=MAX_ENROLL_BYTES)
        answer = redeem(node, payload)
    except BadJson as e:
        return _error(e.status, e.code, e.message)
    except DomainError as e:
        return _error(422, "invalid_input", e.message, e.field)
    except EnrollmentRefused as e:
        return _error(400 if e.failure is EnrollmentFailure.BAD_REQUEST else 403, e.failure.value, str(e))
    except CertsError as e:  # the CA itself (its key, its passphrase, its ledgers): not the caller's fault
        current_app.logger.error("enrollment failed: %s", e)
        return _error(500, "ca_error", "the certificate authority could not issue: see the district log")
    current_app.logger.info("enrolled node %s", payload.get("node_id"))
    return jsonify(answer)


@bp.post("/sync/v1/tls-cert")
def tls_certificate() -> Response | tuple:
    from node.enrollment import ca_layout
    from node.https import TlsRefused, answer_request

    node = current_app.extensions["motcua.node"]
    if not ca_layout(node).certificate.exists():
        return _error(404, "no_ca", "this node holds no certificate authority")
    if (limited := _throttled("motcua.tls_limit")) is not None:
        return limited
    try:
        answer = answer_request(node, read_object(request, limit=MAX_TLS_REQUEST_BYTES))
    except BadJson as e:
        return _error(e.status, e.code, e.message)
    except TlsRefused as e:
        return _error(e.status, e.code, e.message, e.field)
    except DomainError as e:
        return _error(422, "invalid_input", e.message, e.field)
    except CertsError as e:
        current_app.logger.error("TLS certificate not issued: %s", e)
        return _error(500, "ca_error", "the certificate authority could not issue: see the district log")
    return jsonify(answer)


@tlsca_bp.get("/sync/v1/tls-ca")
def tls_ca() -> Response | tuple:
    """Public: a certificate authority's certificate is no secret, and a node keeps it only if
    the district CA's signature verifies."""
    from node.https import tls_ca_offer

    offer = tls_ca_offer(current_app.extensions["motcua.node"].trust)
    if offer is None:
        return _error(404, "no_tls_ca", "this node pins no district TLS CA")
    return jsonify(offer)
