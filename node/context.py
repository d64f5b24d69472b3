"""What a use case is given of the node it runs on: typed views of :class:`node.services.Node`.

The use cases (:mod:`node.dossiers`, :mod:`node.conflicts`, :mod:`node.replication`,
:mod:`node.integrity`, :mod:`node.publishing`, :mod:`node.leasing`, :mod:`node.enrollment`) are
functions of a node and their arguments. Each takes the narrowest Protocol below that covers what
it reads, never the concrete ``Node``: ``Node`` composes the use cases, so naming it here would
make every use case import the façade that imports it. Types only: nothing here runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # annotations only; importing them for real would pull the whole node in
    from node.config import Settings
    from node.reference import ReferenceData
    from node.signing import NodeKey
    from node.trust import NodeTrust
    from node.writegate import WriteGate
    from node.writer import EventWriter
    from sync.eventstore import Store
    from sync.replica import Replica


class NodeContext(Protocol):
    """Every use case: who this node is, its settings and clock, and the one write recipe."""

    settings: Settings
    wall_ms: Callable[[], int]
    writer: EventWriter
    store: Store  # this node's event store and ledger (sync.eventstore)

    @property
    def node_id(self) -> str: ...


class DeskNode(NodeContext, Protocol):
    """Receiving and moving dossiers: the reference data in force and the node's derived secrets."""

    reference: ReferenceData
    lookup_secret: bytes
    provisional_name: str

    @property
    def scope(self) -> str: ...


class TrustedNode(NodeContext, Protocol):
    """Certificates and enrollment: the node key and the trust material it holds."""

    key: NodeKey
    trust: NodeTrust


class SyncingNode(TrustedNode, Protocol):
    """A sync session: the replica it exchanges and the gate a session may lift."""

    replica: Replica
    gate: WriteGate
    tls_ca_asked: set[str]  # peers already asked for the district TLS CA in this process
