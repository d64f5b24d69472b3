"""The web UI's "sync now": one background sync at a time, with progress the page can poll.

A view cannot hold a request open for the length of a sync over a slow link, so the session
runs in a thread (:meth:`SyncJobs.start`) and the page polls :meth:`SyncJobs.snapshot`. The
progress callback of :meth:`node.services.Node.sync_with` fills events sent and still to send.
Only peers the page listed can be chosen (never a URL typed by the user), so this cannot be
turned into a request to an arbitrary address.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass
from typing import Any

from node.services import Node

log = logging.getLogger("motcua.web")


@dataclass
class JobState:
    url: str = ""
    name: str = ""
    running: bool = False
    started_at: int = 0
    ended_at: int = 0
    events_out: int = 0
    events_in: int = 0
    remaining: int = 0
    outcome: str = ""
    error_code: str = ""  # sync.protocol.Code or "transport": what the page explains in plain words
    error: str = ""  # the technical detail, shown folded away
    session: str = ""


class SyncJobs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.state = JobState()
        self.thread: threading.Thread | None = None

    def start(self, node: Node, url: str, name: str) -> bool:
        """Start a sync with ``url``; False if one is already running."""
        with self._lock:
            if self.state.running:
                return False
            self.state = JobState(url=url, name=name, running=True, started_at=node.wall_ms())
            self.thread = threading.Thread(target=self._run, args=(node, url), name="motcua-web-sync", daemon=True)
            self.thread.start()
            return True

    def _run(self, node: Node, url: str) -> None:
        state = self.state

        def progress(summary: Any, remaining: int) -> None:
            state.events_out, state.events_in, state.remaining = summary.events_out, summary.events_in, remaining
            state.session = summary.session

        try:
            summary = node.sync_with(url, progress=progress)
            state.events_out, state.events_in = summary.events_out, summary.events_in
            state.outcome, state.error, state.session = summary.outcome, summary.error, summary.session
            state.error_code = summary.error_code
        except Exception as e:  # a crash must end the job, not leave the page "running" for ever
            log.exception("sync now with %s crashed", url)
            state.outcome, state.error_code, state.error = "failed", "internal", f"{type(e).__name__}: {e}"
        finally:
            state.remaining = 0
            state.ended_at = node.wall_ms()
            state.running = False
            if not node.db.is_closed():
                node.db.close()  # this thread's connection only (peewee keeps one per thread)

    def snapshot(self) -> dict[str, Any]:
        return asdict(self.state)

    def wait(self, timeout: float = 30) -> None:
        if self.thread is not None:
            self.thread.join(timeout)
