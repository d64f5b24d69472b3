"""District views of the network: the sync log and the health of every node known here."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import peewee as pw

from node.binding import node_store
from node.domain.vietnam_time import day_start_ms
from sync.ledger import PeerRow, ProfileRow, SyncSessionRow
from sync.protocol import Profile, feed_key, may_hold


def sync_log(*, node: str = "", outcome: str = "", first: date | None = None, last: date | None = None,
             limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
    """Sync sessions newest first, filtered by peer (id prefix or name part), outcome and days."""
    query = SyncSessionRow.select()
    if node:
        query = query.where(SyncSessionRow.peer.startswith(node) | SyncSessionRow.peer_name.contains(node))
    if outcome:
        query = query.where(SyncSessionRow.outcome == outcome)
    if first:
        query = query.where(SyncSessionRow.started_at >= day_start_ms(first))
    if last:
        query = query.where(SyncSessionRow.started_at < day_start_ms(last + timedelta(days=1)))
    query = query.order_by(SyncSessionRow.started_at.desc(), SyncSessionRow.id.desc())
    return list(query.limit(max(1, min(limit, 500))).offset(max(0, offset)).dicts())


def offices(node_ids: Iterable[str]) -> dict[str, dict[str, str]]:
    """node id -> the office it is, from its profile as kept here (the certificate's name, role and
    unit when a CA is in force): ``{"name", "role", "unit"}``; nodes never met are left out."""
    ids = sorted(set(node_ids))
    out: dict[str, dict[str, str]] = {}
    for start in range(0, len(ids), 500):
        for r in ProfileRow.select(ProfileRow.node_id, ProfileRow.name, ProfileRow.role, ProfileRow.unit).where(
                ProfileRow.node_id.in_(ids[start:start + 500])):
            out[r.node_id] = {"name": r.name, "role": r.role, "unit": r.unit}
    return out


def sync_session(row_id: int) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """One session line and the other lines with the same session id (the other side, if here)."""
    row = SyncSessionRow.select().where(SyncSessionRow.id == row_id).dicts().first()
    if row is None:
        return None, []
    others = SyncSessionRow.select().where(
        (SyncSessionRow.session == row["session"]) & (SyncSessionRow.id != row_id)).dicts()
    return row, list(others)


def _feed_heads() -> dict[str, int]:
    return {feed_key(h.origin, h.scope): h.seq for h in node_store().feeds()}


def node_health(now: int) -> list[dict[str, Any]]:
    """Every node known here: role, unit, last contact, outcome of its last session, events it
    held that we lacked and that we held for it at last contact, clock skew, events of its own."""
    local = _feed_heads()
    own_events: dict[str, int] = {}
    for key, seq in local.items():
        origin = key.split(":", 1)[0]
        own_events[origin] = own_events.get(origin, 0) + seq
    peers = {p.node_id: p for p in PeerRow.select()}
    last_sessions: dict[str, dict[str, Any]] = {}
    latest = (SyncSessionRow.select(SyncSessionRow.peer, pw.fn.MAX(SyncSessionRow.id).alias("last"))
              .group_by(SyncSessionRow.peer))
    ids = [r.last for r in latest]
    for start in range(0, len(ids), 500):
        for r in SyncSessionRow.select().where(SyncSessionRow.id.in_(ids[start:start + 500])).dicts():
            last_sessions[r["peer"]] = r
    arriving = files_arriving_by_origin()
    out = []
    for profile in ProfileRow.select().order_by(ProfileRow.unit, ProfileRow.name):
        peer = peers.get(profile.node_id)
        vector: Mapping[str, int] = json.loads(peer.vector) if peer else {}
        as_profile = Profile(profile.node_id, b"", profile.role, profile.unit, profile.name, b"")
        pending_down = sum(
            seq - vector.get(key, 0) for key, seq in local.items()
            if seq > vector.get(key, 0) and may_hold(as_profile, key.split(":", 1)[1])
        ) if peer else None
        pending_up = sum(max(0, seq - local.get(key, 0)) for key, seq in vector.items()) if peer else None
        out.append({
            "node_id": profile.node_id,
            "name": profile.name,
            "role": profile.role,
            "unit": profile.unit,
            "last_seen": peer.last_seen if peer else 0,
            "last_success": peer.last_success if peer else 0,
            "last_error": peer.last_error if peer else "",
            "clock_skew_ms": peer.clock_skew_ms if peer else None,
            "pending_up": pending_up,
            "pending_down": pending_down,
            "events": own_events.get(profile.node_id, 0),
            "files_arriving": arriving.get(profile.node_id, (0, 0))[0],
            "bytes_arriving": arriving.get(profile.node_id, (0, 0))[1],
            "last_session": last_sessions.get(profile.node_id),
            "version": "",  # the sync protocol does not carry the software version yet
            "cert_expires": _cert_expiry_ms(bytes(profile.cert or b"")),
            "silent_hours": (now - peer.last_seen) / 3_600_000 if peer and peer.last_seen else None,
        })
    return out


def files_arriving_by_origin() -> dict[str, tuple[int, int]]:
    """Per origin: files it attached (signed events held here) whose chunks have not all arrived
    and verified here yet, and their bytes (issue 17: the hub holds every file of its units)."""
    from node.filerows import FileStateRow
    from node.models import AttachmentRow

    complete = {r.file_hash for r in FileStateRow.select(FileStateRow.file_hash).where(FileStateRow.complete)}
    out: dict[str, tuple[int, int]] = {}
    seen: set[str] = set()
    for r in AttachmentRow.select(AttachmentRow.origin, AttachmentRow.file_hash, AttachmentRow.size):
        if r.file_hash in complete or r.file_hash in seen:
            continue
        seen.add(r.file_hash)
        files, size = out.get(r.origin, (0, 0))
        out[r.origin] = (files + 1, size + r.size)
    return out


def _cert_expiry_ms(der: bytes) -> int | None:
    """When a node's certificate from the district CA runs out (epoch ms), if it has one."""
    if not der:
        return None
    from certs import CertificateRejected
    from certs.identity import identity_from_certificate, parse_certificate

    try:
        return int(identity_from_certificate(parse_certificate(der)).not_after.timestamp() * 1000)
    except (CertificateRejected, ValueError):
        return None
