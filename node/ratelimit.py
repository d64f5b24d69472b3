"""Per-address rate limits held in memory (stdlib only; the clock is passed in).

:class:`RateLimiter` is the generic cell rate algorithm: each key may spend :attr:`burst` units
at once, then one per :attr:`interval_ms`; the state per key is a single instant (the
"theoretical arrival time"), so a key that has waited long enough is the same as a key never
seen and can be forgotten. Callers decide what costs a unit (the public lookup charges misses
only, so citizens behind one shared address who type their code right are never slowed).

Invariants
----------
- Thread-safe (one lock; the work under it is a dict lookup).
- Bounded: at most ``max_keys`` keys are remembered. Keys whose debt is paid are dropped first,
  then those closest to paying it, so a flood of fresh addresses cannot grow memory, and the
  keys dropped are the ones least limited anyway.
- In memory on purpose: a limit that resets when the node restarts costs an attacker a restart
  they cannot cause, and writing every refused request to the database would hand them a way to
  fill the disk. Each process keeps its own: one on SQLite; a hub on PostgreSQL with several
  worker processes (:mod:`node.wsgi`) allows up to that many times the burst to one address.
- :func:`address_key`: IPv6 clients are limited per /64 (one subscriber's network, which can
  hold billions of addresses), IPv4 clients per address.
"""

from __future__ import annotations

import ipaddress
import threading


class RateLimiter:
    def __init__(self, burst: int, interval_ms: int, max_keys: int = 10_000) -> None:
        if burst < 1 or interval_ms < 1 or max_keys < 1:
            raise ValueError("burst, interval and max_keys must be positive")
        self.burst = burst
        self.interval_ms = interval_ms
        self.max_keys = max_keys
        self._due: dict[str, int] = {}
        self._lock = threading.Lock()

    def retry_after_ms(self, key: str, now: int) -> int:
        """0 if ``key`` may spend a unit now, else how long until it may."""
        with self._lock:
            due = self._due.get(key, now)
        return max(0, due - now - (self.burst - 1) * self.interval_ms)

    def spend(self, key: str, now: int) -> None:
        """Charge ``key`` one unit (also when it is over its limit: debt keeps growing)."""
        with self._lock:
            self._due[key] = max(self._due.get(key, now), now) + self.interval_ms
            if len(self._due) > self.max_keys:
                self._forget(now)

    def _forget(self, now: int) -> None:
        for key in [k for k, due in self._due.items() if due <= now]:
            del self._due[key]
        if len(self._due) > self.max_keys:
            keep = sorted(self._due.items(), key=lambda item: item[1])[-(self.max_keys // 2):]
            self._due = dict(keep)

    def __len__(self) -> int:
        return len(self._due)


def address_key(ip: str) -> str:
    """The unit a client address is limited by (see the module docstring)."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ip
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d, an IPv4 client of a dual-stack socket
            return str(address.ipv4_mapped)
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)
