"""Which attached files a node holds (issue 17): local rows, not derived from events.

Which files' chunks are all here and verified, which a person asked for, and which a peer
confirmed it holds. ``motcua rebuild`` leaves them alone (the attach events themselves fold into
:class:`node.models.AttachmentRow`). Apart from node.models so that module stays the derived
tables and the accounts.
"""

from __future__ import annotations

import peewee as pw

from node.binding import NodeRow as BaseRow


class FileStateRow(BaseRow):
    """A file this node holds or wants: ``complete`` once every chunk is here and the whole
    file's SHA-256 checked; ``wanted`` when someone asked for it on an on-demand node."""

    file_hash = pw.CharField(max_length=64, primary_key=True)
    complete = pw.BooleanField(default=False, index=True)
    wanted = pw.BooleanField(default=False)
    verified_at = pw.BigIntegerField(default=0)
    purged_at = pw.BigIntegerField(default=0)  # chunks removed by a previewed retention purge

    class Meta:
        table_name = "file_state"


class FilePeerRow(BaseRow):
    """A peer said it holds this file complete: it is not offered to that peer again."""

    id = pw.CharField(max_length=100, primary_key=True)  # "<peer node id> <file hash>"
    peer = pw.CharField(max_length=32, index=True)
    file_hash = pw.CharField(max_length=64)
    at = pw.BigIntegerField()

    class Meta:
        table_name = "file_peer"
