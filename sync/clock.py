"""Hybrid logical clock with a bounded forward skew (pure core: stdlib only).

An HLC stamp is one integer: ``physical_ms << 16 | logical``. Stamps order events across nodes
even when PC clocks are wrong, and stay close to physical time when clocks are right
(Kulkarni et al., 2014).

Invariants
----------
* :meth:`HybridClock.tick` returns strictly increasing stamps on one node, whatever the wall
  clock does (it may jump backwards after an NTP fix or a dead CMOS battery).
* A received stamp may move the local clock forward by at most ``max_forward_skew_ms`` beyond
  the local wall time. One node whose clock says 2099 must not drag every peer into 2099
  (reliability.md §0.3); the event itself is still accepted, because causality is carried by
  ``parents`` and never by stamps, but its time is not adopted. :meth:`observe` reports how far
  ahead the remote stamp was so node health can show the offender.
* The wall time is always passed in (``now_ms``); nothing here reads a clock.
"""

from __future__ import annotations

from dataclasses import dataclass

LOGICAL_BITS = 16
LOGICAL_MAX = (1 << LOGICAL_BITS) - 1
DEFAULT_MAX_FORWARD_SKEW_MS = 5 * 60 * 1000


def pack(physical_ms: int, logical: int = 0) -> int:
    return (physical_ms << LOGICAL_BITS) | logical


def unpack(stamp: int) -> tuple[int, int]:
    return stamp >> LOGICAL_BITS, stamp & LOGICAL_MAX


def physical_ms(stamp: int) -> int:
    return stamp >> LOGICAL_BITS


@dataclass(frozen=True, slots=True)
class Observation:
    """What :meth:`HybridClock.observe` did with a remote stamp."""

    stamp: int  # the local clock after the observation
    ahead_ms: int  # how far the remote physical time was ahead of our wall time (<= 0 if behind)
    clamped: bool  # True if the remote stamp was too far ahead to be adopted


class HybridClock:
    """A per-node HLC; not thread-safe (callers hold the node's write lock)."""

    def __init__(self, last: int = 0, max_forward_skew_ms: int = DEFAULT_MAX_FORWARD_SKEW_MS) -> None:
        self.last = last
        self.max_forward_skew_ms = max_forward_skew_ms

    def tick(self, now_ms: int) -> int:
        """Stamp for a new local event."""
        last_phys, last_log = unpack(self.last)
        if now_ms > last_phys:
            self.last = pack(now_ms, 0)
        elif last_log < LOGICAL_MAX:
            self.last = pack(last_phys, last_log + 1)
        else:
            # 65,536 events in one millisecond of a stuck clock: borrow the next millisecond
            # rather than wrap, so stamps stay strictly increasing.
            self.last = pack(last_phys + 1, 0)
        return self.last

    def observe(self, remote: int, now_ms: int) -> Observation:
        """Merge a received stamp into the local clock, within the skew bound."""
        remote_phys, _ = unpack(remote)
        ahead = remote_phys - now_ms
        bound = pack(now_ms + self.max_forward_skew_ms, 0)
        clamped = remote > bound
        candidate = min(remote, bound)
        if candidate > self.last:
            self.last = candidate
        return Observation(stamp=self.last, ahead_ms=ahead, clamped=clamped)
