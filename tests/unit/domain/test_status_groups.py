"""The status groups stand beside the transitions they summarise (node.domain.dossier)."""

from __future__ import annotations

from node.domain.dossier import FINISHED_STATUSES, OPEN_STATUSES, PAUSED_STATUSES, STATUSES, TERMINAL, TRANSITIONS


def test_every_status_is_open_paused_or_finished_once():
    groups = [set(OPEN_STATUSES), set(PAUSED_STATUSES), set(FINISHED_STATUSES)]
    assert sorted(s for g in groups for s in g) == sorted(STATUSES)


def test_terminal_statuses_are_those_without_a_way_out():
    assert {s for s, out in TRANSITIONS.items() if not out} == TERMINAL


def test_a_finished_dossier_only_moves_to_another_finished_status():
    assert all(TRANSITIONS[s] <= FINISHED_STATUSES for s in FINISHED_STATUSES)
