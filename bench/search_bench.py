"""Staff name search at 100,000 to 1,000,000 dossiers on SQLite and PostgreSQL (issue 15.4).

    .venv/bin/python -m bench.search_bench [--sizes 100000,300000,1000000] [--runs 3]
                                           [--pg-url postgresql://postgres@127.0.0.1:5432/DB | none]
                                           [--scan-below 1000000]

The dossier rows are generated with bulk SQL straight into the derived table (a recursive CTE on
SQLite, ``generate_series`` on PostgreSQL), not through the use case, so a million is minutes;
the name index is the one the node keeps (:mod:`node.name_index`: its SQLite triggers fill the
FTS5 table as rows arrive, the PostgreSQL ``pg_trgm`` index is built by the server). Names come
from a pool weighted like Vietnamese family names (Nguyễn about a third); ten rare names (three
holders each, at every size) are added. Queries, ten of each kind, as staff type them:

* rare: a rare full name or part of one, with diacritics ("Khổng Minh Triết") and without;
* common: "Nguyễn Thị", "Trần", "Văn Hùng"..., with diacritics and without.

Each figure is :func:`node.queries.search.search` server side (first page of 50 and the capped
count), p95 over the queries repeated five times, median of ``--runs`` runs; ``scan`` is the
same query the way it ran before the index (``LIKE '%…%'`` on the folded column), one pass,
for sizes below ``--scan-below``. PostgreSQL uses the whole database the URL names (its public
schema is dropped and recreated: give it a database of its own). The load average is printed
beside each size: the machine is shared.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.ui_bench import FAMILY, GIVEN, MIDDLE, pct  # noqa: E402

FAMILY_WEIGHT = {"Nguyễn": 38, "Trần": 11, "Lê": 9, "Phạm": 7, "Hoàng": 5, "Huỳnh": 4, "Phan": 4, "Vũ": 4}
RARE_NAMES = ("Khổng Minh Triết", "Âu Dương Phụng", "Thạch Thị Sa Ly", "Mùa A Chứ", "Giàng Seo Phử",
              "Ka Sô Liễng", "Triệu Ngọc Ẩn", "Quách Thục Quyên", "Lục Văn Ngữ", "Tôn Nữ Khuê Trâm")
RARE_QUERIES = ("Khổng Minh Triết", "Âu Dương", "Thạch Thị Sa", "Mùa A Chứ", "Seo Phử",
                "Ka Sô Liễng", "Ngọc Ẩn", "Quách Thục", "Lục Văn Ngữ", "Khuê Trâm")
COMMON_QUERIES = ("Nguyễn Thị", "Nguyễn Văn An", "Trần", "Thị Lan", "Văn Hùng", "Lê Minh", "Phạm",
                  "Ngọc Hà", "Nguyễn", "Thị Hương")
POOL = 20_000
REPEAT = 5


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def name_pool(rng: random.Random) -> list[str]:
    weights = [FAMILY_WEIGHT.get(f, 2) for f in FAMILY]
    return [f"{rng.choices(FAMILY, weights)[0]} {rng.choice(MIDDLE)} {rng.choice(GIVEN)}" for _ in range(POOL)]


def open_db(kind: str, where: str):  # -> peewee Database, bound and migrated
    from playhouse.db_url import connect

    from node.db import connect_sqlite, database, migrate

    if kind == "postgresql":
        db = connect(where)
        db.connect()
        db.execute_sql("DROP SCHEMA public CASCADE")
        db.execute_sql("CREATE SCHEMA public")
    else:
        db = connect_sqlite(Path(where) / "search.sqlite3", None)
        db.connect()
    database.initialize(db)
    migrate(db)
    return db


def fill(db, kind: str, first: int, last: int, pool: list[str]) -> None:
    """Dossier rows ``first``..``last`` (1-based), names picked from ``pool`` by a hash of the
    row number; the rare names go to rows ``first``, ``first + 1``... (three holders per size)."""
    from node.domain.text import fold

    names = [(i, n, fold(n)) for i, n in enumerate(pool)]
    rare = [(POOL + i, n, fold(n)) for i, n in enumerate(RARE_NAMES)]
    db.execute_sql("DROP TABLE IF EXISTS bench_names")
    db.execute_sql("CREATE TABLE bench_names (i INTEGER PRIMARY KEY, name TEXT, folded TEXT)")
    mark = db.param
    db.cursor().executemany(f"INSERT INTO bench_names VALUES ({mark}, {mark}, {mark})", names + rare)
    day = 86_400_000
    # three holders of each rare name per size: rows first .. first + 29
    pick = (f"CASE WHEN g < {first + 30} THEN {POOL} + (g - {first}) % 10 "
            f"ELSE (g * 2654435761) % {POOL} END")
    columns = ("id, scope, origin, code, procedure_code, procedure_name, applicant_name, applicant_name_folded, "
               "id_number, phone, address, channel, note, status, owner, open_conflicts, national_code, received_at, "
               "due_at, updated_at, updated_hlc, event_count, heads, foreign_resolutions, procedure_key, sector, "
               "catalogue_version, units_version, history, pauses, supplement_requests, apology_at, apology_reason, "
               "new_due_at")
    at = f"(1735689600000 + g * ({365 * day} / {last}))"
    values = (f"'d' || g, '17272', 'bench', 'X-' || g, '1.001193', 'Đăng ký khai sinh', "
              f"(SELECT name FROM bench_names WHERE i = {pick}), (SELECT folded FROM bench_names WHERE i = {pick}), "
              f"ID_NUMBER, '0912345678', 'Xóm 3', 'desk', '', 'received', '17272', 0, 0, "
              f"{at}, {at} + 5 * {day}, {at}, {at}, 1, 'h' || g, '{{}}', 'k', 's', 'v', 'u', '[]', '[]', 0, NULL, '', "
              f"NULL")
    id_number = "lpad(g::text, 12, '0')" if kind == "postgresql" else "substr('000000000000' || g, -12, 12)"
    values = values.replace("ID_NUMBER", id_number)
    if kind == "postgresql":
        values = values.replace("%", "%%")  # psycopg's placeholders
        db.execute_sql(f"INSERT INTO dossier ({columns}) SELECT {values} FROM generate_series({first}, {last}) g")
        db.execute_sql("VACUUM ANALYZE dossier")  # as autovacuum would: flushes the GIN pending list
    else:
        with db.atomic():
            db.execute_sql(f"WITH RECURSIVE s(g) AS (SELECT {first} UNION ALL SELECT g + 1 FROM s WHERE g < {last}) "
                           f"INSERT INTO dossier ({columns}) SELECT {values} FROM s")
        db.execute_sql("ANALYZE")
    db.execute_sql("DROP TABLE bench_names")


def scan(q: str) -> None:
    """The search as it ran before the index (the folded column read row by row)."""
    from node.domain.text import fold
    from node.models import DossierRow
    from node.queries.bounds import capped_count

    query = DossierRow.select().where(DossierRow.applicant_name_folded.contains(fold(q)))
    rows = list(query.order_by(DossierRow.received_at.desc(), DossierRow.id).limit(50).dicts())
    if len(rows) == 50:
        capped_count(query)


def timed(fn, queries: list[str], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        for q in queries:
            t = time.perf_counter()
            fn(q)
            out.append((time.perf_counter() - t) * 1000)
    return out


def measure(n: int, runs: int, with_scan: bool) -> dict[str, tuple]:
    from node.domain.text import fold
    from node.queries.search import search

    kinds = {
        "rare, diacritics": list(RARE_QUERIES), "rare, none": [fold(q) for q in RARE_QUERIES],
        "common, diacritics": list(COMMON_QUERIES), "common, none": [fold(q) for q in COMMON_QUERIES],
    }
    out = {}
    for label, queries in kinds.items():
        found = [search(q)[1] for q in queries]
        timed(search, queries, 1)  # warm the cache, untimed
        p95 = statistics.median(pct(timed(search, queries, REPEAT), 95) for _ in range(runs))
        before = pct(timed(scan, queries, 1), 95) if with_scan else None
        out[label] = (p95, before, statistics.median(found))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="100000,300000,1000000")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--pg-url", default=os.environ.get("MOTCUA_BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    ap.add_argument("--scan-below", type=int, default=1_000_000, help="time the old scan for sizes below this")
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    backends = [b for b in args.backends.split(",") if b != "postgresql" or args.pg_url != "none"]
    pool = name_pool(random.Random(2026))
    lines = []
    for kind in backends:
        with tempfile.TemporaryDirectory(prefix="motcua-search-") as tmp:
            db = open_db(kind, args.pg_url if kind == "postgresql" else tmp)
            held = 0
            for n in sizes:
                t = time.perf_counter()
                fill(db, kind, held + 1, n, pool)
                print(f"{kind}: {n:,} dossiers in {time.perf_counter() - t:.0f} s", file=sys.stderr)
                held = n
                for label, (p95, before, found) in measure(n, args.runs, n < args.scan_below).items():
                    lines.append((kind, n, label, p95, before, found, load()))
                    print(f"  {label}: p95 {p95:.1f} ms (scan {before}), {found:.0f} found", file=sys.stderr)
            db.close()
    print(f"\nname search p95 in ms (search(): first page of 50 + capped count; median of {args.runs} runs of "
          f"10 queries x {REPEAT}; scan = the LIKE before the index, one pass; {os.cpu_count()} cores)\n")
    print("| backend | dossiers | query | p95 ms | scan p95 ms | matches (median) | load average 1/5/15 |")
    print("|---|---:|---|---:|---:|---:|---|")
    for kind, n, label, p95, before, found, avg in lines:
        scan_ms = f"{before:.0f}" if before is not None else "-"
        print(f"| {kind} | {n:,} | {label} | {p95:.1f} | {scan_ms} | {found:,.0f} | {avg} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
