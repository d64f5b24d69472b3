"""What every response of the node gets against a hostile browser or network: cookie flags,
trusted host names, HSTS, the Content-Security-Policy and the other security headers.

:func:`init_app` wires it once per app (from :mod:`web.auth`, before any other hook).

Cookies
-------
Flask's own cookie (named ``motcua_csrf``: it carries nothing but Flask-WTF's CSRF token; who is
signed in lives in ``motcua_auth``, set by :mod:`web.auth`) is ``HttpOnly`` and
``SameSite=Lax`` always, and ``Secure`` whenever the request came over https. The values are
*assigned*: Flask defines every ``SESSION_COOKIE_*`` key with its default (``SameSite`` unset,
name ``session``), so ``config.setdefault`` on them changes nothing. ``Secure`` follows the
request rather than a setting because one node answers both: https once enrolled, http on a
development node or on loopback.

Trusted hosts (DNS rebinding)
-----------------------------
A page on ``evil.example`` whose name the attacker re-points at the office node's LAN address
makes the browser talk to the node as ``evil.example``: same origin for the attacker's script.
The node therefore answers only requests whose ``Host`` is an IP address (a rebinding attack
always sends the attacker's *name*, so an address is never one), ``localhost``, this machine's
name and ``<name>.local`` (mDNS), the ``HOST`` setting, and the names of the ``TRUSTED_HOSTS``
setting (``.example.org`` admits its subdomains, as in Flask's ``TRUSTED_HOSTS``; ``*`` turns the
check off, for a reverse proxy that checks ``Host`` itself). Anything else gets 400 before any
view runs. Flask's own ``TRUSTED_HOSTS`` list is not used because it cannot say "any address":
LAN offices reach the node at whatever address DHCP gave it today, and Werkzeug's matching
cannot even list an IPv6 literal (``[::1]`` never matches). Names are matched the way Werkzeug
matches them (:func:`werkzeug.sansio.utils.host_is_trusted`). The sync endpoint is exempt: its
requests are signed by a node key, which a browser cannot produce, and a hub reached by a
DNS name must not stop syncing because that name was not listed. So is ``/sync/v1/tls-ca``
(blueprint ``tlsca``), which sync clients fetch from the same URL and which serves only a
public certificate.

Headers
-------
- Every HTML page has a Content-Security-Policy: :data:`CSP` (scripts, styles and images from
  the node only, no inline code, no framing) for the UI; printed forms keep their CSS inside the
  page (a saved or e-mailed form must print the same), so they get :data:`PRINT_CSP`, which
  admits exactly the inline ``<style>`` and ``<script>`` elements carrying this response's
  nonce and nothing from anywhere else. Other responses get ``default-src 'none'``.
- ``Strict-Transport-Security`` on https responses; ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: same-origin`` everywhere; ``X-Frame-Options: DENY`` and
  ``Cache-Control: no-store`` on staff pages and prints (citizens' data must not stay in a shared
  PC's browser cache, ASVS 8.2.1).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
from collections.abc import Iterable
from dataclasses import dataclass

from flask import Flask, Response, g, has_request_context, jsonify, render_template, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.sansio.utils import host_is_trusted

SESSION_COOKIE = "motcua_csrf"
# Blueprints whose pages are HTML for people (no-store, no framing).
UI_BLUEPRINTS = frozenset({"auth", "staff", "mobile", "district", "public", "printing", "files"})
HOST_CHECK_EXEMPT = frozenset({"sync", "tlsca"})
CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
PRINT_CSP = (
    "default-src 'none'; style-src 'nonce-{nonce}'; script-src 'nonce-{nonce}'; img-src data:; "
    "form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
NOT_HTML_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=31536000"  # a year; no includeSubDomains: other hosts under the name are not ours


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed cookie, ``Secure`` whenever the request itself came over https."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (has_request_context() and request.is_secure)


@dataclass(frozen=True)
class HostPolicy:
    """Which ``Host`` values a node answers (see the module docstring)."""

    names: tuple[str, ...]
    any_name: bool = False

    def allows(self, host: str) -> bool:
        """``host`` is the request's ``host[:port]`` as Werkzeug parsed it ("" if malformed)."""
        if not host:
            return False
        if host.startswith("["):
            name = host[1 : host.find("]")] if "]" in host else ""
        else:
            name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
        name = name.rstrip(".").lower()
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            pass
        return self.any_name or host_is_trusted(name, self.names)


def host_policy(configured: str, listen_host: str, machine_name: str | None = None) -> HostPolicy:
    """The policy from the ``TRUSTED_HOSTS`` setting (comma or space separated), the ``HOST``
    the node listens on, and this machine's name (``socket.gethostname()`` by default)."""
    entries = [e.strip().lower() for e in configured.replace(",", " ").split() if e.strip()]
    machine = (socket.gethostname() if machine_name is None else machine_name).lower()
    automatic: Iterable[str] = ("localhost", machine, f"{machine}.local", listen_host.lower())
    names = tuple(dict.fromkeys(n for n in (*automatic, *entries) if n and n != "*"))
    return HostPolicy(names, any_name="*" in entries)


def csp_nonce() -> str:
    """This response's CSP nonce (made on first use), for inline ``<style>``/``<script>``."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce


def init_app(app: Flask, trusted_hosts: str, listen_host: str) -> None:
    app.config["SESSION_COOKIE_NAME"] = SESSION_COOKIE
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.session_interface = _SessionInterface()
    app.extensions["motcua.hosts"] = host_policy(trusted_hosts, listen_host)
    app.before_request(_check_host)
    app.after_request(_security_headers)
    app.context_processor(lambda: {"csp_nonce": csp_nonce})


def _check_host() -> tuple[Response | str, int] | None:
    from flask import current_app

    if request.blueprint in HOST_CHECK_EXEMPT or current_app.extensions["motcua.hosts"].allows(request.host):
        return None
    message = (f"this node does not answer to the host name {request.host!r}; add it to the TRUSTED_HOSTS "
               "setting if staff reach the node by that name")
    if request.path.startswith("/api/"):
        return jsonify({"error": {"code": "untrusted_host", "message": message, "field": None}}), 400
    return render_template("errors/page.html", code=400, message=message), 400


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if request.is_secure:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    if request.blueprint in UI_BLUEPRINTS:
        response.headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html" or request.blueprint != "auth":
            response.headers["Cache-Control"] = "no-store"
    if response.mimetype == "text/html":
        policy = PRINT_CSP.format(nonce=csp_nonce()) if request.blueprint == "printing" else CSP
    else:
        policy = NOT_HTML_CSP
    response.headers.setdefault("Content-Security-Policy", policy)
    return response
