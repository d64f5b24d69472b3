"""Convergence: random edits on 3–5 replicas, random partial syncs, then a full sync.

Every replica must end with the same derived-state digest and the same conflict set, and hold
every event made anywhere, once. 200 examples by default; ``-m slow`` runs 5,000.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.property.replicas import Replica, full_sync, sync_pair

FIELDS = ("applicant.phone", "applicant.address", "note")


class Replicas(RuleBasedStateMachine):
    @initialize(n=st.integers(min_value=3, max_value=5))
    def make(self, n: int) -> None:
        # replica 0 is the district hub; the others are commune desks and laptops of one unit
        self.replicas = [Replica(0, "district", "40")] + [Replica(i, "commune", "17272") for i in range(1, n)]
        self.made: set[str] = set()

    def _record(self, event) -> None:
        if event is not None:
            self.made.add(event.ref)

    def _entity(self, r: Replica, pick: int) -> str | None:
        entities = sorted(r.by_entity())
        return entities[pick % len(entities)] if entities else None

    @rule(i=st.integers(0, 4), applicant=st.integers(0, 6), procedure=st.integers(0, 2))
    def create(self, i: int, applicant: int, procedure: int) -> None:
        r = self.replicas[i % len(self.replicas)]
        self._record(r.create(applicant, procedure))

    @rule(i=st.integers(0, 4), pick=st.integers(0, 50), choice=st.integers(0, 10), transfer=st.booleans())
    def transition(self, i: int, pick: int, choice: int, transfer: bool) -> None:
        r = self.replicas[i % len(self.replicas)]
        entity = self._entity(r, pick)
        if entity:
            self._record(r.transition(entity, choice, "40" if transfer else ""))

    @rule(i=st.integers(0, 4), pick=st.integers(0, 50), field=st.sampled_from(FIELDS), value=st.sampled_from("abc"))
    def update(self, i: int, pick: int, field: str, value: str) -> None:
        r = self.replicas[i % len(self.replicas)]
        entity = self._entity(r, pick)
        if entity:
            self._record(r.update(entity, field, value))

    @rule(i=st.integers(0, 4), pick=st.integers(0, 20), keep_loser=st.booleans())
    def resolve(self, i: int, pick: int, keep_loser: bool) -> None:
        self._record(self.replicas[i % len(self.replicas)].resolve(pick, keep_loser))

    @rule(a=st.integers(0, 4), b=st.integers(0, 4), fraction=st.sampled_from([0.3, 0.5, 1.0]))
    def partial_sync(self, a: int, b: int, fraction: float) -> None:
        source, target = self.replicas[a % len(self.replicas)], self.replicas[b % len(self.replicas)]
        if source is not target:
            sync_pair(source, target, fraction)

    @invariant()
    def nothing_is_lost_locally(self) -> None:
        held = set().union(*({e.ref for e in r.events()} for r in self.replicas)) if self.replicas else set()
        assert self.made <= held

    def teardown(self) -> None:
        if not getattr(self, "replicas", None):
            return
        full_sync(self.replicas)
        digests = {r.digest()[0] for r in self.replicas}
        conflict_sets = {tuple(r.digest()[1]) for r in self.replicas}
        assert len(digests) == 1, "replicas diverged after a full sync"
        assert len(conflict_sets) == 1, "replicas disagree on conflicts"
        for r in self.replicas:
            refs = [e.ref for e in r.events()]
            assert len(refs) == len(set(refs)), "an event is held twice"
            assert set(refs) == self.made, "an event was lost"


TestConvergence = Replicas.TestCase
TestConvergence.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


@pytest.mark.slow
def test_convergence_extended():
    """The extended run: 5,000 examples (``pytest -m slow``)."""
    run_state_machine_as_test(
        Replicas,
        settings=settings(max_examples=5000, stateful_step_count=50, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow]),
    )
