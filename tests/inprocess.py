"""Sync participants that live side by side in one process, each over a store of its own.

No node/ application around them: a key, a self-signed profile, a :class:`sync.log.LocalLog`
and a :class:`sync.replica.Replica` (hence the real outbox and the real ingestor, with chain
and signature checks) over any :class:`sync.eventstore.Store`: memory, or peewee on its own
database. :func:`carry` moves what one lacks from another the way an exchange does (the
sender's outbox cuts signed runs, the receiver ingests them in one transaction), without HTTP.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.signing import NodeKey, verify_signature
from sync.chain import SignatureVerifier
from sync.eventstore import Store
from sync.log import LocalLog, Signer
from sync.outbox import local_vector
from sync.protocol import Profile
from sync.replica import Replica
from sync.trust import OpenTrust
from sync.wire import Event


def signed_profile(key: Signer, role: str, unit: str, name: str = "") -> Profile:
    unsigned = Profile(key.node_id, key.public_key, role, unit, name or f"{role} {unit}")
    return Profile(unsigned.node_id, unsigned.public_key, role, unit, unsigned.name, key.sign(unsigned.statement()))


@dataclass
class Member:
    """One participant: its store, key, profile, log and replica."""

    store: Store
    key: Signer
    profile: Profile
    log: LocalLog
    replica: Replica
    received: list[Event]

    @property
    def node_id(self) -> str:
        return self.key.node_id

    def write(self, scope: str, entity: str, type: str, body: dict[str, Any], parents: tuple[str, ...] = (),
              author: str = "cán bộ") -> Event:
        """One local event in its own transaction (signed at commit)."""
        with self.log.transaction():
            return self.log.append(scope=scope, entity=entity, type=type, body=body, author=author, parents=parents)


def make_member(store: Store, role: str, unit: str, wall_ms: Callable[[], int], name: str = "",
                key: Signer | None = None, on_events: Callable[[list[Event]], object] | None = None,
                verify: SignatureVerifier = verify_signature) -> Member:
    """A participant on ``store``; it admits any self-signed profile (the development mode:
    certificates are tested elsewhere). ``key`` and ``verify`` default to real Ed25519."""
    key = key or NodeKey.generate()
    profile = signed_profile(key, role, unit, name)
    log = LocalLog(store, key, wall_ms)
    received: list[Event] = []

    def project(events: list[Event]) -> None:
        received.extend(events)
        if on_events:
            on_events(events)

    trust = OpenTrust(verify, store, open_to_strangers=True)
    replica = Replica(store, profile, log, verify, project, wall_ms, trust=trust)
    return Member(store, key, profile, log, replica, received)


def carry(src: Member, dst: Member, budget: int | None = None, rounds: int = 1000) -> int:
    """Give ``dst`` what it lacks of what ``src`` may send it (at most ``budget`` bytes a batch,
    one batch only when a budget is given); return the events moved."""
    moved = 0
    for _ in range(rounds):
        out = src.replica.outgoing_for(dst.profile, local_vector(dst.store), budget)
        if not out.runs:
            break
        moved += dst.replica.ingest(out.runs, out.profiles, src.profile, uuid.uuid4().hex).applied
        if not out.more or budget is not None:
            break
    return moved
