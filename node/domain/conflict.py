"""Conflict records (pure core): what a fold reports besides the state, and duplicate receptions.

A conflict record holds both versions (event references, or dossier ids for a duplicate); the
events stay signed in the log, so nothing is lost and a person decides (Rules 3 and 5 of
:mod:`node.domain.merge`). Kinds:

* ``status`` and ``field``: two concurrent changes of one dossier with different effects;
* ``parallel``: concurrent edits of *different* fields, both applied (status ``merged``);
* ``duplicate``: the same request (ID number and procedure) received on two nodes, found across
  dossiers by :func:`find_duplicates`; the earliest received is the provisional original.

A resolution is a ``dossier.conflict_resolved`` event (:data:`CONFLICT_RESOLVED`) naming the
conflict and the version kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from node.domain.authority import Violation
from node.domain.dossier import TERMINAL, DossierState
from sync.merge import conflict_id

CONFLICT_RESOLVED = "dossier.conflict_resolved"


@dataclass(frozen=True)
class Conflict:
    id: str
    dossier_id: str
    kind: str  # status | field | parallel | duplicate
    field: str  # "status", a field name, or "" for parallel and duplicate records
    winner: str  # event ref (dossier id for duplicates) of the provisional winner
    loser: str
    winner_value: Any
    loser_value: Any
    status: str  # open | resolved | merged
    resolution: str = ""  # ref of the resolving event
    chosen: str = ""  # the version the resolution kept
    resolved_by: str = ""
    reason: str = ""


@dataclass(frozen=True)
class Folded:
    state: DossierState
    conflicts: tuple[Conflict, ...]
    resolutions: Mapping[str, tuple[str, str, str, str]] = field(default_factory=dict)
    # conflict id -> (resolving ref, chosen, author, reason) for conflicts this fold does not
    # own (duplicates across dossiers are found by the projection, resolved on one dossier).
    violations: tuple[Violation, ...] = ()  # Rule 9, ordered by event ref


def find_duplicates(dossiers: Iterable[DossierState], resolutions: Mapping[str, tuple[str, str, str, str]]) -> list[
    Conflict
]:
    """Open dossiers with the same ID number and procedure, received on different nodes.

    The earliest received is the provisional original; one record per later one.
    """
    groups: dict[tuple[str, str], list[DossierState]] = {}
    for d in dossiers:
        if d.id_number and d.status not in TERMINAL:
            groups.setdefault((d.id_number, d.procedure_code), []).append(d)
    out = []
    for group in groups.values():
        if len({d.origin for d in group}) < 2:
            continue
        group.sort(key=lambda d: (d.received_at, d.id))
        first = group[0]
        for other in group[1:]:
            if other.origin == first.origin:
                continue
            cid = conflict_id(first.id, other.id)
            res = resolutions.get(cid)
            out.append(
                Conflict(
                    id=cid, dossier_id=other.id, kind="duplicate", field="", winner=first.id, loser=other.id,
                    winner_value=first.code, loser_value=other.code, status="resolved" if res else "open",
                    resolution=res[0] if res else "", chosen=res[1] if res else "",
                    resolved_by=res[2] if res else "", reason=res[3] if res else "",
                )
            )
    return out
