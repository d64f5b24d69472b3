"""SIGKILL the write path at every instrumented step and at random instants; nothing
acknowledged may be lost or doubled, verify must pass and derived state must equal a rebuild.

The counts are printed (``-s`` or the captured output of a failure) for the closing note."""

from __future__ import annotations

import time

import pytest

from tests.crash.harness import build_templates, campaign


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    return build_templates(tmp_path_factory.mktemp("templates"))


def _run(templates, tmp_path, kills: int) -> None:
    started = time.monotonic()
    counts = campaign(templates, tmp_path, kills)
    print(f"\ncrash harness: {counts.line()} in {time.monotonic() - started:.1f} s")
    assert counts.kill_points >= kills
    assert (counts.lost, counts.duplicated, counts.verify_failures, counts.mismatches) == (0, 0, 0, 0), \
        counts.problems[:5]


def test_a_thousand_kill_points(templates, tmp_path):
    _run(templates, tmp_path, 1000)


@pytest.mark.slow
def test_fifty_thousand_kill_points(templates, tmp_path):
    _run(templates, tmp_path, 50_000)


def test_the_harness_sees_a_write_acknowledged_before_its_commit(templates, tmp_path, monkeypatch):
    """The checks are not vacuous: a writer that answers inside its transaction loses the write."""
    from tests.crash import harness
    from tests.factories import sample_dossier

    def answers_too_early(node, template, ack, recorded):
        with node.writer.transaction():
            state = node.create_dossier("canbo", sample_dossier(name="Kill early"))
            ack({"refs": list(recorded), "marker": "Kill early", "dossier": state.id})

    monkeypatch.setitem(harness.SCRIPT, "commune", answers_too_early)
    commune = templates[1]
    data_dir = commune.copy_to(tmp_path / "early")
    # steps: appended, projected, the inner before_commit and committed, then the outer before_commit
    acks, killed = harness.run_child(commune, data_dir, kill_at=5)
    counts = harness.Counts()
    harness.check(commune, data_dir, [a for a in acks if "refs" in a], counts)
    assert killed and acks[-1] == {"killed_at": "before_commit"}
    assert counts.lost == 2  # the event and the dossier
