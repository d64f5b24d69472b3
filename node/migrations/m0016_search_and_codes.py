"""Issue 15.4-15.5: the name search index (:mod:`node.name_index`: FTS5 trigram on SQLite,
``pg_trgm`` on PostgreSQL), filled from the dossiers already held; and the issued-code index
extended by ``number``, so the next code of a day is one index lookup (:func:`node.codes.issue`)."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node import name_index
    from node.models import IssuedCodeRow

    name_index.install(db)
    db.execute_sql('DROP INDEX IF EXISTS "issued_code_issuer_day_final"')
    IssuedCodeRow._schema.create_indexes(safe=True)
