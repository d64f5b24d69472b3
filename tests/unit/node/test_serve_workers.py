"""How many worker processes ``motcua serve`` runs, and which one runs the once-per-node work."""

from __future__ import annotations

from types import SimpleNamespace

from node.cli.lifecycle import worker_processes
from node.wsgi import worker_slot


def _settings(url: str = "", processes: int = 0) -> SimpleNamespace:
    return SimpleNamespace(DATABASE_URL=url, PROCESSES=processes)


def test_sqlite_and_a_locked_hub_stay_one_process():
    assert worker_processes(_settings(), unlocked=True) == 1
    assert worker_processes(_settings("postgresql://x/y", 4), unlocked=False) == 1


def test_postgresql_runs_several_processes():
    assert worker_processes(_settings("postgresql://x/y", 3), unlocked=True) == 3
    assert worker_processes(_settings("postgresql://x/y"), unlocked=True) >= 2


def test_slot_zero_goes_to_exactly_one_worker_and_is_taken_over():
    live = []
    for _ in range(3):
        live.append(SimpleNamespace(motcua_slot=worker_slot(live, 3)))
    assert [w.motcua_slot for w in live] == [0, 1, 2]
    del live[0]  # the slot-0 worker died: its replacement takes slot 0 (the scheduler, mDNS)
    assert worker_slot(live, 3) == 0
    assert worker_slot([SimpleNamespace(motcua_slot=n) for n in range(3)], 3) == 3  # never a second 0
