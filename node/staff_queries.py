"""Read models for the web UI: dashboard counts, fast search, verified timelines, district views.

Everything here only *reads* the derived tables, the event store and the sync ledger; writes go
through :class:`node.services.Node`. Queries are written to stay fast with 100,000 dossiers on a
node (bench/ui_bench.py): each uses an index range and a LIMIT, and counts that could touch the
whole table are capped (:data:`COUNT_CAP`) rather than scanned.

Time is always passed in (``now`` in epoch ms); "today" is the Vietnam calendar day.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterable, Mapping
from datetime import date, timedelta
from typing import Any

import peewee as pw

from node.db import node_store
from node.domain.deadline import Duration, appointment_at
from node.domain.text import fold as fold_text
from node.domain.vietnam_time import day_start_ms, to_vn, vn_day
from node.models import DossierRow
from node.reference import ReferenceData
from node.services import row_to_dict
from sync.chain import ChainError, check_head
from sync.ledger import PeerRow, ProfileRow, SyncSessionRow
from sync.protocol import Profile, feed_key, may_hold
from sync.store import EventRow, as_bytes
from sync.wire import hash_bytes, make_ref

# Statuses in which the legal clock runs and the office owes the citizen a decision.
OPEN_STATUSES = ("online_filed", "received", "processing", "fees_pending", "withdrawal_requested")
DUE_SOON_MS = 2 * 24 * 3600 * 1000
COUNT_CAP = 10_000  # beyond this a count reads "10000+": nobody acts on the exact number
LIST_LIMIT = 10


# -- time -------------------------------------------------------------------------------------


@functools.cache
def compute_appointment(reference: ReferenceData, received_ms: int, duration: Duration) -> int:
    """The appointment shown before reception: the same rule and calendar in force that
    reception applies (node.reception), so the screen and the receipt cannot disagree."""
    received = to_vn(received_ms)
    due = appointment_at(reference.calendar(), received, duration)
    return int(due.timestamp() * 1000)


# -- dashboard ---------------------------------------------------------------------------------


def _capped_count(query: pw.SelectQuery) -> int:
    return query.select(pw.SQL("1")).limit(COUNT_CAP + 1).count()


def _open(query: pw.SelectQuery) -> pw.SelectQuery:
    # Wrapped in a CASE on purpose: a bare ``status IN (…)`` makes SQLite pick the status index
    # (most dossiers are open, so it matches nearly all) and sort them all by due_at; through the
    # CASE it walks the due_at index in order and stops at the LIMIT (60 ms -> 2 ms at 100,000).
    return query.where(pw.Case(None, [(DossierRow.status.in_(OPEN_STATUSES), 1)], 0) == 1)


def dashboard(now: int, soon_ms: int = DUE_SOON_MS, limit: int = LIST_LIMIT) -> dict[str, Any]:
    """Today's intake, dossiers due soon and overdue: counts and the first few of each."""
    start = day_start_ms(vn_day(now))
    today = DossierRow.select().where(DossierRow.received_at >= start)
    soon = _open(DossierRow.select().where((DossierRow.due_at >= now) & (DossierRow.due_at < now + soon_ms)))
    overdue = _open(DossierRow.select().where(DossierRow.due_at < now))
    return {
        "today_count": _capped_count(today),
        "today": [row_to_dict(r) for r in today.order_by(DossierRow.received_at.desc()).limit(limit).dicts()],
        "soon_count": _capped_count(soon),
        "soon": [row_to_dict(r) for r in soon.order_by(DossierRow.due_at).limit(limit).dicts()],
        "overdue_count": _capped_count(overdue),
        "overdue": [row_to_dict(r) for r in overdue.order_by(DossierRow.due_at).limit(limit).dicts()],
        "count_cap": COUNT_CAP,
    }


def received_between(first_ms: int, end_ms: int, channel: str = "", limit: int = 200) -> list[dict[str, Any]]:
    query = DossierRow.select().where((DossierRow.received_at >= first_ms) & (DossierRow.received_at < end_ms))
    if channel:
        query = query.where(DossierRow.channel == channel)
    return [row_to_dict(r) for r in query.order_by(DossierRow.received_at.desc()).limit(limit).dicts()]


# -- search ------------------------------------------------------------------------------------


def classify_query(q: str) -> tuple[str, str]:
    """What a search box text is: ``("id", 12 digits)``, ``("id_prefix", digits)``,
    ``("code", upper-case code prefix)`` or ``("name", folded text)``."""
    q = " ".join(q.split())
    if q.isdigit():
        return ("id", q) if len(q) == 12 else ("id_prefix", q)
    if "-" in q and any(c.isdigit() for c in q) and " " not in q:
        return "code", q.upper()
    return "name", fold_text(q)


def _prefix(field: pw.Field, prefix: str) -> pw.Expression:
    # a range, not LIKE: it uses the index on SQLite (LIKE is case-insensitive there) and PostgreSQL
    return (field >= prefix) & (field < prefix + "\uffff")


def search(q: str, limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int, bool]:
    """Dossiers matching ``q`` newest first, the number found (capped) and whether it was capped.

    By a 12-digit ID number (exact), digits (ID number prefix), a dossier code (prefix), or a name
    typed with or without diacritics (any part of the folded name).
    """
    kind, value = classify_query(q)
    query = DossierRow.select()
    if not value:
        return [], 0, False
    if kind == "id":
        query = query.where(DossierRow.id_number == value)
    elif kind == "id_prefix":
        query = query.where(_prefix(DossierRow.id_number, value))
    elif kind == "code":
        query = query.where(_prefix(DossierRow.code, value))
    else:
        query = query.where(DossierRow.applicant_name_folded.contains(value))
    limit = max(1, min(limit, 200))
    rows = [
        row_to_dict(r)
        for r in query.order_by(DossierRow.received_at.desc(), DossierRow.id).limit(limit).offset(offset).dicts()
    ]
    if offset == 0 and len(rows) < limit:
        return rows, len(rows), False
    total = _capped_count(query)
    return rows, min(total, COUNT_CAP), total > COUNT_CAP


def find_by_code(code: str) -> DossierRow | None:
    code = " ".join(code.split()).upper()
    return DossierRow.get_or_none(DossierRow.code == code) if code else None


# -- timeline with verification marks ------------------------------------------------------


def verification_marks(dossier_id: str, verify_signature: Any) -> dict[str, str]:
    """For each event of the dossier: ``"ok"`` when its stored bytes match its hash and a head
    signed by its origin's key covers its seq, else the reason (``tampered``, ``unsigned``,
    ``forged``). The full chain between the event and that head was verified at ingest and by
    ``motcua verify``; this is the per-page check a clerk's eye can afford."""
    rows = (
        EventRow.select(EventRow.origin, EventRow.scope, EventRow.seq, EventRow.hash, EventRow.raw)
        .where(EventRow.entity == f"dossier/{dossier_id}")
        .iterator()
    )
    heads: dict[tuple[str, str], tuple[int, str]] = {}
    marks = {}
    for r in rows:
        ref = make_ref(r.origin, r.scope, r.seq)
        if hash_bytes(as_bytes(r.raw)) != r.hash:
            marks[ref] = "tampered"
            continue
        key = (r.origin, r.scope)
        if key not in heads:
            head = node_store().latest_signed_head(r.origin, r.scope)
            if head is None:
                heads[key] = (0, "unsigned")
            else:
                try:
                    check_head(head, verify_signature)
                    heads[key] = (head.seq, "ok")
                except ChainError as e:
                    heads[key] = (head.seq, e.reason.value)
        seq, verdict = heads[key]
        marks[ref] = verdict if r.seq <= seq or verdict != "ok" else "unsigned"
    return marks


def node_names(node_ids: Iterable[str]) -> dict[str, str]:
    """Display names of origins (from their signed profiles)."""
    ids = sorted(set(node_ids))
    return {r.node_id: r.name for r in ProfileRow.select(ProfileRow.node_id, ProfileRow.name).where(
        ProfileRow.node_id.in_(ids))} if ids else {}


# -- district: sync log and node health ------------------------------------------------------


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
            "last_session": last_sessions.get(profile.node_id),
            "version": "",  # the sync protocol does not carry the software version yet
            "cert_expires": _cert_expiry_ms(bytes(profile.cert or b"")),
            "silent_hours": (now - peer.last_seen) / 3_600_000 if peer and peer.last_seen else None,
        })
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


# -- district: statistics and late dossiers ---------------------------------------------------


def by_unit(now: int, first: date, last: date) -> list[dict[str, Any]]:
    """Per unit: received in the period, resolved among them, still open, open and overdue."""
    start, end = day_start_ms(first), day_start_ms(last + timedelta(days=1))
    in_period = (DossierRow.received_at >= start) & (DossierRow.received_at < end)
    done = DossierRow.status.in_(("resolved", "returned"))
    open_ = DossierRow.status.in_((*OPEN_STATUSES, "supplement_requested"))
    late = DossierRow.status.in_(OPEN_STATUSES) & (DossierRow.due_at < now)
    query = (
        DossierRow.select(
            DossierRow.scope,
            pw.fn.COUNT(DossierRow.id).alias("received"),
            pw.fn.SUM(pw.Case(None, [(done, 1)], 0)).alias("resolved"),
            pw.fn.SUM(pw.Case(None, [(open_, 1)], 0)).alias("pending"),
            pw.fn.SUM(pw.Case(None, [(late, 1)], 0)).alias("overdue"),
        )
        .where(in_period)
        .group_by(DossierRow.scope)
        .order_by(DossierRow.scope)
    )
    return [{k: (int(v) if k != "scope" else v) for k, v in r.items()} for r in query.dicts()]


def late_by_unit(now: int, limit_per_unit: int = 20) -> list[dict[str, Any]]:
    """Open dossiers past their appointment, grouped by unit, most overdue first."""
    query = _open(DossierRow.select().where(DossierRow.due_at < now))
    counts = {r["scope"]: r["n"] for r in query.select(DossierRow.scope, pw.fn.COUNT(DossierRow.id).alias("n"))
              .group_by(DossierRow.scope).dicts()}
    out = []
    for scope in sorted(counts, key=lambda s: (-counts[s], s)):
        rows = query.where(DossierRow.scope == scope).order_by(DossierRow.due_at).limit(limit_per_unit).dicts()
        out.append({"scope": scope, "count": counts[scope], "dossiers": [row_to_dict(r) for r in rows]})
    return out


def unit_names(units: Iterable[str]) -> dict[str, str]:
    """Names of units from the node profiles that serve them (first commune node wins)."""
    wanted = set(units)
    names: dict[str, str] = {}
    for r in ProfileRow.select(ProfileRow.unit, ProfileRow.name, ProfileRow.role).order_by(ProfileRow.role):
        if r.unit in wanted and r.unit not in names:
            names[r.unit] = r.name
    return names
