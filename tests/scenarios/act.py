"""Act on a node through node code, in a child process: ``python -m tests.scenarios.act DATA_DIR``
reads a JSON list of steps on stdin and prints the ref of each step's last event as JSON.

A step is either a use case of :class:`node.services.Node` (``{"use_case": "change_status",
"args": [...], "kwargs": {...}}``), which checks what the UI would, or a crafted event
(``{"scope", "entity", "type", "body", "parents"}``) appended to the node's own log with no check
at all (:func:`tests.multinode.append_crafted`): what a tampered node would sign. Scenarios use
it for acts no CLI command offers while the node's server keeps running (SQLite in WAL mode).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from node.config import load_settings
from node.services import open_node
from sync import store
from tests.factories import sample_dossier
from tests.multinode import append_crafted


def last_ref(node) -> str:
    row = store.EventRow.select().where(store.EventRow.origin == node.node_id).order_by(store.EventRow.id.desc()).get()
    return f"{row.origin}:{row.scope}:{row.seq}"


def main(data_dir: str) -> None:
    node = open_node(load_settings(Path(data_dir)))
    out = []
    try:
        for step in json.load(sys.stdin):
            if "use_case" in step:
                args = [sample_dossier(**a["sample"]) if isinstance(a, dict) and "sample" in a else a
                        for a in step.get("args", [])]
                getattr(node, step["use_case"])(*args, **step.get("kwargs", {}))
                out.append(last_ref(node))
            else:
                out.append(append_crafted(node, **step).ref)
    finally:
        node.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main(sys.argv[1])
