"""The node as callers use it: :class:`Node` composes settings, database, key, log, write gate,
trust and replica once, and delegates each use case to the module of its concept.

=====================  ==========================================================
concept                module
=====================  ==========================================================
dossiers               :mod:`node.dossiers` (receive, move on, edit, apologise, read)
conflicts              :mod:`node.conflicts`
sync                   :mod:`node.replication`
integrity              :mod:`node.integrity` (verify feeds, rebuild, digest)
reference publishing   :mod:`node.publishing`
code leasing           :mod:`node.leasing` (blocks, final codes)
deadlines, Biểu 06     :mod:`node.reporting`
=====================  ==========================================================

Every write goes through the one recipe of :mod:`node.writer` (transaction -> write gate ->
append with parents -> project): if anything fails in between, the transaction rolls back and
neither the event nor the state is left behind. The use cases take the typed views of
:mod:`node.context`, which ``Node`` satisfies. The clock is injected (``wall_ms``) so tests
need no sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import peewee as pw

from node import (
    codes,
    conflicts,
    dossiers,
    id_cards,
    integrity,
    leasing,
    projection,
    publishing,
    reference,
    replication,
    reporting,
)
from node.atrest import NodeLocked, node_key_password
from node.binding import store_for
from node.config import Settings
from node.db import is_read_only, open_database
from node.domain import dossier as domain
from node.domain import lookup
from node.domain.errors import DomainError
from node.domain.report import check_period
from node.integrity import FeedReport, verify_feeds
from node.lockstate import resolve_data_key
from node.signing import KEY_FILE, NodeKey, verify_signature
from node.trust import NodeTrust, certified_profile
from node.writegate import WriteGate
from node.writer import EventWriter
from sync.log import LocalLog
from sync.protocol import Profile
from sync.readonly import ReadOnlyStore
from sync.replica import Replica

if TYPE_CHECKING:  # annotations only: the engine and requests load at the first sync
    from sync.engine import SessionSummary
    from sync.transport import Transport

__all__ = ["FeedReport", "Node", "NodeNotInitialised", "make_profile", "open_node", "system_wall_ms", "verify_feeds"]


def system_wall_ms() -> int:
    return time.time_ns() // 1_000_000


class Node:
    """A running node: settings, database, key and log, wired once."""

    def __init__(
        self,
        settings: Settings,
        db: pw.Database,
        key: NodeKey,
        wall_ms: Callable[[], int] = system_wall_ms,
        data_key: bytes | None = None,
    ) -> None:
        self.settings = settings
        self.db = db
        self.key = key
        # Kept to wrap it for a new account slot, derive the session secret and rekey; None on
        # a plaintext node (before motcua encrypt).
        self.data_key = data_key if data_key is not None else _soft_data_key(settings)
        self.wall_ms = wall_ms
        self._chunks = None
        self.store = store_for(db)
        self.read_only = is_read_only(db)  # serves reads and sync pulls; each write answers read_only
        # what sync reads and keeps: on a read-only database its bookkeeping goes to memory (sync.readonly)
        sync_store = ReadOnlyStore(self.store) if self.read_only else self.store
        self.log = LocalLog(self.store, key, wall_ms, settings.MAX_CLOCK_SKEW_SECONDS * 1000)
        self.gate = WriteGate(key.node_id, Path(settings.STATE_DIR), has_parent=bool(settings.PARENT_URL))
        self.log.after_commit = self.gate.after_commit
        self.writer = EventWriter(self.log, self.gate, self.check_clock)
        self.lookup_secret = key.derive_secret("lookup-check")
        self.provisional_name = lookup.provisional_node_name(key.derive_secret("provisional-code"))
        self.reference = reference.ReferenceData(wall_ms)
        self.trust = NodeTrust(settings.data_dir, verify_signature, wall_ms, sync_store,  # type: ignore[arg-type]
                               settings.DEV_OPEN_TRUST)
        self.tls_ca_asked: set[str] = set()  # peers asked for the district TLS CA (node.replication)
        self.profile = certified_profile(make_profile(key, settings), self.trust)
        self.replica = Replica(
            sync_store, self.profile, self.log, verify_signature, projection.project, wall_ms,
            settings.SYNC_BATCH_BYTES, self.trust, projection.reproject_origins, read_only=self.read_only,
        )

    def check_clock(self) -> None:
        """Refuse a write when the PC clock is before the trusted floor or ahead of the last sync's
        peer time, beyond the allowed skew (:mod:`node.clockcheck`)."""
        from node import clockcheck

        clockcheck.check(self.wall_ms(), self.trust.trusted_floor_ms(), self.settings.MAX_CLOCK_SKEW_SECONDS * 1000)

    @property
    def chunks(self):  # node.chunkstore.ChunkStore, opened at first use (its key needs the data key)
        if self._chunks is None:
            from node.chunkstore import ChunkStore

            self._chunks = ChunkStore(self.settings.data_dir, self.data_key)
        return self._chunks

    @property
    def node_id(self) -> str:
        return self.key.node_id

    @property
    def scope(self) -> str:
        return self.settings.UNIT

    def close(self) -> None:
        from node.session_recovery import release

        release(Path(self.settings.STATE_DIR), self.node_id)  # its sync sessions are over
        if not self.db.is_closed():
            self.db.close()

    # -- dossiers (node.dossiers) -----------------------------------------------------------------

    def create_dossier(self, author: str, data: Mapping[str, Any]) -> domain.DossierState:
        if isinstance(data, Mapping) and data.get("received_at") is not None:
            from node import clockcheck

            clockcheck.check_received_at(data["received_at"], self.wall_ms(), self.trust.trusted_floor_ms(),
                                         self.settings.MAX_CLOCK_SKEW_SECONDS * 1000)
        return dossiers.create(self, author, data)

    def register_id_card(self, author: str, data: Mapping[str, Any], min_age: int | None) -> Any:
        """An ID-card pre-registration for the police's mobile session (:mod:`node.id_cards`)."""
        return id_cards.register(self, author, data, min_age)

    def record_fee(self, author: str, dossier_id: str, fee: Mapping[str, Any]) -> domain.DossierState:
        return dossiers.record_fee(self, author, dossier_id, fee)

    def rate_dossier(self, author: str, dossier_id: str, body: Mapping[str, Any]) -> domain.DossierState:
        return dossiers.rate(self, author, dossier_id, body)

    def change_status(
        self, author: str, dossier_id: str, to: str, reason: str = "", target_office: str = ""
    ) -> domain.DossierState:
        return dossiers.change_status(self, author, dossier_id, to, reason, target_office)

    def update_dossier(self, author: str, dossier_id: str, fields: Mapping[str, Any]) -> domain.DossierState:
        return dossiers.update(self, author, dossier_id, fields)

    def issue_apology(self, author: str, dossier_id: str, reason: str, new_due_at: int) -> domain.DossierState:
        return dossiers.issue_apology(self, author, dossier_id, reason, new_due_at)

    def get_dossier(self, dossier_id: str) -> domain.DossierState:
        return dossiers.get(dossier_id)

    def timeline(self, dossier_id: str) -> list[dict[str, Any]]:
        return dossiers.timeline(dossier_id)

    def list_dossiers(
        self, *, q: str = "", status: str = "", limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        return dossiers.listing(q=q, status=status, limit=limit, offset=offset)

    def lookup_check(self, dossier_id: str) -> str:
        """The check code printed on the dossier's receipt for the public lookup ("" if none)."""
        from node import tracking  # deferred: only printing and the public lookup need it

        return tracking.recorded_check(dossier_id, self.node_id, self.lookup_secret)

    # -- conflicts (node.conflicts) ---------------------------------------------------------------

    def list_conflicts(self, status: str = "open", limit: int = 100) -> list[dict[str, Any]]:
        return conflicts.listing(status, limit)

    def get_conflict(self, conflict_id: str) -> dict[str, Any]:
        return conflicts.get(conflict_id)

    def resolve_conflict(self, author: str, conflict_id: str, choose: str, reason: str) -> dict[str, Any]:
        return conflicts.resolve(self, author, conflict_id, choose, reason)

    # -- sync (node.replication) ------------------------------------------------------------------

    def sync_with(self, url: str, progress: Callable[[SessionSummary, int], None] | None = None,
                  transport: Transport | None = None) -> SessionSummary:
        return replication.sync_with(self, url, progress, transport)

    def sync_status(self) -> dict[str, Any]:
        return replication.status(self)

    # -- reference publishing (node.publishing) and code leasing (node.leasing) -----------------

    def reference_status(self) -> list[dict[str, Any]]:
        return publishing.in_force(self.reference)

    def procedures(self) -> list[dict[str, Any]]:
        return publishing.procedures(self.reference)

    def publish_reference(
        self, author: str, *, catalogue: Mapping[str, Any] | None = None, calendar: Mapping[str, Any] | None = None,
        status_mapping: Mapping[str, Any] | None = None, years: list[int] | None = None,
        kinds: tuple[str, ...] = reference.KINDS,
    ) -> list[dict[str, Any]]:
        """District: publish the catalogue, calendar and status mapping (given, else the seed, the
        ``holidays`` calendar, the default mapping); only what differs from the version in force."""
        given = {reference.CATALOGUE: catalogue, reference.CALENDAR: calendar, reference.STATUS_MAPPING: status_mapping}
        return publishing.publish(self, author, {k: v for k, v in given.items() if v is not None}, years=years,
                                  kinds=kinds)

    def calendar_data(self, calendar: Mapping[str, Any] | None = None, years: list[int] | None = None) -> dict:
        """The calendar data a publication would carry: ``calendar`` if given, else the one built
        from ``holidays`` and the recorded decisions for ``years`` (default as publishing)."""
        return reference.publishable(reference.CALENDAR, calendar, years=years, now_ms=self.wall_ms())

    def review_calendar(self, author: str, year: int, *, calendar: Mapping[str, Any] | None = None,
                        approve: bool = False, note: str = "") -> Any:
        """District: one year of the calendar with its sources and flags; ``approve`` records
        the review that publishing requires (node.calendar_review)."""
        from node import calendar_review
        from node.calendar_source import review

        if approve and self.settings.ROLE != "district":
            raise DomainError("only a district node reviews the calendar it publishes", "role")
        data = self.calendar_data(calendar, None if calendar is not None else [year])
        if not approve:
            return review(data, year)
        with self.writer.transaction():
            return calendar_review.approve(data, year, author, self.wall_ms(), note)

    def lease_codes(self, author: str, node_id: str, *, days: int, size: int, agency_id: str, unit: str = "",
                    first_day: date | None = None) -> dict[str, Any]:
        """District: lease ``node_id`` a block of ``size`` numbers a day for ``days`` days."""
        leased = leasing.lease(self, author, node_id, days=days, size=size, agency_id=agency_id, unit=unit,
                               first_day=first_day)
        if node_id == self.node_id:
            self.assign_final_codes(author)
        return leased

    def assign_final_codes(self, author: str = "motcua") -> list[dict[str, str]]:
        """Replace provisional codes of this node's dossiers from the blocks it now holds."""
        return leasing.assign_final(self, author)

    def codes_status(self) -> dict[str, Any]:
        return codes.status(self.node_id, self.settings.AGENCY_ID, self.settings.ROLE == "district")

    # -- deadlines and reports (node.reporting) ---------------------------------------------------

    def deadline(self, dossier_id: str) -> dict[str, Any]:
        """Early / on time / late or within time / overdue now, and a due-soon warning."""
        return reporting.deadline_view(dossiers.row(dossier_id), self.reference.calendar(),
                                       self.reference.status_mapping(), self.reference.catalogue(), self.wall_ms())

    def deadline_warnings(self, limit: int = 100) -> list[dict[str, Any]]:
        """Open dossiers overdue or due within a working day, most urgent first."""
        return reporting.warnings(self.reference.calendar(), self.reference.status_mapping(),
                                  self.reference.catalogue(), self.wall_ms(), max(1, min(limit, 100_000)))

    def report(self, first: date, last: date, unit: str = "",
               progress: Callable[[int, int], None] | None = None) -> reporting.ReportResult:
        """Biểu 06 for the days ``first``..``last`` from this node's dossiers (one unit or all)."""
        check_period(first, last)
        return reporting.build(reporting.period_of(first, last, self.wall_ms()), self.reference.calendar(),
                               self.reference.catalogue(), self.reference.status_mapping(), unit=unit,
                               progress=progress)

    # -- integrity (node.integrity) ---------------------------------------------------------------

    def verify(self) -> list[FeedReport]:
        """Verify every feed this node holds (hash chains, order, completeness, signatures)."""
        return verify_feeds(self.store)

    def search_index_problems(self) -> list[str]:
        return integrity.search_index_problems()

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        return integrity.rebuild(self, progress)

    def digest(self) -> str:
        return integrity.digest()

    def status(self) -> dict[str, Any]:
        return integrity.status(self, self.gate.reason())


def make_profile(key: NodeKey, settings: Settings) -> Profile:
    """This node's signed statement of identity, carried with its events to every peer."""
    unsigned = Profile(key.node_id, key.public_key, settings.ROLE, settings.UNIT, settings.NAME or key.node_id)
    return Profile(
        unsigned.node_id, unsigned.public_key, unsigned.role, unsigned.unit, unsigned.name,
        key.sign(unsigned.statement()),
    )


class NodeNotInitialised(RuntimeError):
    """Raised when the data directory holds no node (``motcua init`` was not run)."""


def _soft_data_key(settings: Settings) -> bytes | None:
    try:
        return resolve_data_key(settings)
    except NodeLocked:
        return None


def open_node(settings: Settings, wall_ms: Callable[[], int] = system_wall_ms, data_key: bytes | None = None) -> Node:
    """Open the node in ``settings.data_dir``: key, database (migrated), log.

    :raises NodeLocked: the node is encrypted and ``data_key`` is None and no unlock cache or
        setup slot gives it (:func:`node.lockstate.resolve_data_key`)."""
    key_path = settings.data_dir / KEY_FILE
    if not settings.node_file.exists() or not key_path.exists():
        raise NodeNotInitialised(f"no node in {settings.data_dir}; run: motcua init --role … --unit … --name …")
    if data_key is None:
        data_key = resolve_data_key(settings)
    key = NodeKey.load(key_path, node_key_password(data_key))
    db = open_database(settings, data_key=data_key)
    node = Node(settings, db, key, wall_ms, data_key=data_key)
    if node.read_only:
        return node  # nothing to record at start: no block, no session, can be written here
    node.gate.check_at_start()
    from node.session_recovery import recover

    recover(Path(settings.STATE_DIR), key.node_id, wall_ms())  # sessions a dead process left "running"
    return node
