"""A write the disk refused answers clearly instead of with a 500: ``storage_full`` (507) or
``read_only`` (503), in the API's error shape under ``/api/`` and ``/sync``, as the error page
elsewhere (see :mod:`node.storage` for what is recognised and why nothing acknowledged is lost).
It also gives templates ``disk_warning()``: the dashboard's low-space warning.

Registered on the application for the database and OS errors a write can raise; an error that
is not a storage one is raised again, so it still reaches the ordinary 500 handling and the log.
"""

from __future__ import annotations

import logging
import sqlite3

import peewee as pw
from flask import Flask, Response, render_template, request

from node import storage
from web.api_auth import api_error

log = logging.getLogger(__name__)


def answer(kind: str) -> tuple[Response | str, int]:
    status, message = storage.STATUS[kind], storage.MESSAGES[kind]
    if request.path.startswith(("/api/", "/sync")):
        return api_error(status, kind, message)
    return render_template("errors/page.html", code=status, message=message), status


def register(app: Flask) -> None:
    def handle(e: Exception) -> tuple[Response | str, int]:
        kind = storage.classify(e)
        if kind is None:
            raise e
        log.error("write refused by the storage (%s): %s", kind, e)
        return answer(kind)

    @app.context_processor
    def _disk_warning() -> dict[str, object]:
        """``disk_warning`` for the dashboard: a statvfs per page, cheap enough to stay current."""
        node = app.extensions["motcua.node"]
        return {"disk_warning": lambda: storage.space_warning(node.settings.data_dir, node.settings.MIN_FREE_MB)}

    for cls in (pw.DatabaseError, sqlite3.DatabaseError, OSError, *_driver_errors()):
        app.register_error_handler(cls, handle)


def _driver_errors() -> list[type[Exception]]:
    """The drivers' own classes: the store's raw cursor raises them unwrapped by peewee."""
    found: list[type[Exception]] = []
    try:
        from sqlcipher3 import dbapi2 as sqlcipher

        found.append(sqlcipher.DatabaseError)
    except ImportError:
        pass
    try:
        import psycopg

        found.append(psycopg.DatabaseError)
    except ImportError:
        pass
    return found
