"""Hybrid logical clock: monotonic, close to wall time, not poisoned by a clock from 2099."""

from __future__ import annotations

from sync.clock import LOGICAL_MAX, HybridClock, pack, physical_ms, unpack

MINUTE = 60_000


def test_ticks_increase_even_when_the_wall_clock_goes_back():
    c = HybridClock()
    a = c.tick(1_000_000)
    b = c.tick(999_000)  # NTP correction or a dead CMOS battery
    d = c.tick(999_000)
    assert a < b < d
    assert physical_ms(d) == 1_000_000


def test_tick_follows_wall_time_when_it_moves_forward():
    c = HybridClock()
    c.tick(1_000)
    assert c.tick(2_000) == pack(2_000, 0)


def test_logical_overflow_borrows_the_next_millisecond():
    c = HybridClock(last=pack(5_000, LOGICAL_MAX))
    assert unpack(c.tick(5_000)) == (5_001, 0)


def test_observe_adopts_a_slightly_later_remote_stamp():
    c = HybridClock(max_forward_skew_ms=5 * MINUTE)
    obs = c.observe(pack(1_000_000 + MINUTE, 3), now_ms=1_000_000)
    assert not obs.clamped
    assert c.tick(1_000_000) > pack(1_000_000 + MINUTE, 3)


def test_observe_clamps_a_stamp_from_the_far_future():
    c = HybridClock(max_forward_skew_ms=5 * MINUTE)
    now = 1_779_000_000_000
    year_2099 = 4_070_908_800_000
    obs = c.observe(pack(year_2099), now_ms=now)
    assert obs.clamped
    assert obs.ahead_ms == year_2099 - now
    assert physical_ms(c.tick(now)) <= now + 5 * MINUTE


def test_observe_of_an_older_stamp_changes_nothing():
    c = HybridClock()
    t = c.tick(10_000)
    c.observe(pack(5_000), now_ms=10_000)
    assert c.last == t
