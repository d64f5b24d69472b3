"""Dossier codes on a running node: number blocks leased by the district, codes issued from them,
provisional codes and their final assignment (the rules are :mod:`node.domain.dossier_code`).

Events
------
``codes.block_leased`` (entity ``codeblock/<block id>``, scope = the unit of the node it is
leased to, written by a district): block_id, agency_id, node_id, first_day, last_day
(ISO dates), first_seq, last_seq. Partial replication brings it to that unit's nodes only.

The code a dossier gets is in its ``dossier.received`` event; a provisional code is replaced by
a ``dossier.code_assigned`` event. Both feed the derived ``issued_code`` ledger, which is what
the next code is computed from, so issuing is part of the event log and a number is never issued
twice: the ledger is read and the event appended under the same write lock. The next number is
the highest issued + 1, one indexed ``MAX`` (:class:`HeldNumbers`), so a reception costs the same
whatever the day's count.

This module projects and reads; the two use cases that write these events (leasing a block,
assigning final codes) are :mod:`node.leasing`.

Invariants
----------
* A block counts only when leased by an origin certified as a district (Rule A4 of
  :mod:`node.domain.authority`): a lease from anyone else stays in the log, leases nothing and
  is listed as an authority violation.
* A node issues final codes only from blocks leased to *it* for *its* ``AGENCY_ID``.
* A final code keeps the reception day: a dossier received on a day no block covered gets a
  number of that day when a block for it arrives, never of the day the block arrived.
* The provisional code names the node by a name derived from its secret
  (:func:`node.domain.lookup.provisional_node_name`, 8 letters and digits), so two nodes'
  provisional codes do not collide either (40 bits), and nobody derives it from the public id.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import peewee as pw

from node.domain import dossier as dossier_domain
from node.domain.authority import Authority, Violation
from node.domain.dossier_code import (
    DossierCode,
    InvalidBlock,
    InvalidDossierCode,
    IssuedCode,
    IssuedLedger,
    NumberBlock,
    ProvisionalCode,
    next_code,
    next_final_code,
    parse_code,
)
from node.models import IssuedCodeRow, NumberBlockRow
from sync import store
from sync.wire import Event

BLOCK_LEASED = "codes.block_leased"
BLOCK_KIND = "codeblock"


def is_provisional(code: str) -> bool:
    return code.startswith(dossier_domain.PROVISIONAL_PREFIX)


# -- blocks --------------------------------------------------------------------------------


def block_body(block: NumberBlock) -> dict[str, Any]:
    return {
        "block_id": block.block_id, "agency_id": block.agency_id, "node_id": block.node_id,
        "first_day": block.first_day.isoformat(), "last_day": block.last_day.isoformat(),
        "first_seq": block.first_seq, "last_seq": block.last_seq,
    }


def block_from_body(body: Mapping[str, Any]) -> NumberBlock:
    return NumberBlock(
        block_id=body["block_id"], agency_id=body["agency_id"], node_id=body["node_id"],
        first_day=date.fromisoformat(body["first_day"]), last_day=date.fromisoformat(body["last_day"]),
        first_seq=body["first_seq"], last_seq=body["last_seq"],
    )


def _block(row: NumberBlockRow) -> NumberBlock:
    return NumberBlock(row.block_id, row.agency_id, row.node_id, date.fromisoformat(row.first_day),
                       date.fromisoformat(row.last_day), row.first_seq, row.last_seq)


def project_blocks(grouped: Mapping[str, list[Event]], authority: Authority) -> list[Violation]:
    """Recompute the blocks of these ``codeblock`` entities from their (valid, held) events;
    return the events without authority. A block's id is the ref of the event leasing it, so one
    event defines one block and no other event can redefine it; a malformed lease is ignored."""
    ids = sorted(entity.split("/", 1)[1] for entity in grouped)
    for start in range(0, len(ids), 500):
        NumberBlockRow.delete().where(NumberBlockRow.block_id.in_(ids[start : start + 500])).execute()
    rows, violations = {}, []
    for e in (e for evs in grouped.values() for e in evs):
        reason = authority.on_shared(e.origin)
        if reason:
            violations.append(authority.violation(e, reason))
            continue
        if e.type != BLOCK_LEASED or e.entity_kind != BLOCK_KIND or not isinstance(e.body, Mapping):
            continue
        try:
            block = block_from_body(e.body)
        except (KeyError, TypeError, ValueError, InvalidBlock, InvalidDossierCode):
            continue
        if block.block_id != e.ref or e.entity != f"{BLOCK_KIND}/{e.ref}":
            continue
        rows[block.block_id] = {
            "block_id": block.block_id, "agency_id": block.agency_id, "node_id": block.node_id, "scope": e.scope,
            "first_day": block.first_day.isoformat(), "last_day": block.last_day.isoformat(),
            "first_seq": block.first_seq, "last_seq": block.last_seq, "leased_by": e.origin, "leased_at": e.at,
        }
    for row in rows.values():
        NumberBlockRow.insert(row).execute()
    return violations


def blocks(node_id: str | None = None, agency_id: str | None = None, day: date | None = None) -> list[NumberBlock]:
    query = NumberBlockRow.select()
    if node_id:
        query = query.where(NumberBlockRow.node_id == node_id)
    if agency_id:
        query = query.where(NumberBlockRow.agency_id == agency_id)
    if day:
        iso = day.isoformat()
        query = query.where((NumberBlockRow.first_day <= iso) & (NumberBlockRow.last_day >= iso))
    return [_block(r) for r in query.order_by(NumberBlockRow.first_day, NumberBlockRow.first_seq)]


# -- the issued-code ledger ----------------------------------------------------------------


def _code_row(code: str, dossier_id: str, ref: str) -> dict[str, Any]:
    row = {"id": f"{code} {ref}"[:200], "code": code, "dossier_id": dossier_id, "ref": ref,
           "final": False, "issuer": "", "day": "", "number": 0}
    try:
        parsed = parse_code(code)
    except InvalidDossierCode:
        return row  # kept as given (older or imported codes); never a source of numbers
    if isinstance(parsed, DossierCode):
        row.update(final=True, issuer=parsed.agency_id, day=parsed.day.isoformat(), number=parsed.seq)
    else:
        row.update(issuer=parsed.node, day=parsed.day.isoformat(), number=parsed.n)
    return row


def project_issued(grouped: Mapping[str, list[Event]], without: frozenset[str] = frozenset()) -> None:
    """Recompute the issued codes of these dossiers from their reception and assignment events,
    except the events ``without`` (those that had no authority: they issued nothing)."""
    ids = [entity.split("/", 1)[1] for entity in grouped]
    for start in range(0, len(ids), 500):
        IssuedCodeRow.delete().where(IssuedCodeRow.dossier_id.in_(ids[start : start + 500])).execute()
    rows = {}
    for entity, events in grouped.items():
        for e in events:
            if e.ref in without:
                continue
            code = e.body.get("code") if e.type in (dossier_domain.RECEIVED, dossier_domain.CODE_ASSIGNED) else None
            if isinstance(code, str) and code:
                row = _code_row(code, entity.split("/", 1)[1], e.ref)
                rows[row["id"]] = row
    values = list(rows.values())
    if values:
        columns = tuple(values[0])
        store.bulk_insert(IssuedCodeRow, columns, [tuple(v[c] for c in columns) for v in values])


class HeldNumbers:
    """The numbers issued so far as this node holds them (:class:`IssuedNumbers`), read from the
    ``issued_code`` ledger one indexed ``MAX`` at a time: the next code of a day costs the same
    at the first reception and at the 100,000th, where reading and parsing the day's codes made
    the day quadratic. Same answers as an :class:`IssuedLedger` of those codes: the rows kept
    for an issuer and day all parse, finals under their agency, provisional under their node."""

    def highest_in(self, agency_id: str, day: date, lo: int, hi: int) -> int | None:
        return self._max(agency_id, day, True, lo, hi)

    def last_provisional(self, node: str, day: date) -> int:
        return self._max(node, day, False) or 0

    @staticmethod
    def _max(issuer: str, day: date, final: bool, lo: int | None = None, hi: int | None = None) -> int | None:
        row = IssuedCodeRow
        where = (row.issuer == issuer) & (row.day == day.isoformat()) & (row.final == final)
        if lo is not None and hi is not None:
            where &= (IssuedCodeRow.number >= lo) & (IssuedCodeRow.number <= hi)
        return IssuedCodeRow.select(pw.fn.MAX(IssuedCodeRow.number)).where(where).scalar()


def ledger(issuers: Iterable[str], day: date) -> IssuedLedger:
    """The codes issued on ``day`` by these agencies / provisional node ids, as held here (every
    one of them: for inspection; issuing reads :class:`HeldNumbers`)."""
    rows = IssuedCodeRow.select(IssuedCodeRow.code).where(
        IssuedCodeRow.issuer.in_(sorted(set(issuers))) & (IssuedCodeRow.day == day.isoformat())
    )
    parsed = {parse_code(r.code) for r in rows}  # the rows kept for an issuer and day all parse
    finals = sorted(c for c in parsed if isinstance(c, DossierCode))
    provisional = sorted(c for c in parsed if isinstance(c, ProvisionalCode))
    return IssuedLedger.from_codes([*finals, *provisional])


def is_issued(code: str) -> bool:
    return IssuedCodeRow.select().where(IssuedCodeRow.code == code).exists()


def issue(node_id: str, agency_id: str, day: date, short: str) -> IssuedCode:
    """The code the next reception of ``day`` gets: final from this node's blocks, or provisional
    (``short`` names the node in it; see the invariants).

    Call it inside the write transaction that appends the reception event.
    """
    if not agency_id:
        return ProvisionalCode(short, day, HeldNumbers().last_provisional(short, day) + 1)
    return next_code(
        blocks(node_id, agency_id, day), HeldNumbers(),
        agency_id=agency_id, node_id=node_id, node_short_id=short, day=day,
    )


def final_for(node_id: str, agency_id: str, day: date) -> DossierCode | None:
    """A final code of ``day`` from this node's blocks, or None (for a provisional dossier)."""
    if not agency_id:
        return None
    return next_final_code(blocks(node_id, agency_id, day), HeldNumbers(),
                           agency_id=agency_id, node_id=node_id, day=day)


def provisional_notice(code: str, agency_id: str, day: date) -> str:
    """What staff read when a dossier got a provisional code (API answer, CLI)."""
    why = (
        "node chưa khai báo mã định danh cơ quan (AGENCY_ID)" if not agency_id
        else f"chưa có dải số được cấp cho ngày {day:%d/%m/%Y} hoặc dải số đã hết"
    )
    return (
        f"Hồ sơ nhận mã tạm {code}: {why}. Mã hồ sơ chính thức sẽ được cấp tự động ở lần đồng bộ sau "
        f"khi cấp huyện cấp dải số. / Provisional code {code}: "
        + ("AGENCY_ID is not set on this node" if not agency_id else f"no leased number block covers {day}")
        + "; the final code is assigned at the next sync once a block arrives."
    )


# -- use cases -----------------------------------------------------------------------------


def unit_of(node_id: str) -> str | None:
    """The unit a node serves, as its profile (seen at a sync) says."""
    from node.binding import node_store

    profile = node_store().load_profiles([node_id]).get(node_id)
    return profile.unit if profile else None


def status(node_id: str, agency_id: str, all_nodes: bool = False) -> dict[str, Any]:
    """Blocks held (this node's, or every node's on a district) and provisional dossiers waiting."""
    from node.models import DossierRow

    held = blocks(None if all_nodes else node_id)
    waiting = DossierRow.select().where(
        (DossierRow.origin == node_id) & DossierRow.code.startswith(dossier_domain.PROVISIONAL_PREFIX)
    ).count()
    out_blocks = []
    for b in held:
        used = IssuedCodeRow.select().where(
            (IssuedCodeRow.issuer == b.agency_id) & IssuedCodeRow.final
            & (IssuedCodeRow.day >= b.first_day.isoformat()) & (IssuedCodeRow.day <= b.last_day.isoformat())
            & (IssuedCodeRow.number >= b.first_seq) & (IssuedCodeRow.number <= b.last_seq)
        ).count()
        out_blocks.append({**block_body(b), "issued": used, "mine": b.node_id == node_id,
                           "usable": b.node_id == node_id and b.agency_id == agency_id})
    return {"agency_id": agency_id, "node_id": node_id, "blocks": out_blocks, "provisional_waiting": waiting}
