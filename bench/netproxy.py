"""A userspace TCP proxy for loopback benchmarks and sync fault tests: latency, bandwidth, cuts.

Responsibility: sit between a client and a server on this machine and make the link between
them look like a slow, unreliable one (the machine's ``tc`` has no ``netem``), counting what
crosses it.

Latency model (a fixed delay line in each direction):
    every chunk read from one side is written to the other side ``rtt_ms / 2`` after it was
    read. So the first bytes of each client->server burst arrive rtt/2 late, the first bytes
    of the server's answer another rtt/2 later, and a request/response exchange pays one
    ``rtt_ms``, as on a real link; the rest of a burst follows its first bytes back to back,
    so bursts keep their shape and pipelined exchanges overlap as they would on a real link.
    With ``emulate_handshake=True`` the first client bytes of each connection also wait one
    extra rtt (TCP's SYN/SYN-ACK before data). TCP slow start, loss and jitter are not modelled.

Bandwidth (``bandwidth_bps``, off by default): each direction is a separate link of that many
bits per second; a chunk leaves when the link has finished the chunks before it
(serialisation delay), then travels rtt/2.

Faults:
    ``cut_after_bytes`` K in ``cut_direction`` (``"c2s"`` or ``"s2c"``): once K bytes were
    delivered that way, both sides are reset (RST, not FIN), as when a link dies mid-transfer;
    applies to the ``cut_connection``-th accepted connection (1-based), or to every connection
    when ``cut_connection`` is None. ``drop_connections``: True resets every new connection
    right after accepting it; an int k resets the next k. (A real refusal would need the
    listening port closed, which would free it for someone else; an immediate reset looks the
    same to a client: its first request fails.)

Invariants:
    - Loopback only: the target and the listening address must be loopback addresses
      (127.0.0.0/8, ::1, or "localhost"); anything else raises :class:`NonLoopbackAddress`
      before any socket is opened.
    - Bounded: every socket has a timeout, all threads are daemons and are joined (with a
      deadline) by :meth:`LatencyProxy.close`; each direction buffers at most
      ``max_buffer_bytes`` before it stops reading (TCP back-pressure then reaches the sender).
    - Nothing sleeps on a fixed interval: waits end at the next delivery time or when the
      connection is torn down.
    - Counters count bytes *delivered* to the far side, so after a cut at K they show K.
    - Fault settings changed with :meth:`LatencyProxy.configure` apply to connections accepted
      afterwards; ``rtt_ms`` and ``bandwidth_bps`` apply at once to every chunk read afterwards.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import socket
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Literal, Self

Direction = Literal["c2s", "s2c"]
_Loop = Callable[[Direction, socket.socket, socket.socket], None]

_CHUNK = 65536
# Linger on, timeout 0: close() sends RST and drops unsent data, which is what a cut link does.
_LINGER_RST = struct.pack("ii", 1, 0)


class NonLoopbackAddress(ValueError):
    """A target or listening address outside the loopback range: this proxy never leaves the machine."""


def loopback_address(host: str) -> str:
    """Return ``host`` as a loopback IP literal, or raise :class:`NonLoopbackAddress`.

    Host names other than "localhost" are refused without being resolved: resolving could
    reach a DNS server, and a name's address may change between the check and the connect.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise NonLoopbackAddress(
            f"{host!r} is not a loopback IP address (only 127.0.0.0/8, ::1, localhost)"
        ) from None
    if not ip.is_loopback:
        raise NonLoopbackAddress(
            f"{host!r} is not a loopback address: this proxy only connects within the machine"
        )
    return str(ip)


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


@dataclass(frozen=True)
class ProxyStats:
    """Counters since start (or the last :meth:`LatencyProxy.reset_stats`)."""

    connections: int = 0  # accepted, including dropped ones
    connections_dropped: int = 0
    connections_cut: int = 0
    connections_active: int = 0
    upstream_failures: int = 0  # accepted, but the target refused or timed out
    bytes_c2s: int = 0  # delivered to the server
    bytes_s2c: int = 0  # delivered to the client


class _DelayLine:
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


class _Connection:
    """One proxied client connection: two directions, each a reader thread and a writer thread."""

    def __init__(
        self,
        proxy: LatencyProxy,
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
        self._lines = {d: _DelayLine(proxy.max_buffer_bytes) for d in ("c2s", "s2c")}
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
                self.proxy._count_cut()
                self.abort()
                return
            dst.sendall(data)
            self._count(direction, len(data))
            self.last_activity = time.monotonic()

    def _count(self, direction: Direction, n: int) -> None:
        self._delivered[direction] += n
        self.proxy._count_bytes(direction, n)

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
        self.proxy._forget(self)


class LatencyProxy:
    """Forward ``listen_host:port`` to ``target_host:target_port`` through an emulated link.

    Use as a context manager; ``.port`` is the listening port (chosen by the OS when
    ``listen_port`` is 0)::

        with LatencyProxy("127.0.0.1", server_port, rtt_ms=300) as proxy:
            requests.get(f"http://127.0.0.1:{proxy.port}/")

    See the module docstring for the latency model and the faults.
    """

    def __init__(
        self,
        target_host: str,
        target_port: int,
        rtt_ms: float = 300.0,
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        *,
        bandwidth_bps: float | None = None,
        emulate_handshake: bool = False,
        cut_after_bytes: int | None = None,
        cut_direction: Direction = "s2c",
        cut_connection: int | None = None,
        drop_connections: bool | int = False,
        connect_timeout_s: float = 5.0,
        io_timeout_s: float = 30.0,
        idle_timeout_s: float = 300.0,
        max_buffer_bytes: int = 64 * 1024 * 1024,
    ) -> None:
        # Validate before any socket exists: a refused address must never be contacted.
        self.target_host = loopback_address(target_host)
        self.listen_host = loopback_address(listen_host)
        if not 0 < target_port < 65536:
            raise ValueError(f"target_port out of range: {target_port}")
        self.target_port = target_port
        self._listen_port = listen_port
        self.faults = Faults(
            rtt_ms=rtt_ms,
            bandwidth_bps=bandwidth_bps,
            emulate_handshake=emulate_handshake,
            cut_after_bytes=cut_after_bytes,
            cut_direction=cut_direction,
            cut_connection=cut_connection,
            drop_connections=drop_connections,
        )
        self.connect_timeout_s = connect_timeout_s
        self.io_timeout_s = io_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.max_buffer_bytes = max_buffer_bytes
        self._lock = threading.Lock()
        # Plain counters under _lock; stats() builds the frozen snapshot.
        self._n_total = 0  # accepted since start: indexes for cut_connection
        self._n_base = 0  # _n_total at the last reset_stats()
        self._n_dropped = 0
        self._n_cut = 0
        self._n_upstream_failures = 0
        self._bytes = {"c2s": 0, "s2c": 0}
        self._conns: set[_Connection] = set()
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._port: int | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("LatencyProxy is not started (use it as a context manager or call start())")
        return self._port

    @property
    def address(self) -> tuple[str, int]:
        return self.listen_host, self.port

    def url(self, path: str = "/", scheme: str = "http") -> str:
        """``scheme://host:port/path`` through the proxy (IPv6 hosts bracketed)."""
        host = f"[{self.listen_host}]" if ":" in self.listen_host else self.listen_host
        return f"{scheme}://{host}:{self.port}{path}"

    def start(self) -> Self:
        if self._listener is not None:
            raise RuntimeError("LatencyProxy already started")
        family = socket.AF_INET6 if ":" in self.listen_host else socket.AF_INET
        listener = socket.socket(family, socket.SOCK_STREAM)
        try:
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            listener.bind((self.listen_host, self._listen_port))
            listener.listen(128)
            # A fallback only: close() wakes accept() by shutting the socket down.
            listener.settimeout(1.0)
        except OSError:
            listener.close()
            raise
        self._listener = listener
        self._port = listener.getsockname()[1]
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"netproxy-{self._port}-accept", daemon=True
        )
        self._accept_thread.start()
        return self

    def close(self, timeout_s: float = 5.0) -> None:
        """Stop accepting, reset every open connection, join all threads (bounded by ``timeout_s``)."""
        if self._listener is None or self._stopping.is_set():
            return
        self._stopping.set()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout_s
        if self._accept_thread is not None:
            self._accept_thread.join(timeout=max(0.0, deadline - time.monotonic()))
        self._listener.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            c.abort()
        for c in conns:
            for t in c.threads:
                t.join(timeout=max(0.0, min(1.0, deadline - time.monotonic())))
        for c in conns:
            if any(t.is_alive() for t in c.threads):
                c.force_wake()
        for c in conns:
            for t in c.threads:
                t.join(timeout=max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ control

    def configure(self, **changes: object) -> Faults:
        """Change fault settings (any :class:`Faults` field); returns the new settings.

        Example: ``proxy.configure(drop_connections=2)`` resets the next two connections.
        """
        with self._lock:
            self.faults = dataclasses.replace(self.faults, **changes)  # type: ignore[arg-type]
            return self.faults

    def cut_next_connection(self, after_bytes: int, direction: Direction = "s2c") -> int:
        """Arm a cut of the next accepted connection after ``after_bytes`` in ``direction``.

        Returns that connection's 1-based index. Later connections are not cut.
        """
        with self._lock:
            index = self._n_total + 1
            self.faults = dataclasses.replace(
                self.faults, cut_after_bytes=after_bytes, cut_direction=direction, cut_connection=index
            )
            return index

    def stats(self) -> ProxyStats:
        with self._lock:
            return ProxyStats(
                connections=self._n_total - self._n_base,
                connections_dropped=self._n_dropped,
                connections_cut=self._n_cut,
                connections_active=len(self._conns),
                upstream_failures=self._n_upstream_failures,
                bytes_c2s=self._bytes["c2s"],
                bytes_s2c=self._bytes["s2c"],
            )

    def reset_stats(self) -> None:
        """Zero the counters; connection indexes for ``cut_connection`` keep counting from start."""
        with self._lock:
            self._n_base = self._n_total
            self._n_dropped = self._n_cut = self._n_upstream_failures = 0
            self._bytes = {"c2s": 0, "s2c": 0}

    # ------------------------------------------------------------------ internals

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return  # listener shut down by close()
            try:
                self._handle(client)
            except Exception:
                with contextlib.suppress(OSError):
                    client.close()

    def _handle(self, client: socket.socket) -> None:
        with self._lock:
            self._n_total += 1
            index = self._n_total
            faults = self.faults
            drop = faults.drop_connections
            if drop is True or (not isinstance(drop, bool) and drop > 0):
                if not isinstance(drop, bool):
                    self.faults = dataclasses.replace(faults, drop_connections=drop - 1)
                self._n_dropped += 1
                _reset(client)
                return
        if self._stopping.is_set():
            _reset(client)
            return
        try:
            upstream = socket.create_connection(
                (self.target_host, self.target_port), timeout=self.connect_timeout_s
            )
        except OSError:
            with self._lock:
                self._n_upstream_failures += 1
            _reset(client)
            return
        for sock in (client, upstream):
            # Without NODELAY, Nagle + delayed ACK add up to 40 ms per exchange on loopback,
            # which would swamp the latency being emulated.
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            # recv waits up to the idle timeout (the reader re-checks activity); sendall is
            # bounded by the I/O timeout.
            sock.settimeout(min(self.io_timeout_s, self.idle_timeout_s))
        cut_here = faults.cut_after_bytes is not None and (
            faults.cut_connection is None or faults.cut_connection == index
        )
        conn = _Connection(self, index, client, upstream, faults, cut_here)
        with self._lock:
            self._conns.add(conn)
        conn.start()
        if self._stopping.is_set():
            # close() may have snapshotted the connections before this one was registered.
            conn.abort()

    def _count_bytes(self, direction: Direction, n: int) -> None:
        with self._lock:
            self._bytes[direction] += n

    def _count_cut(self) -> None:
        with self._lock:
            self._n_cut += 1

    def _forget(self, conn: _Connection) -> None:
        with self._lock:
            self._conns.discard(conn)


def _reset(sock: socket.socket) -> None:
    """Close with RST: the peer's next read or write fails at once."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
    with contextlib.suppress(OSError):
        sock.close()
