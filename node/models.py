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


# -- staff accounts (issue 6) --------------------------------------------------------------------
# Local to the node, not derived from events and never replicated: a commune's clerks sign in at
# their commune's PC, a district admin at the hub. ``motcua rebuild`` leaves these tables alone.

STAFF_ROLES = ("clerk", "head", "mobile", "district_admin")


class StaffAccountRow(BaseRow):
    """A personal staff account: one person, one role, an Argon2id password hash."""

    id = pw.AutoField()
    username = pw.CharField(max_length=64, unique=True)
    full_name = pw.CharField(max_length=200)
    role = pw.CharField(max_length=20)  # one of STAFF_ROLES
    password_hash = pw.CharField(max_length=200)
    active = pw.BooleanField(default=True)
    created_at = pw.BigIntegerField()
    password_changed_at = pw.BigIntegerField()
    last_login_at = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "staff_account"


class StaffSessionRow(BaseRow):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the database does not hand out sessions. Logout deletes the row."""

    id = pw.CharField(max_length=64, primary_key=True)  # sha256(token), hex
    account = pw.ForeignKeyField(StaffAccountRow, on_delete="CASCADE", index=True)
    created_at = pw.BigIntegerField()
    last_seen_at = pw.BigIntegerField()
    ip = pw.CharField(max_length=64, default="")
    user_agent = pw.CharField(max_length=200, default="")

    class Meta:
        table_name = "staff_session"


class LoginAttemptRow(BaseRow):
    """One sign-in attempt, kept for rate limiting (per account and per address) and audit."""

    id = pw.BigAutoField()
    username = pw.CharField(max_length=64, index=True)
    ip = pw.CharField(max_length=64, index=True)
    at = pw.BigIntegerField(index=True)
    ok = pw.BooleanField()

    class Meta:
        table_name = "login_attempt"


class AccessLogRow(BaseRow):
    """Who read which citizen's dossier, when and from where (domain.md §7.2 read audit)."""

    id = pw.BigAutoField()
    at = pw.BigIntegerField(index=True)
    username = pw.CharField(max_length=64, index=True)
    dossier_id = pw.CharField(max_length=120, index=True)
    action = pw.CharField(max_length=40)  # view | print:<form> | api | search | ledger
    ip = pw.CharField(max_length=64)
    detail = pw.CharField(max_length=300, default="")

    class Meta:
        table_name = "access_log"


ACCOUNT_MODELS: tuple[type[BaseRow], ...] = (StaffAccountRow, StaffSessionRow, LoginAttemptRow, AccessLogRow)
