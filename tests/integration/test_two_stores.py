"""Several nodes in one process, each on a store of its own (two SQLite files and memory), syncing
through the real outbox and ingestor: nothing is shared but the Python process."""

from __future__ import annotations

import threading
from pathlib import Path

import peewee as pw
import pytest

from node.signing import verify_signature
from sync.chain import verify_stored_feed
from sync.memory import MemoryStore
from sync.protocol import Code, ProtocolError
from sync.store import PeeweeStore
from tests.factories import FakeClock
from tests.inprocess import Member, carry, make_member

UNIT = "17272"


def sqlite_store(path: Path) -> PeeweeStore:
    db = pw.SqliteDatabase(str(path), pragmas={"journal_mode": "wal", "busy_timeout": 15000},
                           check_same_thread=False)
    store = PeeweeStore(db)
    store.create_tables()
    return store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def three(tmp_path: Path, clock: FakeClock):
    """A commune on one SQLite file, its district hub on another, a laptop in memory."""
    commune = make_member(sqlite_store(tmp_path / "commune.sqlite3"), "commune", UNIT, clock, "xã")
    hub = make_member(sqlite_store(tmp_path / "hub.sqlite3"), "district", "40", clock, "huyện")
    laptop = make_member(MemoryStore(), "mobile", UNIT, clock, "máy lưu động")
    yield commune, hub, laptop
    for m in (commune, hub):
        m.store.db.close()  # type: ignore[attr-defined]


def dossier(member: Member, n: int) -> None:
    for i in range(n):
        member.write(UNIT, f"dossier/{member.node_id[:6]}-{i}", "dossier.received", {"i": i})


def verified(member: Member, origin: str, scope: str = UNIT) -> int:
    store = member.store
    return verify_stored_feed(origin, scope, store.stored_feed(origin, scope), store.latest_signed_head(origin, scope),
                              verify_signature)


def test_two_databases_in_one_process_stay_apart(three):
    commune, hub, _ = three
    dossier(commune, 3)
    assert commune.store.count_events() == 3 and hub.store.count_events() == 0
    assert commune.store.db.database != hub.store.db.database  # type: ignore[attr-defined]


def test_events_travel_commune_to_hub_to_laptop_and_back(three):
    commune, hub, laptop = three
    dossier(commune, 4)
    assert carry(commune, hub) == 4
    assert carry(hub, laptop) == 4  # relayed verbatim: the commune's signature, cut where it signed
    dossier(laptop, 2)
    assert carry(laptop, hub) == 2 and carry(hub, commune) == 2
    for m in (commune, hub, laptop):
        assert verified(m, commune.node_id) == 4 and verified(m, laptop.node_id) == 2
        assert m.store.count_events() == 6
    assert [e.origin for e in commune.received] == [laptop.node_id] * 2  # what ingest handed the projection
    assert carry(commune, hub) == carry(hub, laptop) == 0  # nothing left: a replay changes nothing


def test_a_replayed_batch_changes_nothing(three):
    commune, hub, _ = three
    dossier(commune, 3)
    out = commune.replica.outgoing_for(hub.profile, {})
    assert hub.replica.ingest(out.runs, out.profiles, commune.profile, "s1").applied == 3
    again = hub.replica.ingest(out.runs, out.profiles, commune.profile, "s2")
    assert (again.applied, again.skipped) == (0, 3)
    assert hub.store.feed_head(commune.node_id, UNIT).seq == 3


def test_a_second_history_is_quarantined_on_the_receiver_only(three, clock):
    commune, hub, _ = three
    dossier(commune, 2)
    carry(commune, hub)
    clone = make_member(MemoryStore(), "commune", UNIT, clock, key=commune.key)  # a cloned laptop: same key
    for i in range(3):  # not what the commune wrote at seq 1 and 2
        clone.write(UNIT, f"dossier/clone-{i}", "dossier.received", {"i": i})
    out = clone.replica.outgoing_for(hub.profile, {})
    with pytest.raises(ProtocolError) as refused:
        hub.replica.ingest(out.runs, out.profiles, clone.profile, "fork")
    assert refused.value.code == Code.FORK
    assert [q.seq for q in hub.store.quarantined(commune.node_id)] == [1, 2, 3]
    assert commune.store.quarantined(commune.node_id) == []
    assert hub.store.feed_head(commune.node_id, UNIT).seq == 2


def test_two_nodes_write_and_sync_from_two_threads_at_once(three):
    """Each thread drives its own node: writes, then pushes to the hub (SQLite serialises them)."""
    commune, hub, laptop = three
    errors: list[BaseException] = []

    def work(member: Member) -> None:
        try:
            for _ in range(5):
                dossier(member, 2)
                carry(member, hub)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)
        finally:
            if isinstance(member.store, PeeweeStore):
                member.store.db.close()
            hub.store.db.close()  # type: ignore[attr-defined]

    threads = [threading.Thread(target=work, args=(m,)) for m in (commune, laptop)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert verified(hub, commune.node_id) == 10 and verified(hub, laptop.node_id) == 10
