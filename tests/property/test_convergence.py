"""Convergence: random edits on 3–5 replicas, random partial syncs, then a full sync.

One replica is a rogue commune of another unit (its bodies claim the district role), so many
events fail authority: edits of its own dossiers by the others, its edits and resolutions of
theirs. Every replica must end with the same derived-state digest, the same conflict set and the
same authority violations, and hold every event made anywhere, once. 200 examples by default;
``-m slow`` runs 5,000.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from tests.property.replicas import Replica, full_sync, share_authority, sync_pair

FIELDS = ("applicant.phone", "applicant.address", "note")


class Replicas(RuleBasedStateMachine):
    @initialize(n=st.integers(min_value=3, max_value=5))
    def make(self, n: int) -> None:
        # replica 0 is the district hub; then commune desks of one unit; the last is the rogue
        self.replicas = [Replica(0, "district", "40")] + [Replica(i, "commune", "17272") for i in range(1, n - 1)]
        self.replicas.append(Replica(n - 1, "commune", "17278", rogue=True))
        share_authority(self.replicas)
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

    @rule(i=st.integers(0, 4), pick=st.integers(0, 50), keep_loser=st.booleans(), n=st.integers(1, 3),
          what=st.sampled_from(["resolve", "assign", "rogue"]))
    def overreach(self, i: int, pick: int, keep_loser: bool, n: int, what: str) -> None:
        """What the use cases would refuse: a resolution by an office not owning the stage, a
        final code from a node that did not receive the dossier, the rogue's edits of others'."""
        r = self.replicas[-1] if what == "rogue" else self.replicas[i % len(self.replicas)]
        entity = self._entity(r, pick)
        if what == "resolve":
            self._record(r.resolve(pick, keep_loser, force=True))
        elif entity and what == "assign":
            self._record(r.assign_code(entity, n))
        elif what == "rogue":
            known = sorted({e.entity for other in self.replicas for e in other.events()} - set(r.by_entity()))
            if known and keep_loser:  # a dossier id learnt elsewhere, edited without holding it
                self._record(r.blind_edit(known[pick % len(known)], n))
            elif entity:
                self._record(r.transition(entity, pick, "40" if n == 1 else ""))

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
        results = [r.digest() for r in self.replicas]
        assert len({d for d, _, _ in results}) == 1, "replicas diverged after a full sync"
        assert len({tuple(c) for _, c, _ in results}) == 1, "replicas disagree on conflicts"
        assert len({tuple(v) for _, _, v in results}) == 1, "replicas disagree on authority violations"
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
