"""Staff accounts, server-side sessions, sign-in attempts and the dossier access log (issue 6).

These tables are local to the node and are not derived from events, so this is a plain
``create_tables``: a rebuild never touches them.
"""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node.models import ACCOUNT_MODELS

    db.create_tables(list(ACCOUNT_MODELS), safe=True)
