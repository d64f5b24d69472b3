"""HTTP transport for exchanges: one ``requests.Session`` per peer, bounded in time.

Every call has a (connect, read) timeout; nothing is retried here (the engine decides, and an
exchange is idempotent, so a retry after a lost answer is harmless). Requests are signed with
the node key (node id, time, path, SHA-256 of the body) so the peer knows who is calling;
certificate-based TLS and replay protection arrive with the trust issue. Headers are kept to the
minimum: on a 300 ms link with nothing to sync, the headers *are* the traffic.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import requests
from urllib3.util import SKIP_HEADER

from sync import codec
from sync.protocol import b64, request_signing_bytes

EXCHANGE_PATH = "/sync/v1/exchange"


class TransportError(Exception):
    """The exchange did not complete (no link, timeout, reset, non-protocol answer): retry later."""


class KeySigner(Protocol):
    node_id: str

    def sign(self, message: bytes) -> bytes: ...


@dataclass
class Reply:
    message: dict[str, Any]
    bytes_out: int  # compressed body bytes sent
    bytes_in: int  # compressed body bytes received
    status: int


class Transport(Protocol):
    def exchange(self, message: dict[str, Any]) -> Reply: ...

    def close(self) -> None: ...


class HttpTransport:
    def __init__(
        self,
        base_url: str,
        signer: KeySigner,
        wall_ms: Callable[[], int],
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
    ) -> None:
        self.url = base_url.rstrip("/") + EXCHANGE_PATH
        self.signer = signer
        self.wall_ms = wall_ms
        self.timeout = (connect_timeout, read_timeout)
        self.session = requests.Session()
        self.session.trust_env = False  # a commune PC's proxy settings must not reroute sync
        self.session.headers.clear()

    def exchange(self, message: dict[str, Any]) -> Reply:
        body, _ = codec.encode(message)
        now = self.wall_ms()
        signature = self.signer.sign(
            request_signing_bytes(self.signer.node_id, now, EXCHANGE_PATH, hashlib.sha256(body).digest())
        )
        headers = {
            "Content-Type": codec.CONTENT_TYPE,
            "Content-Encoding": codec.CONTENT_ENCODING,
            "X-Motcua-Node": self.signer.node_id,
            "X-Motcua-Time": str(now),
            "X-Motcua-Sig": b64(signature),
            "User-Agent": SKIP_HEADER,  # urllib3 would add its own otherwise
        }
        try:
            response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
            content = response.content
        except requests.RequestException as e:
            raise TransportError(f"{type(e).__name__}: {e}") from e
        if response.headers.get("Content-Type", "").split(";")[0] != codec.CONTENT_TYPE:
            raise TransportError(f"HTTP {response.status_code} from {self.url} is not a sync answer")
        try:
            decoded = codec.decode(content)
        except Exception as e:
            raise TransportError(f"unreadable answer from {self.url}: {e}") from e
        return Reply(decoded, len(body), len(content), response.status_code)

    def close(self) -> None:
        self.session.close()
