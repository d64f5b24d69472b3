"""Provenance shown beside a dossier's timeline: a verification mark per event and the names of
the nodes that made them."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from node.binding import node_store
from sync.chain import ChainError, check_head
from sync.ledger import ProfileRow
from sync.store import EventRow, as_bytes
from sync.wire import hash_bytes, make_ref

VerifySignature = Callable[[bytes, bytes, bytes], None]  # (public key, message, signature); raises if invalid


def verification_marks(dossier_id: str, verify_signature: VerifySignature) -> dict[str, str]:
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
