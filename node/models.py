"""Derived tables: a deterministic function of the events a node holds.

Nothing here is a source of truth. ``motcua rebuild`` drops these tables and recomputes them
from the event store, and :func:`node.projection.derived_digest` must be identical before and
after. The event tables live in :mod:`sync.store`; both share its database proxy.
"""

from __future__ import annotations

import peewee as pw

from node import name_index
from node.binding import NodeRow as BaseRow


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
    # what the dossier was received under, and its timing (node.domain.dossier Rules 3-4)
    procedure_key = pw.CharField(max_length=80, default="")
    sector = pw.CharField(max_length=200, default="")
    catalogue_version = pw.CharField(max_length=200, default="")
    units_version = pw.CharField(max_length=100, default="")
    history = pw.TextField(default="[]")  # JSON [[status, at ms], ...]
    pauses = pw.TextField(default="[]")  # JSON [[start ms, end ms or null], ...]
    supplement_requests = pw.IntegerField(default=0)
    apology_at = pw.BigIntegerField(null=True)
    apology_reason = pw.TextField(default="")
    new_due_at = pw.BigIntegerField(null=True, index=True)

    class Meta:
        table_name = "dossier"
        indexes = ((("id_number", "procedure_code"), False),)

    # The name search index (node.name_index) lives and dies with this table, so every path that
    # creates the derived tables (migration 1, ``motcua rebuild``) creates and fills it too.
    @classmethod
    def create_table(cls, safe: bool = True, **options: object) -> None:
        super().create_table(safe=safe, **options)
        name_index.install(cls._meta.database)

    @classmethod
    def drop_table(cls, safe: bool = True, drop_sequences: bool = True, **options: object) -> None:
        name_index.drop(cls._meta.database)
        super().drop_table(safe=safe, drop_sequences=drop_sequences, **options)


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


class ReferenceRow(BaseRow):
    """The reference data in force, one row per kind: the newest valid publication held
    (node.reference). No row: the node uses the seed shipped in the package."""

    kind = pw.CharField(max_length=40, primary_key=True)  # catalogue | calendar | status_mapping
    revision = pw.IntegerField()
    version = pw.CharField(max_length=200)
    ref = pw.CharField(max_length=120)  # the publishing event
    origin = pw.CharField(max_length=32)
    published_at = pw.BigIntegerField()
    publications = pw.IntegerField()  # how many publications of this kind the node holds
    data = pw.TextField()  # the published data, JSON text

    class Meta:
        table_name = "reference_data"


class ProcedureRow(BaseRow):
    """One procedure of the catalogue in force (held publication only), for lists and search."""

    key = pw.CharField(max_length=80, primary_key=True)
    national_code = pw.CharField(max_length=20, null=True, index=True)
    local_code = pw.CharField(max_length=60, null=True)
    name = pw.CharField(max_length=300)
    sector = pw.CharField(max_length=200, index=True)
    duration = pw.CharField(max_length=40)  # "<amount> <unit>", e.g. "3 working_days"
    mobile = pw.BooleanField()
    version = pw.CharField(max_length=200)
    catalogue_version = pw.CharField(max_length=200)

    class Meta:
        table_name = "procedure"


class NumberBlockRow(BaseRow):
    """A block of dossier numbers the district leased to a node (node.codes)."""

    block_id = pw.CharField(max_length=120, primary_key=True)
    agency_id = pw.CharField(max_length=40, index=True)
    node_id = pw.CharField(max_length=32, index=True)
    scope = pw.CharField(max_length=40)
    first_day = pw.CharField(max_length=10)  # ISO dates compare as text
    last_day = pw.CharField(max_length=10)
    first_seq = pw.IntegerField()
    last_seq = pw.IntegerField()
    leased_by = pw.CharField(max_length=32)
    leased_at = pw.BigIntegerField()

    class Meta:
        table_name = "number_block"


class IssuedCodeRow(BaseRow):
    """Every dossier code a held event issued (reception or final assignment): the ledger the
    next code is computed from, so a number once issued is never issued again."""

    id = pw.CharField(max_length=200, primary_key=True)  # "<code> <event ref>"
    code = pw.CharField(max_length=40, index=True)
    dossier_id = pw.CharField(max_length=120, index=True)
    final = pw.BooleanField()
    issuer = pw.CharField(max_length=40)  # agency id (final) or node short id (provisional)
    day = pw.CharField(max_length=10)  # ISO reception day; "" when the code does not parse
    number = pw.IntegerField()  # daily sequence (final) or provisional number; 0 if unparsed
    ref = pw.CharField(max_length=120)

    class Meta:
        table_name = "issued_code"
        # the next number of a day is a MAX over this index (node.codes.issue), not a read of the day
        indexes = ((("issuer", "day", "final", "number"), False),)


class ViolationRow(BaseRow):
    """An event kept in the log that had no effect because its origin lacked the authority
    (node.domain.authority): who (origin, certified role and unit), what, and why."""

    ref = pw.CharField(max_length=120, primary_key=True)
    origin = pw.CharField(max_length=32, index=True)
    role = pw.CharField(max_length=10)  # certified; "" for an origin without an admitted profile
    unit = pw.CharField(max_length=40)
    scope = pw.CharField(max_length=40)
    entity = pw.CharField(max_length=200, index=True)
    type = pw.CharField(max_length=80)
    at = pw.BigIntegerField(index=True)
    reason = pw.CharField(max_length=20)

    class Meta:
        table_name = "authority_violation"


class DossierServiceRow(BaseRow):
    """Fee and satisfaction rating of a dossier (node.domain.service Rules S1-S2), for the totals
    per unit and period. Only dossiers with a fee record or a rating have a row, so a node that
    holds only events from before fees and ratings has an empty table (see
    :data:`ADDED_DERIVED_MODELS`)."""

    dossier_id = pw.CharField(max_length=120, primary_key=True)
    scope = pw.CharField(max_length=40, index=True)
    received_at = pw.BigIntegerField(index=True)
    fee_status = pw.CharField(max_length=10, default="")
    fee_amount_vnd = pw.BigIntegerField(default=0)
    fee_receipt = pw.CharField(max_length=60, default="")
    rating = pw.CharField(max_length=20, default="")
    rated_at = pw.BigIntegerField(null=True, index=True)
    rating_channel = pw.CharField(max_length=10, default="")
    rating_comment = pw.TextField(default="")

    class Meta:
        table_name = "dossier_service"


class AttachmentRow(BaseRow):
    """A file attached to a dossier by a signed ``dossier.file_attached`` event with effect
    (node.domain.attachment): what it is and its chunk list. Whether its chunks are here is not
    derived from events: see FileStateRow."""

    ref = pw.CharField(max_length=120, primary_key=True)  # the attach event
    dossier_id = pw.CharField(max_length=120, index=True)
    scope = pw.CharField(max_length=40, index=True)
    received_at = pw.BigIntegerField(index=True)  # the dossier's: newer dossiers' files travel first
    kind = pw.CharField(max_length=10)
    component = pw.CharField(max_length=200)
    name = pw.CharField(max_length=200)
    file_hash = pw.CharField(max_length=64, index=True)
    media_type = pw.CharField(max_length=40)
    size = pw.BigIntegerField()
    original_size = pw.BigIntegerField()
    pages = pw.IntegerField()
    chunk_size = pw.IntegerField()
    chunks = pw.TextField()  # JSON list of chunk hashes
    thumb_hash = pw.CharField(max_length=64, default="", index=True)
    thumb = pw.TextField(default="")  # JSON file description of the thumbnail, "" when none
    at = pw.BigIntegerField()
    author = pw.CharField(max_length=120)
    origin = pw.CharField(max_length=32)

    class Meta:
        table_name = "attachment"


DERIVED_MODELS: tuple[type[BaseRow], ...] = (
    DossierRow, ConflictRow, ReferenceRow, ProcedureRow, NumberBlockRow, IssuedCodeRow, ViolationRow,
    DossierServiceRow, AttachmentRow,
)
# Derived tables added after release: while empty they add nothing to the derived digest, so the
# digest of a node holding only older events is the one it had before they existed.
ADDED_DERIVED_MODELS: frozenset[type[BaseRow]] = frozenset({DossierServiceRow, AttachmentRow})


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


class ApiTokenRow(BaseRow):
    """A personal API token (``motcua token create``): it acts as its account, with a scope.

    Only the SHA-256 of the secret is kept, so a copy of the database carries no usable token;
    ``prefix`` (the first characters of the secret) lets staff tell their tokens apart."""

    id = pw.AutoField()
    account = pw.ForeignKeyField(StaffAccountRow, on_delete="CASCADE", index=True)
    token_hash = pw.CharField(max_length=64, unique=True)  # sha256(secret), hex
    prefix = pw.CharField(max_length=16)
    scope = pw.CharField(max_length=10)  # read | write
    created_at = pw.BigIntegerField()
    expires_at = pw.BigIntegerField(default=0)  # 0: never
    revoked_at = pw.BigIntegerField(default=0)  # 0: not revoked
    last_used_at = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "api_token"


class BundleRow(BaseRow):
    """A bundle written or imported by this node (:mod:`node.bundles`): replays are told from it,
    an old bundle never moves a peer's acknowledged vector back, and a USB-only node finds its
    parent in it. Local to the node, like the sync log; a rebuild never touches it."""

    bundle = pw.CharField(max_length=32)
    part = pw.IntegerField()
    direction = pw.CharField(max_length=3)  # out | in
    kind = pw.CharField(max_length=4)  # data | ack
    peer = pw.CharField(max_length=32, index=True)
    created = pw.BigIntegerField()  # the writer's clock when it wrote the bundle
    at = pw.BigIntegerField()  # this node's clock when it wrote or imported it
    events = pw.IntegerField(default=0)

    class Meta:
        table_name = "bundle"
        indexes = ((("bundle", "part", "direction"), True),)


class IdempotencyRow(BaseRow):
    """The first answer to a write sent with an ``Idempotency-Key`` (issue 14.2), per account.

    Local to the node like the accounts (a rebuild never touches it) and pruned after
    :data:`web.idempotency.KEEP_DAYS`; see :mod:`web.idempotency`."""

    account = pw.CharField(max_length=64)
    key = pw.CharField(max_length=255)
    fingerprint = pw.CharField(max_length=64)  # sha256 of method, path and body
    status = pw.IntegerField()
    content_type = pw.CharField(max_length=100, default="")
    location = pw.CharField(max_length=2000, default="")  # a form's redirect
    body = pw.TextField(default="")
    created_at = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "idempotency_key"
        primary_key = pw.CompositeKey("account", "key")


class CalendarReviewRow(BaseRow):
    """A district administrator's review of one year of the working calendar before publishing
    it (issue 12.1): the digest of the year's days it vouches for, who and when. Local to the
    district like the accounts (a rebuild never touches it); :mod:`node.calendar_review`."""

    year = pw.IntegerField()
    digest = pw.CharField(max_length=64)
    version = pw.CharField(max_length=200, default="")
    reviewer = pw.CharField(max_length=64)
    reviewed_at = pw.BigIntegerField()
    note = pw.TextField(default="")

    class Meta:
        table_name = "calendar_review"
        primary_key = pw.CompositeKey("year", "digest")
