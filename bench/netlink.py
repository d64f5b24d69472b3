"""One proxied connection of :class:`bench.netproxy.LatencyProxy`: the fault settings, a delay line per
direction and the four threads that pump it (read and write, each way).

The latency model, the faults and the invariants are those of :mod:`bench.netproxy`: every chunk
is delivered ``rtt_ms / 2`` after it was read, each direction buffers at most
``max_buffer_bytes``, and a torn-down connection wakes and ends all its threads without polling.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

Direction = Literal["c2s", "s2c"]
_Loop = Callable[[Direction, socket.socket, socket.socket], None]

_CHUNK = 65536
# Linger on, timeout 0: close() sends RST and drops unsent data, which is what a cut link does.
_LINGER_RST = struct.pack("ii", 1, 0)


@dataclass(frozen=True)
class Faults:
    """The link's behaviour; replaced as a whole so readers never see half an update."""

    rtt_ms: float = 300.0
    bandwidth_bps: float | None = None
    emulate_handshake: bool = False
    cut_after_bytes: int | None = None
    cut_direction: Direction = "s2c"
    cut_connection: int | None = None
    drop_connections: bool | int = False

    def __post_init__(self) -> None:
        if self.rtt_ms < 0:
            raise ValueError(f"rtt_ms must be >= 0, got {self.rtt_ms}")
        if self.bandwidth_bps is not None and self.bandwidth_bps <= 0:
            raise ValueError(f"bandwidth_bps must be > 0 or None, got {self.bandwidth_bps}")
        if self.cut_after_bytes is not None and self.cut_after_bytes < 0:
            raise ValueError(f"cut_after_bytes must be >= 0 or None, got {self.cut_after_bytes}")
        if self.cut_direction not in ("c2s", "s2c"):
            raise ValueError(f"cut_direction must be 'c2s' or 's2c', got {self.cut_direction!r}")
        if self.cut_connection is not None and self.cut_connection < 1:
            raise ValueError(f"cut_connection is 1-based, got {self.cut_connection}")
        if not isinstance(self.drop_connections, bool) and self.drop_connections < 0:
            raise ValueError(f"drop_connections must be a bool or a count >= 0, got {self.drop_connections}")


class LinkOwner(Protocol):
    """What a :class:`Connection` needs of the proxy that accepted it (:class:`bench.netproxy.LatencyProxy`)."""

    faults: Faults
    io_timeout_s: float
    idle_timeout_s: float
    max_buffer_bytes: int

    @property
    def port(self) -> int: ...

    def record_bytes(self, direction: Direction, n: int) -> None: ...

    def record_cut(self) -> None: ...

    def forget(self, conn: Connection) -> None: ...


class DelayLine:
    """A FIFO of ``(deliver_at, data)`` for one direction; ``b""`` marks end of stream.

    Bounded by bytes so a fast sender cannot make the proxy hoard memory; ``close`` wakes every
    waiter, which is how a torn-down connection stops its threads without polling.
    """

    def __init__(self, max_bytes: int) -> None:
        self._items: deque[tuple[float, bytes]] = deque()
        self._bytes = 0
        self._max = max_bytes
        self._cond = threading.Condition()
        self._closed = False

    def put(self, deliver_at: float, data: bytes, timeout_s: float) -> bool:
        """Queue data; False if closed or no room within ``timeout_s`` (the far side is stuck)."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._closed or self._bytes < self._max, timeout=timeout_s)
            if self._closed or not ok:
                return False
            self._items.append((deliver_at, data))
            self._bytes += len(data)
            self._cond.notify_all()
            return True

    def get(self, timeout_s: float) -> bytes | None:
        """The next chunk once its delivery time has come; None if closed or idle for ``timeout_s``."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._closed or self._items, timeout=timeout_s):
                return None
            while not self._closed:
                deliver_at, data = self._items[0]
                delay = deliver_at - time.monotonic()
                if delay <= 0:
                    self._items.popleft()
                    self._bytes -= len(data)
                    self._cond.notify_all()
                    return data
                # Woken early only by close(); new items never come before this one.
                self._cond.wait(timeout=delay)
            return None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()


class Connection:
    """One proxied client connection: two directions, each a reader thread and a writer thread."""

    def __init__(
        self,
        proxy: LinkOwner,
        index: int,
        client: socket.socket,
        upstream: socket.socket,
        faults: Faults,
        cut_here: bool,
    ) -> None:
        self.proxy = proxy
        self.index = index
        self.client = client
        self.upstream = upstream
        self.accepted_at = time.monotonic()
        self.last_activity = self.accepted_at
        self.faults = faults  # fault settings as of accept time
        self.cut_here = cut_here
        self._lock = threading.Lock()
        self._aborted = False
        self._threads_left = 4
        self._lines = {d: DelayLine(proxy.max_buffer_bytes) for d in ("c2s", "s2c")}
        self._delivered = {"c2s": 0, "s2c": 0}
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for direction, src, dst in (("c2s", self.client, self.upstream), ("s2c", self.upstream, self.client)):
            for target, role in ((self._read_loop, "read"), (self._write_loop, "write")):
                t = threading.Thread(
                    target=self._run,
                    args=(target, direction, src, dst),
                    name=f"netproxy-{self.proxy.port}-c{self.index}-{direction}-{role}",
                    daemon=True,
                )
                self.threads.append(t)
        for t in self.threads:
            t.start()

    def _run(self, target: _Loop, direction: Direction, src: socket.socket, dst: socket.socket) -> None:
        # No exception may escape a thread (the test suite turns unhandled thread exceptions
        # into errors), and the last thread out owns closing the sockets.
        try:
            target(direction, src, dst)
        except Exception:
            self.abort()
        finally:
            with self._lock:
                self._threads_left -= 1
                last = self._threads_left == 0
            if last:
                self._close_sockets()

    def _read_loop(self, direction: Direction, src: socket.socket, dst: socket.socket) -> None:
        line = self._lines[direction]
        link_free_at = 0.0
        first = True
        while True:
            faults = self.proxy.faults  # rtt and bandwidth apply live
            chunk = _CHUNK
            if faults.bandwidth_bps:
                # About 20 ms of transfer per chunk, so pacing stays smooth at low rates.
                chunk = int(min(_CHUNK, max(512, faults.bandwidth_bps / 8 / 50)))
            try:
                data = src.recv(chunk)
            except TimeoutError:
                if time.monotonic() - self.last_activity < self.proxy.idle_timeout_s:
                    continue  # the other direction is busy; this one is merely quiet
                self.abort()
                return
            except OSError:
                self.abort()
                return
            now = time.monotonic()
            self.last_activity = now
            one_way = faults.rtt_ms / 2000.0
            sent_at = now
            if first and direction == "c2s" and self.faults.emulate_handshake:
                # The client could not have sent before SYN, SYN-ACK completed: one rtt.
                sent_at = max(now, self.accepted_at + faults.rtt_ms / 1000.0)
            first = False
            if faults.bandwidth_bps and data:
                link_free_at = max(sent_at, link_free_at) + len(data) * 8 / faults.bandwidth_bps
                sent_at = link_free_at
            if not line.put(sent_at + one_way, data, timeout_s=self.proxy.io_timeout_s):
                self.abort()
                return
            if not data:
                return  # EOF queued; the writer forwards it as a half-close

    def _write_loop(self, direction: Direction, src: socket.socket, dst: socket.socket) -> None:
        line = self._lines[direction]
        cut = self.cut_here and self.faults.cut_direction == direction
        limit = self.faults.cut_after_bytes if cut else None
        while True:
            data = line.get(timeout_s=self.proxy.idle_timeout_s)
            if data is None:
                if not self._aborted and time.monotonic() - self.last_activity >= self.proxy.idle_timeout_s:
                    self.abort()
                if self._aborted:
                    return
                continue
            if not data:
                # Half-close: the sender finished; tell the far side, keep the other way open.
                with contextlib.suppress(OSError):
                    dst.shutdown(socket.SHUT_WR)
                return
            if limit is not None and self._delivered[direction] + len(data) >= limit:
                part = data[: limit - self._delivered[direction]]
                if part:
                    dst.sendall(part)
                    self._count(direction, len(part))
                self.proxy.record_cut()
                self.abort()
                return
            dst.sendall(data)
            self._count(direction, len(data))
            self.last_activity = time.monotonic()

    def _count(self, direction: Direction, n: int) -> None:
        self._delivered[direction] += n
        self.proxy.record_bytes(direction, n)

    def abort(self) -> None:
        """Tear the connection down with RST on both sides; wakes every thread of it."""
        with self._lock:
            if self._aborted:
                return
            self._aborted = True
        for line in self._lines.values():
            line.close()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            # SHUT_RD wakes a thread blocked in recv without sending anything; the RST goes
            # out when the last thread closes the socket.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RD)

    def force_wake(self) -> None:
        """Last resort at proxy shutdown: also wake a writer stuck in send to a peer that stopped reading."""
        self.abort()
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def _close_sockets(self) -> None:
        for sock in (self.client, self.upstream):
            with contextlib.suppress(OSError):
                sock.close()
        self.proxy.forget(self)


def reset_socket(sock: socket.socket) -> None:
    """Close with RST: the peer's next read or write fails at once."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    with contextlib.suppress(OSError):
        sock.close()
