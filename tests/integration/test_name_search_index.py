"""The desk's name search through its index (node.name_index): FTS5 trigram on SQLite, pg_trgm
on PostgreSQL. Rare and common names are found by any part of them, typed with or without
diacritics, exactly as the scan found them; the index follows every write and a rebuild."""

from __future__ import annotations

import pytest

from node import name_index
from node.binding import database
from node.models import DossierRow
from node.queries import search as search_module
from node.queries.search import search
from tests.factories import sample_dossier

COMMON = "Nguyễn Thị Ánh"
RARE = "Đặng Quốc Khải"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


def _receive(node, names: list[str]) -> list:
    return [node.create_dossier("canbo", sample_dossier(name=n, id_number=f"0400900{i:05d}"))
            for i, n in enumerate(names)]


def _codes(q: str) -> set[str]:
    rows, total, capped = search(q, limit=200)
    assert total == len(rows) and not capped
    return {r["code"] for r in rows}


@pytest.fixture
def names(node):
    names = [COMMON] * 6 + [f"Nguyễn Văn {x}" for x in ("An", "Bình")] + [RARE, "Trần Thị Ánh"]
    return {d.applicant_name: d for d in _receive(node, names)}, _receive


def _expected(node, needle: str) -> set[str]:
    from node.domain.text import fold

    return {r.code for r in DossierRow.select() if fold(needle) in r.applicant_name_folded}


def test_a_rare_name_is_found_by_any_part_with_or_without_diacritics(node, names):
    for q in ("Đặng Quốc Khải", "dang quoc khai", "quốc kh", "OC KHA", "khai"):
        (found,) = _codes(q)
        assert found == names[0][RARE].code and found in _expected(node, q), q


def test_a_common_name_finds_every_holder_as_the_scan_did(node, names, monkeypatch):
    for q in ("Nguyễn Thị Ánh", "nguyen thi anh", "thị ánh", "nguyen", "anh"):
        expected = _expected(node, q)
        assert len(expected) >= 6 and _codes(q) == expected, q
    monkeypatch.setattr(search_module, "RARE", 3)  # the common-name path: walk by date, count by the index
    for q in ("Nguyễn Thị Ánh", "nguyen thi anh", "thị ánh", "nguyen", "anh"):
        assert _codes(q) == _expected(node, q), q


def test_short_queries_and_quotes_fall_back_to_the_scan_or_find_nothing(node, names):
    assert _codes("an") == _expected(node, "an")  # under three characters: no trigram, the scan
    assert _codes('"a" OR b*') == set()  # typed syntax is a literal phrase, never FTS syntax


def test_the_index_follows_every_write_of_the_row_and_a_rebuild_restores_it(node, names):
    dossier, other = names[0][RARE], names[0]["Trần Thị Ánh"]
    # names are not editable, but the index follows the row whoever writes it (a refold, a drop)
    DossierRow.update(applicant_name_folded="le hoang yen").where(DossierRow.id == dossier.id).execute()
    DossierRow.delete().where(DossierRow.id == other.id).execute()
    assert _codes("dang quoc") == set() and _codes("hoang yen") == {dossier.code}
    assert _codes("tran thi") == set() and len(_codes("thi anh")) == 6
    assert name_index.problems(database) == []
    if not name_index.is_postgres(database):
        database.execute_sql(f"DELETE FROM {name_index.FTS}")  # a damaged index
        assert name_index.problems(database)
    node.rebuild()
    assert name_index.problems(database) == []
    assert _codes("dang quoc khai") == {dossier.code} and _codes("hoang yen") == set()
    assert len(_codes("thi anh")) == 7


def test_migration_16_fills_the_index_of_a_node_that_had_dossiers(node, names):
    if name_index.is_postgres(database):
        database.execute_sql(f"DROP INDEX {name_index.PG_INDEX}")
    else:
        name_index.drop(database)
    assert name_index.problems(database)
    from node.migrations.m0016_search_and_codes import apply

    apply(database)
    assert name_index.problems(database) == []
    assert _codes("dang quoc khai") == {names[0][RARE].code}


def test_verify_and_doctor_report_a_damaged_index_and_rebuild_repairs_it(tmp_path):
    from tests.factories import sqlite_connect
    from tests.integration.test_cli import init, run

    init(tmp_path)
    run(tmp_path, "seed-demo", "--count", "3")
    assert "FAIL" not in run(tmp_path, "verify")
    assert "ok   name search index" in run(tmp_path, "doctor")
    con = sqlite_connect(tmp_path / "n" / "motcua.sqlite3")
    con.execute(f"DELETE FROM {name_index.KEYS}")
    con.commit()
    con.close()
    assert "FAIL  the name search index holds" in run(tmp_path, "verify", code=1)
    run(tmp_path, "rebuild")
    assert "FAIL" not in run(tmp_path, "verify")
