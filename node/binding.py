"""The node's database binding: the proxy its own tables use, and the sync store of a database.

:data:`database` is pointed at the node's database by :func:`node.db.open_database`; the node's
tables (:class:`NodeRow`) and node/'s direct reads of sync tables (the templates of
:mod:`sync.rows`) go through it. The sync machinery itself is handed a store
(:func:`store_for`) and needs nothing global. Kept apart from :mod:`node.db` because that module
imports the migrations, and the migrations import the tables.
"""

from __future__ import annotations

import peewee as pw

from sync.rows import ALL_MODELS
from sync.store import PeeweeStore

database = pw.DatabaseProxy()


class NodeRow(pw.Model):
    """Base of the node's own tables, bound to :data:`database`."""

    class Meta:
        database = database
        legacy_table_names = False


for _model in ALL_MODELS:
    # node/ reads sync tables through these classes (staff pages, reports, projections)
    _model._meta.set_database(database)


def store_for(db: pw.Database) -> PeeweeStore:
    """The sync store of ``db`` (one per database object, so its caches are shared)."""
    found = db.__dict__.get("_motcua_store")
    if found is None:
        found = db.__dict__["_motcua_store"] = PeeweeStore(db)
    return found


def node_store() -> PeeweeStore:
    """The sync store of the database :data:`database` points at (see the module docstring)."""
    return store_for(database.obj)


