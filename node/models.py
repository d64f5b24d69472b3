"""Derived tables: a deterministic function of the events a node holds.

Nothing here is a source of truth. ``motcua rebuild`` drops these tables and recomputes them
from the event store, and :func:`node.projection.derived_digest` must be identical before and
after. The event tables live in :mod:`sync.store`; both share its database proxy.
"""

from __future__ import annotations

import peewee as pw

from sync.store import BaseRow


class DossierRow(BaseRow):
    """Current state of a dossier, for listing and search."""

    id = pw.CharField(max_length=120, primary_key=True)
    scope = pw.CharField(max_length=40, index=True)
    origin = pw.CharField(max_length=32)
    code = pw.CharField(max_length=40, index=True)
    procedure_code = pw.CharField(max_length=40)
    procedure_name = pw.CharField(max_length=300)
    applicant_name = pw.CharField(max_length=200)
    applicant_name_folded = pw.CharField(max_length=200, index=True)
    id_number = pw.CharField(max_length=12, index=True)
    phone = pw.CharField(max_length=20)
    address = pw.CharField(max_length=300)
    channel = pw.CharField(max_length=10)
    note = pw.TextField()
    status = pw.CharField(max_length=30, index=True)
    owner = pw.CharField(max_length=40)
    open_conflicts = pw.IntegerField(default=0, index=True)
    national_code = pw.SmallIntegerField()
    received_at = pw.BigIntegerField(index=True)
    due_at = pw.BigIntegerField(null=True, index=True)
    updated_at = pw.BigIntegerField()
    updated_hlc = pw.BigIntegerField()
    event_count = pw.IntegerField()
    heads = pw.TextField()  # space-separated event refs: the parents of the next local edit
    foreign_resolutions = pw.TextField(default="{}")  # JSON: resolutions of cross-dossier conflicts

    class Meta:
        table_name = "dossier"
        indexes = ((("id_number", "procedure_code"), False),)


class ConflictRow(BaseRow):
    """A conflict record (node.domain.merge.Conflict): both versions are kept, by reference."""

    id = pw.CharField(max_length=20, primary_key=True)
    dossier_id = pw.CharField(max_length=120, index=True)
    scope = pw.CharField(max_length=40, index=True)
    kind = pw.CharField(max_length=12)
    field = pw.CharField(max_length=40)
    winner = pw.CharField(max_length=120)
    loser = pw.CharField(max_length=120)
    winner_value = pw.TextField()  # JSON
    loser_value = pw.TextField()  # JSON
    status = pw.CharField(max_length=10, index=True)
    resolution = pw.CharField(max_length=120)
    chosen = pw.CharField(max_length=120)
    resolved_by = pw.CharField(max_length=120)
    reason = pw.TextField()

    class Meta:
        table_name = "conflict"


DERIVED_MODELS: tuple[type[BaseRow], ...] = (DossierRow, ConflictRow)
