"""Reference publishing (district): the catalogue, the working calendar and the status mapping as
publication events, and what a node has in force.

What a publication holds and how a node picks the one in force is :mod:`node.reference`; this
module only records new publications, with the write recipe of :mod:`node.writer`: one event per
kind whose data differs from the version in force (Rule 4 of :mod:`node.reference`). A calendar
is published only when every year of it has been reviewed as it is (:mod:`node.calendar_review`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict
from typing import Any

from node import calendar_review, reference
from node.context import NodeContext
from node.domain.errors import DomainError
from sync.wire import SHARED_SCOPE


def publish(node: NodeContext, author: str, given: Mapping[str, Mapping[str, Any]] | None = None, *,
            years: list[int] | None = None, kinds: Iterable[str] = reference.KINDS) -> list[dict[str, Any]]:
    """District use case: one publication event per kind whose data differs from the one in
    force; ``given`` maps a kind to the data to publish instead of the default."""
    if node.settings.ROLE != "district":
        raise DomainError("only a district node publishes reference data", "role")
    out = []
    with node.writer.transaction():
        for kind in kinds:
            if kind not in reference.KINDS:
                raise DomainError(f"unknown reference kind {kind!r}; one of {', '.join(reference.KINDS)}", "kind")
            data = reference.publishable(kind, (given or {}).get(kind), years=years, now_ms=node.wall_ms())
            if kind == reference.CALENDAR:
                calendar_review.check_reviewed(data)  # a calendar is published only as reviewed
            try:
                body = reference.publication_body(kind, reference.current_revision(kind) + 1, data)
            except reference.INVALID_DATA as e:
                raise DomainError(f"{kind}: {e}", kind) from None
            if reference.current_text(kind) == body["data"]:
                out.append({"kind": kind, "version": body["version"], "revision": body["revision"] - 1,
                            "published": False})
                continue
            event = node.writer.record(scope=SHARED_SCOPE, entity=reference.entity(kind),
                                       type=reference.event_type(kind), body=body, author=author)
            out.append({"kind": kind, "version": body["version"], "revision": body["revision"], "published": True,
                        "ref": event.ref})
    return out


def in_force(data: reference.ReferenceData) -> list[dict[str, Any]]:
    """Per kind: the version in force and where it comes from (a publication or the seed)."""
    return [asdict(r) for r in data.in_force()] + [
        {"kind": "units", "version": reference.units_version(), "source": "package"}
    ]


def procedures(data: reference.ReferenceData) -> list[dict[str, Any]]:
    """The procedures of the catalogue in force, summarised for the UI and the API."""
    catalogue = data.catalogue()
    return [reference.procedure_summary(p, catalogue.version) for p in catalogue]
