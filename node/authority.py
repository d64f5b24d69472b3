"""The authority view of this node, and the derived table of authority violations.

:func:`view` builds the :class:`node.domain.authority.Authority` the projection folds with:
origin -> certified role and unit from the admitted profiles this node keeps
(:class:`sync.ledger.ProfileRow`; from the district CA's certificate when one is in force, from
the node's own profile on a development node), and :func:`node.units.serves` for which units a
hub serves. A node holds the profile of every origin whose events it holds (ingest refuses a run
of an unknown origin), and profiles come from certificates, so two replicas holding the same
events build the same view. When a kept profile's role or unit changes (a certificate replacing a
self-signed profile, a node re-enrolled for another unit), everything that origin made is derived
again in the same transaction (:func:`node.projection.reproject_origins`, called by
:meth:`sync.replica.Replica.keep_profiles` and the ingest), so the state still equals a rebuild.

:func:`replace` keeps ``ViolationRow`` a function of the events: the rows of the entities just
projected are recomputed, never patched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict

from node import units
from node.db import node_store
from node.domain.authority import Authority, Certified, Violation
from node.models import ViolationRow
from sync import store


def view(origins: Iterable[str]) -> Authority:
    """The authority of ``origins`` as this node's admitted profiles certify them."""
    profiles = node_store().load_profiles(origins)
    return Authority({o: Certified(p.role, p.unit) for o, p in profiles.items()}, units.serves)


def replace(entities: Iterable[str], violations: Iterable[Violation]) -> None:
    """Make the violation rows of ``entities`` exactly ``violations`` (all of those entities)."""
    entities = sorted(set(entities))
    for start in range(0, len(entities), 500):
        ViolationRow.delete().where(ViolationRow.entity.in_(entities[start : start + 500])).execute()
    rows = [asdict(v) for v in violations]
    if rows:
        columns = tuple(ViolationRow._meta.sorted_field_names)
        store.bulk_insert(ViolationRow, columns, [tuple(r[c] for c in columns) for r in rows],
                          conflict=("ref",), update=tuple(c for c in columns if c != "ref"))


def listing(limit: int = 500, origin: str = "") -> list[dict]:
    """Violations, newest first, with the origin's name as its profile gives it (the console)."""
    query = ViolationRow.select()
    if origin:
        query = query.where(ViolationRow.origin == origin)
    rows = list(query.order_by(ViolationRow.at.desc(), ViolationRow.ref).limit(max(1, min(limit, 10_000))).dicts())
    names = {p.node_id: p.name for p in node_store().load_profiles(r["origin"] for r in rows).values()}
    for r in rows:
        r["name"] = names.get(r["origin"], "")
    return rows
