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
import threading
import time
from dataclasses import dataclass
from types import TracebackType
from typing import Self

from bench.netlink import Connection, Direction, Faults, reset_socket

__all__ = ["Faults", "LatencyProxy", "NonLoopbackAddress", "ProxyStats", "loopback_address"]


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
class ProxyStats:
    """Counters since start (or the last :meth:`LatencyProxy.reset_stats`)."""

    connections: int = 0  # accepted, including dropped ones
    connections_dropped: int = 0
    connections_cut: int = 0
    connections_active: int = 0
    upstream_failures: int = 0  # accepted, but the target refused or timed out
    bytes_c2s: int = 0  # delivered to the server
    bytes_s2c: int = 0  # delivered to the client


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
        self._conns: set[Connection] = set()
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
                reset_socket(client)
                return
        if self._stopping.is_set():
            reset_socket(client)
            return
        try:
            upstream = socket.create_connection(
                (self.target_host, self.target_port), timeout=self.connect_timeout_s
            )
        except OSError:
            with self._lock:
                self._n_upstream_failures += 1
            reset_socket(client)
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
        conn = Connection(self, index, client, upstream, faults, cut_here)
        with self._lock:
            self._conns.add(conn)
        conn.start()
        if self._stopping.is_set():
            # close() may have snapshotted the connections before this one was registered.
            conn.abort()

    def record_bytes(self, direction: Direction, n: int) -> None:
        with self._lock:
            self._bytes[direction] += n

    def record_cut(self) -> None:
        with self._lock:
            self._n_cut += 1

    def forget(self, conn: Connection) -> None:
        with self._lock:
            self._conns.discard(conn)
