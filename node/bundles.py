"""USB bundles on a node: export what a peer lacks to a file, import a file and acknowledge it.

The bundle's form is :mod:`sync.bundle`, its writing and applying :mod:`sync.bundler` (the same
outbox and ingestor as a network sync); this module is the node's part: whom a bundle is for
(``--for`` a node id whose certificate this node holds, a recipient's ``node.pem``, or by default
the parent), the node key that signs and opens, the ``bundle`` table, and the sync log, where a
bundle session is a line like a network one with the link ``usb``:

* an export opens a ``client`` line (events and bytes out, outcome ``sent``); the import of its
  acknowledgement completes the same line (``ok``, events in);
* an import opens a ``server`` line (events in, and out: what its acknowledgement carries back).

Invariants
----------
* A bundle is written for one certified node only; without a CA in force, only for a node whose
  profile this node already holds (a development node never trusts strangers).
* The vector a peer acknowledged is moved only by a bundle written *later* than the last one
  imported from it: an old bundle after a newer one changes nothing, not even what we believe
  the peer holds. A bundle already imported is refused (``replayed``) and changes nothing; its
  acknowledgement is written again, in case the first one was lost.
* Files are written whole, synced, then renamed into place: a stick pulled out mid-write leaves
  no half bundle under the final name.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from node import replication
from node.context import SyncingNode
from node.models import BundleRow
from node.sealing import Opener, seal
from sync.bundle import BundleError
from sync.bundler import Sealing, apply_payload, open_bundle, write_bundles
from sync.protocol import Profile, ProtocolError
from sync.session import may_serve

MAX_IMPORT_BYTES = 1 << 30


@dataclass
class Exported:
    recipient: Profile
    files: list[Path] = field(default_factory=list)
    events: int = 0
    bytes: int = 0
    bundle: str = ""


@dataclass
class Imported:
    sender: Profile
    kind: str
    events: int = 0
    skipped: int = 0
    ack: bytes = b""
    ack_file: Path | None = None
    ack_events: int = 0


def sealing_of(node: SyncingNode) -> Sealing:
    return Sealing(sign=node.key.sign, seal=seal, open=Opener(node.key.seed()))


def recipient_of(node: SyncingNode, target: str | None) -> Profile:
    """Whom to write for: ``target`` (a node id, or the path of its certificate), or the parent.

    :raises BundleError: ``no_recipient``, ``untrusted``, ``revoked``.
    """
    if target and (os.sep in target or target.endswith(".pem") or Path(target).is_file()):
        return _from_certificate(node, Path(target))
    node_id = target or _parent(node)
    profile = node.store.load_profiles([node_id]).get(node_id)
    if profile is None:
        raise BundleError("no_recipient", f"no certificate of node {node_id} is known here: pass its node.pem "
                          "(--for PATH) once, or sync with it once")
    return _admitted(node, profile)


def _admitted(node: SyncingNode, profile: Profile) -> Profile:
    try:
        admitted = node.trust.admit(profile)
    except ProtocolError as e:
        raise BundleError(e.code.value, f"node {profile.node_id} is not trusted here: {e.message}") from e
    if node.trust.is_revoked(admitted.node_id):
        raise BundleError("revoked", f"node {admitted.node_id} has been revoked by the district")
    return admitted


def _from_certificate(node: SyncingNode, path: Path) -> Profile:
    from certs.errors import CertsError
    from certs.identity import certificate_der, identity_from_certificate, parse_certificate

    if not node.trust.enforced:
        raise BundleError("untrusted", "this node holds no district CA: it writes bundles only for nodes it knows")
    try:
        cert = parse_certificate(path.read_bytes())
        identity = identity_from_certificate(cert)
    except (OSError, CertsError, ValueError) as e:
        raise BundleError("no_recipient", f"{path} is not a node certificate: {e}") from e
    raw = cert.public_key().public_bytes_raw()
    profile = _admitted(node, Profile(identity.node_id, raw, identity.role.value, identity.unit, identity.name,
                                      cert=certificate_der(cert)))
    node.replica.keep_profiles([profile])  # now known: --for NODE_ID, and the default, find it
    return profile


def _parent(node: SyncingNode) -> str:
    """The peer at PARENT_URL; else the newest bundle peer that may serve this node."""
    url = node.settings.PARENT_URL
    known = node.store.find_peer_by_url(url) if url else None
    if known:
        return known
    peers = [r.peer for r in BundleRow.select(BundleRow.peer).order_by(BundleRow.at.desc()).limit(50)]
    profiles = node.store.load_profiles(set(peers))
    for peer in peers:
        if peer in profiles and may_serve(node.replica.me, profiles[peer]):
            return peer
    raise BundleError("no_recipient", "this node knows no parent yet: pass --for with the parent's node id or its "
                      "node.pem")


def part_path(to: Path, part: int) -> Path:
    """Part 1 is ``to`` itself; part N is ``to`` with ``.N`` appended."""
    return to if part == 1 else to.with_name(f"{to.name}.{part}")


def write_file(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.partial")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def export(node: SyncingNode, to: Path | None, target: str | None = None,
           max_bytes: int | None = None) -> tuple[Exported, list[bytes]]:
    """Write what ``target`` (default: the parent) lacks per the vector it last acknowledged.

    Returns what was written and the parts' bytes (also written to ``to`` when given).
    """
    recipient = recipient_of(node, target)
    now = node.wall_ms()
    bundle_id = secrets.token_hex(16)
    parts = write_bundles(node.replica, recipient, node.store.peer_state(recipient.node_id).vector,
                          sealing_of(node), now=now, bundle_id=bundle_id, max_bytes=max_bytes)
    result = Exported(recipient, bundle=bundle_id)
    with node.store.write_transaction():
        node.store.open_session(bundle_id, "client", recipient.node_id, recipient.name, now, link="usb")
        for written in parts:
            if to is not None:
                path = part_path(to, written.payload.header.part)
                write_file(path, written.data)
                result.files.append(path)
            result.events += written.payload.events
            result.bytes += len(written.data)
            BundleRow.insert(bundle=bundle_id, part=written.payload.header.part, direction="out", kind="data",
                             peer=recipient.node_id, created=now, at=now,
                             events=written.payload.events).execute()
        node.store.add_to_session(bundle_id, "client", now=now, events_out=result.events, bytes_out=result.bytes,
                                  outcome="sent")
    return result, [w.data for w in parts]


def import_bundle(node: SyncingNode, data: bytes, ack_to: Path | None = None) -> Imported:
    """Verify and apply a bundle; for a data bundle, write its acknowledgement (to ``ack_to``).

    :raises BundleError: a refused bundle (its ``code`` says why); nothing unverified applied.
    :raises ProtocolError: what the ingestor refused, as for a network batch.
    """
    if len(data) > MAX_IMPORT_BYTES:
        raise BundleError("too_large", f"a bundle part is at most {MAX_IMPORT_BYTES} bytes")
    payload = open_bundle(data, node.replica, sealing_of(node))
    header, sender = payload.header, payload.sender
    result = Imported(sender, header.kind)
    node.replica.keep_profiles([sender])
    seen = BundleRow.get_or_none((BundleRow.bundle == header.id) & (BundleRow.part == header.part)
                                 & (BundleRow.direction == "in"))
    if seen is not None:
        if header.kind == "data":
            _acknowledge(node, payload, result, ack_to)
        from node.reports import format_ms

        again = f"; its acknowledgement was written again to {ack_to}" if result.ack_file else ""
        raise BundleError("replayed", f"this bundle (part {header.part}) was already imported on "
                          f"{format_ms(seen.at)}: nothing changed{again}")
    session = header.id if header.kind == "ack" else f"{header.id}-{header.part}"
    now = node.wall_ms()
    if header.kind == "ack":
        session = payload.ack_of or header.id
        node.store.open_session(session, "client", sender.node_id, sender.name, now, link="usb")
    else:
        node.store.open_session(session, "server", sender.node_id, sender.name, now, link="usb")
    side = "client" if header.kind == "ack" else "server"
    try:
        applied = apply_payload(node.replica, payload, session)
    except (BundleError, ProtocolError) as e:
        code = e.code if isinstance(e, BundleError) else e.code.value
        node.store.add_to_session(session, side, now=node.wall_ms(), peer=sender.node_id, bytes_in=len(data),
                                  outcome="failed", error_code=code, error=e.message)
        raise
    result.events, result.skipped = applied.events, applied.skipped
    newest = max((r.created for r in BundleRow.select(BundleRow.created).where(
        (BundleRow.peer == sender.node_id) & (BundleRow.direction == "in"))), default=-1)
    with node.store.write_transaction():
        if header.created >= newest:  # an older bundle never moves the acknowledged vector back
            node.store.remember_peer(sender.node_id, vector=payload.vector, now=now, ok=True)
        BundleRow.insert(bundle=header.id, part=header.part, direction="in", kind=header.kind, peer=sender.node_id,
                         created=header.created, at=now, events=applied.events).execute()
    if header.kind == "data":
        _acknowledge(node, payload, result, ack_to)
    node.store.add_to_session(session, side, now=node.wall_ms(), peer=sender.node_id, events_in=applied.events,
                              bytes_in=len(data), events_out=result.ack_events, bytes_out=len(result.ack),
                              outcome="ok")
    if may_serve(node.replica.me, sender):  # from the parent: what it holds may lift the write gate
        node.gate.after_sync(node.store.peer_state(sender.node_id).vector, "")
    replication.after_sync(node)
    return result


def _acknowledge(node: SyncingNode, payload, result: Imported, ack_to: Path | None) -> None:
    """The acknowledgement: what this node now holds of the sender's feeds, and what it lacks."""
    sender = payload.sender
    now = node.wall_ms()
    (written,) = write_bundles(node.replica, sender, payload.vector, sealing_of(node), now=now,
                               bundle_id=secrets.token_hex(16), kind="ack", ack_of=payload.header.id)
    result.ack, result.ack_events = written.data, written.payload.events
    if ack_to is not None:
        write_file(ack_to, written.data)
        result.ack_file = ack_to


def default_ack_path(imported: Path) -> Path:
    return imported.with_name(f"{imported.name}.ack")
