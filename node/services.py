"""Use cases of a node: every change goes through the event log, in one transaction.

Each write use case (:meth:`Node.create_dossier`, :meth:`Node.change_status`,
:meth:`Node.update_dossier`) validates with the pure domain, appends one event to this node's
feed for the dossier's unit and refreshes the derived row, inside one
:meth:`sync.log.LocalLog.transaction`. If anything fails in between, the transaction rolls back
and neither the event nor the state is left behind.

Reception checks the request against the reference data in force (:mod:`node.reference`,
:mod:`node.reception`) and takes its code from the number blocks the district leased to this
node (:mod:`node.codes`) under the same write lock, so a code is never issued twice. Deadlines
and Biểu 06 are read models over the folded dossiers (:mod:`node.reporting`).

Reads come from the derived tables (lists, search) or from the events (timeline). The clock is
injected (``wall_ms``) so tests need no sleeps.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path
from typing import Any

import peewee as pw

from node import codes, projection, reception, reference, reporting
from node.config import Settings
from node.db import node_store, open_database, store_for
from node.domain import dossier as domain
from node.domain import lookup
from node.domain.errors import DomainError, DossierNotFound
from node.domain.merge import CONFLICT_RESOLVED
from node.domain.report import check_period
from node.domain.text import check_text, clean_line
from node.domain.text import fold as fold_text
from node.domain.vietnam_time import vn_day
from node.models import ConflictRow, DossierRow
from node.signing import KEY_FILE, NodeKey, verify_signature
from node.trust import NodeTrust, certified_profile
from node.writegate import WriteGate
from sync.chain import ChainError, verify_stored_feed
from sync.eventstore import EventStore
from sync.log import LocalLog
from sync.merge import CausalGraph, linearise
from sync.protocol import Profile, may_hold
from sync.replica import Replica
from sync.wire import make_ref

MAX_OFFSET = 10**9  # list offsets beyond any node's dossiers; larger ones overflow a SQL integer


def system_wall_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass(frozen=True)
class FeedReport:
    origin: str
    scope: str
    events: int
    ok: bool
    reason: str = ""
    ref: str = ""
    detail: str = ""


class Node:
    """A running node: settings, database, key and log, wired once."""

    def __init__(
        self,
        settings: Settings,
        db: pw.Database,
        key: NodeKey,
        wall_ms: Callable[[], int] = system_wall_ms,
    ) -> None:
        self.settings = settings
        self.db = db
        self.key = key
        self.wall_ms = wall_ms
        self.store = store_for(db)
        self.log = LocalLog(self.store, key, wall_ms, settings.MAX_CLOCK_SKEW_SECONDS * 1000)
        self.gate = WriteGate(key.node_id, Path(settings.STATE_DIR), has_parent=bool(settings.PARENT_URL))
        self.log.after_commit = self.gate.after_commit
        self.lookup_secret = key.derive_secret("lookup-check")
        self.provisional_name = lookup.provisional_node_name(key.derive_secret("provisional-code"))
        self.reference = reference.ReferenceData(wall_ms)
        self.trust = NodeTrust(settings.data_dir, verify_signature, wall_ms, self.store, settings.DEV_OPEN_TRUST)
        self._tls_ca_asked: set[str] = set()  # peers asked for the district TLS CA (node/https.py)
        self.profile = certified_profile(make_profile(key, settings), self.trust)
        self.replica = Replica(
            self.store, self.profile, self.log, verify_signature, projection.project, wall_ms,
            settings.SYNC_BATCH_BYTES, self.trust, projection.reproject_origins,
        )

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

    # -- writes -------------------------------------------------------------------------

    def create_dossier(self, author: str, data: Mapping[str, Any]) -> domain.DossierState:
        """Receive a new dossier at this node's desk: the procedure must be in the catalogue in
        force, a given ID number well formed; the appointment is computed on the working
        calendar and the code issued from this node's leased blocks (or provisional)."""
        now = self.wall_ms()
        body = reception.prepare(self.reference, data, now)
        body.update(self._acting_office())
        with self.log.transaction():
            self.gate.check()
            seq = self.store.feed_head(self.node_id, self.scope, for_update=True).seq + 1
            entity_id = make_ref(self.node_id, self.scope, seq)
            body["code"] = self._code_for(body["code"], body["received_at"])
            body["lookup_check"] = lookup.check_code(self.lookup_secret, entity_id)
            event = self.log.append(
                scope=self.scope,
                entity=f"{domain.KIND}/{entity_id}",
                type=domain.RECEIVED,
                body=body,
                author=author,
                at=now,
            )
            projection.project([event])
        return self.get_dossier(entity_id)

    def _code_for(self, given: str, received_at: int) -> str:
        """A code given by the caller (an imported dossier) if new, else the next one issued."""
        if given:
            if codes.is_issued(given):
                raise DomainError(f"code {given} is already issued on this node", "code")
            return given
        day = vn_day(received_at)
        return str(codes.issue(self.node_id, self.settings.AGENCY_ID, day, self.provisional_name))

    def _acting_office(self) -> dict[str, str]:
        """Who acts, as every event body records it: this node's unit and role."""
        return {"office": self.settings.UNIT, "role": self.settings.ROLE}

    def change_status(
        self, author: str, dossier_id: str, to: str, reason: str = "", target_office: str = ""
    ) -> domain.DossierState:
        """Move a dossier on; ``target_office`` makes a processing -> processing a transfer."""
        with self.log.transaction():
            self.gate.check()
            current = self._row(dossier_id)
            domain.check_transition(current.status, to)
            body = {"from": current.status, "to": to, "reason": clean_line(reason, "reason", 2000)}
            if target_office:
                check_text(target_office, "target_office")
                if to != "processing":
                    raise DomainError("only a move to processing can name a receiving office", "target_office")
                body["target_office"] = target_office
            event = self.log.append(
                scope=current.scope,
                entity=f"{domain.KIND}/{dossier_id}",
                type=domain.STATUS_CHANGED,
                body={**body, **self._acting_office()},
                author=author,
                parents=current.heads.split(),
            )
            projection.project([event])
        return self.get_dossier(dossier_id)

    def update_dossier(self, author: str, dossier_id: str, fields: Mapping[str, Any]) -> domain.DossierState:
        clean = domain.validate_update(fields)
        with self.log.transaction():
            self.gate.check()
            current = self._row(dossier_id)
            event = self.log.append(
                scope=current.scope,
                entity=f"{domain.KIND}/{dossier_id}",
                type=domain.UPDATED,
                body={"fields": clean, **self._acting_office()},
                author=author,
                parents=current.heads.split(),
            )
            projection.project([event])
        return self.get_dossier(dossier_id)

    # -- reads --------------------------------------------------------------------------

    def _row(self, dossier_id: str) -> DossierRow:
        row = DossierRow.get_or_none(DossierRow.id == dossier_id)
        if row is None:
            raise DossierNotFound(f"no dossier {dossier_id} on this node", "id")
        return row

    def get_dossier(self, dossier_id: str) -> domain.DossierState:
        events = self.store.events_for_entities([f"{domain.KIND}/{dossier_id}"])[f"{domain.KIND}/{dossier_id}"]
        folded = projection.fold(dossier_id, events)
        if folded is None:
            raise DossierNotFound(f"no dossier {dossier_id} on this node", "id")
        return folded.state

    def lookup_check(self, dossier_id: str) -> str:
        """The check code printed on the dossier's receipt for the public lookup ("" if none)."""
        from node import tracking

        return tracking.recorded_check(dossier_id, self.node_id, self.lookup_secret)

    # -- conflicts ----------------------------------------------------------------------

    def list_conflicts(self, status: str = "open", limit: int = 100) -> list[dict[str, Any]]:
        query = ConflictRow.select()
        if status:
            query = query.where(ConflictRow.status == status)
        limit = max(1, min(limit, 100_000))
        return [conflict_to_dict(r) for r in query.order_by(ConflictRow.id).limit(limit).dicts()]

    def get_conflict(self, conflict_id: str) -> dict[str, Any]:
        row = ConflictRow.select().where(ConflictRow.id == conflict_id).dicts().first()
        if row is None:
            raise DomainError(f"no conflict {conflict_id} on this node", "conflict")
        data = conflict_to_dict(row)
        events = {e["ref"]: e for e in self.timeline(row["dossier_id"])} if row["kind"] != "duplicate" else {}
        data["versions"] = {ref: events.get(ref) for ref in (row["winner"], row["loser"])}
        return data

    def resolve_conflict(self, author: str, conflict_id: str, choose: str, reason: str) -> dict[str, Any]:
        """Close a conflict by keeping one version; only the owning office or a district may."""
        reason = clean_line(reason, "reason", 2000)
        if not reason:
            raise DomainError("a resolution needs a reason", "reason")
        with self.log.transaction():
            self.gate.check()
            conflict = self.get_conflict(conflict_id)
            if conflict["status"] != "open":
                raise DomainError("this conflict is already closed", "conflict")
            if choose not in (conflict["winner"], conflict["loser"]):
                raise DomainError("choose must be the winner or the loser version", "choose")
            target = conflict["loser"] if conflict["kind"] == "duplicate" else conflict["dossier_id"]
            current = self._row(target)
            if self.settings.ROLE != "district" and current.owner != self.settings.UNIT:
                raise DomainError(
                    f"only the office owning this dossier's stage ({current.owner}) or the district may resolve",
                    "conflict",
                )
            event = self.log.append(
                scope=current.scope,
                entity=f"{domain.KIND}/{target}",
                type=CONFLICT_RESOLVED,
                body={"conflict": conflict_id, "choose": choose, "reason": reason, **self._acting_office()},
                author=author,
                parents=current.heads.split(),
            )
            projection.project([event])
        return self.get_conflict(conflict_id)

    def timeline(self, dossier_id: str) -> list[dict[str, Any]]:
        """The dossier's events in causal order, as plain dicts for display. ``office`` is the unit
        the origin is certified for (never the body's claim); ``violation`` says why an event had
        no effect ("" when it had)."""
        from node import authority
        from node.models import ViolationRow

        entity = f"{domain.KIND}/{dossier_id}"
        events = self.store.events_for_entities([entity])[entity]
        if not events:
            raise DossierNotFound(f"no dossier {dossier_id} on this node", "id")
        view = authority.view({e.origin for e in events})
        refused = dict(ViolationRow.select(ViolationRow.ref, ViolationRow.reason).where(ViolationRow.entity == entity)
                       .tuples())
        return [
            {
                "ref": e.ref,
                "type": e.type,
                "at": e.at,
                "hlc": e.hlc,
                "author": e.author,
                "origin": e.origin,
                "office": view.office(e.origin),
                "violation": refused.get(e.ref, ""),
                "body": e.body,
                "parents": list(e.parents),
            }
            for e in linearise(CausalGraph(events), lambda e: (e.hlc, e.origin, e.scope, e.seq))
        ]

    def list_dossiers(
        self, *, q: str = "", status: str = "", limit: int = 50, offset: int = 0
    ) -> tuple[list[dict[str, Any]], int]:
        """Dossiers newest first, filtered by a search text (code, ID number or folded name)."""
        if status and status not in domain.STATUSES:
            raise DomainError(f"unknown status {status!r}", "status")
        limit = max(1, min(int(limit), 500))
        offset = max(0, min(int(offset), MAX_OFFSET))
        query = DossierRow.select()
        if status:
            query = query.where(DossierRow.status == status)
        q = " ".join(q.split())
        if q:
            if q.isdigit() and len(q) == 12:
                query = query.where(DossierRow.id_number == q)
            elif any(c.isdigit() for c in q) and "-" in q:
                query = query.where(DossierRow.code.startswith(q))
            else:
                query = query.where(DossierRow.applicant_name_folded.contains(fold_text(q)))
        total = query.count()
        rows = query.order_by(DossierRow.received_at.desc(), DossierRow.id).limit(limit).offset(offset)
        return [row_to_dict(r) for r in rows.dicts()], total

    # -- sync -----------------------------------------------------------------------------

    def sync_with(self, url: str, progress=None, transport=None):  # -> SessionSummary
        """One sync session with the peer at ``url`` (see :mod:`sync.engine`)."""
        from sync.engine import SyncClient
        from sync.transport import HttpTransport

        if transport is None and self.trust.enforced and self.trust.tls_ca is None:
            self._fetch_tls_ca_once(url)
        ca_file = self.trust.pinned_ca_files if self.trust.enforced else None
        transport = transport or HttpTransport(
            url, self.key, self.wall_ms, read_timeout=self.settings.HTTP_TIMEOUT_SECONDS, ca_file=ca_file,
            cert=self.trust.own_cert_der,
        )
        try:
            summary = SyncClient(self.replica, transport, url).sync(progress)
        finally:
            transport.close()
        if summary.peer:
            fork_feed = summary.error_feed if summary.error_code == "fork" else ""
            if summary.ok or fork_feed:
                self.gate.after_sync(self.store.peer_state(summary.peer).vector, fork_feed)
        if summary.ok:
            self._after_sync()
        return summary

    def _fetch_tls_ca_once(self, url: str) -> None:
        """Enrolled before the district had a TLS CA: ask the peer for it once per process (an
        upgraded peer serves https with a certificate of it; see ``node/https.py``)."""
        if url in self._tls_ca_asked or not url.startswith("https://"):
            return
        self._tls_ca_asked.add(url)
        from node.https import fetch_tls_ca

        fetch_tls_ca(self.trust, url, timeout=min(10.0, float(self.settings.HTTP_TIMEOUT_SECONDS)))

    def _after_sync(self) -> None:
        """Blocks may have arrived: give provisional dossiers their final codes (they go up at
        the next sync). A node that may not write yet simply waits for the next session."""
        import contextlib

        from node.writegate import WriteBlocked

        with contextlib.suppress(WriteBlocked, DomainError):
            self.assign_final_codes("motcua-sync")

    def sync_status(self) -> dict[str, Any]:
        """What the UI shows: last success, link state, events pending each way (per parent)."""
        from sync.protocol import feed_key, split_feed_key

        url = self.settings.PARENT_URL
        peer_id = self.store.find_peer_by_url(url) if url else None
        Peer = self.store.rows.Peer
        peer = Peer.get_or_none(Peer.node_id == peer_id) if peer_id else None
        local = {feed_key(h.origin, h.scope): h.seq for h in self.store.feeds()}
        vector = self.store.peer_state(peer_id).vector if peer_id else {}
        profile = self.store.load_profiles([peer_id]).get(peer_id) if peer_id else None
        pending_up = sum(
            seq - vector.get(key, 0)
            for key, seq in local.items()
            if seq > vector.get(key, 0) and (profile is None or may_hold(profile, split_feed_key(key)[1]))
        )
        pending_down = sum(seq - local.get(key, 0) for key, seq in vector.items() if seq > local.get(key, 0))
        if peer is None:
            link = "never"
        elif peer.last_success and peer.last_success >= peer.last_seen:
            link = "up"
        else:
            link = "down"
        return {
            "parent_url": url,
            "peer": peer_id or "",
            "link": link,
            "last_success": peer.last_success if peer else 0,
            "last_attempt": peer.last_seen if peer else 0,
            "last_error": peer.last_error if peer else "",
            "pending_up": pending_up,
            "pending_down_at_last_contact": pending_down,
            "clock_skew_ms": peer.clock_skew_ms if peer else 0,
            "write_block": self.gate.reason(),
        }

    # -- reference data, dossier codes, deadlines and reports ----------------------------

    def reference_status(self) -> list[dict[str, Any]]:
        """Per kind: the version in force and where it comes from (a publication or the seed)."""
        return [asdict(r) for r in self.reference.in_force()] + [
            {"kind": "units", "version": reference.units_version(), "source": "package"}
        ]

    def procedures(self) -> list[dict[str, Any]]:
        catalogue = self.reference.catalogue()
        return [reference.procedure_summary(p, catalogue.version) for p in catalogue]

    def publish_reference(
        self, author: str, *, catalogue: Mapping[str, Any] | None = None, calendar: Mapping[str, Any] | None = None,
        status_mapping: Mapping[str, Any] | None = None, years: list[int] | None = None,
        kinds: tuple[str, ...] = reference.KINDS,
    ) -> list[dict[str, Any]]:
        """District: publish the catalogue, calendar and status mapping (given, else the seed, the
        ``holidays`` calendar, the default mapping); only what differs from the version in force."""
        given = {reference.CATALOGUE: catalogue, reference.CALENDAR: calendar, reference.STATUS_MAPPING: status_mapping}
        return reference.publish(self, author, {k: v for k, v in given.items() if v is not None}, years=years,
                                 kinds=kinds)

    def lease_codes(self, author: str, node_id: str, *, days: int, size: int, agency_id: str, unit: str = "",
                    first_day: date | None = None) -> dict[str, Any]:
        """District: lease ``node_id`` a block of ``size`` numbers a day for ``days`` days."""
        leased = codes.lease(self, author, node_id, days=days, size=size, agency_id=agency_id, unit=unit,
                             first_day=first_day)
        if node_id == self.node_id:
            self.assign_final_codes(author)
        return leased

    def assign_final_codes(self, author: str = "motcua") -> list[dict[str, str]]:
        """Replace provisional codes of this node's dossiers from the blocks it now holds."""
        return codes.assign_final(self, author)

    def codes_status(self) -> dict[str, Any]:
        return codes.status(self.node_id, self.settings.AGENCY_ID, self.settings.ROLE == "district")

    def issue_apology(self, author: str, dossier_id: str, reason: str, new_due_at: int) -> domain.DossierState:
        """Mẫu 04: the office that will be late apologises and sets a new return date."""
        with self.log.transaction():
            self.gate.check()
            current = self._row(dossier_id)
            if current.status in reporting.FINISHED:
                raise DomainError(f"the dossier is already {current.status}; no apology letter applies", "status")
            if self.settings.ROLE != "district" and current.owner != self.settings.UNIT:
                raise DomainError(f"only the office handling this dossier ({current.owner}) apologises", "office")
            body = domain.validate_apology({"reason": reason, "new_due_at": new_due_at},
                                           current.new_due_at or current.due_at)
            event = self.log.append(
                scope=current.scope,
                entity=f"{domain.KIND}/{dossier_id}",
                type=domain.APOLOGY_ISSUED,
                body={**body, **self._acting_office()},
                author=author,
                parents=current.heads.split(),
            )
            projection.project([event])
        return self.get_dossier(dossier_id)

    def deadline(self, dossier_id: str) -> dict[str, Any]:
        """Early / on time / late or within time / overdue now, and a due-soon warning."""
        return reporting.deadline_view(self._row(dossier_id), self.reference.calendar(),
                                       self.reference.status_mapping(), self.reference.catalogue(), self.wall_ms())

    def deadline_warnings(self, limit: int = 100) -> list[dict[str, Any]]:
        """Open dossiers overdue or due within a working day, most urgent first."""
        return reporting.warnings(self.reference.calendar(), self.reference.status_mapping(),
                                  self.reference.catalogue(), self.wall_ms(), max(1, min(limit, 100_000)))

    def report(self, first: date, last: date, unit: str = "",
               progress: Callable[[int, int], None] | None = None) -> reporting.ReportResult:
        """Biểu 06 for the days ``first``..``last`` from this node's dossiers (one unit or all)."""
        check_period(first, last)
        return reporting.build(reporting.period_of(first, last), self.reference.calendar(),
                               self.reference.catalogue(), self.reference.status_mapping(), unit=unit,
                               progress=progress)

    # -- integrity ----------------------------------------------------------------------

    def verify(self) -> list[FeedReport]:
        """Verify every feed this node holds (hash chains, order, completeness, signatures)."""
        return verify_feeds(self.store)

    def rebuild(self, progress: Callable[[int, int], None] | None = None) -> int:
        with self.log.transaction():
            return projection.rebuild(progress)

    def digest(self) -> str:
        return projection.derived_digest()

    def status(self) -> dict[str, Any]:
        return {
            "node_id": self.node_id,
            "role": self.settings.ROLE,
            "unit": self.settings.UNIT,
            "name": self.settings.NAME,
            "events": self.store.count_events(),
            "dossiers": DossierRow.select().count(),
            "feeds": len(self.store.feeds()),
            "write_block": self.gate.reason(),
        }


def row_to_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    import json

    data = dict(row)
    data.pop("applicant_name_folded", None)
    for key in ("history", "pauses"):  # JSON text in the derived row, lists in the API
        if isinstance(data.get(key), str):
            data[key] = json.loads(data[key])
    data["heads"] = data["heads"].split() if isinstance(data.get("heads"), str) else data.get("heads")
    return data


def conflict_to_dict(row: Mapping[str, Any]) -> dict[str, Any]:
    import json

    data = dict(row)
    data["winner_value"] = json.loads(data["winner_value"])
    data["loser_value"] = json.loads(data["loser_value"])
    return data


def state_to_dict(state: domain.DossierState) -> dict[str, Any]:
    data = asdict(state)
    data.pop("applicant_name_folded")
    data["heads"] = list(state.heads)
    data["national_code"] = state.national_code
    return data



def verify_feeds(store: EventStore | None = None) -> list[FeedReport]:
    """Verify every feed of ``store`` (the node's database by default); a backup's copy is
    checked the same way."""
    store = store if store is not None else node_store()
    reports = []
    for head in store.feeds():
        signed = store.latest_signed_head(head.origin, head.scope)
        try:
            n = verify_stored_feed(
                head.origin, head.scope, store.stored_feed(head.origin, head.scope), signed, verify_signature
            )
        except ChainError as e:
            reports.append(FeedReport(head.origin, head.scope, 0, False, e.reason.value, e.ref, e.detail))
            continue
        if n != head.seq:
            reports.append(FeedReport(head.origin, head.scope, n, False, "truncated", "", f"feed head says {head.seq}"))
        else:
            reports.append(FeedReport(head.origin, head.scope, n, True))
    return reports


def make_profile(key: NodeKey, settings: Settings) -> Profile:
    """This node's signed statement of identity, carried with its events to every peer."""
    unsigned = Profile(key.node_id, key.public_key, settings.ROLE, settings.UNIT, settings.NAME or key.node_id)
    return Profile(
        unsigned.node_id, unsigned.public_key, unsigned.role, unsigned.unit, unsigned.name,
        key.sign(unsigned.statement()),
    )


class NodeNotInitialised(RuntimeError):
    """Raised when the data directory holds no node (``motcua init`` was not run)."""


def open_node(settings: Settings, wall_ms: Callable[[], int] = system_wall_ms) -> Node:
    """Open the node in ``settings.data_dir``: key, database (migrated), log."""
    key_path = settings.data_dir / KEY_FILE
    if not settings.node_file.exists() or not key_path.exists():
        raise NodeNotInitialised(f"no node in {settings.data_dir}; run: motcua init --role … --unit … --name …")
    key = NodeKey.load(key_path)
    db = open_database(settings)
    node = Node(settings, db, key, wall_ms)
    node.gate.check_at_start()
    from node.session_recovery import recover

    recover(Path(settings.STATE_DIR), key.node_id, wall_ms())  # sessions a dead process left "running"
    return node
