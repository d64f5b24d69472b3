"""Background sync scheduling: back-off with jitter, immediate trigger and stop, no sleeping."""

from __future__ import annotations

import random
import threading

import pytest

from sync.scheduler import MAX_BACKOFF_SECONDS, SyncScheduler, next_delay


class FixedRandom(random.Random):
    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def random(self) -> float:
        return self.value


@pytest.mark.parametrize(
    ("failures", "expected"),
    [(0, 60), (1, 120), (2, 240), (3, 480), (4, 900), (30, 900)],
)
def test_backoff_doubles_up_to_the_cap(failures, expected):
    assert next_delay(failures, 60, FixedRandom(0.5)) == pytest.approx(expected)


def test_jitter_spreads_the_delay_between_half_and_one_and_a_half():
    assert next_delay(0, 60, FixedRandom(0.0)) == pytest.approx(30)
    assert next_delay(0, 60, FixedRandom(0.999)) == pytest.approx(89.94)
    delays = {round(next_delay(3, 60, random.Random(i))) for i in range(50)}
    assert len(delays) > 20 and max(delays) < 1.5 * 480 and min(delays) >= 0.5 * 480
    assert next_delay(50, 60, FixedRandom(0.5)) == MAX_BACKOFF_SECONDS


def test_failures_count_up_and_a_success_resets_them():
    outcomes = iter([False, False, True])
    s = SyncScheduler(lambda: next(outcomes), 60, FixedRandom(0.5))
    assert [s.run_once() for _ in range(3)] == [pytest.approx(120), pytest.approx(240), pytest.approx(60)]
    assert s.state.failures == 0 and s.state.last_outcome == "ok"


def test_a_crashing_sync_is_a_failure_not_a_dead_thread():
    def boom() -> bool:
        raise RuntimeError("bug")

    s = SyncScheduler(boom, 60, FixedRandom(0.5))
    assert s.run_once() == pytest.approx(120)
    assert "bug" in s.state.last_error


def test_trigger_runs_at_once_and_stop_ends_the_thread():
    ran = threading.Event()
    calls = []

    def sync() -> bool:
        calls.append(1)
        ran.set()
        return True

    s = SyncScheduler(sync, 3600, FixedRandom(0.5))
    s.start()
    assert ran.wait(5)  # first sync right after start
    ran.clear()
    s.trigger()
    assert ran.wait(5)  # "sync now" does not wait for the hour
    s.stop()
    assert not s._thread.is_alive() and len(calls) == 2
