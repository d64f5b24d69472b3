"""USB bundles (issue 18): the ``bundle`` table, and the link (network or usb) of a sync-log line."""

from __future__ import annotations

import peewee as pw
from playhouse.migrate import PostgresqlMigrator, SqliteMigrator, migrate


def apply(db: pw.Database) -> None:
    from node.models import BundleRow
    from sync.ledger import SyncSessionRow

    migrator = PostgresqlMigrator(db) if isinstance(db, pw.PostgresqlDatabase) else SqliteMigrator(db)
    table = SyncSessionRow._meta.table_name
    if "link" not in {c.name for c in db.get_columns(table)}:
        migrate(migrator.add_column(table, "link", pw.CharField(max_length=8, default="network")))
    db.create_tables([BundleRow], safe=True)
