"""A node's https: the ECDSA P-256 certificate browsers accept, how it is obtained and served.

Browsers refuse Ed25519 in TLS, so an enrolled node serves https with a certificate of the
district TLS CA (``certs/tlsca.py``) naming the host names and addresses staff type, not with
its Ed25519 node certificate. Files (``certs/layout.py`` ``NodeLayout``): ``tls.key``, ``tls.pem``,
``tls-ca.pem`` and ``tls-ca.sig``.

How a node gets them
--------------------
* The district: ``motcua ca init`` creates the TLS CA with the CA and certifies the district
  itself; on a district whose CA predates the TLS CA, ``motcua tls request`` creates the TLS CA
  and certifies it (:func:`issue_locally`).
* Any other enrolled node: ``motcua enroll`` asks right after the pairing, and ``motcua tls
  request --district URL`` asks again (an older enrollment, a new host name, a renewal):
  :func:`request_from_district` sends ``POST /sync/v1/tls-cert`` signed with the node key; the
  district checks the node certificate (chain, dates at the trusted-time floor, revocation) and
  the names (:func:`certs.tlsca.check_names`), and answers the certificate with its TLS CA and
  the CA's signature of it (:func:`answer_request`). That call skips TLS verification (like
  enrollment): nothing in it is secret, and the answer is believed only because the district
  CA's signature of the TLS CA verifies under ``ca.pem`` and the certificate chains to it.

What sync pins
--------------
Sync clients keep verifying the TLS chain of every peer against the district CA: the pinned
anchors are ``ca.pem`` (a peer still serving its Ed25519 node certificate) and ``tls-ca.pem``,
the latter only while its endorsement verifies under ``ca.pem`` (``node/trust.py``). A node
enrolled before the TLS CA existed has no ``tls-ca.pem``; the first time it syncs over https it
fetches the TLS CA from the peer (``GET /sync/v1/tls-ca``, :func:`fetch_tls_ca`), keeps it only
if the district CA signed it, and carries on: an upgraded peer that switched to a P-256
certificate does not cut it off.

``motcua doctor`` reports which certificate https uses and what to run (:func:`report`).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from certs.ca import load_ca, load_ca_certificate
from certs.errors import CertificateRejected, CertsError, KeyFileError
from certs.identity import certificate_pem, identity_from_certificate, parse_certificate
from certs.keys import generate_tls_key, load_private_key, load_tls_key, save_private_key
from certs.layout import CaLayout, NodeLayout
from certs.storage import replace_file
from certs.tlsca import (
    MAX_NAMES,
    check_endorsement,
    check_names,
    check_tls_certificate,
    ensure_tls_ca,
    issue_tls_certificate,
    names_of,
    read_endorsement,
)
from certs.tlsrequest import TlsRequest, build_tls_request, check_tls_request
from node.context import TrustedNode
from node.domain.errors import DomainError

TLS_CERT_PATH = "/sync/v1/tls-cert"
TLS_CA_PATH = "/sync/v1/tls-ca"
RENEW_BEFORE = timedelta(days=30)
_WILDCARD_HOSTS = {"", "0.0.0.0", "::", "[::]"}


class TlsRequestFailed(Exception):
    """The district refused the request, or its answer did not check out (``status``: the
    district's HTTP status when it answered, else 0)."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


class TlsRefused(DomainError):
    """District side: the request cannot be honoured (``status`` and ``code`` for the answer)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message, field)
        self.status = status
        self.code = code


def _now(wall_ms: int) -> datetime:
    return datetime.fromtimestamp(wall_ms / 1000, UTC)


def _passphrase(node: Any = None) -> bytes | None:
    """The district's CA keys' passphrase: the operator's, else derived from the data key (as
    ``node.enrollment._passphrase``, which imports this module)."""
    from node.atrest import ca_passphrase

    return ca_passphrase(node.settings.data_dir, getattr(node, "data_key", None))


# -- names ----------------------------------------------------------------------------------


def _lan_addresses(machine: str) -> list[str]:
    """This machine's addresses today (DHCP may change them: ``motcua tls request`` again)."""
    found: list[str] = []
    try:
        for info in socket.getaddrinfo(machine, None):
            found.append(str(info[4][0]).split("%")[0])
    except OSError:
        pass
    try:  # the address of the default route; a UDP "connection" sends nothing
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))
            found.append(s.getsockname()[0])
    except OSError:
        pass
    return found


def default_names(settings: Any, machine: str | None = None, addresses: Iterable[str] | None = None) -> list[str]:
    """The names a node asks to be certified for: loopback, this machine's name (and its mDNS
    ``.local``), the ``HOST`` it listens on, the ``TRUSTED_HOSTS`` names (``.example.org``
    becomes ``*.example.org``) and its current LAN addresses. Names the district would refuse
    are left out, except those an administrator configured."""
    machine = (socket.gethostname() if machine is None else machine).lower().rstrip(".")
    found = ["localhost", "127.0.0.1", "::1"]
    if machine:
        found += [machine] if "." in machine else [machine, f"{machine}.local"]
    found += list(_lan_addresses(machine) if addresses is None else addresses)
    automatic = [n for n in found if _admitted(n)]
    host = settings.HOST.strip().lower()
    configured = [] if host in _WILDCARD_HOSTS or host == "localhost" else [host]
    for entry in settings.TRUSTED_HOSTS.replace(",", " ").split():
        entry = entry.strip().lower()
        if entry and entry != "*":
            configured.append(f"*{entry}" if entry.startswith(".") else entry)
    # A configured name that is no host name at all would only make the request fail; so would
    # more names than a certificate may carry (a host with many interfaces): every configured
    # name is kept, and as many found ones as fit.
    valid = list(dict.fromkeys(n for n in configured if _admitted(n, lan_only=False)))[:MAX_NAMES]
    names = list(dict.fromkeys([*automatic, *valid]))
    while len(names) > MAX_NAMES:  # drop the last found name that nobody configured
        names.remove(next(n for n in reversed(names) if n not in valid))
    return names


def _admitted(name: str, lan_only: bool = True) -> bool:
    try:
        check_names([name], lan_only=lan_only)
        return True
    except ValueError:
        return False


def lan_names(names: Iterable[str]) -> list[str]:
    """The names among ``names`` that any district certifies (LAN addresses and names)."""
    return [n for n in names if _admitted(n)]


def district_suffixes(settings: Any) -> list[str]:
    """Domains a district vouches for: its ``TRUSTED_HOSTS`` entries that start with a dot."""
    return [e.strip().lower() for e in settings.TRUSTED_HOSTS.replace(",", " ").split() if e.strip().startswith(".")]


# -- installing -----------------------------------------------------------------------------


def install(data_dir: Path, key: Any, certificate: Any, tls_ca_certificate: Any, endorsement: bytes) -> None:
    """Write the TLS files of a node, each replaced atomically (the key first, with mode 0600)."""
    layout = NodeLayout(data_dir)
    new_key = layout.tls_key.with_name(".tls.key.new")
    new_key.unlink(missing_ok=True)
    save_private_key(key, new_key)
    os.replace(new_key, layout.tls_key)
    replace_file(layout.tls_certificate, certificate_pem(certificate))
    replace_file(layout.tls_ca_certificate, certificate_pem(tls_ca_certificate))
    replace_file(layout.tls_endorsement, endorsement.hex().encode("ascii") + b"\n")


def issue_locally(node: TrustedNode, names: Iterable[str] | None = None) -> list[str]:
    """District: make the TLS CA if the CA has none yet, certify this node; return its names."""
    layout = CaLayout(node.settings.data_dir / "ca")  # as node.enrollment.ca_layout, which imports us
    if not layout.certificate.exists():
        raise DomainError("no CA here: run motcua ca init on the district first", "ca")
    now = _now(node.wall_ms())
    authority = load_ca(layout, passphrase=_passphrase(node))
    tls_ca = ensure_tls_ca(layout, authority, now=now, passphrase=_passphrase(node))
    own = node.trust.own or parse_certificate(NodeLayout(node.settings.data_dir).certificate.read_bytes())
    try:
        certified = check_names(list(names or default_names(node.settings)), lan_only=False)
    except ValueError as e:
        raise DomainError(str(e), "names") from e
    key = generate_tls_key()
    cert = issue_tls_certificate(key.public_key(), identity=identity_from_certificate(own), names=certified,
                                 tls_ca=tls_ca, now=now)
    install(node.settings.data_dir, key, cert, tls_ca.certificate, read_endorsement(layout.tls_endorsement))
    node.trust.reload()
    return certified


def answer_request(node: TrustedNode, payload: dict[str, Any]) -> dict[str, str]:
    """District side of ``POST /sync/v1/tls-cert`` (see the module docstring).

    :raises TlsRefused: malformed (400), refused certificate or revoked node (403), names the
        district does not certify (422).
    """
    from sync.protocol import ProtocolError
    from sync.trust import refuse_if_revoked

    layout = CaLayout(node.settings.data_dir / "ca")
    try:
        request = TlsRequest.from_dict(payload)
    except ValueError as e:
        raise TlsRefused(400, "bad_request", str(e)) from e
    try:
        identity, tls_key = check_tls_request(request, load_ca_certificate(layout), now=node.trust.now(),
                                              trusted_time_floor=node.trust.floor())
        refuse_if_revoked(node.store, identity.node_id)
    except CertificateRejected as e:
        raise TlsRefused(403, "revoked" if e.reason.value == "revoked" else "untrusted", str(e)) from e
    except ProtocolError as e:
        raise TlsRefused(403, "revoked", e.message) from e
    except ValueError as e:
        raise TlsRefused(400, "bad_request", str(e)) from e
    try:
        names = check_names(request.names, suffixes=district_suffixes(node.settings))
    except ValueError as e:
        raise TlsRefused(422, "invalid_input", str(e), "names") from e
    now = _now(node.wall_ms())
    tls_ca = ensure_tls_ca(layout, load_ca(layout, passphrase=_passphrase(node)), now=now,
                           passphrase=_passphrase(node))
    cert = issue_tls_certificate(tls_key, identity=identity, names=names, tls_ca=tls_ca, now=now)
    return {"certificate": certificate_pem(cert).decode(), "tls_ca": certificate_pem(tls_ca.certificate).decode(),
            "endorsement": read_endorsement(layout.tls_endorsement).hex()}


def _checked_answer(answer: Any, ca_certificate: Any, key: Any) -> tuple[Any, Any, bytes]:
    """The (certificate, TLS CA, endorsement) of a district's answer, once they check out."""
    try:
        cert = parse_certificate(answer["certificate"].encode())
        tls_ca = parse_certificate(answer["tls_ca"].encode())
        endorsement = bytes.fromhex(answer["endorsement"])
        check_endorsement(tls_ca, endorsement, ca_certificate)
        check_tls_certificate(cert, tls_ca, key)
    except (KeyError, TypeError, AttributeError, ValueError, CertsError) as e:
        raise TlsRequestFailed(f"the district's answer does not check out: {e}") from e
    return cert, tls_ca, endorsement


def request_from_district(data_dir: Path, district_url: str, names: Iterable[str], timeout: float = 30,
                          node_key_password: bytes | None = None) -> list[str]:
    """Node side: ask the district for an https certificate naming ``names``; install it.

    :raises TlsRequestFailed: not enrolled, district unreachable or refusing, answer not
        authenticated by the district CA.
    """
    from sync.transport import TransportError, post_unverified_json

    layout = NodeLayout(data_dir)
    try:
        node_key = load_private_key(layout.key, passphrase=node_key_password)  # encrypted (issue 16)
        node_cert = parse_certificate(layout.certificate.read_bytes())
        ca_cert = parse_certificate(layout.ca_certificate.read_bytes())
    except (OSError, CertsError) as e:
        raise TlsRequestFailed(f"this node is not enrolled (node.pem, ca.pem): {e}") from e
    key = generate_tls_key()
    request = build_tls_request(node_key, node_cert, key, list(names))
    try:
        status, answer = post_unverified_json(district_url.rstrip("/") + TLS_CERT_PATH, request.to_dict(), timeout)
    except TransportError as e:
        raise TlsRequestFailed(f"cannot reach {district_url}: {e}") from e
    if status != 200 or not isinstance(answer, dict):
        message = answer.get("error", {}).get("message") if isinstance(answer, dict) else None
        raise TlsRequestFailed(f"the district refused (HTTP {status}): {message or 'no explanation'}", status)
    cert, tls_ca, endorsement = _checked_answer(answer, ca_cert, key)
    install(data_dir, key, cert, tls_ca, endorsement)
    return names_of(cert)


def tls_ca_offer(trust: Any) -> dict[str, str] | None:
    """What ``GET /sync/v1/tls-ca`` answers: the TLS CA this node pins, with its endorsement."""
    if trust.tls_ca is None:
        return None
    return {"tls_ca": certificate_pem(trust.tls_ca).decode(), "endorsement": trust.tls_endorsement.hex()}


def fetch_tls_ca(trust: Any, url: str, timeout: float = 10) -> bool:
    """A node enrolled before the TLS CA existed: fetch it from the peer at ``url``; keep it only
    if the district CA signed it. True if this node now pins a TLS CA."""
    from sync.transport import TransportError, get_unverified_json

    try:
        status, answer = get_unverified_json(url.rstrip("/") + TLS_CA_PATH, timeout)
    except TransportError:
        return False
    if status != 200 or not isinstance(answer, dict):
        return False
    try:
        tls_ca = parse_certificate(str(answer["tls_ca"]).encode())
        endorsement = bytes.fromhex(str(answer["endorsement"]))
        check_endorsement(tls_ca, endorsement, trust.ca)
    except (KeyError, ValueError, CertsError):
        return False
    layout = trust.layout
    replace_file(layout.tls_ca_certificate, certificate_pem(tls_ca))
    replace_file(layout.tls_endorsement, endorsement.hex().encode("ascii") + b"\n")
    trust.reload()
    return trust.tls_ca is not None


# -- serving and reporting ------------------------------------------------------------------


def serving_files(trust: Any) -> tuple[str, str] | None:
    """(certificate, key) files ``motcua serve`` presents: the P-256 TLS certificate if this node
    has one, else its Ed25519 node certificate (an enrolled node that has not asked yet: sync
    still works, browsers do not), or ``None`` for plain http (no certificate at all)."""
    if trust.own is None:
        return None
    layout = trust.layout
    # Only with a TLS CA the district CA signed: after enrolling with another district, a stale
    # certificate of the old TLS CA is not served.
    if trust.tls_ca is not None and layout.tls_certificate.exists() and layout.tls_key.exists():
        return str(layout.tls_certificate), str(layout.tls_key)
    return str(layout.certificate), str(layout.key)


def _state(trust: Any) -> tuple[str, str]:
    """("ok" | "warn" | "FAIL", what) of the https certificate."""
    layout = trust.layout
    if not layout.tls_certificate.exists():
        return "warn", ("served with the Ed25519 node certificate, which Chromium and other browsers refuse (sync "
                        "is not affected): run motcua tls request --district URL (on the district: motcua tls "
                        "request)")
    if trust.tls_ca is None:
        why = "missing" if not layout.tls_ca_certificate.exists() else "not signed by the district CA"
        return "FAIL", f"{layout.tls_ca_certificate} is {why}: run motcua tls request again"
    try:
        cert = parse_certificate(layout.tls_certificate.read_bytes())
        check_tls_certificate(cert, trust.tls_ca, load_tls_key(layout.tls_key))
    except (OSError, KeyFileError, CertsError) as e:
        return "FAIL", f"{layout.tls_certificate} cannot be served: {e}; run motcua tls request again"
    until = cert.not_valid_after_utc
    names = ", ".join(names_of(cert))
    level = "warn" if until - trust.now() < RENEW_BEFORE else "ok"
    renew = "; renew it now: motcua tls request" if level == "warn" else ""
    return level, (f"ECDSA P-256 certificate of the district TLS CA for {names}; valid until {until.date()}{renew}. "
                   f"Staff browsers must trust {layout.tls_ca_certificate}")


def report(trust: Any) -> list[str]:
    """``motcua doctor``'s lines about https (nothing for a node without a district CA)."""
    if not trust.enforced or trust.own is None:
        return []
    level, what = _state(trust)
    return [f"{level:<4} https: {what}"]
