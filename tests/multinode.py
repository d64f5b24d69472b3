"""Several nodes in one test process, each with its own SQLite database, and a carrier that moves
what one lacks from another through the real sync objects (signed runs out of the outbox,
verified ingest, projection), without HTTP.

Each node's sync machinery has its own store (``node.store``), but the node's own tables
(projections) go through one proxy (``node.db.database``), so only one node's database is active
at a time for those: call :func:`use` (or go through :class:`Nodes`) before touching a node.
Scenario tests with real ``motcua serve`` processes cover the HTTP path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.db import database, open_database
from node.services import Node
from sync.outbox import local_vector
from tests.factories import FakeClock, init_node_dir, make_settings


def use(node: Node) -> Node:
    """Make ``node``'s database the one the models talk to."""
    database.initialize(node.db)
    return node


def make_node(tmp_path: Path, name: str, clock: FakeClock, role: str = "commune", unit: str = "17272",
              **settings: Any) -> Node:
    """A node without a CA, opened by the development switch: :func:`carry` hands it the
    self-signed profiles of nodes it has never met (certificates are tested elsewhere)."""
    data_dir = tmp_path / name
    key = init_node_dir(data_dir, role, unit)
    settings.setdefault("DEV_OPEN_TRUST", True)
    s = make_settings(data_dir, role=role, unit=unit, **settings)
    return Node(s, open_database(s), key, clock)


def carry(src: Node, dst: Node, rounds: int = 50) -> int:
    """Give ``dst`` what it lacks of what ``src`` may send it; return the events moved."""
    moved = 0
    for _ in range(rounds):
        vector = local_vector(dst.store)
        use(src)
        out = src.replica.outgoing_for(dst.profile, vector)
        use(dst)
        if not out.runs:
            break
        moved += dst.replica.ingest(out.runs, out.profiles, src.profile, uuid.uuid4().hex).applied
        if not out.more:
            break
    return moved


def on(node: Node, action: Callable[[Node], Any]) -> Any:
    """Run ``action`` with ``node``'s database active."""
    use(node)
    return action(node)


def append_crafted(node: Node, *, scope: str, entity: str, type: str, body: dict[str, Any],
                   parents: tuple[str, ...] | list[str] = (), author: str = "ke-gian") -> Any:
    """Append an event to ``node``'s own log through the log alone, skipping every check of the
    use cases and the UI (what a tampered node would sign), and project it as the node would."""
    from node import projection

    use(node)
    with node.log.transaction():
        if type == "codes.block_leased":  # a block is named by the event leasing it
            from sync.wire import make_ref

            ref = make_ref(node.node_id, scope, node.store.feed_head(node.node_id, scope, for_update=True).seq + 1)
            body = {**body, "block_id": ref}
            entity = f"codeblock/{ref}"
        event = node.log.append(scope=scope, entity=entity, type=type, body=body, author=author,
                                parents=parents)
        projection.project([event])
    return event
