"""A new PC restored from the commune's install-time backup pulls the unit's history from the hub.

The commune is a real node; the hub is a sync participant in memory (tests/inprocess.py), reached
through a transport that calls its replica as the HTTP endpoint would, and that can cut the link.
A cut mid-pull leaves what was applied (each exchange commits), the next session pulls only
the rest, the write gate stays closed until a session completes and lifts then, and every
feed of the restored node verifies.
"""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

import pytest

from node.backup import create_backup, restore_backup
from node.db import open_database
from node.replication import pull_remaining
from node.services import Node
from node.writegate import WriteBlocked
from sync import codec
from sync.exchange import Reply, request_from_wire, response_signing_bytes
from sync.memory import MemoryStore
from sync.transport import TransportError
from tests.factories import init_node_dir, load_node_key, make_settings, sample_dossier
from tests.inprocess import Member, make_member

URL = "http://hub.example:8750"
DOSSIERS = 16


class HubLink:
    """A transport to ``hub`` in this process; ``cut_after`` exchanges, then every attempt fails
    (the engine retries once at once) until ``restore()``."""

    def __init__(self, hub: Member, caller_profile, cut_after: int | None = None) -> None:
        self.hub, self.caller, self.cut_after = hub, caller_profile, cut_after
        self.exchanges = 0
        self.pulled = 0

    def exchange(self, message: dict, introduce: bool = False) -> Reply:
        if self.cut_after is not None and self.exchanges >= self.cut_after:
            raise TransportError("connection reset by peer")
        self.exchanges += 1
        req = request_from_wire(message)
        caller = self.hub.replica.resolve_caller(self.caller, req.profiles)
        response, events = self.hub.replica.serve_exchange(req, caller, len(str(message)))
        self.pulled += events
        body, _ = codec.encode(response.to_wire())
        nonce, digest = secrets.token_urlsafe(16), hashlib.sha256(body).digest()
        signature = self.hub.key.sign(response_signing_bytes(self.hub.node_id, nonce, digest))
        return Reply(codec.decode(body), len(str(message)), len(body), 200, nonce, "", signature, digest)

    def restore(self) -> None:
        self.cut_after = None

    def close(self) -> None:
        pass


@pytest.fixture
def dead_pc(tmp_path: Path, clock):
    """The old commune PC: backed up right after installation, then it worked and synced."""
    data_dir = tmp_path / "old-pc"
    init_node_dir(data_dir)
    settings = make_settings(data_dir, DEV_OPEN_TRUST=True, PARENT_URL=URL)
    open_database(settings).close()  # what motcua init leaves: a migrated, empty database
    create_backup(settings, tmp_path / "backups", clock(), lambda _msg: None)
    node = Node(settings, open_database(settings), load_node_key(data_dir), clock)
    hub = make_member(MemoryStore(), "district", "40", clock, name="Hub")
    hub.replica.batch_bytes = 3000  # several exchanges, so the link can be cut in the middle
    for i in range(DOSSIERS):
        node.create_dossier("cán bộ", sample_dossier(name=f"Công Dân {i}", id_number=f"04009000{i:04d}"))
        if i % 4 == 3:  # a sync every few dossiers: the hub can cut its pulls at each head it got signed
            assert node.sync_with(URL, transport=HubLink(hub, node.profile)).ok
    own = node.store.feed_head(node.node_id, node.scope).seq
    node.close()
    return hub, next((tmp_path / "backups").iterdir()), own


def test_a_cut_restore_resumes_where_it_stopped_and_lifts_the_gate(dead_pc, tmp_path, clock, monkeypatch):
    hub, backup, own = dead_pc
    new_dir = tmp_path / "new-pc"
    monkeypatch.setenv("MOTCUA_STATE_DIR", str(tmp_path / "new-pc-state"))  # no record of the old PC
    restore_backup(backup, new_dir, None, lambda _msg: None)
    settings = make_settings(new_dir, DEV_OPEN_TRUST=True, PARENT_URL=URL)
    pc = Node(settings, open_database(settings), load_node_key(new_dir), clock)
    try:
        assert pc.gate.reason() == "restored"
        assert pc.store.count_events() == 0
        link = HubLink(hub, pc.profile, cut_after=3)
        seen: list[int] = []
        first = pc.sync_with(URL, transport=link, progress=lambda s, _r: seen.append(pull_remaining(pc, s.peer)))
        assert (first.outcome, first.error_code, link.exchanges) == ("partial", "transport", 3)
        applied = pc.store.count_events()
        assert 0 < applied < own
        assert seen and seen[-1] == own - applied  # what the progress bar shows as left
        assert pc.gate.reason() == "restored"  # a cut pull lifts nothing
        with pytest.raises(WriteBlocked):
            pc.create_dossier("cán bộ", sample_dossier(name="Quá Sớm", id_number="040090009999"))

        link.restore()
        link.pulled = 0
        second = pc.sync_with(URL, transport=link)
        assert second.ok
        assert link.pulled == own - applied  # nothing applied before the cut is pulled again
        assert pc.store.count_events() == own
        assert all(r.ok for r in pc.verify())
        assert pc.gate.reason() == ""
        pc.create_dossier("cán bộ", sample_dossier(name="Sau Khôi Phục", id_number="040090008888"))
        assert pc.store.feed_head(pc.node_id, pc.scope).seq == own + 1  # the next seq, not a second one
    finally:
        pc.close()
