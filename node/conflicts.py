"""Conflict use cases: list and show the conflict records, and resolve one.

Both versions of a conflict are always kept (the events stay signed in the log); a resolution is
an event like any other (:data:`node.domain.conflict.CONFLICT_RESOLVED`), recorded with the write
recipe of :mod:`node.writer`, so it replicates and closes the conflict everywhere.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from node import dossiers
from node.context import NodeContext
from node.domain.conflict import CONFLICT_RESOLVED
from node.domain.errors import DomainError
from node.domain.text import clean_line
from node.models import ConflictRow, DossierRow
from node.writer import acting_office


def listing(status: str = "open", limit: int = 100) -> list[dict[str, Any]]:
    """Conflicts in a status ("" for all), oldest first."""
    query = ConflictRow.select()
    if status:
        query = query.where(ConflictRow.status == status)
    limit = max(1, min(limit, 100_000))
    rows = [conflict_to_dict(r) for r in query.order_by(ConflictRow.id).limit(limit).dicts()]
    return with_dossier_facts(rows)


def get(conflict_id: str) -> dict[str, Any]:
    """One conflict with both versions (the events, for display)."""
    row = ConflictRow.select().where(ConflictRow.id == conflict_id).dicts().first()
    if row is None:
        raise DomainError(f"no conflict {conflict_id} on this node", "conflict")
    (data,) = with_dossier_facts([conflict_to_dict(row)])
    events = {e["ref"]: e for e in dossiers.timeline(row["dossier_id"])} if row["kind"] != "duplicate" else {}
    data["versions"] = {ref: events.get(ref) for ref in (row["winner"], row["loser"])}
    return data


def check_may_resolve(node_role: str) -> None:
    """A3: the outreach laptop shares its commune's unit code but is not the office; a resolution
    made there would be signed history with no effect (a violation) on every other node."""
    if node_role == "mobile":
        raise DomainError("an outreach laptop cannot resolve conflicts: the commune office or the district does",
                          "authority")


def resolve(node: NodeContext, author: str, conflict_id: str, choose: str, reason: str) -> dict[str, Any]:
    """Close a conflict by keeping one version; only the owning office or a district may."""
    reason = clean_line(reason, "reason", 2000)
    if not reason:
        raise DomainError("a resolution needs a reason", "reason")
    check_may_resolve(node.settings.ROLE)
    with node.writer.transaction():
        conflict = get(conflict_id)
        if conflict["status"] != "open":
            raise DomainError("this conflict is already closed", "conflict")
        if choose not in (conflict["winner"], conflict["loser"]):
            raise DomainError("choose must be the winner or the loser version", "choose")
        target = conflict["loser"] if conflict["kind"] == "duplicate" else conflict["dossier_id"]
        current = dossiers.row(target)
        if node.settings.ROLE != "district" and current.owner != node.settings.UNIT:
            raise DomainError(
                f"only the office owning this dossier's stage ({current.owner}) or the district may resolve",
                "conflict",
            )
        body = {"conflict": conflict_id, "choose": choose, "reason": reason, **acting_office(node.settings)}
        node.writer.record_on(current, CONFLICT_RESOLVED, body, author)
    return get(conflict_id)


FACTS = ("code", "applicant_name", "procedure_name", "procedure_code", "status", "owner")


def with_dossier_facts(conflicts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Add what a person recognises a conflict by: the dossier's code, applicant, procedure and
    current status (``dossier``), and for a duplicate the earlier dossier it repeats (``other``;
    a duplicate's ``dossier_id`` is the later one, its ``winner`` the earlier)."""
    ids = {c["dossier_id"] for c in conflicts} | {c["winner"] for c in conflicts if c["kind"] == "duplicate"}
    facts: dict[str, dict[str, Any]] = {}
    wanted = sorted(ids)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        fields = [getattr(DossierRow, f) for f in ("id", *FACTS)]
        for r in DossierRow.select(*fields).where(DossierRow.id.in_(chunk)).dicts():
            facts[r["id"]] = r
    for c in conflicts:
        c["dossier"] = facts.get(c["dossier_id"])
        c["other"] = facts.get(c["winner"]) if c["kind"] == "duplicate" else None
    return conflicts


def conflict_to_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    """A conflict row with its two values decoded from JSON."""
    data = dict(row)
    data["winner_value"] = json.loads(data["winner_value"])
    data["loser_value"] = json.loads(data["loser_value"])
    return data
