"""Attached files (issue 17): the derived ``attachment`` table and the local ``file_state`` and
``file_peer`` tables. No rebuild: no node held an attach event before this migration."""

from __future__ import annotations

import peewee as pw


def apply(db: pw.Database) -> None:
    from node.filerows import FilePeerRow, FileStateRow
    from node.models import AttachmentRow

    db.create_tables([AttachmentRow, FileStateRow, FilePeerRow], safe=True)
