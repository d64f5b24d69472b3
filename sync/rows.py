"""The tables of sync on peewee, declared once and bound to a database per store.

The classes here are *templates*: they name the tables, columns and indexes, but no database.
:func:`bind_rows` makes a set of subclasses bound to one database object, which is what
:class:`sync.store.PeeweeStore` queries; so two stores on two databases live in one process, in
any threads, without rebinding anything shared. (peewee's ``bind_ctx`` would rebind these very
classes for everyone, which is not safe with two nodes in one process.)

The templates themselves may be bound to a default database by an application that reads sync
tables directly (``node/db.py`` does, for its own read models); sync never relies on that.
"""

from __future__ import annotations

from dataclasses import dataclass

import peewee as pw


class BaseRow(pw.Model):
    class Meta:
        database = None
        legacy_table_names = False


class EventRow(BaseRow):
    """One event, in arrival order (``id`` is this node's local position, never shared)."""

    id = pw.BigAutoField()
    origin = pw.CharField(max_length=32)
    scope = pw.CharField(max_length=40)
    seq = pw.BigIntegerField()
    hash = pw.CharField(max_length=64)
    hlc = pw.BigIntegerField()
    entity = pw.CharField(max_length=200, index=True)
    type = pw.CharField(max_length=80)
    raw = pw.BlobField()

    class Meta:
        table_name = "event"
        indexes = ((("origin", "scope", "seq"), True),)


class FeedRow(BaseRow):
    """Head of one (origin, scope) feed as held on this node."""

    origin = pw.CharField(max_length=32)
    scope = pw.CharField(max_length=40)
    head_seq = pw.BigIntegerField()
    head_hash = pw.CharField(max_length=64)

    class Meta:
        table_name = "feed"
        primary_key = pw.CompositeKey("origin", "scope")


class HeadSignatureRow(BaseRow):
    """An origin's signature over its feed at ``seq``; relays forward these verbatim."""

    origin = pw.CharField(max_length=32)
    scope = pw.CharField(max_length=40)
    seq = pw.BigIntegerField()
    hash = pw.CharField(max_length=64)
    signature = pw.BlobField()

    class Meta:
        table_name = "head_signature"
        primary_key = pw.CompositeKey("origin", "scope", "seq")


class OriginRow(BaseRow):
    """A node whose events we hold: its id and the public key that id is the hash of."""

    node_id = pw.CharField(max_length=32, primary_key=True)
    public_key = pw.BlobField()

    class Meta:
        table_name = "origin"


class ProfileRow(BaseRow):
    node_id = pw.CharField(max_length=32, primary_key=True)
    public_key = pw.BlobField()
    role = pw.CharField(max_length=10)
    unit = pw.CharField(max_length=40)
    name = pw.CharField(max_length=200)
    signature = pw.BlobField()
    cert = pw.BlobField(default=b"")  # DER, when a district CA certified this node

    class Meta:
        table_name = "node_profile"


class PeerRow(BaseRow):
    node_id = pw.CharField(max_length=32, primary_key=True)
    url = pw.CharField(max_length=300, default="")
    vector = pw.TextField(default="{}")  # JSON: what the peer durably holds, as it last said
    last_seen = pw.BigIntegerField(default=0)
    last_success = pw.BigIntegerField(default=0)
    last_error = pw.TextField(default="")
    clock_skew_ms = pw.BigIntegerField(default=0)

    class Meta:
        table_name = "peer"


class SyncSessionRow(BaseRow):
    id = pw.BigAutoField()
    session = pw.CharField(max_length=64, index=True)
    side = pw.CharField(max_length=6)  # client | server
    peer = pw.CharField(max_length=32, index=True)
    peer_name = pw.CharField(max_length=200, default="")
    started_at = pw.BigIntegerField(index=True)
    ended_at = pw.BigIntegerField(null=True)
    events_in = pw.IntegerField(default=0)
    events_out = pw.IntegerField(default=0)
    bytes_in = pw.BigIntegerField(default=0)
    bytes_out = pw.BigIntegerField(default=0)
    exchanges = pw.IntegerField(default=0)
    conflicts = pw.IntegerField(default=0)
    outcome = pw.CharField(max_length=12, default="running", index=True)  # running|ok|partial|failed
    error_code = pw.CharField(max_length=40, default="")
    error = pw.TextField(default="")
    link = pw.CharField(max_length=8, default="network")  # network | usb (a bundle: sync.bundler)

    class Meta:
        table_name = "sync_session"
        # Per peer: a session id chosen by one caller must never let another caller's
        # exchanges be counted in (or overwrite) its line.
        indexes = ((("session", "side", "peer"), True),)


class QuarantineRow(BaseRow):
    id = pw.BigAutoField()
    origin = pw.CharField(max_length=32, index=True)
    scope = pw.CharField(max_length=40)
    seq = pw.BigIntegerField()
    hash = pw.CharField(max_length=64)
    raw = pw.BlobField()
    reason = pw.CharField(max_length=40)
    sender = pw.CharField(max_length=32)
    session = pw.CharField(max_length=64)
    received_at = pw.BigIntegerField()

    class Meta:
        table_name = "quarantine"
        indexes = ((("origin", "scope", "seq", "hash"), True),)


class SeenNonceRow(BaseRow):
    """Request nonces seen within the clock window: a request replayed byte for byte is refused."""

    node_id = pw.CharField(max_length=32)
    nonce = pw.CharField(max_length=64)
    seen_at = pw.BigIntegerField(index=True)

    class Meta:
        table_name = "seen_nonce"
        primary_key = pw.CompositeKey("node_id", "nonce")


class RevocationRow(BaseRow):
    node_id = pw.CharField(max_length=32, primary_key=True)
    after = pw.TextField()  # JSON {scope: last valid seq}
    reason = pw.CharField(max_length=60)
    revoked_at = pw.BigIntegerField()
    event = pw.CharField(max_length=120)  # the district event that said so

    class Meta:
        table_name = "revocation"


EVENT_MODELS: tuple[type[BaseRow], ...] = (EventRow, FeedRow, HeadSignatureRow, OriginRow)
LEDGER_MODELS: tuple[type[BaseRow], ...] = (ProfileRow, PeerRow, SyncSessionRow, QuarantineRow)
TRUST_MODELS: tuple[type[BaseRow], ...] = (RevocationRow, SeenNonceRow)
ALL_MODELS = EVENT_MODELS + LEDGER_MODELS + TRUST_MODELS


@dataclass(frozen=True)
class Rows:
    """The sync tables bound to one database."""

    Event: type[EventRow]
    Feed: type[FeedRow]
    HeadSignature: type[HeadSignatureRow]
    Origin: type[OriginRow]
    Profile: type[ProfileRow]
    Peer: type[PeerRow]
    SyncSession: type[SyncSessionRow]
    Quarantine: type[QuarantineRow]
    SeenNonce: type[SeenNonceRow]
    Revocation: type[RevocationRow]

    def all(self) -> tuple[type[BaseRow], ...]:
        return (self.Event, self.Feed, self.HeadSignature, self.Origin, self.Profile, self.Peer, self.SyncSession,
                self.Quarantine, self.SeenNonce, self.Revocation)


def _bind(model: type[BaseRow], db: pw.Database) -> type:
    # table_name is not inherited by peewee subclasses; fields, indexes and keys are.
    meta = type("Meta", (), {"database": db, "table_name": model._meta.table_name})
    return type(model.__name__, (model,), {"Meta": meta, "__module__": __name__})


def bind_rows(db: pw.Database) -> Rows:
    """A fresh set of the sync tables bound to ``db`` (a few classes; made once per store)."""
    return Rows(*(_bind(m, db) for m in (EventRow, FeedRow, HeadSignatureRow, OriginRow, ProfileRow, PeerRow,
                                         SyncSessionRow, QuarantineRow, SeenNonceRow, RevocationRow)))
