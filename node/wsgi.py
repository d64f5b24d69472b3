"""WSGI entry points: ``node.wsgi:app`` for an external server, and the embedded gunicorn
used by ``motcua serve``. One process only: SQLite has one writer, and the background sync
scheduler must run once per node; concurrency comes from threads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask


def serve_with_gunicorn(app: Flask, host: str, port: int, threads: int = 4, scheduler: Any = None,
                        tls: tuple[str, str] | None = None,
                        advertise: Callable[[], Any] | None = None) -> None:
    """Run ``app`` under gunicorn in this process tree; the scheduler and the LAN announcement
    (``advertise()`` returns an object with ``close()``, or None) run in the worker.

    Neither may start in the master: threads do not survive gunicorn's fork, and a zeroconf
    instance created before the fork left the worker hanging at exit until gunicorn's graceful
    timeout (20 s on every stop).
    """
    from gunicorn.app.base import BaseApplication

    class _Embedded(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": 1,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 120,
                "graceful_timeout": 20,
                # gunicorn's default keep-alive is 2 s; a laptop ingesting a big pulled batch
                # takes longer than that before its next request, and would find the
                # connection closed under it.
                "keepalive": 75,
                "accesslog": "-",
            }
            # gunicorn >= 23 opens one control socket per user in ~/.gunicorn by default; several
            # nodes on one machine (the demo, tests) would fight over it, and we do not use it.
            if "control_socket_disable" in self.cfg.settings:
                options["control_socket_disable"] = True
            if tls is not None:
                # An enrolled node serves https with its certificate from the district CA.
                options["certfile"], options["keyfile"] = tls
            options["post_worker_init"] = lambda _worker: _start_in_worker()
            options["worker_exit"] = lambda _server, _worker: _stop_in_worker()
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    running: list[Any] = []

    def _start_in_worker() -> None:
        if scheduler is not None:
            scheduler.start()
            running.append(scheduler.stop)
        announcement = advertise() if advertise is not None else None
        if announcement is not None:
            running.append(announcement.close)

    def _stop_in_worker() -> None:
        while running:
            running.pop()()

    _Embedded().run()


def __getattr__(name: str) -> Any:
    # Built on first access, not at import, so importing this module has no side effects.
    if name == "app":
        from node.app import create_app

        return create_app()
    raise AttributeError(name)
