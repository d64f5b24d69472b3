"""The write gate: a node restored from an old copy must not write before it has caught up.

A node's feeds are hash chains. If its data directory is restored from last week's backup and
staff keep working, the node writes seq 101 *again*, different from the seq 101 its peers
already hold: a fork, which peers quarantine and never merge (Secure Scuttlebutt's worst
failure, reliability.md §0.7). So the node first learns its own high-water mark from its peers,
and only then writes.

How a restore is noticed
------------------------
* After every local commit the heads of the node's own feeds are copied to a small *sentinel*
  file outside the data directory (``STATE_DIR``; a backup of the data directory does not roll
  it back). At start, a database whose own heads are *behind* the sentinel was restored:
  writes are blocked (reason ``restored``).
* No sentinel but own events in the database and a parent configured: the data directory came
  from elsewhere (a new PC, a copied laptop). Writes are blocked (``unverified``) until a sync.
* A successful sync after which the parent holds nothing of ours that we lack lifts both; the
  events we had lost come back in that sync like any others.
* A fork of one of our own feeds seen during sync (a cloned laptop, or writes made before the
  gate existed) blocks writes for good (``fork``): only an administrator can decide, and the
  conflicting events sit in the quarantine of the node that saw them.
* ``motcua unblock-writes`` lifts the gate by hand, recorded with who and why.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from pathlib import Path

import peewee as pw

from node.binding import NodeRow, node_store
from node.domain.errors import DomainError
from sync.eventstore import FeedHead
from sync.protocol import feed_key

log = logging.getLogger(__name__)


class WriteBlocked(DomainError):
    """Raised when a local write is refused because the node must recover first."""


MESSAGES = {
    "restored": (
        "Dữ liệu của máy này được khôi phục từ bản sao cũ. Hãy đồng bộ với cấp trên trước khi "
        "tiếp nhận hồ sơ mới. (This node was restored from an old copy: sync with the parent "
        "before entering new work.)"
    ),
    "unverified": (
        "Dữ liệu này được chuyển từ máy khác. Hãy đồng bộ với cấp trên trước khi tiếp nhận hồ sơ "
        "mới. (This data directory came from another machine: sync with the parent first.)"
    ),
    "fork": (
        "Phát hiện hai lịch sử khác nhau của cùng một máy (máy sao chép hoặc khôi phục). Liên hệ "
        "quản trị viên cấp trên. (Two histories of this node exist: contact the district "
        "administrator.)"
    ),
}


class NodeStateRow(NodeRow):
    key = pw.CharField(max_length=60, primary_key=True)
    value = pw.TextField()

    class Meta:
        table_name = "node_state"


class WriteGate:
    def __init__(self, node_id: str, state_dir: Path, has_parent: bool) -> None:
        self.node_id = node_id
        self.sentinel = state_dir / f"{node_id}.heads.json"
        self.has_parent = has_parent

    # -- state -------------------------------------------------------------------------

    def reason(self) -> str:
        row = NodeStateRow.get_or_none(NodeStateRow.key == "write_block")
        return json.loads(row.value)["reason"] if row else ""

    def block(self, reason: str, detail: str = "") -> None:
        if self.reason() == "fork":
            return  # never downgrade a fork
        value = json.dumps({"reason": reason, "detail": detail})
        NodeStateRow.insert(key="write_block", value=value).on_conflict(
            conflict_target=[NodeStateRow.key], update={NodeStateRow.value: value}
        ).execute()

    def lift(self) -> None:
        NodeStateRow.delete().where(NodeStateRow.key == "write_block").execute()
        self.save_sentinel(self.own_heads())

    def check(self) -> None:
        reason = self.reason()
        if reason:
            raise WriteBlocked(MESSAGES.get(reason, reason))

    # -- sentinel ------------------------------------------------------------------------

    def own_heads(self) -> dict[str, int]:
        return {feed_key(h.origin, h.scope): h.seq for h in node_store().feeds() if h.origin == self.node_id}

    def read_sentinel(self) -> dict[str, int] | None:
        try:
            return json.loads(self.sentinel.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return {}  # unreadable: treat as no information rather than as a restore

    def save_sentinel(self, heads: Mapping[str, int]) -> None:
        self.sentinel.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        current = self.read_sentinel() or {}
        merged = {k: max(v, current.get(k, 0)) for k, v in {**current, **heads}.items()}
        tmp = self.sentinel.with_suffix(".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(merged, f, sort_keys=True)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.sentinel)

    def after_commit(self, heads: list[FeedHead]) -> None:
        try:
            self.save_sentinel({feed_key(h.origin, h.scope): h.seq for h in heads})
        except OSError as e:
            # The write is committed: failing it now (a full STATE_DIR disk) would answer an error
            # for a stored write, and the caller's retry would store it twice. The next commit
            # writes the sentinel again (it keeps the maximum of each feed).
            log.warning("write committed but the sentinel %s was not updated: %s", self.sentinel, e)

    def check_at_start(self) -> str:
        """Compare the database with the sentinel; block if it looks restored or moved."""
        # The sentinel first: it is written after each commit, so heads read after it are at
        # least as far on. Read the other way round, a write landing in between on a serving
        # node would look like a restore to any CLI command run beside it.
        sentinel = self.read_sentinel()
        own = self.own_heads()
        if sentinel is None:
            if own and self.has_parent and not self.reason():
                self.block("unverified", "no record of this node's writes on this machine")
            elif not own:
                self.save_sentinel({})
            return self.reason()
        behind = {k: (own.get(k, 0), v) for k, v in sentinel.items() if own.get(k, 0) < v}
        if behind:
            self.block("restored", ", ".join(f"{k}: {have} < {seen}" for k, (have, seen) in behind.items()))
        return self.reason()

    def after_sync(self, peer_vector: Mapping[str, int], fork_feed: str = "") -> None:
        """Lift a restore block once the peer holds nothing of ours that we lack."""
        if fork_feed and fork_feed.startswith(self.node_id + ":"):
            self.block("fork", f"peer holds another history of {fork_feed}")
            return
        if self.reason() not in ("restored", "unverified"):
            return
        own = self.own_heads()
        lacking = {k: v for k, v in peer_vector.items() if k.startswith(self.node_id + ":") and v > own.get(k, 0)}
        if not lacking:
            self.lift()
