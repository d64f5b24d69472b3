"""The optimised ingest changes no result: a recorded history (``tests/data/golden_sync_batches.json``,
see :mod:`tests.integration.golden_history`) ingested by an empty district gives the derived-state
digest that the code before the optimisation gave, on SQLite and PostgreSQL, in one batch or in
many, and the same events, each once."""

from __future__ import annotations

import json
import uuid

import pytest

from node.db import open_database
from sync.protocol import profile_from_wire, run_from_wire
from tests.factories import FakeClock, init_node_dir, make_settings, reset_postgres
from tests.integration.golden_history import DATA, START_MS

# derived_digest() of the district after ingesting the recording, computed on main (a07e370)
GOLDEN = "d7bc32e6390294c085658344fb6eb729fa0ba1278b55882cf3d0d02756b63bf6"


@pytest.fixture
def district(backend, tmp_path, request):
    from node.services import Node

    extra = {"DEV_OPEN_TRUST": True}  # the recording's self-signed profiles, without a CA
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
        reset_postgres(url)
        extra["DATABASE_URL"] = url
    data_dir = tmp_path / "district"
    key = init_node_dir(data_dir, "district", "40")
    settings = make_settings(data_dir, role="district", unit="40", **extra)
    n = Node(settings, open_database(settings), key, FakeClock(START_MS + 86_400_000))
    yield n
    n.close()


@pytest.mark.parametrize("cut", ["one", "many"])
def test_the_recorded_history_gives_the_golden_digest(district, cut):
    recording = json.loads(DATA.read_text())
    applied = 0
    for batch in recording["batches"][cut]:
        runs = [run_from_wire(r) for r in batch["runs"]]
        profiles = [profile_from_wire(p) for p in batch["profiles"]]
        applied += district.replica.ingest(runs, profiles, profile_from_wire(batch["sender"]), uuid.uuid4().hex).applied
    assert applied == recording["events"] == district.store.count_events()
    assert district.digest() == GOLDEN
    # a second delivery of everything is skipped and changes nothing
    for batch in recording["batches"]["one"]:
        result = district.replica.ingest([run_from_wire(r) for r in batch["runs"]], [],
                                         profile_from_wire(batch["sender"]), uuid.uuid4().hex)
        assert result.applied == 0
    assert district.digest() == GOLDEN
    assert district.rebuild() > 0 and district.digest() == GOLDEN
