"""The Flask application factory: one package, blueprints chosen by role.

``create_app`` wires settings, the node (database, key, log) and the blueprints; it starts no
thread and opens no socket (the CLI's ``serve`` does that), so tests can build many apps.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, Response, jsonify

from node import __version__
from node.config import Settings, load_settings
from node.services import Node, open_node, system_wall_ms


def create_app(
    settings: Settings | None = None,
    overrides: Mapping[str, Any] | None = None,
    wall_ms: Callable[[], int] = system_wall_ms,
    node: Node | None = None,
) -> Flask:
    settings = settings or load_settings(overrides=overrides)
    logging.basicConfig(
        level=getattr(logging, str(settings.LOG_LEVEL).upper(), logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    app = Flask("motcua", static_folder=None)
    app.config.update(settings.as_flask_config())
    app.config["SECRET_KEY"] = settings.SECRET_KEY or None
    app.json.ensure_ascii = False  # Vietnamese stays readable in API answers and logs
    app.json.sort_keys = False
    node = node or open_node(settings, wall_ms)
    app.extensions["motcua.node"] = node
    app.extensions["motcua.replica"] = node.replica

    from sync.server import bp as sync_bp
    from web.api import bp as api_bp
    from web.printing import bp as printing_bp
    from web.ui import blueprints_for_role

    app.register_blueprint(api_bp)
    app.register_blueprint(sync_bp)
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
                "node_id": node.node_id,
            }
        )

    @app.teardown_appcontext
    def _close_connection(_exc: BaseException | None) -> None:
        # peewee keeps one connection per thread; closing it after each request returns
        # PostgreSQL connections and lets SQLite checkpoint the WAL.
        if not node.db.is_closed():
            node.db.close()

    return app
