"""The in-memory per-address limiter (node.ratelimit)."""

from __future__ import annotations

import pytest

from node.ratelimit import RateLimiter, address_key


def test_a_burst_then_one_per_interval():
    limit = RateLimiter(burst=3, interval_ms=1000)
    for _ in range(3):
        assert limit.retry_after_ms("a", 0) == 0
        limit.spend("a", 0)
    assert limit.retry_after_ms("a", 0) == 1000
    assert limit.retry_after_ms("b", 0) == 0  # another key is not affected
    assert limit.retry_after_ms("a", 999) == 1
    assert limit.retry_after_ms("a", 1000) == 0
    limit.spend("a", 1000)
    assert limit.retry_after_ms("a", 1000) == 1000
    assert limit.retry_after_ms("a", 10_000) == 0  # a long wait pays the whole debt


def test_memory_is_bounded_and_paid_up_keys_go_first():
    limit = RateLimiter(burst=2, interval_ms=1000, max_keys=100)
    limit.spend("old", 0)
    for i in range(1000):
        limit.spend(f"k{i}", 5000)
    assert len(limit) <= 100
    assert limit.retry_after_ms("k999", 5000) == 0 and limit._due.get("k999") is not None


def test_bad_parameters_are_refused():
    with pytest.raises(ValueError):
        RateLimiter(0, 1)


def test_addresses_are_grouped_as_one_subscriber_holds_them():
    assert address_key("192.0.2.7") == "192.0.2.7"
    assert address_key("2001:db8:1:2:aaaa::1") == address_key("2001:db8:1:2:ffff::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:3::1") != address_key("2001:db8:1:2::1")
    assert address_key("::ffff:192.0.2.7") == "192.0.2.7"
    assert address_key("-") == "-"
