"""What the sync endpoint remembers of callers it refused before they were authenticated.

A request that fails before its signature verified with a key this node trusts proved nothing
about who sent it, so it is never recorded as the node it claims to be: no sync-log line, no
node-health row under that id (an attacker could otherwise fill the district console with
failures "of" a commune, or hide its own traffic among them). What is kept instead is per
client *address*: refusals by code, a few of the node ids it claimed (labelled as claims),
first and last time, in memory, for at most :data:`MAX_ADDRESSES` addresses.

Rate limit: an address refused ``limit`` times within ``window_ms`` is *throttled*
until that window ends. A throttled address gets ``429 throttled`` before its body is read or
any key is looked at, except for requests naming a node this node already knows: those still
get the ordinary check (one key lookup, one signature over the body's digest), so a commune
office sharing a NAT address with an attacker on the public Wi-Fi is never locked out by it.

The admin's trace is the server log (``motcua.sync``): one line for the first refusal of an
address in each window and one when throttling starts, never one per request, so a flood does
not flood the log; :meth:`RefusalGate.snapshot` gives the counters to a console.

Time is passed in (``wall_ms``), so tests need no sleeps.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("motcua.sync")

MAX_ADDRESSES = 4096
MAX_CLAIMS_KEPT = 5
DEFAULT_LIMIT = 20  # refusals per window before an address is throttled
DEFAULT_WINDOW_MS = 60_000


@dataclass
class AddressRecord:
    window_start: int
    first_at: int
    last_at: int = 0
    refused: int = 0  # in the current window
    total: int = 0  # since this node started (or the address was last evicted)
    codes: Counter = field(default_factory=Counter)
    claimed: list[str] = field(default_factory=list)
    throttle_logged: bool = False


class RefusalGate:
    def __init__(self, wall_ms: Callable[[], int], limit: int = DEFAULT_LIMIT,
                 window_ms: int = DEFAULT_WINDOW_MS) -> None:
        self.wall_ms = wall_ms
        self.limit = limit
        self.window_ms = window_ms
        self._lock = threading.Lock()
        self._by_address: OrderedDict[str, AddressRecord] = OrderedDict()

    def _current(self, address: str, now: int) -> AddressRecord | None:
        record = self._by_address.get(address)
        if record is not None and now - record.window_start >= self.window_ms:
            record.window_start, record.refused, record.throttle_logged = now, 0, False
        return record

    def throttled_for(self, address: str) -> int:
        """Milliseconds until ``address`` may be heard again; 0 if it is not throttled."""
        now = self.wall_ms()
        with self._lock:
            record = self._current(address, now)
            if record is None or record.refused < self.limit:
                return 0
            return max(1, record.window_start + self.window_ms - now)

    def refused(self, address: str, code: str, claimed: str, reason: str) -> None:
        """Count one refusal of an unauthenticated request from ``address``."""
        now = self.wall_ms()
        with self._lock:
            record = self._current(address, now)
            if record is None:
                record = AddressRecord(window_start=now, first_at=now)
                self._by_address[address] = record
                while len(self._by_address) > MAX_ADDRESSES:
                    self._by_address.popitem(last=False)  # the address refused longest ago
            self._by_address.move_to_end(address)
            record.refused += 1
            record.total += 1
            record.last_at = now
            record.codes[code] += 1
            if claimed and claimed not in record.claimed:
                record.claimed = [*record.claimed, claimed][-MAX_CLAIMS_KEPT:]
            first, throttling = record.refused == 1, record.refused == self.limit and not record.throttle_logged
            if throttling:
                record.throttle_logged = True
            codes = ", ".join(f"{c} {n}" for c, n in record.codes.most_common())
            seconds = max(1, (record.window_start + self.window_ms - now) // 1000)
        claim = f"claiming node {claimed} (not verified)" if claimed else "naming no node"
        if first:
            log.warning("sync: refused a request from %s %s: %s: %s", address, claim, code, reason)
        if throttling:
            log.warning("sync: throttling %s for %d s after %d refused requests (%s)", address, seconds,
                        self.limit, codes)

    def snapshot(self) -> list[dict[str, Any]]:
        """Counters per address, most recent first (for a console or a test)."""
        with self._lock:
            return [
                {"address": a, "refused_in_window": r.refused, "total": r.total, "codes": dict(r.codes),
                 "claimed": list(r.claimed), "first_at": r.first_at, "last_at": r.last_at}
                for a, r in reversed(self._by_address.items())
            ]
