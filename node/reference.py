"""Reference data as versioned events: the procedure catalogue, the working calendar and the
status mapping, published by the district in the shared scope ``*`` and synced down to every node.

Event shape (entity ``reference/<kind>``, scope ``*``, type ``reference.<kind>_published``)::

    {"kind": "catalogue", "revision": 3, "version": "seed-2026.1", "format": 1,
     "data": "<the data as JSON text>", "sha256": "<hex digest of that text>"}

The data travels as JSON *text*: event bodies refuse floats (a catalogue may say 0.5 working
hours), and the digest lets anyone check a copy against the publication.

Rules
-----
Rule 1. A node uses, per kind, the newest *valid* publication it holds: highest ``revision``,
        then the later hybrid-clock stamp, then origin and seq (a deterministic order, the same
        on every replica). A publication whose data the domain parser refuses is ignored.
Rule 2. Until it holds one, a node uses the seed shipped in the package: ``node/data/
        procedures.json``, the calendar built from ``holidays`` (:mod:`node.calendar_source`)
        and :data:`node.domain.statuses.DEFAULT_STATUS_MAPPING`.
Rule 3. The derived tables (``reference_data``, ``procedure``) are a function of the held
        publications only, never of the seed, so ``motcua rebuild`` reproduces them exactly.
Rule 4. Only a district publishes: a publication counts only from an origin certified as a
        district (Rule A4 of :mod:`node.domain.authority`), whatever its body or scope says;
        one from anyone else is kept in the log, has no effect and is listed as an authority
        violation. (The sync scope policy also refuses ``*`` from anyone else.) A publication
        identical to the one in force is not repeated.
Rule 5. Events a district revoked (after the origin's cut-off) are not held to count: the
        projection hands this module only the valid ones.

This module parses, projects and reads; recording a publication is :mod:`node.publishing`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Any

from node.binding import node_store
from node.domain.authority import Authority, Violation
from node.domain.calendar import InvalidCalendar, WorkCalendar, parse_calendar
from node.domain.catalogue import Catalogue, InvalidCatalogue, parse_catalogue, parse_catalogue_json
from node.domain.statuses import DEFAULT_STATUS_MAPPING, InvalidStatusMapping, StatusMapping, parse_status_mapping
from node.domain.vietnam_time import vn_day
from node.models import ProcedureRow, ReferenceRow
from sync.wire import SHARED_SCOPE, Event

ENTITY_KIND = "reference"
CATALOGUE, CALENDAR, STATUS_MAPPING = "catalogue", "calendar", "status_mapping"
KINDS = (CATALOGUE, CALENDAR, STATUS_MAPPING)
DATA_FORMAT = 1
_PARSERS = {CATALOGUE: parse_catalogue, CALENDAR: parse_calendar, STATUS_MAPPING: parse_status_mapping}
INVALID_DATA = (InvalidCatalogue, InvalidCalendar, InvalidStatusMapping, ValueError, TypeError, KeyError)


def event_type(kind: str) -> str:
    return f"reference.{kind}_published"


def entity(kind: str) -> str:
    return f"{ENTITY_KIND}/{kind}"


def data_text(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def publication_body(kind: str, revision: int, data: Mapping[str, Any]) -> dict[str, Any]:
    """The body of a publication event; raises ValueError if the data does not parse."""
    parsed = _PARSERS[kind](data)
    text = data_text(data)
    return {
        "kind": kind,
        "revision": revision,
        "version": str(getattr(parsed, "version", "") or data.get("version", "")),
        "format": DATA_FORMAT,
        "data": text,
        "sha256": hashlib.sha256(text.encode("utf-8")).hexdigest(),
    }


@dataclass(frozen=True)
class Publication:
    kind: str
    revision: int
    version: str
    data: Mapping[str, Any]
    text: str
    ref: str
    origin: str
    at: int
    order: tuple[int, int, str, int]


def parse_publication(e: Event) -> Publication | None:
    """The publication an event carries, or None if it is not a valid one (Rule 1)."""
    body = e.body
    kind = body.get("kind") if isinstance(body, Mapping) else None
    if kind not in KINDS or e.type != event_type(kind) or e.scope != SHARED_SCOPE:
        return None
    revision, text = body.get("revision"), body.get("data")
    if type(revision) is not int or not isinstance(text, str) or body.get("format") != DATA_FORMAT:
        return None
    if body.get("sha256") != hashlib.sha256(text.encode("utf-8")).hexdigest():
        return None
    try:
        data = json.loads(text)
        parsed = _PARSERS[kind](data)
    except (json.JSONDecodeError, *INVALID_DATA):
        return None
    version = str(getattr(parsed, "version", "") or body.get("version", ""))
    return Publication(kind, revision, version, data, text, e.ref, e.origin, e.at, (revision, e.hlc, e.origin, e.seq))


def pick_current(events: Iterable[Event], authority: Authority) -> tuple[Publication | None, int]:
    """The newest valid publication among ``events`` and how many valid ones there are; only
    district origins publish (Rule 4)."""
    valid = [p for p in map(parse_publication, (e for e in events if not authority.on_shared(e.origin)))
             if p is not None]
    return (max(valid, key=lambda p: p.order) if valid else None), len(valid)


# -- projection ----------------------------------------------------------------------------


def project(grouped: Mapping[str, list[Event]], authority: Authority) -> list[Violation]:
    """Recompute the reference rows of the kinds in ``grouped`` (entity -> every valid held
    event of it) from the publications (Rule 3); return the events without authority."""
    violations = [
        authority.violation(e, reason)
        for evs in grouped.values() for e in evs if (reason := authority.on_shared(e.origin))
    ]
    wanted = sorted({k.split("/", 1)[1] for k in grouped} & set(KINDS))
    for kind in wanted:
        current, count = pick_current(grouped.get(entity(kind), []), authority)
        ReferenceRow.delete().where(ReferenceRow.kind == kind).execute()
        if kind == CATALOGUE:
            ProcedureRow.delete().execute()
        if current is None:
            continue
        ReferenceRow.create(
            kind=kind, revision=current.revision, version=current.version, ref=current.ref,
            origin=current.origin, published_at=current.at, publications=count, data=current.text,
        )
        if kind == CATALOGUE:
            _procedure_rows(parse_catalogue(current.data))
    return violations


def _procedure_rows(catalogue: Catalogue) -> None:
    rows = [
        {
            "key": p.key, "national_code": p.national_code, "local_code": p.local_code, "name": p.name,
            "sector": p.sector, "duration": f"{p.duration.amount:g} {p.duration.unit.value}", "mobile": p.mobile,
            "version": p.version, "catalogue_version": catalogue.version,
        }
        for p in catalogue
    ]
    for start in range(0, len(rows), 50):
        ProcedureRow.insert_many(rows[start : start + 50]).execute()


# -- what a node uses ----------------------------------------------------------------------


@functools.cache
def seed_catalogue() -> Catalogue:
    return parse_catalogue_json((resources.files("node") / "data" / "procedures.json").read_text(encoding="utf-8"))


def seed_catalogue_data() -> dict[str, Any]:
    return json.loads((resources.files("node") / "data" / "procedures.json").read_text(encoding="utf-8"))


def calendar_years(year: int) -> list[int]:
    """The years a calendar covers by default: last year to two years ahead."""
    return list(range(year - 1, year + 3))


@functools.cache
def seed_calendar_data(years: tuple[int, ...]) -> dict[str, Any]:
    from node.calendar_source import build_calendar_data
    from node.domain.calendar import DEFAULT_SESSIONS

    data = build_calendar_data(years)
    data["sessions"] = [[a.strftime("%H:%M"), b.strftime("%H:%M")] for a, b in DEFAULT_SESSIONS]
    return data


@functools.cache
def units_version() -> str:
    """The version of the administrative-unit list this node reads (``vietnam-provinces``)."""
    try:
        import vietnam_provinces

        data = getattr(vietnam_provinces, "__data_version__", "")
        return f"vietnam-provinces {package_version('vietnam-provinces')}" + (f" data {data}" if data else "")
    except (ImportError, PackageNotFoundError):
        return ""


@dataclass(frozen=True)
class InForce:
    """One kind of reference data as a node uses it now."""

    kind: str
    version: str
    source: str  # "seed" or the ref of the publishing event
    revision: int = 0
    publications: int = 0
    published_at: int = 0


class ReferenceData:
    """Reference data in force on a node; parsed data is cached per publication."""

    def __init__(self, wall_ms) -> None:
        self.wall_ms = wall_ms
        self._cache: dict[tuple[str, str], Any] = {}

    def _held(self, kind: str) -> tuple[str, Any] | None:
        ref = ReferenceRow.select(ReferenceRow.ref).where(ReferenceRow.kind == kind).scalar()
        if ref is None:
            return None
        key = (kind, ref)
        if key not in self._cache:
            text = ReferenceRow.get(ReferenceRow.kind == kind).data
            self._cache = {k: v for k, v in self._cache.items() if k[0] != kind}
            self._cache[key] = _PARSERS[kind](json.loads(text))
        return ref, self._cache[key]

    def catalogue(self) -> Catalogue:
        held = self._held(CATALOGUE)
        return held[1] if held else seed_catalogue()

    def calendar(self) -> WorkCalendar:
        held = self._held(CALENDAR)
        if held:
            return held[1]
        year = vn_day(self.wall_ms()).year
        return seed_calendar(tuple(calendar_years(year)))

    def status_mapping(self) -> StatusMapping:
        held = self._held(STATUS_MAPPING)
        return held[1] if held else DEFAULT_STATUS_MAPPING

    def in_force(self) -> list[InForce]:
        rows = {r.kind: r for r in ReferenceRow.select()}
        out = []
        for kind in KINDS:
            r = rows.get(kind)
            if r is not None:
                out.append(InForce(kind, r.version, r.ref, r.revision, r.publications, r.published_at))
                continue
            seed = {CATALOGUE: self.catalogue, CALENDAR: self.calendar, STATUS_MAPPING: self.status_mapping}[kind]()
            out.append(InForce(kind, seed.version, "seed"))
        return out

    def versions(self) -> dict[str, str]:
        """What a reception records: the versions it was received under."""
        return {
            "catalogue": self.catalogue().version,
            "calendar": self.calendar().version,
            "status_mapping": self.status_mapping().version,
            "units": units_version(),
        }


@functools.cache
def seed_calendar(years: tuple[int, ...]) -> WorkCalendar:
    return parse_calendar(seed_calendar_data(years))


def current_revision(kind: str) -> int:
    """The highest revision any held district publication of ``kind`` claims (0 if none): the
    next one is numbered above it, even above an invalid one, so it cannot tie with it. Claims
    of other origins never count (Rule 4), so they cannot push the numbering either."""
    from node import authority

    events = node_store().events_for_entities([entity(kind)])[entity(kind)]
    view = authority.view(e.origin for e in events)
    revisions = [e.body.get("revision") for e in events if view.is_district(e.origin)]
    return max((r for r in revisions if type(r) is int), default=0)


def current_text(kind: str) -> str | None:
    return ReferenceRow.select(ReferenceRow.data).where(ReferenceRow.kind == kind).scalar()


def procedure_summary(p: Any, catalogue_version: str) -> dict[str, Any]:
    """A catalogue procedure as the API lists it."""
    return {
        "key": p.key, "national_code": p.national_code, "local_code": p.local_code, "name": p.name,
        "sector": p.sector,
        "processing_time": {"amount": p.duration.amount, "unit": p.duration.unit.value,
                            "cutoff": p.duration.cutoff.strftime("%H:%M") if p.duration.cutoff else None},
        "fees": [{"name": f.name, "amount_vnd": f.amount_vnd} for f in p.fees],
        "components": [{"name": c.name, "kind": c.kind.value, "quantity": c.quantity, "required": c.required}
                       for c in p.components],
        "competent_level": p.competent_level.value, "online_level": p.online_level.value if p.online_level else None,
        "mobile": p.mobile, "version": p.version, "catalogue_version": catalogue_version,
    }


def publishable(kind: str, given: Mapping[str, Any] | None, *, years: list[int] | None, now_ms: int) -> dict:
    """The data a district publishes for ``kind``: the data given (a province's catalogue, an
    administrator's edited calendar or mapping), else the seed catalogue, the calendar built from
    ``holidays`` for ``years`` (default :func:`calendar_years`), the default status mapping."""
    if given is not None:
        return dict(given)
    if kind == CATALOGUE:
        return seed_catalogue_data()
    if kind == CALENDAR:
        year = vn_day(now_ms).year
        return dict(seed_calendar_data(tuple(sorted(years or calendar_years(year)))))
    return DEFAULT_STATUS_MAPPING.to_data()
