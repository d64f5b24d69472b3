"""certs/tls.py: mutual TLS 1.3 on loopback with Ed25519 node certificates.

A real ``ssl`` server on 127.0.0.1:0 accepts a client whose certificate chains to the same
district CA and refuses one from another CA; the handshake does not consult the local clock
(certificates dated in 2040 work), and :func:`verify_peer` then applies the full policy.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest

from certs.errors import CertificateRejected, PkiError, Reason
from certs.keys import generate_private_key
from certs.layout import NodeLayout
from certs.tls import TlsFiles, client_context, server_context, verify_peer, write_tls_files
from tests.unit.certs.pki import NOW, make_node

TIMEOUT = 10


def files_for(tmp_path, name, ca, node) -> TlsFiles:
    return write_tls_files(
        NodeLayout(tmp_path / name), certificate=node.cert, ca_certificate=ca.certificate, key=node.key
    )


@contextmanager
def serve_once(
    ctx: ssl.SSLContext, check: Callable[[ssl.SSLSocket], object] = lambda tls: None
) -> Iterator[tuple[int, dict]]:
    """Accept one TLS connection in a thread; run ``check`` on it (as a server would, before
    reading anything) and record its result, or the handshake/check error."""
    result: dict = {}
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def run() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                result["peer_der"] = tls.getpeercert(binary_form=True)
                result["checked"] = check(tls)
                tls.sendall(b"hello")
        except (ssl.SSLError, OSError, CertificateRejected) as e:
            result["error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    try:
        yield listener.getsockname()[1], result
    finally:
        thread.join(TIMEOUT)
        listener.close()
    assert not thread.is_alive()


def talk(ctx: ssl.SSLContext, port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, ctx.wrap_socket(raw) as tls:
        assert tls.version() == "TLSv1.3"
        return tls.recv(5)


def received_or_nothing(ctx: ssl.SSLContext, port: int) -> bytes:
    try:
        return talk(ctx, port)
    except (ssl.SSLError, OSError):
        return b""


def test_same_ca_client_is_accepted_and_identified(tmp_path, district_ca, node):
    client = make_node(district_ca, role="mobile", name="Laptop 1")
    server_files = files_for(tmp_path, "server", district_ca, node)
    client_files = files_for(tmp_path, "client", district_ca, client)
    with serve_once(server_context(server_files), lambda tls: verify_peer(tls, district_ca.certificate, now=NOW)) as (
        port,
        result,
    ):
        assert talk(client_context(client_files), port) == b"hello"
    assert "error" not in result
    identity = result["checked"]
    assert identity.node_id == client.node_id and identity.name == "Laptop 1"


def test_client_from_another_ca_is_refused(tmp_path, district_ca, foreign_ca, node):
    stranger = make_node(foreign_ca)
    server_files = files_for(tmp_path, "server", district_ca, node)
    # the stranger trusts our CA (it may have copied ca.pem) but its own cert is foreign
    stranger_files = write_tls_files(
        NodeLayout(tmp_path / "stranger"),
        certificate=stranger.cert,
        ca_certificate=district_ca.certificate,
        key=stranger.key,
    )
    with serve_once(server_context(server_files)) as (port, result):
        # TLS 1.3: the client finishes first and learns of the refusal (an alert) when it reads
        assert received_or_nothing(client_context(stranger_files), port) == b""
    assert isinstance(result.get("error"), ssl.SSLCertVerificationError)
    assert "peer_der" not in result


def test_server_from_another_ca_is_refused_by_the_client(tmp_path, district_ca, foreign_ca, node):
    rogue = make_node(foreign_ca)
    rogue_files = write_tls_files(
        NodeLayout(tmp_path / "rogue"), certificate=rogue.cert, ca_certificate=district_ca.certificate, key=rogue.key
    )
    client_files = files_for(tmp_path, "client", district_ca, node)
    with serve_once(server_context(rogue_files)) as (port, _), pytest.raises(ssl.SSLCertVerificationError):
        talk(client_context(client_files), port)


def test_handshake_ignores_the_local_clock_and_policy_decides(tmp_path, district_ca):
    """Certificates dated 2040 handshake today; verify_peer then judges them at the trusted time."""
    future = NOW + timedelta(days=14 * 365)
    server, client = make_node(district_ca, now=future), make_node(district_ca, now=future)
    server_ctx = server_context(files_for(tmp_path, "s", district_ca, server))
    client_ctx = client_context(files_for(tmp_path, "c", district_ca, client))

    def judged_at(floor):
        return lambda tls: verify_peer(tls, district_ca.certificate, now=NOW, trusted_time_floor=floor)

    with serve_once(server_ctx, judged_at(None)) as (port, result):
        assert received_or_nothing(client_ctx, port) == b""  # closed before a byte: policy refused it
    assert "peer_der" in result  # ... after a successful handshake
    assert result["error"].reason is Reason.NOT_YET_VALID

    with serve_once(server_ctx, judged_at(future)) as (port, result):
        assert talk(client_ctx, port) == b"hello"
    assert result["checked"].node_id == client.node_id


def test_tls_files_refuse_a_key_that_is_not_the_certified_one(tmp_path, district_ca, node):
    layout = NodeLayout(tmp_path / "n")
    with pytest.raises(PkiError):
        write_tls_files(
            layout, certificate=node.cert, ca_certificate=district_ca.certificate, key=generate_private_key()
        )
    assert layout.key.stat().st_mode & 0o777 == 0o600
