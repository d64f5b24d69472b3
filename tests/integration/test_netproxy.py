"""LatencyProxy against a real HTTP server on 127.0.0.1: added latency, cuts, drops, counters.

Timing bounds are loose on the high side (rtt + 150 ms) because CI shares two cores; the low
side is strict, since the proxy must never deliver early.
"""

from __future__ import annotations

import http.client
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from bench.netproxy import LatencyProxy, NonLoopbackAddress, ProxyStats

SLACK_S = 0.150


class _Handler(BaseHTTPRequestHandler):
    # HTTP/1.1 so one connection can carry several requests (keep-alive), as sync clients do.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        # /bytes/<n> answers n bytes; anything else a two-byte body.
        size = int(self.path.rsplit("/", 1)[1]) if self.path.startswith("/bytes/") else 2
        body = b"x" * size if self.path.startswith("/bytes/") else b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        # Cut and dropped connections make handlers fail on purpose; keep the test output clean.
        pass


@pytest.fixture
def server() -> Iterator[int]:
    srv = _QuietServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield srv.server_address[1]
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(timeout=5)


def _get(conn: http.client.HTTPConnection, path: str) -> bytes:
    conn.request("GET", path)
    resp = conn.getresponse()
    body = resp.read()
    assert resp.status == 200
    return body


def _fetch(port: int, path: str = "/") -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        return _get(conn, path)
    finally:
        conn.close()


def _settled_stats(
    proxy: LatencyProxy, predicate: Callable[[ProxyStats], bool], timeout_s: float = 2.0
) -> ProxyStats:
    # Counters are bumped right after a send returns, so the client may see the bytes a moment
    # before the counter does; wait briefly instead of racing.
    deadline = time.monotonic() + timeout_s
    while True:
        st = proxy.stats()
        if predicate(st) or time.monotonic() > deadline:
            return st
        time.sleep(0.005)


def test_one_request_pays_one_rtt(server: int) -> None:
    rtt = 0.200
    with LatencyProxy("127.0.0.1", server, rtt_ms=rtt * 1000) as proxy:
        t0 = time.monotonic()
        assert _fetch(proxy.port) == b"ok"
        elapsed = time.monotonic() - t0
    assert rtt <= elapsed < rtt + SLACK_S, elapsed


def test_keep_alive_pays_one_rtt_per_exchange(server: int) -> None:
    rtt = 0.100
    with LatencyProxy("127.0.0.1", server, rtt_ms=rtt * 1000) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=5)
        try:
            t0 = time.monotonic()
            _get(conn, "/")
            _get(conn, "/")
            elapsed = time.monotonic() - t0
        finally:
            conn.close()
        assert proxy.stats().connections == 1
    assert 2 * rtt <= elapsed < 2 * rtt + SLACK_S, elapsed


def test_handshake_emulation_adds_one_rtt(server: int) -> None:
    rtt = 0.100
    with LatencyProxy("127.0.0.1", server, rtt_ms=rtt * 1000, emulate_handshake=True) as proxy:
        t0 = time.monotonic()
        _fetch(proxy.port)
        elapsed = time.monotonic() - t0
    assert 2 * rtt <= elapsed < 2 * rtt + SLACK_S, elapsed


def test_bandwidth_limit_paces_the_transfer(server: int) -> None:
    size = 64 * 1024
    bps = 1_000_000
    with LatencyProxy("127.0.0.1", server, rtt_ms=0, bandwidth_bps=bps) as proxy:
        t0 = time.monotonic()
        assert len(_fetch(proxy.port, f"/bytes/{size}")) == size
        elapsed = time.monotonic() - t0
    expected = size * 8 / bps  # about 0.52 s; headers add a little
    assert expected <= elapsed < expected + 0.3, elapsed


def test_counters_match_the_bytes_on_the_wire(server: int) -> None:
    request = b"GET /bytes/5000 HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with LatencyProxy("127.0.0.1", server, rtt_ms=0) as proxy:
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5) as sock:
            sock.sendall(request)
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
        assert received.endswith(b"x" * 5000)
        st = _settled_stats(proxy, lambda s: s.bytes_s2c >= len(received) and s.connections_active == 0)
        assert st.connections == 1
        assert st.bytes_c2s == len(request)
        assert st.bytes_s2c == len(received)
        assert st.connections_cut == st.connections_dropped == 0
        proxy.reset_stats()
        assert proxy.stats().bytes_c2s == 0


def test_cut_mid_response_raises_on_the_client(server: int) -> None:
    cut_at = 10_000
    with LatencyProxy("127.0.0.1", server, rtt_ms=0, cut_after_bytes=cut_at, cut_connection=1) as proxy:
        with pytest.raises((http.client.HTTPException, OSError)):
            _fetch(proxy.port, "/bytes/262144")
        st = _settled_stats(proxy, lambda s: s.connections_cut == 1 and s.connections_active == 0)
        assert st.connections_cut == 1
        assert st.bytes_s2c == cut_at
        # Only the first connection was to be cut: a retry goes through, as a sync client's would.
        assert len(_fetch(proxy.port, "/bytes/262144")) == 262144


def test_cut_only_the_nth_connection(server: int) -> None:
    with LatencyProxy("127.0.0.1", server, rtt_ms=0, cut_after_bytes=50, cut_connection=2) as proxy:
        assert _fetch(proxy.port) == b"ok"
        with pytest.raises((http.client.HTTPException, OSError)):
            _fetch(proxy.port)
        assert _fetch(proxy.port) == b"ok"
        assert proxy.stats().connections == 3


def test_cut_client_to_server_mid_request(server: int) -> None:
    with LatencyProxy("127.0.0.1", server, rtt_ms=0) as proxy:
        index = proxy.cut_next_connection(after_bytes=10, direction="c2s")
        assert index == 1
        with pytest.raises((http.client.HTTPException, OSError)):
            _fetch(proxy.port)
        st = _settled_stats(proxy, lambda s: s.connections_cut == 1)
        assert st.bytes_c2s == 10
        assert st.bytes_s2c == 0


def test_drop_connections_refuses_then_recovers(server: int) -> None:
    with LatencyProxy("127.0.0.1", server, rtt_ms=0, drop_connections=1) as proxy:
        with pytest.raises((http.client.HTTPException, OSError)):
            _fetch(proxy.port)
        assert _fetch(proxy.port) == b"ok"
        proxy.configure(drop_connections=True)
        with pytest.raises((http.client.HTTPException, OSError)):
            _fetch(proxy.port)
        st = proxy.stats()
        assert (st.connections, st.connections_dropped) == (3, 2)


def test_unreachable_target_resets_the_client() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    with LatencyProxy("127.0.0.1", closed_port, rtt_ms=0) as proxy:
        with pytest.raises((http.client.HTTPException, OSError)):
            _fetch(proxy.port)
        assert proxy.stats().upstream_failures == 1


@pytest.mark.parametrize("host", ["10.0.0.1", "192.168.1.10", "8.8.8.8", "0.0.0.0", "::", "example.com"])
def test_refuses_non_loopback_targets(host: str) -> None:
    with pytest.raises(NonLoopbackAddress):
        LatencyProxy(host, 80)
    with pytest.raises(NonLoopbackAddress):
        LatencyProxy("127.0.0.1", 80, listen_host=host)


def test_close_resets_open_connections_and_stops_threads(server: int) -> None:
    with LatencyProxy("127.0.0.1", server, rtt_ms=0) as proxy:
        port = proxy.port
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        try:
            _get(conn, "/")  # leaves a keep-alive connection open through the proxy
            assert proxy.stats().connections_active == 1
            proxy.close()
            # The proxy reset the open connection: the next request on it fails.
            with pytest.raises((http.client.HTTPException, OSError)):
                _get(conn, "/")
        finally:
            conn.close()
    leftover = [t.name for t in threading.enumerate() if t.name.startswith(f"netproxy-{port}-")]
    assert leftover == []
