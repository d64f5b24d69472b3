"""The lock of a node's web server: while locked it serves only the sign-in page, the language
switch, static files and ``/healthz``; a staff sign-in unlocks it (issue 16).

:class:`UnlockState` lives in ``app.extensions["motcua.atrest"]`` and is consulted by
:func:`gate`, the first ``before_request`` of the app. While locked, the node's database cannot
even be opened (its key is not in memory), so the gate answers everything else itself: pages
redirect to the sign-in page, the JSON entrances (``/api``, ``/sync``) answer 503
``node_locked`` in the API's error shape.

A sign-in on a locked node first opens a key slot with the password (:mod:`node.unlocking`);
the node is then opened with the data key, the slots of disabled accounts are dropped, the key
goes to the unlock cache too (the backup timer runs as the same user), and the ordinary sign-in
view runs (throttling, the account's state, a new session). A person whose slot
opens but whose account is disabled leaves the node locked.

Invariants
----------
* Locking (``motcua lock``, or a mobile node idle for ``IDLE_LOCK_MINUTES``) ends every staff
  session, empties the unlock cache, closes the database and drops the Node and its data key
  from the app.
* While locked, failed unlocks are throttled in memory per client address
  (:data:`MAX_FAILURES` per :data:`WINDOW_MS`): the sign-in attempts table is inside the locked
  database.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify, redirect, render_template, request, url_for

from node.atrest import AtRestError
from node.lockstate import idle_lock_ms, lock_requested_since
from node.ratelimit import address_key

WINDOW_MS = 15 * 60 * 1000
MAX_FAILURES = 10
OPEN_WHILE_LOCKED = frozenset({"healthz", "auth.static", "auth.set_language"})
log = logging.getLogger("motcua.atrest")


class LockedNode:
    """What the app holds in place of a Node while locked: settings and identity only."""

    locked = True
    data_key = None

    def __init__(self, settings: Any, wall_ms: Callable[[], int]) -> None:
        from node.config import read_node_file

        self.settings = settings
        self.wall_ms = wall_ms
        self.node_id = str(read_node_file(settings.data_dir).get("node_id", ""))
        self.db = None

    def close(self) -> None:
        return None


class UnlockState:
    """Locked or unlocked, and since when; the lock is taken for each change."""

    def __init__(self, app: Flask, settings: Any, wall_ms: Callable[[], int], node: Any | None) -> None:
        self.app = app
        self.settings = settings
        self.wall_ms = wall_ms
        self._lock = threading.RLock()
        self.failures: dict[str, list[int]] = {}
        self.unlocked_at = wall_ms()
        self.last_activity = self.unlocked_at
        self._install(node if node is not None else LockedNode(settings, wall_ms))

    @property
    def locked(self) -> bool:
        return getattr(self.app.extensions["motcua.node"], "locked", False)

    def _install(self, node: Any) -> None:
        self.app.extensions["motcua.node"] = node
        self.app.extensions["motcua.replica"] = getattr(node, "replica", None)

    def throttled(self, ip: str, now: int) -> bool:
        recent = [t for t in self.failures.get(ip, []) if t > now - WINDOW_MS]
        self.failures[ip] = recent
        return len(recent) >= MAX_FAILURES

    def unlock(self, username: str, password: str, ip: str) -> str:
        """Open the node with ``username``'s slot; "" on success, else why not (safe to show)."""
        from node.models import StaffAccountRow
        from node.services import open_node
        from node.unlocking import prune_slots, unlock_with_password

        now = self.wall_ms()
        ip = address_key(ip)
        with self._lock:
            if not self.locked:
                return ""
            if self.throttled(ip, now):
                return "throttled"
            try:
                data_key = unlock_with_password(self.settings, username, password)
            except AtRestError:
                self.failures.setdefault(ip, []).append(now)
                return "wrong"
            node = open_node(self.settings, self.wall_ms, data_key=data_key)
            account = StaffAccountRow.get_or_none(StaffAccountRow.username == username.strip().lower())
            if account is None or not account.active:
                prune_slots(node)  # this slot should not have been there: it goes now
                node.close()
                self.failures.setdefault(ip, []).append(now)
                return "wrong"
            prune_slots(node)
            # One lock state per machine: the nightly backup timer and other motcua commands of
            # the same user work while the server is unlocked, and stop when it locks.
            from node.unlocking import unlock_cache_for

            unlock_cache_for(self.settings, data_key)
            self._install(node)
            self.unlocked_at = self.last_activity = now
            log.info("node unlocked by %s", account.username)
            return ""

    def lock(self, why: str) -> None:
        from node.db import database
        from node.lockstate import clear_unlock_cache
        from node.models import StaffSessionRow

        with self._lock:
            node = self.app.extensions["motcua.node"]
            if getattr(node, "locked", False):
                return
            try:
                StaffSessionRow.delete().execute()  # everyone signs in again, with a password
                clear_unlock_cache(self.settings, node.node_id)  # a restart must not find the key either
            finally:
                node.close()
                database.initialize(None)
                self._install(LockedNode(self.settings, self.wall_ms))
            log.info("node locked (%s)", why)

    def check(self) -> None:
        """Lock if ``motcua lock`` asked to since the unlock, or a mobile node sat idle."""
        if self.locked:
            return
        if lock_requested_since(self.settings.data_dir, self.unlocked_at):
            self.lock("motcua lock")
            return
        idle = idle_lock_ms(self.settings)
        if idle and self.wall_ms() - self.last_activity > idle:
            self.lock(f"idle for {idle // 60000} min")


def state(app: Flask | None = None) -> UnlockState:
    return (app or current_app).extensions["motcua.atrest"]


def gate() -> Response | tuple[Any, ...] | None:
    """The first ``before_request``: see the module docstring."""
    st = state()
    if request.endpoint in OPEN_WHILE_LOCKED:
        return None
    st.check()
    if not st.locked:
        st.last_activity = st.wall_ms()
        return None
    if request.path.startswith(("/api/", "/sync/")):
        return jsonify({"error": {"code": "node_locked", "message": "the node is locked until a staff member signs "
                                  "in on its web page", "field": ""}}), 503
    if request.endpoint != "auth.login":
        return redirect(url_for("auth.login", next=request.full_path if request.path != "/" else None))
    if request.method != "POST":
        return None  # the sign-in page itself (it says the node is locked)
    from web.auth import csrf
    from web.i18n import _

    csrf.protect()
    why = st.unlock(request.form.get("username", ""), request.form.get("password", ""), request.remote_addr or "-")
    if not why:
        return None  # unlocked: the ordinary sign-in view goes on with the same form
    if why == "throttled":
        error = _("Đăng nhập sai quá nhiều lần. Hãy chờ %(minutes)s phút rồi thử lại.", minutes=WINDOW_MS // 60000)
        return render_template("auth/login.html", error=error, username=request.form.get("username", ""),
                               node_locked=True), 429
    error = _("Tên đăng nhập hoặc mật khẩu không đúng.")
    return render_template("auth/login.html", error=error, username=request.form.get("username", ""),
                           node_locked=True), 401


def init_app(app: Flask, settings: Any, wall_ms: Callable[[], int], node: Any | None) -> UnlockState:
    st = UnlockState(app, settings, wall_ms, node)
    app.extensions["motcua.atrest"] = st
    app.context_processor(lambda: {"node_locked": state().locked})
    return st


def order_gate(app: Flask) -> None:
    """Put :func:`gate` right after the host check of :mod:`web.hardening` (a wrong Host is
    refused first) and before everything that reads the database (the staff lookup)."""
    funcs = app.before_request_funcs.setdefault(None, [])
    after = max((i + 1 for i, f in enumerate(funcs) if getattr(f, "__module__", "") == "web.hardening"), default=0)
    funcs.insert(after, gate)

