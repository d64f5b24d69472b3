"""Trust: certificates on node profiles, revocations, and the request-nonce replay cache."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate


def apply(db: pw.Database) -> None:
    from sync.ledger import ProfileRow, SeenNonceRow
    from sync.rows import RevocationRow

    migrator = PostgresqlMigrator(db) if isinstance(db, pw.PostgresqlDatabase) else SqliteMigrator(db)
    columns = {c.name for c in db.get_columns(ProfileRow._meta.table_name)}
    if "cert" not in columns:
        migrate(migrator.add_column(ProfileRow._meta.table_name, "cert", pw.BlobField(default=b"")))
    db.create_tables([RevocationRow, SeenNonceRow])
