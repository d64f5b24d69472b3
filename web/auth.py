"""Sign-in, sign-out, the language switch, and the guards every staff page goes through.

Blueprint ``auth`` (registered on every node). Registering it also wires what the whole web UI
relies on, once per app (:func:`_setup`): cookie flags, trusted host names and security
headers (:mod:`web.hardening`, first of all), the i18n ``_`` in Jinja, the date filters, CSRF
protection of every form (Flask-WTF; the JSON blueprints ``api``, ``sync`` and ``enroll``
authenticate their callers themselves, the API with its own CSRF check, see :mod:`web.api_auth`),
and the sign-in requirement and read audit of the printed forms.

Routes: ``/`` (home by role), ``/dang-nhap`` (sign in), ``/dang-xuat`` (POST, sign out),
``/ngon-ngu/<lang>`` (language cookie), ``/static/…``.

Invariants
----------
- Who is signed in comes only from the ``motcua_auth`` cookie looked up in the session table
  (:mod:`node.accounts`); Flask's signed cookie carries nothing but the CSRF token.
- A new session token at every sign-in (no fixation); sign-out deletes the row.
- Every read of a dossier's personal data by a person leaves an access-log row.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_wtf.csrf import CSRFError, CSRFProtect

from node import accounts, unlocking
from node.services import Node
from web import hardening, i18n, permissions
from web.formatting import FILTERS
from web.i18n import _
from web.labels import register_labels

bp = Blueprint("auth", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
csrf = CSRFProtect()
COOKIE = "motcua_auth"
# JSON blueprints that authenticate their callers themselves, before reading the body: request
# signatures (sync, enrollment), a token or the session plus a CSRF header (the API, web.api_auth).
NOT_COOKIE_AUTHENTICATED = frozenset({"api", "files_api", "sync", "files_sync", "enroll", "tlsca"})
HOME_BY_ROLE = {
    "clerk": "staff.dashboard",
    "head": "staff.dashboard",
    "mobile": "mobile.home",
    "district_admin": "district.sync_log",
}


def node() -> Node:
    return current_app.extensions["motcua.node"]


def now_ms() -> int:
    return node().wall_ms()


def client_ip() -> str:
    return request.remote_addr or "-"


def current_staff() -> accounts.Staff | None:
    return g.get("staff")


@bp.record_once
def _setup(state: Any) -> None:
    app: Flask = state.app
    settings = app.extensions["motcua.node"].settings
    hardening.init_app(app, trusted_hosts=settings.TRUSTED_HOSTS, listen_host=settings.HOST)
    i18n.init_app(app)
    app.jinja_env.filters.update(FILTERS)
    register_labels(app)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", 12 * 3600)  # a form left open all day still posts
    # Every POST is checked except in the JSON blueprints that no cookie authenticates (the
    # default-on check runs in _csrf_check so that list is explicit and in one place).
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    csrf.init_app(app)
    app.before_request(_csrf_check)
    app.before_request(_load_staff)
    app.context_processor(_template_context)


def _template_context() -> dict[str, Any]:
    return {
        "staff": current_staff(),
        "node_settings": node().settings,
        "view_functions": current_app.view_functions,
        "header_sync": lambda: node().sync_status(),
        "may": _may,
    }


def _may(action: str) -> bool:
    """For templates: may the signed-in account do this action of :mod:`web.permissions` here?"""
    staff = current_staff()
    return staff is not None and permissions.allows(staff.role, permissions.ACTIONS[action], node().settings.ROLE)


def _csrf_check() -> None:
    # no route matched: let the 404/405 answer stand (nothing would be done with the form)
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    if request.url_rule is not None and request.blueprint not in NOT_COOKIE_AUTHENTICATED:
        csrf.protect()


def _load_staff() -> Response | None:
    g.staff = None
    token = request.cookies.get(COOKIE, "")
    # a locked node (web.locked) has no database open: nobody is signed in until it unlocks
    if token and request.blueprint not in NOT_COOKIE_AUTHENTICATED and not getattr(node(), "locked", False):
        g.staff = accounts.session_staff(token, now=now_ms())
    if request.blueprint == "printing":
        return _guard_printing()
    return None


def _guard_printing() -> Response | None:
    """Printed forms carry personal data: signed-in staff only, and every print is audited."""
    staff = current_staff()
    if staff is None:
        return redirect(url_for("auth.login", next=request.full_path))
    if not permissions.allows(staff.role, permissions.PRINT, node().settings.ROLE):
        abort(403)
    who = staff.username
    args = request.view_args or {}
    if "dossier_id" in args:
        accounts.record_access(who, args["dossier_id"], f"print:{args.get('form', '')}", client_ip(), now=now_ms())
    else:
        accounts.record_access(who, "", "ledger", client_ip(), now=now_ms(),
                               detail=f"{request.args.get('tu', '')}..{request.args.get('den', '')}")
    return None




def login_required(*roles: str) -> Callable[[], Response | None]:
    """A ``before_request`` guard for a whole blueprint: signed in, and one of ``roles``."""

    def guard() -> Response | None:
        staff = current_staff()
        if staff is None:
            return redirect(url_for("auth.login", next=request.full_path))
        if roles and staff.role not in roles:
            abort(403)
        return None

    return guard


def roles_required(*roles: str) -> Callable:
    """A view decorator narrowing a guarded blueprint further (e.g. only heads resolve)."""

    def deco(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(**kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None or staff.role not in roles:
                abort(403)
            return view(**kwargs)

        return wrapped

    return deco


def audit_read(dossier_id: str, action: str = "view", detail: str = "") -> None:
    staff = current_staff()
    accounts.record_access(staff.username if staff else "-", dossier_id, action, client_ip(), now=now_ms(),
                           detail=detail)


def _safe_next(target: str | None) -> str | None:
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


def home_url(staff: accounts.Staff) -> str:
    endpoint = HOME_BY_ROLE.get(staff.role, "public.lookup")
    if endpoint not in current_app.view_functions:
        endpoint = "public.lookup"
    return url_for(endpoint)


@bp.get("/")
def home() -> Response:
    staff = current_staff()
    return redirect(home_url(staff) if staff else url_for("auth.login"))


@bp.route("/dang-nhap", methods=["GET", "POST"])
def login() -> Response | str | tuple[Any, ...]:
    error = ""
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        try:
            staff = accounts.authenticate(username, password, client_ip(), now=now_ms())
        except accounts.LoginThrottled as e:
            error = _("Đăng nhập sai quá nhiều lần. Hãy chờ %(minutes)s phút rồi thử lại.", minutes=e.minutes)
            page = render_template("auth/login.html", error=error, username=username)
            return page, 429, {"Retry-After": str(-(-e.retry_after_ms // 1000))}
        except accounts.AccountError:
            error = _("Tên đăng nhập hoặc mật khẩu không đúng.")
            return render_template("auth/login.html", error=error, username=username), 401
        # The account's key slot (issue 16): made for a new account, refreshed after a password
        # change or a rekey, so this person can unlock the node the next time it is locked.
        unlocking.ensure_slot_at_sign_in(node(), staff.username, password)
        accounts.close_session(request.cookies.get(COOKIE, ""))
        token = accounts.open_session(staff, ip=client_ip(), user_agent=request.user_agent.string, now=now_ms())
        session.clear()  # a fresh CSRF token for the signed-in session
        response = redirect(_safe_next(request.args.get("next")) or home_url(staff))
        response.set_cookie(COOKIE, token, httponly=True, samesite="Lax", secure=request.is_secure, path="/")
        return response
    return render_template("auth/login.html", error=error, username=username)


@bp.post("/dang-xuat")
def logout() -> Response:
    accounts.close_session(request.cookies.get(COOKIE, ""))
    session.clear()
    flash(_("Đã đăng xuất."), "info")
    response = redirect(url_for("auth.login"))
    response.delete_cookie(COOKIE, path="/")
    return response


@bp.get("/ngon-ngu/<lang>")
def set_language(lang: str) -> Response:
    if lang not in i18n.LANGUAGES:
        abort(404)
    response = redirect(_safe_next(request.args.get("next")) or url_for("auth.home"))
    response.set_cookie(i18n.COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=True,
                        secure=request.is_secure, path="/")
    return response


@bp.app_errorhandler(403)
def _forbidden(e: Exception) -> tuple[str, int] | Exception:
    if request.blueprint in ("api", "sync"):
        return e
    message = _("Tài khoản của bạn không có quyền xem trang này.")
    return render_template("errors/page.html", code=403, message=message), 403


@bp.app_errorhandler(CSRFError)
def _csrf_error(e: CSRFError) -> tuple[str, int]:
    return render_template(
        "errors/page.html", code=400,
        message=_("Biểu mẫu đã hết hạn hoặc không hợp lệ. Hãy tải lại trang và thử lại."),
    ), 400
