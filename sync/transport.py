"""HTTP transport for exchanges: one ``requests.Session`` per peer, bounded in time.

Every call has a (connect, read) timeout; nothing is retried here (the engine decides, and an
exchange is idempotent, so a retry after a lost answer is harmless). Requests are signed with
the node key (node id, time, nonce, path, SHA-256 of the body) so the peer knows who is calling
before it reads the body. On first contact (``introduce``) the request also carries what the
peer needs to check that signature without parsing anything: the node's certificate
(``X-Motcua-Cert``, enrolled nodes) or its raw public key (``X-Motcua-Key``, development nodes
without a CA). Headers are otherwise kept to the minimum: on a 300 ms link with nothing to sync,
the headers *are* the traffic.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import ssl
import warnings
from collections.abc import Callable, Sequence
from email.utils import parsedate_to_datetime
from typing import Any, Protocol

import requests
import urllib3
from urllib3.util import SKIP_HEADER

from sync import codec
from sync.exchange import EXCHANGE_PATH, Reply, request_signing_bytes
from sync.protocol import b64


class CaPinnedAdapter(requests.adapters.HTTPAdapter):
    """TLS that trusts only the district's anchors, with no host-name check.

    The anchors (``ca_files``) are the district CA certificate, which a peer still serving its
    Ed25519 node certificate chains to, and the district TLS CA that issues the ECDSA P-256
    certificates peers serve to browsers, once the district CA's signature of it has verified
    (``node/trust.py``). Node certificates name a node id, not a host, and a laptop reaches its
    commune by an address found on the LAN: whom we talk to is checked at the application layer
    instead, since every answer must be signed by the node key of the expected peer, whose
    certificate chains to the district CA. Validity dates are left to that check too (``certs``
    judges them against a trusted-time floor; OpenSSL would use a PC clock that may be years off).
    """

    def __init__(self, ca_files: str | Sequence[str]) -> None:
        files = [ca_files] if isinstance(ca_files, str) else list(ca_files)
        self.context = ssl.create_default_context(cafile=files[0])
        for extra in files[1:]:
            self.context.load_verify_locations(cafile=extra)
        self.context.check_hostname = False
        self.context.verify_mode = ssl.CERT_REQUIRED
        self.context.verify_flags |= 0x200000  # X509_V_FLAG_NO_CHECK_TIME
        self.context.minimum_version = ssl.TLSVersion.TLSv1_3
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self.context
        kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)


class TransportError(Exception):
    """The exchange did not complete (no link, timeout, reset, non-protocol answer): retry later."""


class KeySigner(Protocol):
    node_id: str
    public_key: bytes

    def sign(self, message: bytes) -> bytes: ...



class Transport(Protocol):
    def exchange(self, message: dict[str, Any], introduce: bool = False) -> Reply: ...

    def close(self) -> None: ...


class HttpTransport:
    def __init__(
        self,
        base_url: str,
        signer: KeySigner,
        wall_ms: Callable[[], int],
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        ca_file: str | Sequence[str] | None = None,
        new_nonce: Callable[[], str] = lambda: secrets.token_urlsafe(16),
        cert: bytes = b"",
    ) -> None:
        self.url = base_url.rstrip("/") + EXCHANGE_PATH
        self.signer = signer
        self.introduction = {"X-Motcua-Cert": b64(cert)} if cert else {"X-Motcua-Key": b64(signer.public_key)}
        self.wall_ms = wall_ms
        self.new_nonce = new_nonce
        self.timeout = (connect_timeout, read_timeout)
        # The peer's clock at its last answer (its HTTP Date, 1 s resolution), for the node's clock
        # sanity check (node.clockcheck); None until an answer carried one.
        self.peer_time_ms: int | None = None
        self.session = requests.Session()
        self.session.trust_env = False  # a commune PC's proxy settings must not reroute sync
        self.session.headers.clear()
        if ca_file:
            if not self.url.startswith("https://"):
                raise TransportError(f"{base_url}: a node enrolled with a district CA syncs over https only")
            self.session.mount("https://", CaPinnedAdapter(ca_file))

    def exchange(self, message: dict[str, Any], introduce: bool = False) -> Reply:
        body, _ = codec.encode(message)
        now = self.wall_ms()
        nonce = self.new_nonce()
        signature = self.signer.sign(
            request_signing_bytes(self.signer.node_id, now, nonce, EXCHANGE_PATH, hashlib.sha256(body).digest())
        )
        headers = {
            "Content-Type": codec.CONTENT_TYPE,
            "Content-Encoding": codec.CONTENT_ENCODING,
            "X-Motcua-Node": self.signer.node_id,
            "X-Motcua-Time": str(now),
            "X-Motcua-Nonce": nonce,
            "X-Motcua-Sig": b64(signature),
            "User-Agent": SKIP_HEADER,  # urllib3 would add its own otherwise
            **(self.introduction if introduce else {}),
        }
        try:
            response = self.session.post(self.url, data=body, headers=headers, timeout=self.timeout)
            content = response.content
        except requests.RequestException as e:
            raise TransportError(f"{type(e).__name__}: {e}") from e
        self.peer_time_ms = _date_ms(response.headers.get("Date", "")) or self.peer_time_ms
        if response.headers.get("Content-Type", "").split(";")[0] != codec.CONTENT_TYPE:
            raise TransportError(f"HTTP {response.status_code} from {self.url} is not a sync answer")
        try:
            decoded = codec.decode(content)
        except Exception as e:
            raise TransportError(f"unreadable answer from {self.url}: {e}") from e
        try:
            answer_sig = base64.b64decode(response.headers.get("X-Motcua-Sig", ""), validate=True)
        except ValueError:
            answer_sig = b""
        return Reply(decoded, len(body), len(content), response.status_code, nonce,
                     response.headers.get("X-Motcua-Node", ""), answer_sig, hashlib.sha256(content).digest())

    def call(self, path: str, body: bytes, content_type: str) -> Reply:
        """POST raw ``body`` to ``path``, signed like an exchange; the answer's bytes undecoded
        (``message`` is empty): the caller decodes and checks the answer's signature."""
        now, nonce = self.wall_ms(), self.new_nonce()
        signature = self.signer.sign(
            request_signing_bytes(self.signer.node_id, now, nonce, path, hashlib.sha256(body).digest())
        )
        headers = {"Content-Type": content_type, "X-Motcua-Node": self.signer.node_id, "X-Motcua-Time": str(now),
                   "X-Motcua-Nonce": nonce, "X-Motcua-Sig": b64(signature), "User-Agent": SKIP_HEADER}
        url = self.url[: -len(EXCHANGE_PATH)] + path
        try:
            response = self.session.post(url, data=body, headers=headers, timeout=self.timeout)
            content = response.content
        except requests.RequestException as e:
            raise TransportError(f"{type(e).__name__}: {e}") from e
        try:
            answer_sig = base64.b64decode(response.headers.get("X-Motcua-Sig", ""), validate=True)
        except ValueError:
            answer_sig = b""
        server_node = response.headers.get("X-Motcua-Node", "")
        return Reply({}, len(body), len(content), response.status_code, nonce, server_node, answer_sig,
                     hashlib.sha256(content).digest(), content)

    def close(self) -> None:
        self.session.close()


MAX_UNVERIFIED_ANSWER = 64 * 1024  # an enrollment or TLS answer is a few certificates: ~4 KB


def _date_ms(value: str) -> int | None:
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1000) if value else None
    except (TypeError, ValueError):
        return None


def _unverified_json(method: str, url: str, payload: dict[str, Any] | None, timeout: float) -> tuple[int, Any]:
    session = requests.Session()
    session.trust_env = False
    try:
        with warnings.catch_warnings():
            # Unverified on purpose (see the callers): urllib3's warning would only alarm the operator.
            warnings.simplefilter("ignore", urllib3.exceptions.InsecureRequestWarning)
            r = session.request(method, url, json=payload, timeout=(5.0, timeout), verify=False, stream=True)
            content = r.raw.read(MAX_UNVERIFIED_ANSWER + 1, decode_content=True)
        if len(content) > MAX_UNVERIFIED_ANSWER:
            return r.status_code, None
        try:
            return r.status_code, json.loads(content)
        except (ValueError, RecursionError):
            return r.status_code, None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as e:
        raise TransportError(f"{type(e).__name__}: {e}") from e
    finally:
        session.close()


def post_unverified_json(url: str, payload: dict[str, Any], timeout: float = 30.0) -> tuple[int, Any]:
    """POST JSON without a trust anchor, for answers authenticated by what they carry: the
    enrollment answer by a MAC keyed by the pairing code (``node/enrollment.py``), a TLS
    certificate by the district CA's signature of its TLS CA (``node/https.py``). Bounded in time
    and size like every call."""
    return _unverified_json("POST", url, payload, timeout)


def get_unverified_json(url: str, timeout: float = 10.0) -> tuple[int, Any]:
    """GET JSON without a trust anchor (the TLS CA a peer offers, checked by the caller)."""
    return _unverified_json("GET", url, None, timeout)
