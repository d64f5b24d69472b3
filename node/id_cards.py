"""ID-card pre-registrations for the police's mobile session: record, list, export (Rules C1-C3 of
:mod:`node.domain.id_card`).

A registration is written by the recipe of :mod:`node.writer` on its own ``idcard/<ref>`` entity
in this node's scope, so it syncs like any event (a mobile laptop's list reaches the commune).
It makes no dossier and no derived row: lists are folded from the events when read, with the
authority view of their origins (an origin that may not act for the unit adds nothing; events a
district revoked never count).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from node import authority, projection
from node.binding import node_store
from node.context import DeskNode
from node.domain import id_card
from node.domain.errors import DomainError
from node.domain.vietnam_time import vn_day
from node.writer import acting_office
from sync.wire import make_ref


def register(node: DeskNode, author: str, data: Mapping[str, Any], min_age: int | None) -> id_card.Registration:
    """Record one person for the session; :class:`DomainError` on a bad field (nothing written)."""
    if not isinstance(data, Mapping):
        raise DomainError("the registration must be an object", None)
    now = node.wall_ms()
    body = id_card.validate_registration(data, vn_day(now), min_age)
    body.update(acting_office(node.settings))
    with node.writer.transaction():
        seq = node.store.feed_head(node.node_id, node.scope, for_update=True).seq + 1
        entity_id = make_ref(node.node_id, node.scope, seq)
        node.writer.record(scope=node.scope, entity=f"{id_card.KIND}/{entity_id}", type=id_card.REGISTERED,
                           body=body, author=author, at=now)
    found = registrations()
    return next(r for r in found if r.id == entity_id)


def registrations(session_day: date | None = None) -> list[id_card.Registration]:
    """Every registration held here (of one session day when given), folded from the events."""
    store = node_store()
    grouped = projection.without_revoked(store.events_for_entities(store.all_entities(id_card.KIND)))
    view = authority.view({e.origin for evs in grouped.values() for e in evs})
    out = []
    for entity, events in grouped.items():
        r = id_card.fold_registration(entity.split("/", 1)[1], events, lambda e: view.on_dossier(e.origin, e.scope))
        if r is not None and (session_day is None or r.session_date == session_day.isoformat()):
            out.append(r)
    return sorted(out, key=lambda r: (r.session_date, r.slot or "99:99", r.name, r.id))
