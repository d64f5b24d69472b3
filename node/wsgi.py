"""WSGI entry points: ``node.wsgi:app`` for an external server, and the embedded gunicorn
used by ``motcua serve``.

Processes. On SQLite the node is one worker process with threads: SQLite has one writer, so
more processes would only queue on its lock. A hub on PostgreSQL (``DATABASE_URL``) runs several
workers (``PROCESSES``): one Python process is capped at one core by the interpreter lock
whatever its threads, and a province hub verifying and storing 150 communes' batches at once
needs every core. Concurrent ingest is then kept correct by PostgreSQL's row and advisory locks
(sync.store, sync.ingest, node.projection).

Once-per-node work (the background sync scheduler, the mDNS announcement) runs in the worker of
slot 0 only: two schedulers would sync the same feeds twice over, two announcements would answer
each other's queries. The master gives each worker it forks the lowest slot no living worker
holds (``pre_fork``), so a replacement of a dead slot-0 worker takes it over.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask


class TlsContexts:
    """The TLS context of each new connection (gunicorn's ``ssl_context`` hook), by lock state.

    The node's certificate key is the node key, encrypted with the data key: while the node is
    locked it cannot be loaded, so the sign-in page is served with a throwaway self-signed
    certificate made at start (peers, who pin the district CA, refuse it: nothing syncs while
    locked); once unlocked, the node's own certificate and key.
    """

    def __init__(self, app: Flask, certificate: str, key: str) -> None:
        self.app = app
        self.certificate = certificate
        self.key = key
        self._mutex = threading.Lock()
        self._cache: dict[Any, ssl.SSLContext] = {}

    def _new(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.verify_mode = ssl.CERT_NONE
        return context

    def _locked(self) -> ssl.SSLContext:
        from datetime import UTC, datetime, timedelta

        from certs import create_ca
        from certs.identity import certificate_pem
        from certs.keys import private_key_pem

        throwaway = create_ca("00", now=datetime.now(UTC), lifetime=timedelta(days=30))
        context = self._new()
        with tempfile.TemporaryDirectory(prefix="motcua-tls-") as tmp:
            cert, key = Path(tmp) / "c.pem", Path(tmp) / "k.pem"
            cert.write_bytes(certificate_pem(throwaway.certificate))
            key.write_bytes(private_key_pem(throwaway.key))
            context.load_cert_chain(str(cert), str(key))
        return context

    def __call__(self) -> ssl.SSLContext:
        from node.atrest import node_key_password

        node = self.app.extensions["motcua.node"]
        if not self.key.endswith("node.key"):
            # the P-256 https key (tls.key) is not the node's identity and is kept as it is, so
            # a locked node's sign-in page has the certificate staff browsers trust
            which: Any = "tls"
        else:
            which = "locked" if getattr(node, "locked", False) else node.data_key
        with self._mutex:
            if which not in self._cache:
                self._cache.clear()  # a lock or rekey retires the previous context
                if which == "locked":
                    self._cache[which] = self._locked()
                elif which == "tls":
                    context = self._new()
                    context.load_cert_chain(self.certificate, self.key)
                    self._cache[which] = context
                else:
                    context = self._new()
                    context.load_cert_chain(self.certificate, self.key, password=node_key_password(which))
                    self._cache[which] = context
            return self._cache[which]


def worker_slot(live: Any, workers: int) -> int:
    """The lowest slot in ``range(workers)`` that none of the ``live`` workers holds."""
    taken = {getattr(w, "motcua_slot", None) for w in live}
    return next((n for n in range(workers) if n not in taken), workers)


def serve_with_gunicorn(app: Flask, host: str, port: int, threads: int = 4, scheduler: Any = None,
                        tls: tuple[str, str] | None = None,
                        advertise: Callable[[], Any] | None = None, workers: int = 1) -> None:
    """Run ``app`` under gunicorn in this process tree (``workers`` processes, see the module
    docstring); the scheduler and the LAN announcement (``advertise()`` returns an object with
    ``close()``, or None) run in the worker of slot 0.

    Neither may start in the master: threads do not survive gunicorn's fork, and a zeroconf
    instance created before the fork left the worker hanging at exit until gunicorn's graceful
    timeout (20 s on every stop). The caller closes its database connections before this: a
    connection inherited by several forked workers would interleave their statements on one
    socket.
    """
    from gunicorn.app.base import BaseApplication

    class _Embedded(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            options = {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 120,
                "graceful_timeout": 20,
                # gunicorn's default keep-alive is 2 s; a laptop ingesting a big pulled batch
                # takes longer than that before its next request, and would find the
                # connection closed under it.
                "keepalive": 75,
                "accesslog": "-",
                # Method and path only: gunicorn's default line carries the query string and the
                # referrer, and a staff search (?q=<name or ID number>) or a lookup would put
                # personal data in plaintext logs beside an encrypted database (issue 16).
                "access_log_format": '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss',
            }
            # gunicorn >= 23 opens one control socket per user in ~/.gunicorn by default; several
            # nodes on one machine (the demo, tests) would fight over it, and we do not use it.
            if "control_socket_disable" in self.cfg.settings:
                options["control_socket_disable"] = True
            if tls is not None:
                # An enrolled node serves https with its certificate from the district CA.
                options["certfile"], options["keyfile"] = tls
                contexts = TlsContexts(app, *tls)
                options["ssl_context"] = lambda _conf, _default: contexts()
            # the worker object is made in the master before the fork, so the child inherits its slot
            options["pre_fork"] = lambda server, worker: setattr(
                worker, "motcua_slot", worker_slot(server.WORKERS.values(), workers))
            options["post_worker_init"] = lambda worker: _start_in_worker(getattr(worker, "motcua_slot", 0))
            options["worker_exit"] = lambda _server, _worker: _stop_in_worker()
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    running: list[Any] = []

    def _start_in_worker(slot: int) -> None:
        if slot != 0:
            return
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
