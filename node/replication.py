"""A node's side of sync: one session with a peer, what follows it, and the link state shown.

The session itself is :class:`sync.engine.SyncClient` over a transport; this module picks the
transport (HTTPS pinned to the district CA when one is in force), lets the write gate learn what
the peer holds, and after a good session gives provisional dossiers their final codes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from node import leasing
from node.context import SyncingNode
from node.domain.errors import DomainError
from node.writegate import WriteBlocked
from sync.protocol import feed_key, may_hold, split_feed_key

if TYPE_CHECKING:  # annotations only: the engine and requests load at the first sync
    from sync.engine import SessionSummary
    from sync.transport import Transport

SYNC_AUTHOR = "motcua-sync"  # the account recorded on the code assignments a sync triggers


def sync_with(node: SyncingNode, url: str, progress: Callable[[SessionSummary, int], None] | None = None,
              transport: Transport | None = None) -> SessionSummary:
    """One sync session with the peer at ``url`` (see :mod:`sync.engine`)."""
    # deferred: requests and the engine load only for a sync, not for every CLI command or page
    from sync.engine import SyncClient
    from sync.transport import HttpTransport

    if transport is None and node.trust.enforced and node.trust.tls_ca is None:
        fetch_tls_ca_once(node, url)
    ca_file = node.trust.pinned_ca_files if node.trust.enforced else None
    transport = transport or HttpTransport(
        url, node.key, node.wall_ms, read_timeout=node.settings.HTTP_TIMEOUT_SECONDS, ca_file=ca_file,
        cert=node.trust.own_cert_der,
    )
    try:
        summary = SyncClient(node.replica, transport, url).sync(progress)
        if summary.ok and summary.peer and hasattr(transport, "call"):
            summary.files = sync_files_after(node, transport, summary.peer)
    finally:
        transport.close()
    if summary.peer:
        fork_feed = summary.error_feed if summary.error_code == "fork" else ""
        if summary.ok or fork_feed:
            node.gate.after_sync(node.store.peer_state(summary.peer).vector, fork_feed)
    if summary.ok:
        from node import clockcheck

        with node.writer.transaction(gated=False):  # what the peer said of this clock, kept
            clockcheck.observe_peer(getattr(transport, "peer_time_ms", None), node.wall_ms())
        after_sync(node)
    return summary


def sync_files_after(node: SyncingNode, transport: Transport, peer_id: str):
    """Files travel after the events, in their own exchanges (:mod:`node.filesync`); a failure
    there never turns the events session into a failed one: the next sync resumes the files."""
    from node import filesync

    peer = node.store.load_profiles([peer_id]).get(peer_id)
    if peer is None:
        return None
    try:
        result = filesync.sync_files(node, transport, peer)
        if result.requests:  # a line of its own in the sync log: bytes each way, how it ended
            import uuid

            session, now = uuid.uuid4().hex, node.wall_ms()
            node.store.open_session(session, "client", peer.node_id, peer.name, now)
            node.store.add_to_session(session, "client", now=node.wall_ms(), peer=peer.node_id,
                                      bytes_in=result.bytes_in, bytes_out=result.bytes_out,
                                      outcome="ok" if result.ok else "partial", error_code="" if result.ok else
                                      "files", error=result.error)
        return result
    except Exception as e:  # logged, and the files wait for the next session
        import logging

        logging.getLogger(__name__).warning("file exchange with %s failed: %s", peer_id, e)
        return None


def fetch_tls_ca_once(node: SyncingNode, url: str) -> None:
    """Enrolled before the district had a TLS CA: ask the peer for it once per process (an
    upgraded peer serves https with a certificate of it; see :mod:`node.https`)."""
    if url in node.tls_ca_asked or not url.startswith("https://"):
        return
    node.tls_ca_asked.add(url)
    from node.https import fetch_tls_ca

    fetch_tls_ca(node.trust, url, timeout=min(10.0, float(node.settings.HTTP_TIMEOUT_SECONDS)))


def after_sync(node: SyncingNode) -> None:
    """Blocks may have arrived: give provisional dossiers their final codes (they go up at
    the next sync). A node that may not write yet simply waits for the next session."""
    with contextlib.suppress(WriteBlocked, DomainError):
        leasing.assign_final(node, SYNC_AUTHOR)


def pull_remaining(node: SyncingNode, peer_id: str) -> int:
    """Events the peer held at its last answer (its vector, kept by the engine at each
    acknowledgement) that this node lacks: what a restore still has to pull."""
    local = {feed_key(h.origin, h.scope): h.seq for h in node.store.feeds()}
    vector = node.store.peer_state(peer_id).vector if peer_id else {}
    return sum(seq - local.get(key, 0) for key, seq in vector.items() if seq > local.get(key, 0))


def _files_pending(node: SyncingNode, peer_id: str) -> dict[str, int]:
    from node import files

    return files.pending(node, peer_id)


def status(node: SyncingNode) -> dict[str, Any]:
    """What the UI shows: last success, link state, events pending each way (per parent)."""
    url = node.settings.PARENT_URL
    store = node.store
    peer_id = store.find_peer_by_url(url) if url else None
    Peer = store.rows.Peer
    peer = Peer.get_or_none(Peer.node_id == peer_id) if peer_id else None
    local = {feed_key(h.origin, h.scope): h.seq for h in store.feeds()}
    vector = store.peer_state(peer_id).vector if peer_id else {}
    profile = store.load_profiles([peer_id]).get(peer_id) if peer_id else None
    pending_up = sum(
        seq - vector.get(key, 0)
        for key, seq in local.items()
        if seq > vector.get(key, 0) and (profile is None or may_hold(profile, split_feed_key(key)[1]))
    )
    pending_down = pull_remaining(node, peer_id) if peer_id else 0
    if peer is None:
        link = "never"
    elif peer.last_success and peer.last_success >= peer.last_seen:
        link = "up"
    else:
        link = "down"
    return {
        "parent_url": url,
        "peer": peer_id or "",
        "link": link,
        "last_success": peer.last_success if peer else 0,
        "last_attempt": peer.last_seen if peer else 0,
        "last_error": peer.last_error if peer else "",
        "pending_up": pending_up,
        "pending_down_at_last_contact": pending_down,
        "files": _files_pending(node, peer_id or ""),
        "clock_skew_ms": peer.clock_skew_ms if peer else 0,
        "write_block": node.gate.reason(),
    }
