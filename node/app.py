"""The Flask application factory: one package, blueprints chosen by role.

``create_app`` wires settings, the node (database, key, log) and the blueprints; it starts no
thread and opens no socket (the CLI's ``serve`` does that), so tests can build many apps.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify

from node import __version__
from node.atrest import NodeLocked
from node.config import Settings, load_settings
from node.services import Node, open_node, system_wall_ms


def session_secret(settings: Settings, node: Node) -> str | None:
    """The Flask session key: a setting (tests), else derived from the data key (never stored;
    a plaintext node from before encryption keeps the one its node.json had)."""
    if settings.SECRET_KEY:
        return settings.SECRET_KEY
    if node.data_key is not None:
        from node.atrest import derive

        return derive(node.data_key, "flask-session").hex()
    return None


def create_app(
    settings: Settings | None = None,
    overrides: Mapping[str, Any] | None = None,
    wall_ms: Callable[[], int] = system_wall_ms,
    node: Node | None = None,
    locked: bool = False,
) -> Flask:
    """The app of ``node`` (opened here when None); ``locked`` starts it locked even if the key
    is at hand (tests), as a node whose key nobody unlocked always starts."""
    settings = settings or load_settings(overrides=overrides)
    logging.basicConfig(
        level=getattr(logging, str(settings.LOG_LEVEL).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = Flask("motcua", static_folder=None)
    app.config.update(settings.as_flask_config())
    if locked:
        node = None
    elif node is None:
        try:
            node = open_node(settings, wall_ms)
        except NodeLocked:
            node = None  # serves only the sign-in page until a staff member unlocks it (web.locked)
    # While locked the data key is unknown: the session secret is then a random one for this
    # process (Flask's cookie carries only the CSRF token; sessions themselves are server-side).
    app.config["SECRET_KEY"] = session_secret(settings, node) if node is not None else secrets.token_hex(32)
    app.json.ensure_ascii = False  # Vietnamese stays readable in API answers and logs
    app.json.sort_keys = False
    from web import locked as lock_gate

    unlock_state = lock_gate.init_app(app, settings, wall_ms, node)

    from sync.server import bp as sync_bp
    from web.api import bp as api_bp
    from web.files import api_bp as files_api_bp
    from web.files_sync import bp as files_sync_bp
    from web.printing import bp as printing_bp
    from web.ui import blueprints_for_role

    app.register_blueprint(api_bp)
    app.register_blueprint(files_api_bp)
    app.register_blueprint(sync_bp)
    app.register_blueprint(files_sync_bp)
    app.register_blueprint(printing_bp)
    for ui_bp in blueprints_for_role(settings.ROLE):  # auth, public, then staff+mobile or district
        app.register_blueprint(ui_bp)
    from web.enroll import tlsca_bp

    app.register_blueprint(tlsca_bp)
    from web import storage_errors

    storage_errors.register(app)
    if settings.ROLE == "district":
        from web.enroll import bp as enroll_bp

        app.register_blueprint(enroll_bp)
    lock_gate.order_gate(app)

    @app.get("/healthz")
    def healthz() -> Response:
        """Liveness and identity, for the demo script, Docker and the district's node health."""
        return jsonify(
            {
                "ok": True,
                "version": __version__,
                "role": settings.ROLE,
                "unit": settings.UNIT,
                "name": settings.NAME,
                "node_id": app.extensions["motcua.node"].node_id,
                "locked": unlock_state.locked,
            }
        )

    @app.teardown_appcontext
    def _close_connection(_exc: BaseException | None) -> None:
        # peewee keeps one connection per thread; closing it after each request returns
        # PostgreSQL connections and lets SQLite checkpoint the WAL.
        db = app.extensions["motcua.node"].db
        if db is not None and not db.is_closed():
            db.close()

    return app
