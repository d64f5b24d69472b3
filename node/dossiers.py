"""Dossier use cases: receive, move on, edit, apologise, and read one or many.

Every write follows the recipe of :mod:`node.writer` (transaction, write gate, append with the
dossier's heads as parents, project). Reception checks the request against the reference data in
force (:mod:`node.reference`, :mod:`node.reception`) and takes its code from the number blocks
the district leased to this node (:mod:`node.codes`) under the same write lock, so a code is
never issued twice.

Reads come from the derived tables (lists, search) or from the events (one dossier, timeline).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from node import codes, projection, reception, reporting, units
from node.binding import node_store
from node.context import DeskNode
from node.domain import dossier as domain
from node.domain import lookup, service
from node.domain.deadline import check_reschedule
from node.domain.errors import DomainError, DossierNotFound
from node.domain.text import check_text, clean_line
from node.domain.text import fold as fold_text
from node.domain.vietnam_time import to_vn, vn_day
from node.models import DossierRow
from node.models import DossierServiceRow as ServiceRow
from node.writer import acting_office
from sync.merge import CausalGraph, linearise
from sync.wire import make_ref

MAX_OFFSET = 10**9  # list offsets beyond any node's dossiers; larger ones overflow a SQL integer


# -- writes -------------------------------------------------------------------------------------


def create(node: DeskNode, author: str, data: Mapping[str, Any]) -> domain.DossierState:
    """Receive a new dossier at this node's desk: the procedure must be in the catalogue in
    force, a given ID number well formed; the appointment is computed on the working
    calendar and the code issued from this node's leased blocks (or provisional)."""
    now = node.wall_ms()
    body = reception.prepare(node.reference, data, now)
    body.update(acting_office(node.settings))
    with node.writer.transaction():
        seq = node.store.feed_head(node.node_id, node.scope, for_update=True).seq + 1
        entity_id = make_ref(node.node_id, node.scope, seq)
        body["code"] = _code_for(node, body["code"], body["received_at"])
        body["lookup_check"] = lookup.check_code(node.lookup_secret, entity_id)
        node.writer.record(scope=node.scope, entity=f"{domain.KIND}/{entity_id}", type=domain.RECEIVED, body=body,
                           author=author, at=now)
    return get(entity_id)


def _code_for(node: DeskNode, given: str, received_at: int) -> str:
    """A code given by the caller (an imported dossier) if new, else the next one issued."""
    if given:
        if codes.is_issued(given):
            raise DomainError(f"code {given} is already issued on this node", "code")
        return given
    return str(codes.issue(node.node_id, node.settings.AGENCY_ID, vn_day(received_at), node.provisional_name))


def change_status(node: DeskNode, author: str, dossier_id: str, to: str, reason: str = "",
                  target_office: str = "") -> domain.DossierState:
    """Move a dossier on; ``target_office`` makes a processing -> processing a transfer."""
    with node.writer.transaction():
        current = row(dossier_id)
        domain.check_transition(current.status, to, json.loads(current.history or "[]"))
        body = {"from": current.status, "to": to, "reason": clean_line(reason, "reason", 2000)}
        domain.check_reason(to, body["reason"])
        if target_office:
            check_text(target_office, "target_office")
            if not units.is_listed(target_office):  # liên thông goes to a unit of the list, never free text
                raise DomainError(f"{target_office!r} is not a unit of the administrative-unit list", "target_office")
            if to != "processing":
                raise DomainError("only a move to processing can name a receiving office", "target_office")
            body["target_office"] = target_office
        node.writer.record_on(current, domain.STATUS_CHANGED, {**body, **acting_office(node.settings)}, author)
    return get(dossier_id)


def update(node: DeskNode, author: str, dossier_id: str, fields: Mapping[str, Any]) -> domain.DossierState:
    """Edit the dossier's updatable fields (validated by the domain)."""
    clean = domain.validate_update(fields)
    with node.writer.transaction():
        current = row(dossier_id)
        node.writer.record_on(current, domain.UPDATED, {"fields": clean, **acting_office(node.settings)}, author)
    return get(dossier_id)


def can_reschedule(status: str) -> bool:
    """Mẫu 04 is offered for an open dossier the office acts on (not before acceptance)."""
    return status in domain.OPEN_STATUSES and status != "online_filed"


def issue_apology(node: DeskNode, author: str, dossier_id: str, reason: str, new_due_at: int) -> domain.DossierState:
    """Mẫu 04: the office that will be late apologises and sets a new return date, at least one
    day before the deadline and only once (Rule 9 of :mod:`node.domain.deadline`). Two offices
    apologising offline at the same time both keep their event; the fold keeps the last one."""
    with node.writer.transaction():
        current = row(dossier_id)
        if not can_reschedule(current.status):
            raise DomainError(f"the dossier is {current.status}; a new date is set only for an open dossier", "status")
        if node.settings.ROLE != "district" and current.owner != node.settings.UNIT:
            raise DomainError(f"only the office handling this dossier ({current.owner}) apologises", "office")
        body = domain.validate_apology({"reason": reason, "new_due_at": new_due_at}, None)
        now = node.wall_ms()
        view = reporting.deadline_view(current, node.reference.calendar(), node.reference.status_mapping(),
                                       node.reference.catalogue(), now)
        due = view["due_at"] if view["due_at"] is not None else current.due_at
        if due is not None:
            check_reschedule(to_vn(now), to_vn(due), to_vn(body["new_due_at"]),
                             rescheduled_before=current.apology_at is not None)
        node.writer.record_on(current, domain.APOLOGY_ISSUED, {**body, **acting_office(node.settings)}, author)
    return get(dossier_id)


def record_fee(node: DeskNode, author: str, dossier_id: str, fee: Mapping[str, Any]) -> domain.DossierState:
    """Rule S1 of :mod:`node.domain.service`: a fee paid (or exempted) after reception."""
    clean = service.validate_fee(fee)
    with node.writer.transaction():
        current = row(dossier_id)
        if current.status in domain.FINISHED_STATUSES - {"resolved"}:
            raise DomainError(f"the dossier is already {current.status}; its fee can no longer change", "status")
        node.writer.record_on(current, service.FEE_RECORDED, {**clean, **acting_office(node.settings)}, author)
    return get(dossier_id)


def rate(node: DeskNode, author: str, dossier_id: str, body: Mapping[str, Any]) -> domain.DossierState:
    """Rule S2 of :mod:`node.domain.service`: the citizen's rating when the result is returned."""
    with node.writer.transaction():
        current = row(dossier_id)
        rated = ServiceRow.get_or_none(ServiceRow.dossier_id == dossier_id)
        clean = service.validate_rating(body, current.status, bool(rated and rated.rating))
        node.writer.record_on(current, service.RATED, {**clean, **acting_office(node.settings)}, author)
    return get(dossier_id)


# -- reads --------------------------------------------------------------------------------------


def row(dossier_id: str) -> DossierRow:
    """The derived row of a dossier held here; :class:`DossierNotFound` otherwise."""
    found = DossierRow.get_or_none(DossierRow.id == dossier_id)
    if found is None:
        raise DossierNotFound(f"no dossier {dossier_id} on this node", "id")
    return found


def get(dossier_id: str) -> domain.DossierState:
    """The dossier folded from its events (not from the derived row)."""
    events = node_store().events_for_entities([f"{domain.KIND}/{dossier_id}"])[f"{domain.KIND}/{dossier_id}"]
    folded = projection.fold(dossier_id, events)
    if folded is None:
        raise DossierNotFound(f"no dossier {dossier_id} on this node", "id")
    return folded.state


def timeline(dossier_id: str) -> list[dict[str, Any]]:
    """The dossier's events in causal order, as plain dicts for display. ``office`` is the unit
    the origin is certified for (never the body's claim); ``violation`` says why an event had
    no effect ("" when it had)."""
    from node import authority
    from node.models import ViolationRow

    entity = f"{domain.KIND}/{dossier_id}"
    events = node_store().events_for_entities([entity])[entity]
    if not events:
        raise DossierNotFound(f"no dossier {dossier_id} on this node", "id")
    view = authority.view({e.origin for e in events})
    refused = dict(ViolationRow.select(ViolationRow.ref, ViolationRow.reason).where(ViolationRow.entity == entity)
                   .tuples())
    return [
        {
            "ref": e.ref,
            "type": e.type,
            "at": e.at,
            "hlc": e.hlc,
            "author": e.author,
            "origin": e.origin,
            "office": view.office(e.origin),
            "violation": refused.get(e.ref, ""),
            "body": e.body,
            "parents": list(e.parents),
        }
        for e in linearise(CausalGraph(events), lambda e: (e.hlc, e.origin, e.scope, e.seq))
    ]


def listing(*, q: str = "", status: str = "", limit: int = 50, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Dossiers newest first, filtered by a search text (code, ID number or folded name)."""
    if status and status not in domain.STATUSES:
        raise DomainError(f"unknown status {status!r}", "status")
    limit = max(1, min(int(limit), 500))
    offset = max(0, min(int(offset), MAX_OFFSET))
    query = DossierRow.select()
    if status:
        query = query.where(DossierRow.status == status)
    q = " ".join(q.split())
    if q:
        if q.isdigit() and len(q) == 12:
            query = query.where(DossierRow.id_number == q)
        elif any(c.isdigit() for c in q) and "-" in q:
            query = query.where(DossierRow.code.startswith(q))
        else:
            query = query.where(DossierRow.applicant_name_folded.contains(fold_text(q)))
    total = query.count()
    rows = query.order_by(DossierRow.received_at.desc(), DossierRow.id).limit(limit).offset(offset)
    return [row_to_dict(r) for r in rows.dicts()], total


def row_to_dict(values: Mapping[str, Any]) -> dict[str, Any]:
    """A derived row as the API and the UI show it (JSON columns as lists, heads as a list)."""
    data = dict(values)
    data.pop("applicant_name_folded", None)
    for key in ("history", "pauses"):  # JSON text in the derived row, lists in the API
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    data["heads"] = data["heads"].split() if isinstance(data.get("heads"), str) else data.get("heads")
    return data


def state_to_dict(state: domain.DossierState) -> dict[str, Any]:
    """A folded dossier as the API shows it."""
    data = asdict(state)
    data.pop("applicant_name_folded")
    data["heads"] = list(state.heads)
    data["national_code"] = state.national_code
    return data
