"""Who calls the JSON API, and whether they may: checked before any request body is read.

:func:`authenticate` runs before every view of the ``api`` blueprint. It accepts, in this order:

- ``Authorization: Bearer <token>``: a personal API token (:mod:`node.tokens`), acting as its
  account with its scope (``read`` or ``write``);
- the web UI's session cookie (``motcua_auth``, :mod:`node.accounts`); a request that is not
  GET/HEAD/OPTIONS must then carry the page's CSRF token in ``X-CSRFToken``, so a page of another
  site cannot make a signed-in browser write (the cookie goes along by itself; the header does not).

Then the view's action (declared with :func:`requires`) is checked against :mod:`web.permissions`
for the account's role on this node, and against the token's scope.

Answers, in the API's error shape: 401 ``unauthenticated`` (no credential, or one that is
unknown, expired, revoked, or whose account is disabled; with ``WWW-Authenticate: Bearer``);
403 ``forbidden`` (role, node or scope); 403 ``csrf_failed``. Nothing is parsed or changed first.

Invariants
----------
- A view that declares no action is refused to everyone (fail closed).
- ``g.staff`` is the authenticated account; :func:`author` (its user name) is the author of every
  change made through the API. No header or body field names an author.
- :func:`audit` writes the access-log row of a read of personal data, naming the account.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Response, current_app, g, jsonify, request
from flask_wtf.csrf import ValidationError, validate_csrf

from node import accounts, tokens
from web import permissions
from web.auth import COOKIE, client_ip, node, now_ms

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADERS = ("X-CSRFToken", "X-CSRF-Token")
_ACTION = "motcua_action"
F = TypeVar("F", bound=Callable[..., Any])


def api_error(status: int, code: str, message: str, field: str | None = None) -> tuple[Response, int]:
    """The API's one error shape: ``{"error": {"code", "message", "field"}}``."""
    return jsonify({"error": {"code": code, "message": message, "field": field}}), status


def requires(action: permissions.Action) -> Callable[[F], F]:
    """Declare what an API view does; :func:`authenticate` checks it before the view runs."""

    def deco(view: F) -> F:
        setattr(view, _ACTION, action)
        return view

    return deco


def action_of(view: Callable[..., Any] | None) -> permissions.Action | None:
    return getattr(view, _ACTION, None)


def _unauthenticated(message: str, bad_token: bool = False) -> tuple[Response, int]:
    response, status = api_error(401, "unauthenticated", message)
    challenge = 'Bearer realm="motcua"' + (', error="invalid_token"' if bad_token else "")
    response.headers["WWW-Authenticate"] = challenge
    return response, status


def _credential() -> tuple[accounts.Staff, str, str] | tuple[Response, int]:
    """(account, scope, how) of the caller, or the 401 answer."""
    header = request.headers.get("Authorization", "")
    if header:
        kind, _, secret = header.partition(" ")
        if kind.lower() != "bearer" or not secret.strip():
            return _unauthenticated("send a personal API token as 'Authorization: Bearer <token>'")
        found = tokens.token_staff(secret.strip(), now=now_ms())
        if found is None:
            return _unauthenticated("the token is unknown, expired or revoked, or its account is disabled",
                                    bad_token=True)
        return found.staff, found.scope, "token"
    cookie = request.cookies.get(COOKIE, "")
    staff = accounts.session_staff(cookie, now=now_ms()) if cookie else None
    if staff is None:
        return _unauthenticated("sign in, or send a personal API token (motcua token create)")
    return staff, "write", "session"


def authenticate() -> tuple[Response, int] | None:
    """``before_request`` of the API blueprint: 401/403 before the view (and the body) is touched."""
    found = _credential()
    if isinstance(found[0], Response):
        return found  # type: ignore[return-value]
    staff, scope, how = found  # type: ignore[misc]
    if how == "session" and request.method not in SAFE_METHODS:
        try:
            validate_csrf(next((request.headers[h] for h in CSRF_HEADERS if h in request.headers), ""))
        except ValidationError as e:
            return api_error(403, "csrf_failed", f"a signed-in browser's write needs its page's CSRF token "
                                                 f"in the X-CSRFToken header ({e})")
    action = action_of(current_app.view_functions.get(request.endpoint or ""))
    if action is None:
        return api_error(403, "forbidden", "this endpoint declares no permission, so nobody may call it")
    node_role = node().settings.ROLE
    if not permissions.allows(staff.role, action, node_role):
        return api_error(403, "forbidden", f"a {staff.role} account may not {action.doc} on a {node_role or 'commune'} "
                                           f"node")
    if action.writes and scope != "write":
        return api_error(403, "forbidden", f"this token has the {scope} scope; it may not {action.doc}")
    g.staff = staff
    return None


def author() -> str:
    """The author of a change made through the API: the authenticated account."""
    return g.staff.author


def audit(dossier_id: str, action: str, detail: str = "") -> None:
    """One access-log row for a read of personal data through the API, naming the account."""
    accounts.record_access(g.staff.username, dossier_id, action, client_ip(), now=now_ms(), detail=detail)
