"""Causality between the events of one entity, from their ``parents`` only (pure core).

Wall clocks never decide concurrency: ``a`` happened before ``b`` exactly when ``a`` is reachable
from ``b`` through ``parents``; two events neither of which reaches the other are concurrent.
Parents a replica does not hold (partial replication, events still in transit) are ignored,
so the answer is always about the events present — and two replicas holding the same events
give the same answers.

:func:`linearise` produces the one order every replica folds an entity in: parents first, and
among the events that are ready at the same point, the smallest by a caller-given key, which
may depend on the state folded so far (the authority rule of the dossier workflow does).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from typing import Any, Protocol


class Causal(Protocol):
    ref: str
    parents: tuple[str, ...]


class CausalGraph:
    def __init__(self, events: Iterable[Any]) -> None:
        self.by_ref: dict[str, Any] = {e.ref: e for e in events}
        self.parents: dict[str, tuple[str, ...]] = {
            ref: tuple(p for p in e.parents if p in self.by_ref) for ref, e in self.by_ref.items()
        }
        self._ancestors: dict[str, frozenset[str]] = {}

    def ancestors(self, ref: str) -> frozenset[str]:
        """Every event ``ref`` causally follows (not including itself)."""
        cached = self._ancestors.get(ref)
        if cached is not None:
            return cached
        # iterative DFS: histories can be long, recursion depth must not depend on them
        stack, seen = list(self.parents.get(ref, ())), set()
        while stack:
            p = stack.pop()
            if p in seen:
                continue
            seen.add(p)
            if p in self._ancestors:
                seen |= self._ancestors[p]
                continue
            stack.extend(self.parents.get(p, ()))
        result = frozenset(seen)
        self._ancestors[ref] = result
        return result

    def happened_before(self, a: str, b: str) -> bool:
        return a in self.ancestors(b)

    def concurrent(self, a: str, b: str) -> bool:
        return a != b and not self.happened_before(a, b) and not self.happened_before(b, a)

    def heads(self) -> tuple[str, ...]:
        superseded = {p for ps in self.parents.values() for p in ps}
        return tuple(sorted(set(self.by_ref) - superseded))


def linearise(graph: CausalGraph, key: Callable[[Any], tuple[Any, ...]]) -> Iterable[Any]:
    """Yield events parents-first; among ready events the smallest ``key`` (read when chosen).

    ``key`` is evaluated lazily at each step so it may depend on what was yielded before.
    A parent cycle (only forged data can make one) is broken by the same key, so the order
    stays total and deterministic.
    """
    waiting = {ref: set(ps) for ref, ps in graph.parents.items()}
    children: dict[str, list[str]] = {ref: [] for ref in graph.by_ref}
    for ref, ps in waiting.items():
        for p in ps:
            children[p].append(ref)
    ready = {ref for ref, ps in waiting.items() if not ps}
    done: set[str] = set()
    while len(done) < len(graph.by_ref):
        if not ready:  # cycle: take the smallest remaining
            ready = {min((r for r in graph.by_ref if r not in done), key=lambda r: key(graph.by_ref[r]))}
        ref = min(ready, key=lambda r: key(graph.by_ref[r]))
        ready.discard(ref)
        done.add(ref)
        yield graph.by_ref[ref]
        for child in children[ref]:
            waiting[child].discard(ref)
            if not waiting[child] and child not in done:
                ready.add(child)


def conflict_id(*refs: str) -> str:
    """A stable id for a conflict between events: the same on every replica."""
    return hashlib.sha256("\n".join(sorted(refs)).encode()).hexdigest()[:20]
