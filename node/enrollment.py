"""The district CA as operated from a district node, and enrollment of nodes by pairing code.

District side: ``motcua ca init`` creates the CA under ``<data dir>/ca`` and certifies the
district node itself (so it serves TLS and enforces certificates from then on); ``motcua ca
pair`` prints a one-time code bound to a role, unit and name; the district server redeems it at
``POST /sync/v1/enroll``; ``motcua ca revoke`` revokes a node *as an event* ("node X revoked
after its seq N") that every node enforces once it holds it, plus a CRL.

Node side: ``motcua enroll --district URL --code CODE`` proves knowledge of the code for the
node's own key (the code never travels), checks the answer's MAC keyed by the code (the node
has no trust anchor yet), and stores ``ca.pem`` and ``node.pem``; then it asks for the ECDSA
P-256 https certificate browsers accept (``node/https.py``), which ``motcua ca init`` also makes
for the district itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from certs import create_ca, issue_node_certificate
from certs.ca import load_ca, save_ca
from certs.enrollment import (
    EnrollmentRequest,
    PairingStore,
    build_enrollment_request,
    code_key,
    key_used_by,
    normalise_code,
    response_mac,
)
from certs.identity import certificate_pem, identity_from_certificate, parse_certificate
from certs.keys import load_private_key
from certs.layout import CaLayout, NodeLayout
from certs.registry import Registry
from certs.revocation import RevocationReason
from node.atrest import (
    ESCROW_KEY_FILE,
    ESCROW_PUBLIC_FILE,
    ca_passphrase,
    escrow_private_pem,
    escrow_public_pem,
    generate_escrow_key,
)
from node.context import NodeContext, TrustedNode
from node.domain.errors import DomainError
from sync.transport import TransportError, post_unverified_json
from sync.trust import REVOKED, apply_revocations
from sync.wire import SHARED_SCOPE

CA_YEARS = 20
NODE_DAYS = 5 * 365


def _now(wall_ms: int) -> datetime:
    return datetime.fromtimestamp(wall_ms / 1000, UTC)


def ca_layout(node: NodeContext) -> CaLayout:
    return CaLayout(node.settings.data_dir / "ca")


def _passphrase(node: Any = None) -> bytes | None:
    """The CA key's passphrase: the operator's (``MOTCUA_CA_PASSPHRASE``) if set, else one
    derived from the district node's data key, so the CA key is never stored in the clear."""
    return ca_passphrase(node.settings.data_dir, getattr(node, "data_key", None))


def load_district_ca(node: Any):  # -> certs.ca.DistrictCA
    """The district CA of this district node, its key opened as :func:`_passphrase` says."""
    return load_ca(ca_layout(node), passphrase=_passphrase(node))


def make_escrow_key(layout: CaLayout, passphrase: bytes) -> None:
    """The district escrow key pair in the CA directory: ``escrow.key`` (PKCS#8 encrypted with
    the operator's passphrase: copy it offline, motcua ca escrow-export) and ``escrow.pub``."""
    from certs.storage import write_new_file

    private = generate_escrow_key()
    write_new_file(layout.root / ESCROW_KEY_FILE, escrow_private_pem(private, passphrase), mode=0o600)
    write_new_file(layout.root / ESCROW_PUBLIC_FILE, escrow_public_pem(private), mode=0o644)


def init_ca(node: TrustedNode, escrow_passphrase: bytes = b"") -> str:
    """Create the district CA and certify this district node; with ``escrow_passphrase``, also
    the district escrow key pair (its own data key is escrowed to it too). Returns the CA
    fingerprint."""
    if node.settings.ROLE != "district":
        raise DomainError("only a district node holds the certificate authority", "role")
    layout = ca_layout(node)
    if layout.certificate.exists():
        raise DomainError(f"a CA already exists in {layout.root}", "ca")
    now = _now(node.wall_ms())
    authority = create_ca(node.settings.UNIT, now=now, lifetime=timedelta(days=365 * CA_YEARS))
    save_ca(authority, layout, passphrase=_passphrase(node))
    cert = issue_node_certificate(
        node.key.public_key, node_id=node.node_id, role="district", unit=node.settings.UNIT,
        name=node.settings.NAME[:64] or "district", ca=authority, now=now, lifetime=timedelta(days=NODE_DAYS),
    )
    Registry(layout).record_issued(cert)
    if escrow_passphrase:
        make_escrow_key(layout, escrow_passphrase)
        if getattr(node, "data_key", None) is not None:
            from node.unlocking import escrow_to

            escrow_to(node, (layout.root / ESCROW_PUBLIC_FILE).read_bytes())
    _install(node.settings.data_dir, certificate_pem(cert), certificate_pem(authority.certificate))
    node.trust.reload()
    from node.https import issue_locally

    issue_locally(node)  # the TLS CA too, and the district's https certificate browsers accept
    return authority.fingerprint


def _install(data_dir: Path, cert_pem: bytes, ca_pem: bytes) -> None:
    layout = NodeLayout(data_dir)
    for path, data in ((layout.ca_certificate, ca_pem), (layout.certificate, cert_pem)):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)


def new_pairing_code(node: NodeContext, role: str, unit: str, name: str, hours: int = 72) -> tuple[str, str]:
    layout = ca_layout(node)
    if not layout.certificate.exists():
        raise DomainError("no CA here: run motcua ca init on the district node first", "ca")
    code, entry = PairingStore(layout.pairing).create(
        role=role, unit=unit, name=name, now=_now(node.wall_ms()), valid_for=timedelta(hours=hours)
    )
    return code, entry.expires_at.isoformat()


def redeem(node: NodeContext, payload: dict[str, Any]) -> dict[str, str]:
    """District server side of ``POST /sync/v1/enroll``."""
    layout = ca_layout(node)
    request = EnrollmentRequest.from_dict(payload)
    authority = load_ca(layout, passphrase=_passphrase(node))
    store_ = PairingStore(layout.pairing)
    cert = store_.redeem(request, ca=authority, registry=Registry(layout), now=_now(node.wall_ms()),
                         lifetime=timedelta(days=NODE_DAYS))
    ca_pem, cert_pem = certificate_pem(authority.certificate), certificate_pem(cert)
    code_key_ = key_used_by(store_, request.node_id)
    mac = response_mac(code_key_, ca_pem, cert_pem)
    answer = {"ca": ca_pem.decode(), "certificate": cert_pem.decode(), "mac": mac.hex()}
    escrow = layout.root / ESCROW_PUBLIC_FILE
    if escrow.exists():  # the node wraps its data key to it (docs/security.md, escrow)
        answer["escrow"] = escrow.read_text(encoding="ascii")
        answer["escrow_mac"] = escrow_mac(code_key_, escrow.read_bytes()).hex()
    return answer


def escrow_mac(key: bytes, public_pem: bytes) -> bytes:
    """The pairing code's MAC over the escrow public key, so no one between the node and the
    district can have the node escrow its data key to a key of their own."""
    import hashlib
    import hmac

    return hmac.new(key, b"motcua-escrow/v1\x00" + public_pem, hashlib.sha256).digest()


@dataclass
class Enrolled:
    node_id: str
    role: str
    unit: str
    name: str
    fingerprint: str
    escrow_pem: bytes = b""
    tls_names: list[str] = field(default_factory=list)  # what the https certificate names, if one came
    tls_error: str = ""  # why no https certificate came (the enrollment itself succeeded)


class EnrollmentFailed(Exception):
    """The district refused the code, or its answer did not check out."""


def enroll(data_dir: Path, district_url: str, code: str, timeout: float = 30,
           tls_names: list[str] | None = None, node_key_password: bytes | None = None) -> Enrolled:
    """Node side: redeem ``code`` at ``district_url`` and install the certificates; then ask for
    the https certificate naming ``tls_names`` (``node/https.py``). ``node_key_password`` opens
    the node key file (encrypted with the data key, issue 16)."""
    from certs.identity import ca_fingerprint

    key = load_private_key(NodeLayout(data_dir).key, passphrase=node_key_password)
    request = build_enrollment_request(key, code)
    try:
        # No trust anchor yet: TLS cannot be verified here; the answer is checked by its MAC.
        status, answer = post_unverified_json(district_url.rstrip("/") + "/sync/v1/enroll", request.to_dict(),
                                              timeout)
    except TransportError as e:
        raise EnrollmentFailed(f"cannot reach {district_url}: {e}") from e
    if not isinstance(answer, dict):
        raise EnrollmentFailed(f"HTTP {status}: not an enrollment answer")
    if status != 200:
        raise EnrollmentFailed(answer.get("error", {}).get("message", f"HTTP {status}"))
    ca_pem, cert_pem = answer["ca"].encode(), answer["certificate"].encode()
    expected = response_mac(code_key(normalise_code(code)), ca_pem, cert_pem)
    if not hmac_equal(expected, bytes.fromhex(answer.get("mac", ""))):
        raise EnrollmentFailed("the answer is not authenticated by the pairing code: refused")
    cert = parse_certificate(cert_pem)
    identity = identity_from_certificate(cert)
    if identity.node_id != request.node_id:
        raise EnrollmentFailed("the certificate is not for this node's key")
    escrow_pem = b""
    if answer.get("escrow"):
        escrow_pem = str(answer["escrow"]).encode("ascii")
        expected = escrow_mac(code_key(normalise_code(code)), escrow_pem)
        if not hmac_equal(expected, bytes.fromhex(str(answer.get("escrow_mac", "")))):
            raise EnrollmentFailed("the escrow key is not authenticated by the pairing code: refused")
    _install(data_dir, cert_pem, ca_pem)
    node_file = data_dir / "node.json"
    data = json.loads(node_file.read_text(encoding="utf-8"))
    data.update(role=identity.role.value, unit=identity.unit)
    node_file.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    done = Enrolled(identity.node_id, identity.role.value, identity.unit, identity.name,
                    ca_fingerprint(parse_certificate(ca_pem)), escrow_pem)
    if tls_names:
        from node.https import TlsRequestFailed, lan_names, request_from_district

        try:
            done.tls_names = request_from_district(data_dir, district_url, tls_names, timeout, node_key_password)
        except TlsRequestFailed as e:  # enrolled all the same: sync works, https falls back to Ed25519
            done.tls_error = str(e)
            lan = lan_names(tls_names)
            if e.status == 422 and lan and lan != tls_names:
                # A configured name this district does not vouch for: take the LAN names now,
                # and say which were refused (motcua tls request --name once it is sorted out).
                try:
                    done.tls_names = request_from_district(data_dir, district_url, lan, timeout, node_key_password)
                except TlsRequestFailed as again:
                    done.tls_error = str(again)
    return done


def hmac_equal(a: bytes, b: bytes) -> bool:
    import hmac

    return hmac.compare_digest(a, b)


def revoke(node: NodeContext, node_id: str, author: str, reason: str, after_seq: int | None = None,
           unit: str | None = None) -> dict[str, Any]:
    """Revoke ``node_id`` after ``after_seq`` of its unit's feed (default: what we hold)."""
    if node.settings.ROLE != "district":
        raise DomainError("only a district may revoke a node", "role")
    profile = node.store.load_profiles([node_id]).get(node_id)
    unit = unit or (profile.unit if profile else None)
    if not unit:
        raise DomainError(f"unknown node {node_id}: give --unit", "unit")
    if after_seq is None:
        after_seq = node.store.feed_head(node_id, unit).seq
    reason_code = RevocationReason(reason) if reason in RevocationReason._value2member_map_ else \
        RevocationReason.UNSPECIFIED
    layout = ca_layout(node)
    if layout.certificate.exists():
        registry = Registry(layout)
        if registry.issued_to(node_id):
            registry.revoke_node(node_id, after_seq=after_seq, reason=reason_code, now=_now(node.wall_ms()))
            registry.write_crl(load_ca(layout, passphrase=_passphrase(node)), now=_now(node.wall_ms()),
                               next_update_in=timedelta(days=7))
    # Not gated, as before the write recipe had one home: the write gate has never held back a
    # district's revocation (whether it should is an open question, noted in issue 11).
    with node.writer.transaction(gated=False):
        event = node.writer.append(
            scope=SHARED_SCOPE, entity=f"node/{node_id}", type=REVOKED, author=author,
            body={"node_id": node_id, "after": {unit: after_seq}, "reason": reason_code.value},
        )
        apply_revocations(node.store, [event], {node.node_id: "district"})  # the cut-off counts before the refold
        node.writer.project([event])  # dossiers touched by now-invalid events are refolded
    return {"node_id": node_id, "unit": unit, "after_seq": after_seq, "event": event.ref}
