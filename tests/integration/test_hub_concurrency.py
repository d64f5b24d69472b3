"""Concurrent ingest into one hub: what several gunicorn workers on PostgreSQL do at once.

Threads stand in for the worker processes: each has its own database connection (peewee keeps
one per thread), so PostgreSQL sees concurrent transactions exactly as it would from processes.
Every commune's feed is pushed by two senders at once with overlapping runs (a commune and the
laptop relaying its events), and batches carry two feeds in opposite orders (a lock-order
deadlock if feeds were locked in batch order). Afterwards each feed's head is the count of its
events, seqs are 1..n without a gap or duplicate, the head hash is that of the last event, and
the derived state equals a rebuild (same ID numbers in every commune: duplicate conflicts across
communes are found whichever commits first).
"""

from __future__ import annotations

import threading
import uuid

import pytest

from node import projection
from node.db import open_database
from node.services import Node
from sync.store import EventRow, FeedRow
from sync.wire import hash_bytes
from tests.factories import init_node_dir, make_settings, reset_postgres
from tests.sync_helpers import make_client, make_run

FEED_LEN, STEP, COMMUNES = 24, 6, 6


@pytest.fixture
def hub(pg_url, tmp_path, clock):
    """A district on PostgreSQL (on SQLite a writer holds the whole database: nothing to race)."""
    reset_postgres(pg_url)
    extra = {"DEV_OPEN_TRUST": True, "DATABASE_URL": pg_url}
    data_dir = tmp_path / "district"
    key = init_node_dir(data_dir, role="district", unit="40")
    settings = make_settings(data_dir, role="district", unit="40", **extra)
    node = Node(settings, open_database(settings), key, clock)
    yield node
    node.close()


def test_concurrent_pushes_keep_heads_and_seqs(hub):
    communes = [make_client("commune", f"{17200 + i}") for i in range(COMMUNES)]
    # cumulative runs 1..k*STEP: every push overlaps what the other sender may have stored
    runs = {c.node_id: [make_run(c, c.unit, 1, k) for k in range(STEP, FEED_LEN + 1, STEP)] for c in communes}
    errors: list[BaseException] = []
    start = threading.Barrier(2 * COMMUNES + 2)

    def push(batches):
        try:
            start.wait(timeout=30)
            for sender, batch in batches:
                hub.replica.ingest(batch, [c.profile for c in communes], sender.profile, uuid.uuid4().hex)
        except BaseException as e:  # reported below, with the thread's batch
            errors.append(e)
        finally:
            hub.db.close()  # this thread's connection

    threads = [threading.Thread(target=push, args=([(c, [r]) for r in runs[c.node_id]],))
               for c in communes for _ in range(2)]
    # two feeds per batch, in opposite orders: a district relaying both communes' runs
    district = make_client("district", "40")
    a, b = communes[0], communes[1]
    pairs = list(zip(runs[a.node_id], runs[b.node_id], strict=True))
    threads.append(threading.Thread(target=push, args=([(district, [ra, rb]) for ra, rb in pairs],)))
    threads.append(threading.Thread(target=push, args=([(district, [rb, ra]) for ra, rb in pairs],)))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not [t for t in threads if t.is_alive()], "a push hung (a lock wait that never ended)"
    assert errors == []
    for c in communes:
        feed = FeedRow.get((FeedRow.origin == c.node_id) & (FeedRow.scope == c.unit))
        seqs = [s for (s,) in EventRow.select(EventRow.seq).where(EventRow.origin == c.node_id)
                .order_by(EventRow.seq).tuples()]
        assert seqs == list(range(1, FEED_LEN + 1))
        last = EventRow.get((EventRow.origin == c.node_id) & (EventRow.seq == FEED_LEN))
        assert (feed.head_seq, feed.head_hash) == (FEED_LEN, last.hash) == (FEED_LEN, hash_bytes(bytes(last.raw)))
    derived = projection.derived_digest()
    projection.rebuild()
    assert projection.derived_digest() == derived
