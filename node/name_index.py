"""The index behind the desk's name search: folded applicant names, found by any part of them.

Staff type any part of a name, with or without diacritics; the query and the stored name are
both folded (:func:`node.domain.text.fold`) and a dossier matches when the folded query is a
substring of its folded name. A ``LIKE '%…%'`` does that by reading every row (237 ms at
300,000 dossiers), so each backend gets an index that answers substrings:

* SQLite (plain and SQLCipher): an FTS5 table with the ``trigram`` tokenizer over the folded
  name. A quoted phrase of three characters or more matches exactly the rows whose name holds
  it as a substring (case folding is the name's own: both sides are already folded). The FTS
  rows are keyed by ``dossier_name_key.key``, an ``INTEGER PRIMARY KEY`` that ``VACUUM`` keeps,
  not by the dossier table's implicit rowid, which it may renumber; that row also holds the
  dossier's id and reception time, so a rare name's matches are listed in order from the index.
* PostgreSQL: a GIN ``pg_trgm`` index on ``dossier.applicant_name_folded``, which the planner
  uses for the ``LIKE`` of a rare name. Without the extension (a server where it cannot be
  created) the search still works, by the scan. After a bulk load the index's pending list is
  read on every search until (auto)vacuum merges it.

Invariants
----------
* The index is derived state of the derived ``dossier`` table and changes with it in the same
  transaction: SQLite triggers on that table (insert, delete, a changed folded name) keep the
  FTS rows equal to the dossier rows, whoever writes them (the projection, a rebuild). It holds
  nothing the events do not, so it is outside :func:`node.projection.derived_digest`.
* :func:`install` is idempotent and fills the index from the rows already there; it runs when
  the dossier table is created (so ``motcua rebuild``, which drops and recreates the derived
  tables, rebuilds the index too) and from migration 16 on existing nodes. :func:`problems`
  checks that the index holds exactly the current folded names (``motcua verify``).
* Queries shorter than three characters have no trigram: callers fall back to the scan.
"""

from __future__ import annotations

import logging

import peewee as pw

log = logging.getLogger(__name__)

TABLE = "dossier"
FTS = "dossier_name_fts"
KEYS = "dossier_name_key"
PG_INDEX = "dossier_name_trgm"
MIN_QUERY = 3  # a trigram index knows nothing of shorter strings

_SQLITE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {KEYS} (key INTEGER PRIMARY KEY, dossier_id TEXT NOT NULL UNIQUE, "
    "received_at INTEGER NOT NULL)",
    f"CREATE VIRTUAL TABLE IF NOT EXISTS {FTS} USING fts5(name, tokenize = 'trigram')",
    f"""CREATE TRIGGER IF NOT EXISTS dossier_name_insert AFTER INSERT ON {TABLE} BEGIN
        INSERT INTO {KEYS} (dossier_id, received_at) VALUES (new.id, new.received_at);
        INSERT INTO {FTS} (rowid, name) VALUES (last_insert_rowid(), new.applicant_name_folded);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS dossier_name_delete AFTER DELETE ON {TABLE} BEGIN
        DELETE FROM {FTS} WHERE rowid = (SELECT key FROM {KEYS} WHERE dossier_id = old.id);
        DELETE FROM {KEYS} WHERE dossier_id = old.id;
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS dossier_name_update AFTER UPDATE OF applicant_name_folded ON {TABLE}
        WHEN old.applicant_name_folded IS NOT new.applicant_name_folded BEGIN
        UPDATE {FTS} SET name = new.applicant_name_folded
            WHERE rowid = (SELECT key FROM {KEYS} WHERE dossier_id = new.id);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS dossier_name_received AFTER UPDATE OF received_at ON {TABLE}
        WHEN old.received_at IS NOT new.received_at BEGIN
        UPDATE {KEYS} SET received_at = new.received_at WHERE dossier_id = new.id;
    END""",
)


def _real(db: pw.Database) -> pw.Database:
    return db.obj if isinstance(db, pw.DatabaseProxy) else db


def is_postgres(db: pw.Database) -> bool:
    return isinstance(_real(db), pw.PostgresqlDatabase)


def install(db: pw.Database) -> None:
    """Create the index if missing and fill it from the dossier rows already held."""
    db = _real(db)
    if is_postgres(db):
        _install_postgres(db)
        return
    fresh = not db.table_exists(FTS)
    for statement in _SQLITE_DDL:
        db.execute_sql(statement)
    if fresh:
        db.execute_sql(f"DELETE FROM {KEYS}")
        db.execute_sql(f"INSERT INTO {KEYS} (dossier_id, received_at) SELECT id, received_at FROM {TABLE} ORDER BY id")
        db.execute_sql(f"INSERT INTO {FTS} (rowid, name) SELECT k.key, d.applicant_name_folded "
                       f"FROM {KEYS} k JOIN {TABLE} d ON d.id = k.dossier_id")


def _install_postgres(db: pw.Database) -> None:
    try:
        with db.atomic():  # a savepoint: a refused extension must not abort the caller's transaction
            db.execute_sql("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    except pw.DatabaseError as e:
        log.warning("pg_trgm is not available (%s): the name search reads the whole dossier table", e)
        return
    db.execute_sql(f"CREATE INDEX IF NOT EXISTS {PG_INDEX} ON {TABLE} USING gin (applicant_name_folded gin_trgm_ops)")


def drop(db: pw.Database) -> None:
    """Remove the SQLite index tables (their triggers go with the dossier table)."""
    db = _real(db)
    if not is_postgres(db):
        db.execute_sql(f"DROP TABLE IF EXISTS {FTS}")
        db.execute_sql(f"DROP TABLE IF EXISTS {KEYS}")


def phrase(folded: str) -> str:
    """An FTS5 query matching ``folded`` as one substring (quotes doubled, so nothing is syntax)."""
    return '"' + folded.replace('"', '""') + '"'


def _pattern(folded: str) -> str:
    """``LIKE`` pattern for a substring, its wildcards taken literally (backslash escapes)."""
    return "%" + folded.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def matching(db: pw.Database, folded: str, cap: int) -> list[str] | None:
    """The ids of the dossiers whose folded name holds ``folded``, newest first (as the desk
    lists them: received_at descending, then id), when at most ``cap`` match; None when more do
    (a common name: the caller walks the dossiers by date instead) or the query is too short.

    Only the index is read (SQLite: the FTS table and the keys with their reception time), and
    the few matches are sorted here. On PostgreSQL the query has no ORDER BY, so that the planner
    takes the trigram index for a rare name and stops a sequential read early for a common one,
    where an ordered ``LIMIT`` would walk the date index past every row.
    """
    db = _real(db)
    if len(folded) < MIN_QUERY or "\x00" in folded:  # FTS5 refuses a NUL in a phrase; no name holds one
        return None
    if is_postgres(db):
        sql = f"SELECT id, received_at FROM {TABLE} WHERE applicant_name_folded LIKE %s LIMIT %s"
        found = db.execute_sql(sql, (_pattern(folded), cap + 1)).fetchall()
    else:
        sql = (f"SELECT k.dossier_id, k.received_at FROM {FTS} f JOIN {KEYS} k ON k.key = f.rowid "
               f"WHERE {FTS} MATCH ? LIMIT ?")
        found = db.execute_sql(sql, (phrase(folded), cap + 1)).fetchall()
    if len(found) > cap:
        return None
    return [i for i, _ in sorted(found, key=lambda r: (-r[1], r[0]))]


def count_matching(db: pw.Database, folded: str, cap: int) -> int | None:
    """How many dossiers' folded names hold ``folded``, counting no further than ``cap`` + 1;
    None when the query is too short for the index (the caller counts by the scan)."""
    db = _real(db)
    if len(folded) < MIN_QUERY or "\x00" in folded:  # FTS5 refuses a NUL in a phrase; no name holds one
        return None
    if is_postgres(db):
        sql = f"SELECT count(*) FROM (SELECT 1 FROM {TABLE} WHERE applicant_name_folded LIKE %s LIMIT %s) m"
        return db.execute_sql(sql, (_pattern(folded), cap + 1)).fetchone()[0]
    sql = f"SELECT count(*) FROM (SELECT 1 FROM {FTS} WHERE {FTS} MATCH ? LIMIT ?)"
    return db.execute_sql(sql, (phrase(folded), cap + 1)).fetchone()[0]


def problems(db: pw.Database) -> list[str]:
    """What is wrong with the index: empty when it holds exactly the current folded names."""
    db = _real(db)
    if is_postgres(db):
        found = db.execute_sql("SELECT 1 FROM pg_indexes WHERE indexname = %s", (PG_INDEX,)).fetchone()
        return [] if found else [f"the trigram index {PG_INDEX} is missing (pg_trgm not installed?)"]
    if not db.table_exists(FTS):
        return [f"the name search index {FTS} is missing"]
    out = []
    try:
        db.execute_sql(f"INSERT INTO {FTS} ({FTS}) VALUES ('integrity-check')")
    except pw.DatabaseError as e:
        out.append(f"{FTS} fails its integrity check: {e}")
    rows = db.execute_sql(f"SELECT count(*) FROM {TABLE}").fetchone()[0]
    indexed = db.execute_sql(f"SELECT count(*) FROM {FTS}").fetchone()[0]
    same = db.execute_sql(
        f"SELECT count(*) FROM {TABLE} d JOIN {KEYS} k ON k.dossier_id = d.id "
        f"JOIN {FTS} f ON f.rowid = k.key WHERE f.name = d.applicant_name_folded"
    ).fetchone()[0]
    if not rows == indexed == same:
        out.append(f"the name search index holds {indexed} names, {same} of them current, for {rows} dossiers")
    return out
