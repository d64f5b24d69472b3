"""``motcua rebuild`` and migrations 4, 8 and 12 recompute every new derived table (reference data in
force, procedures, number blocks, issued codes, dossier timing, authority violations, fees and ratings) to the same
digest, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
from datetime import datetime

import pytest

from node import reference
from node.db import SchemaMigration, migrate, open_database
from node.domain.vietnam_time import VIETNAM
from node.models import (
    DERIVED_MODELS,
    DossierServiceRow,
    IssuedCodeRow,
    NumberBlockRow,
    ProcedureRow,
    ReferenceRow,
    ViolationRow,
)
from tests.factories import FakeClock, approve_calendar, init_node_dir, make_settings, reset_postgres, sample_dossier
from tests.multinode import append_crafted, carry, make_node

AGENCY = "000.00.40.H40"


def vn(m: int, d: int, hh: int) -> int:
    return int(datetime(2026, m, d, hh, tzinfo=VIETNAM).timestamp() * 1000)


@pytest.fixture
def district(backend, tmp_path, request):
    from node.services import Node

    # development trust: the rogue commune below is carried in without a CA
    extra = {"AGENCY_ID": AGENCY, "DEV_OPEN_TRUST": True}
    if backend == "postgresql":
        url = request.getfixturevalue("pg_url")
        reset_postgres(url)
        extra["DATABASE_URL"] = url
    data_dir = tmp_path / "district"
    key = init_node_dir(data_dir, "district", "40")
    settings = make_settings(data_dir, role="district", unit="40", **extra)
    clock = FakeClock(vn(5, 18, 9))
    n = Node(settings, open_database(settings), key, clock)
    yield n, clock
    n.close()


def busy_history(node, clock, tmp_path) -> None:
    approve_calendar(node)
    node.publish_reference("admin")
    catalogue = copy.deepcopy(reference.seed_catalogue_data())
    catalogue["version"] = "tinh-2026.2"
    node.publish_reference("admin", catalogue=catalogue, kinds=("catalogue",))
    ids = []
    for i, procedure in enumerate(("1.001022", "2.000911", "1.001193")):
        clock.advance(3_600_000)
        ids.append(node.create_dossier("canbo", sample_dossier(name=f"Người {i}", procedure={"code": procedure})).id)
    node.lease_codes("admin", node.node_id, days=2, size=50, agency_id=AGENCY, unit="40")  # assigns final codes
    node.lease_codes("admin", "a" * 32, days=2, size=50, agency_id=AGENCY, unit="17272")
    clock.advance(3_600_000)
    ids.append(node.create_dossier("canbo", sample_dossier(name="Sau khi cấp dải số")).id)
    for to in ("processing", "supplement_requested", "processing", "supplement_requested"):
        clock.advance(3_600_000)
        node.change_status("canbo", ids[0], to, f"lý do: {to}")
    clock.advance(3_600_000)
    node.issue_apology("chủ tịch", ids[1], "Chờ phối hợp", vn(6, 1, 17))
    for to in ("processing", "resolved", "returned"):  # a fee and a rating (issue 12, points 9-10)
        clock.advance(3_600_000)
        if to == "returned":
            node.record_fee("canbo", ids[2], {"status": "paid", "amount_vnd": 8000, "receipt_no": "BL 1"})
        node.change_status("canbo", ids[2], to, "")
    node.rate_dossier("công dân", ids[2], {"level": "satisfied", "channel": "desk"})
    from node import files
    from tests.files_helpers import random_bytes_pdf

    files.attach(node, "canbo", ids[2], [random_bytes_pdf(40_000)])  # issue 17: the attachment table too
    rogue = make_node(tmp_path, "rogue", clock, unit="17272")  # a commune leasing itself numbers
    append_crafted(rogue, scope="17272", entity="codeblock/x", type="codes.block_leased", body={
        "agency_id": AGENCY, "node_id": rogue.node_id, "first_day": "2026-05-18", "last_day": "2026-05-18",
        "first_seq": 1, "last_seq": 10})
    carry(rogue, node)
    rogue.close()


def test_rebuild_keeps_the_derived_digest_with_every_new_table(district, tmp_path):
    node, clock = district
    busy_history(node, clock, tmp_path)
    assert ReferenceRow.select().count() == 3 and ProcedureRow.select().count() == 26
    assert NumberBlockRow.select().count() == 2
    assert IssuedCodeRow.select().where(IssuedCodeRow.final).count() == 4  # 3 assigned + 1 issued
    assert IssuedCodeRow.select().where(~IssuedCodeRow.final).count() == 3
    assert ViolationRow.select().count() == 1
    assert all(m.select().count() for m in DERIVED_MODELS if m._meta.table_name != "conflict")
    before = node.digest()
    assert node.rebuild() == 4
    assert node.digest() == before


@pytest.mark.parametrize("version", [4, 8, 12])
def test_migrations_that_rebuild_give_the_same_digest(district, tmp_path, version):
    node, clock = district
    busy_history(node, clock, tmp_path)
    before = node.digest()
    SchemaMigration.delete().where(SchemaMigration.version == version).execute()
    if version == 8:
        node.db.drop_tables([ViolationRow])  # a node from before migration 8 has no such table
    if version == 12:
        node.db.drop_tables([DossierServiceRow])
    assert migrate(node.db) == [version]
    assert node.digest() == before
