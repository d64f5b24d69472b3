"""Code leasing: the district leases a node blocks of dossier numbers; the node replaces its
provisional codes with final ones drawn from the blocks it holds.

Blocks and the codes issued from them are projected by :mod:`node.codes` (a block is named by
the event that leases it); this module records the two kinds of events with the write recipe of
:mod:`node.writer`: ``codes.block_leased`` (district) and ``dossier.code_assigned`` (the node
that received the dossier, Rule 8 of :mod:`node.domain.merge`).
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from node import codes
from node.context import NodeContext
from node.domain import dossier as dossier_domain
from node.domain.dossier_code import InvalidBlock, InvalidDossierCode, NoFreeRange, check_agency_id, lease_block
from node.domain.errors import DomainError
from node.domain.vietnam_time import vn_day
from node.models import DossierRow
from node.writer import acting_office
from sync.wire import NODE_ID_RE, make_ref


def lease(node: NodeContext, author: str, node_id: str, *, days: int, size: int, agency_id: str, unit: str = "",
          first_day: date | None = None) -> dict[str, Any]:
    """District use case: lease ``node_id`` the lowest free range of ``size`` numbers on each of
    ``days`` days from ``first_day`` (default today), in the scope of the node's unit."""
    if node.settings.ROLE != "district":
        raise DomainError("only a district node leases number blocks", "role")
    if not NODE_ID_RE.match(node_id):
        raise DomainError(f"{node_id!r} is not a node id (32 hex digits)", "node")
    try:
        check_agency_id(agency_id)
    except InvalidDossierCode as e:
        raise DomainError(str(e), "agency") from None
    if not 1 <= days <= 366:
        raise DomainError("a block lasts 1 to 366 days", "days")
    unit = unit or codes.unit_of(node_id) or ""
    if not unit:
        raise DomainError(f"node {node_id} has not synced with this district yet; pass its unit", "unit")
    first = first_day or vn_day(node.wall_ms())
    with node.writer.transaction():
        block_id = make_ref(node.node_id, unit, node.store.feed_head(node.node_id, unit, for_update=True).seq + 1)
        try:
            block = lease_block(codes.blocks(agency_id=agency_id), block_id=block_id, agency_id=agency_id,
                                node_id=node_id, first_day=first, last_day=first + timedelta(days=days - 1), size=size)
        except (NoFreeRange, InvalidBlock) as e:
            raise DomainError(str(e), "size") from None
        event = node.writer.append(scope=unit, entity=f"{codes.BLOCK_KIND}/{block_id}", type=codes.BLOCK_LEASED,
                                   body=codes.block_body(block), author=author)
        if event.ref != block_id:  # the block is named by the event that leases it
            raise RuntimeError(f"block {block_id} was appended as {event.ref}")
        node.writer.project([event])
    return {**codes.block_body(block), "unit": unit}


def assign_final(node: NodeContext, author: str) -> list[dict[str, str]]:
    """Give this node's provisional dossiers final codes of their reception day, oldest first,
    from the blocks now held; one ``dossier.code_assigned`` event each."""
    agency_id = node.settings.AGENCY_ID

    def pending():
        return DossierRow.select().where(
            (DossierRow.origin == node.node_id) & DossierRow.code.startswith(dossier_domain.PROVISIONAL_PREFIX)
        ).order_by(DossierRow.received_at, DossierRow.id)

    if not agency_id or not pending().exists():
        return []
    done = []
    with node.writer.transaction():
        for row in list(pending()):
            day = vn_day(row.received_at)
            final = codes.final_for(node.node_id, agency_id, day)
            if final is None:
                continue
            block = next(b for b in codes.blocks(node.node_id, agency_id, day) if b.contains(final))
            body = {"code": str(final), "provisional": row.code, "block": block.block_id,
                    **acting_office(node.settings)}
            node.writer.record_on(row, dossier_domain.CODE_ASSIGNED, body, author)
            done.append({"dossier": row.id, "provisional": row.code, "code": str(final)})
    return done
