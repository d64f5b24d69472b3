"""Finding peers on the office LAN with mDNS/DNS-SD (zeroconf): ``_motcua._tcp.local.``.

Commune and district nodes advertise themselves; a mobile laptop in the commune office browses
and lists what it hears. An advertisement is only a *hint of where* a peer is: anyone on the
LAN can advertise anything. Trust comes from the sync itself (TLS pinned to the district CA,
answers signed by a certified node key), so a spoofed advertisement ends in a refused
connection before any event is sent. The TXT record carries the CA fingerprint so a laptop can
skip peers of another district without even connecting.

Listener callbacks only record names (the zeroconf thread must never block, python-zeroconf's
own advice); addresses are resolved in the caller's thread, with timeouts.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from zeroconf import ServiceBrowser, ServiceInfo, ServiceStateChange, Zeroconf

from sync.protocol import PROTOCOL_VERSION

SERVICE_TYPE = "_motcua._tcp.local."


@dataclass(frozen=True)
class ServiceRecord:
    node_id: str
    role: str
    unit: str
    name: str
    address: str
    port: int
    scheme: str = "http"
    protocol: int = PROTOCOL_VERSION
    ca_fingerprint: str = ""

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.address}:{self.port}"

    @classmethod
    def for_node(cls, node: Any, host: str, port: int, scheme: str) -> ServiceRecord:
        # The CA fingerprint comes as a value from the node's trust (sync never reads certificates).
        address = host if host not in ("0.0.0.0", "") else _primary_address()
        return cls(node.node_id, node.settings.ROLE, node.settings.UNIT, node.settings.NAME[:60], address, port,
                   scheme, PROTOCOL_VERSION, node.trust.ca_fingerprint)

    def properties(self) -> dict[str, str]:
        return {
            "node": self.node_id, "role": self.role, "unit": self.unit, "name": self.name,
            "proto": str(self.protocol), "ca": self.ca_fingerprint, "scheme": self.scheme,
        }


def _primary_address() -> str:
    # The address the OS would use to reach another host: no packet is sent by connect() on UDP.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1, never routed; only selects an interface
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def _interfaces(address: str) -> Sequence[str] | Any:
    from zeroconf import InterfaceChoice

    return [address] if address.startswith("127.") else InterfaceChoice.All


class Advertiser:
    """Announces one node until closed."""

    def __init__(self, record: ServiceRecord) -> None:
        self.record = record
        self.zeroconf = Zeroconf(interfaces=_interfaces(record.address))
        self.info = ServiceInfo(
            SERVICE_TYPE,
            f"{record.node_id}.{SERVICE_TYPE}",
            addresses=[socket.inet_aton(record.address)],
            port=record.port,
            properties=record.properties(),
            server=f"motcua-{record.node_id[:12]}.local.",
        )
        self.zeroconf.register_service(self.info)

    def close(self) -> None:
        try:
            self.zeroconf.unregister_service(self.info)
        finally:
            self.zeroconf.close()


class PeerBrowser:
    """Listens for advertisements; :meth:`peers` resolves what was heard."""

    def __init__(self, interface: str = "") -> None:
        self.zeroconf = Zeroconf(interfaces=_interfaces(interface) if interface else _interfaces("0.0.0.0"))
        self._names: set[str] = set()
        self._lock = threading.Lock()
        self.browser = ServiceBrowser(self.zeroconf, SERVICE_TYPE, handlers=[self._on_change])

    def _on_change(self, zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        with self._lock:
            if state_change is ServiceStateChange.Removed:
                self._names.discard(name)
            else:
                self._names.add(name)

    def peers(self, timeout_ms: int = 2000) -> list[ServiceRecord]:
        with self._lock:
            names = sorted(self._names)
        found = []
        for name in names:
            info = self.zeroconf.get_service_info(SERVICE_TYPE, name, timeout=timeout_ms)
            record = _record(info)
            if record is not None:
                found.append(record)
        return found

    def close(self) -> None:
        self.browser.cancel()
        self.zeroconf.close()


def _record(info: ServiceInfo | None) -> ServiceRecord | None:
    if info is None or not info.addresses:
        return None
    props = {k.decode(errors="replace"): (v or b"").decode(errors="replace") for k, v in info.properties.items()}
    try:
        return ServiceRecord(
            node_id=props["node"], role=props.get("role", ""), unit=props.get("unit", ""),
            name=props.get("name", ""), address=socket.inet_ntoa(info.addresses[0]), port=int(info.port or 0),
            scheme=props.get("scheme", "http"), protocol=int(props.get("proto", "0") or 0),
            ca_fingerprint=props.get("ca", ""),
        )
    except (KeyError, ValueError, OSError):
        return None  # a malformed advertisement is ignored, never trusted


def discover(seconds: float = 3.0, interface: str = "") -> list[ServiceRecord]:
    """Browse for ``seconds`` and return the peers heard (for the CLI and the mobile UI)."""
    browser = PeerBrowser(interface)
    try:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            time.sleep(0.1)
        return browser.peers()
    finally:
        browser.close()
