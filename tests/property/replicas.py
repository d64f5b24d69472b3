"""Replicas in memory, each a real sync participant over a :class:`sync.memory.MemoryStore`,
folded with the real pure core (wire, clock, merge, authority, domain fold).

Used by the convergence properties. Each replica writes through :class:`sync.log.LocalLog`
(seq, hash chain, HLC stamp, signed head) the way ``node.services`` does (parents = current
heads, ``from`` = the status it sees, its own office and role in the body), and syncs through
the real outbox and :class:`sync.ingest.Ingestor` (contiguity, chain and head-signature checks,
idempotence by (origin, scope, seq)); a partial sync is one batch under a byte budget.

At the sync layer every replica may hold and write every unit: the property is convergence of
the fold under any delivery order, not partial replication (``tests/integration`` covers that).
The signatures are a deterministic stand-in (:class:`ToySigner`), so examples replay exactly
and cost no Ed25519; the ingestor still checks every head with it.

A replica may be a *rogue*: a commune of another unit whose bodies claim the district role and
another office, and whose edits skip the checks the use cases make; its events fail authority.
Every replica folds with the same authority view (origin -> certified role and unit), as nodes
holding the same admitted profiles do.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from typing import Any

from node.domain.authority import Authority, Certified
from node.domain.conflict import find_duplicates
from node.domain.dossier import CODE_ASSIGNED, RECEIVED, STATUS_CHANGED, TRANSITIONS, UPDATED, validate_received
from node.domain.merge import CONFLICT_RESOLVED, fold_dossier
from node.units import serves
from sync.memory import MemoryStore
from sync.wire import Event, load_stored_event, make_ref, node_id_from_public_key
from tests.inprocess import carry, make_member

SCOPE = "17272"


ROGUE_CLAIM = {"office": SCOPE, "role": "district"}


class ToySigner:
    """A deterministic stand-in for a node key (NOT a signature: anyone can compute it)."""

    def __init__(self, seed: str) -> None:
        self.public_key = hashlib.sha256(seed.encode()).digest()
        self.node_id = node_id_from_public_key(self.public_key)

    def sign(self, message: bytes) -> bytes:
        return hashlib.sha256(b"toy\x00" + self.public_key + message).digest()


def toy_verify(public_key: bytes, message: bytes, signature: bytes) -> None:
    if signature != hashlib.sha256(b"toy\x00" + public_key + message).digest():
        raise ValueError("bad toy signature")


class Replica:
    def __init__(self, index: int, role: str, office: str, rogue: bool = False) -> None:
        self.role, self.office, self.rogue = role, office, rogue
        self.scope = office if role != "district" else SCOPE  # the feed it writes (a commune: its unit)
        self.authority = Authority({})  # set by :func:`share_authority`
        self.wall = 1_779_000_000_000 + index * 7_000  # PC clocks that disagree
        self.store = MemoryStore()
        self.member = make_member(self.store, "district", self.scope, lambda: self.wall, f"replica {index}",
                                  key=ToySigner(f"replica-{index}"), verify=toy_verify)
        self.origin = self.member.node_id

    # -- storage -------------------------------------------------------------------------

    def vector(self) -> dict[tuple[str, str], int]:
        return {(h.origin, h.scope): h.seq for h in self.store.feeds()}

    def events(self) -> list[Event]:
        return [load_stored_event(s.raw) for h in self.store.feeds() for s in self.store.stored_feed(h.origin, h.scope)]

    def _append(self, entity: str, type_: str, body: dict[str, Any], parents: tuple[str, ...] = ()) -> Event:
        self.wall += 1_000
        claim = ROGUE_CLAIM if self.rogue else {"office": self.office, "role": self.role}
        return self.member.write(self.scope, entity, type_, {**body, **claim}, parents,
                                 author=f"staff-{self.origin[:4]}")

    # -- derived state -------------------------------------------------------------------

    def by_entity(self) -> dict[str, list[Event]]:
        out: dict[str, list[Event]] = {}
        for e in self.events():
            out.setdefault(e.entity, []).append(e)
        return out

    def folded(self) -> dict[str, Any]:
        return {
            entity: fold_dossier(entity.split("/", 1)[1], evs, self.authority)
            for entity, evs in sorted(self.by_entity().items())
        }

    def digest(self) -> tuple[str, list[tuple[str, ...]], list[tuple[str, ...]]]:
        folds = {k: v for k, v in self.folded().items() if v is not None}
        resolutions: dict = {}
        for f in folds.values():
            resolutions.update(f.resolutions)
        conflicts = [c for f in folds.values() for c in f.conflicts]
        conflicts += find_duplicates([f.state for f in folds.values()], resolutions)
        violations = sorted((v.ref, v.origin, v.role, v.unit, v.reason) for f in folds.values() for v in f.violations)
        payload = {
            "states": [asdict(f.state) for f in folds.values()],
            "conflicts": sorted((asdict(c) for c in conflicts), key=lambda c: c["id"]),
            "violations": violations,
        }
        blob = json.dumps(payload, sort_keys=True, default=str).encode()
        conflict_set = sorted((c.id, c.kind, c.winner, c.loser, c.status) for c in conflicts)
        return hashlib.sha256(blob).hexdigest(), conflict_set, violations

    # -- local edits (what node.services does) ------------------------------------------

    def create(self, applicant: int, procedure: int) -> Event:
        seq = self.store.feed_head(self.origin, self.scope).seq + 1
        entity_id = make_ref(self.origin, self.scope, seq)
        body = validate_received({
            "procedure": {"code": f"1.00{procedure}", "name": "Thủ tục"},
            "applicant": {"name": f"Người {applicant}", "id_number": f"04009000{applicant:04d}"},
            "received_at": self.wall, "code": f"TAM-{self.origin[:6]}-{seq}",
        })
        return self._append(f"dossier/{entity_id}", RECEIVED, body)

    def transition(self, entity: str, choice: int, transfer_to: str = "") -> Event | None:
        folded = self.folded().get(entity)
        if folded is None:
            return None
        status = folded.state.status
        targets = sorted(TRANSITIONS[status])
        if not targets:
            return None
        to = targets[choice % len(targets)]
        body = {"from": status, "to": to, "reason": "r"}
        if to == "processing" and transfer_to:
            body["target_office"] = transfer_to
        return self._append(entity, STATUS_CHANGED, body, folded.state.heads)

    def update(self, entity: str, field: str, value: str) -> Event | None:
        folded = self.folded().get(entity)
        if folded is None:
            return None
        return self._append(entity, UPDATED, {"fields": {field: value}}, folded.state.heads)

    def resolve(self, pick: int, keep_loser: bool, force: bool = False) -> Event | None:
        folds = {k: v for k, v in self.folded().items() if v is not None}
        open_ = [(e, c) for e, f in folds.items() for c in f.conflicts if c.status == "open"]
        if not open_:
            return None
        entity, c = open_[pick % len(open_)]
        state = folds[entity].state
        if not (force or self.rogue) and self.role != "district" and state.owner != self.office:
            return None  # no authority: the service refuses, so no event is made (a rogue signs anyway)
        body = {"conflict": c.id, "choose": c.loser if keep_loser else c.winner, "reason": "xem xét"}
        return self._append(entity, CONFLICT_RESOLVED, body, state.heads)


    def assign_code(self, entity: str, n: int) -> Event | None:
        """A final code, as only the receiving node may give one (the others are refused)."""
        folded = self.folded().get(entity)
        if folded is None:
            return None
        code = f"000.17.22.H56-260518-{n:04d}"
        return self._append(entity, CODE_ASSIGNED, {"code": code, "provisional": folded.state.code},
                            folded.state.heads)


    def blind_edit(self, entity: str, choice: int) -> Event:
        """An edit of a dossier this replica does not hold (its id learnt elsewhere): no parents."""
        if choice % 2:
            return self._append(entity, UPDATED, {"fields": {"note": f"rogue {choice}"}})
        return self._append(entity, STATUS_CHANGED, {"from": "received", "to": "refused", "reason": "r"})


def share_authority(replicas: list[Replica]) -> None:
    """Give every replica the same authority view: each origin's certified role and unit."""
    view = Authority({r.origin: Certified(r.role, r.office) for r in replicas}, serves)
    for r in replicas:
        r.authority = view


def sync_pair(source: Replica, target: Replica, fraction: float = 1.0) -> int:
    """Send ``target`` what it lacks: all of it, or one batch of about ``fraction`` of its bytes
    (the outbox cuts runs where the origin signed, so a batch may run a little over)."""
    if fraction >= 1:
        return carry(source.member, target.member)
    held = target.vector()
    lacking = sum(len(s.raw) for h in source.store.feeds() if h.seq > held.get((h.origin, h.scope), 0)
                  for s in source.store.stored_feed(h.origin, h.scope, held.get((h.origin, h.scope), 0) + 1))
    if not lacking:
        return 0
    return carry(source.member, target.member, budget=max(1, int(lacking * fraction)))


def full_sync(replicas: list[Replica]) -> None:
    while True:
        moved = sum(sync_pair(a, b) for a in replicas for b in replicas if a is not b)
        if not moved:
            return
