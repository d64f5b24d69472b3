"""Public status lookup (blueprint ``public``, ``/tra-cuu``), on every node.

A citizen types the dossier code and the check code from the receipt (``ma``, ``kiem_tra``) and
sees exactly what the receipt already shows: code, procedure, status, appointment. No name, ID
number, phone or address; no sign-in, no access-log row (nothing personal is read); the form is
a GET, so it needs no CSRF token.

Against enumeration (:mod:`node.tracking`, :mod:`node.domain.lookup`):

- an unknown code, a wrong check code and a missing one get the same page, status and wording;
- every such miss costs the client's address (IPv6: its /64) one unit of its allowance
  (:data:`BURST` at once, then one per :data:`MISS_INTERVAL_MS`); an address out of allowance
  gets 429 with ``Retry-After``, before any lookup. Found dossiers cost nothing, so citizens behind
  one shared address who type their code right are never slowed by each other's typos.
"""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request

from node import tracking
from node.ratelimit import RateLimiter, address_key
from web.auth import client_ip, node, now_ms

bp = Blueprint("public", __name__, template_folder="templates")
BURST = 10
MISS_INTERVAL_MS = 60 * 1000


@bp.record_once
def _setup(state) -> None:
    state.app.extensions["motcua.lookup_limit"] = RateLimiter(BURST, MISS_INTERVAL_MS)


def limiter() -> RateLimiter:
    return current_app.extensions["motcua.lookup_limit"]


@bp.get("/tra-cuu")
def lookup() -> str | tuple[str, int] | tuple[str, int, dict[str, str]]:
    code = " ".join(request.args.get("ma", "").split())[: tracking.MAX_CODE_CHARS]
    check = " ".join(request.args.get("kiem_tra", "").split())[:20]
    if not code and not check:
        return render_template("public/lookup.html", code="", check="", found=None)
    who, now = address_key(client_ip()), now_ms()
    wait = limiter().retry_after_ms(who, now)
    if wait:
        minutes = max(1, -(-wait // 60_000))
        return render_template("public/lookup.html", code=code, check=check, found=None, limited=minutes), 429, {
            "Retry-After": str(-(-wait // 1000))}
    n = node()
    found = tracking.find(code, check, node_id=n.node_id, secret=n.lookup_secret)
    if found is None:
        limiter().spend(who, now)
    return render_template("public/lookup.html", code=code, check=check, found=found), 200 if found else 404
