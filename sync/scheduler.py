"""Background sync: one thread per node, started by ``motcua serve``, stopped on shutdown.

After a success the next sync comes ``interval`` seconds later; after ``n`` failures in a row it
waits ``min(cap, interval * 2**n)`` scaled by a random factor in [0.5, 1.5) ("full jitter"
around the back-off), so a hundred communes coming back after a provincial outage do not all
knock at the same second. :func:`next_delay` is pure; the thread only waits on an
:class:`threading.Event`, so :meth:`SyncScheduler.trigger` ("sync now") and
:meth:`SyncScheduler.stop` take effect at once, and tests never sleep.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger("motcua.sync")

MAX_BACKOFF_SECONDS = 15 * 60


def next_delay(failures: int, interval: float, rng: random.Random, cap: float = MAX_BACKOFF_SECONDS) -> float:
    """Seconds until the next attempt after ``failures`` consecutive failures (0 after a success)."""
    base = interval if failures == 0 else min(cap, interval * 2 ** min(failures, 20))
    return base * (0.5 + rng.random())


@dataclass
class SchedulerState:
    running: bool = False
    failures: int = 0
    last_outcome: str = ""
    last_error: str = ""
    next_in: float = 0.0
    syncing: bool = False


class SyncScheduler:
    def __init__(
        self,
        run_sync: Callable[[], bool],
        interval: float,
        rng: random.Random | None = None,
        name: str = "motcua-sync",
    ) -> None:
        self.run_sync = run_sync
        self.interval = interval
        self.rng = rng or random.Random()
        self.state = SchedulerState()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self.state.running = True
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        self.state.running = False

    def trigger(self) -> None:
        """Sync as soon as possible (the UI's "sync now")."""
        self._wake.set()

    def run_once(self) -> float:
        """One attempt; returns the delay before the next. Never raises."""
        self.state.syncing = True
        try:
            ok = self.run_sync()
            self.state.last_error = ""
        except Exception as e:  # a bug in one attempt must not kill the thread
            log.exception("background sync crashed")
            ok, self.state.last_error = False, f"{type(e).__name__}: {e}"
        finally:
            self.state.syncing = False
        self.state.failures = 0 if ok else self.state.failures + 1
        self.state.last_outcome = "ok" if ok else "failed"
        self.state.next_in = next_delay(self.state.failures, self.interval, self.rng)
        return self.state.next_in

    def _loop(self) -> None:
        delay = 0.0  # first sync right away: a restarted node learns its peers' state first
        while not self._stop.is_set():
            self._wake.wait(delay)
            self._wake.clear()
            if self._stop.is_set():
                break
            delay = self.run_once()
