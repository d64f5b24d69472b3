"""Who may change what: authority comes from certificates, never from event bodies (pure core).

A signature proves who wrote an event; these rules decide whether it takes effect. The caller
(:mod:`node.authority`) builds an :class:`Authority` from the admitted profiles the node holds
(role and unit from the district CA's certificate, or from a development node's own profile)
and a predicate saying which units a hub serves. Profiles travel with the events of their
origin, so every replica holding the same events decides the same.

Rules
-----
A1 (origin). The actor of an event is its origin's certified role and unit. Office, role, unit
        and author claims inside a body are never read for authority. An origin without an
        admitted profile has no authority at all.
A2 (dossiers). An event changes a dossier only if its origin may act on it: a ``commune`` node
        on the dossiers of its unit (the scope of the reception) and on those whose current
        stage is owned by its unit (transferred to it); a ``mobile`` node on the dossiers of its
        unit; a ``district`` node on the dossiers whose unit, or owning office, it serves (A5).
        A reception counts only from an origin that may act on a dossier of the reception's
        scope.
A3 (stage owner and receiver). Besides A2, a conflict resolution counts only from the office
        owning the dossier's stage or from a district, and a final code assignment only from
        the node that received the dossier (it holds the number blocks).
A4 (shared data). Reference data, number-block leases, revocations and any other trust
        material (entity kind ``node``) take effect only from a district origin, whatever the
        body or the scope says.
A5 (a hub's units). A district hub serves its own unit; when that unit is a province code,
        every commune the national list (``vietnam-provinces``) places in that province; and
        every code the national list does not place in any province (pre-2025 or test codes:
        the list cannot say whose they are). Another province's code or communes: not served.
A6 (violations). An event that fails is kept (it is signed history) and reported as a
        :class:`Violation` with its origin, the origin's certified role and unit, and why. It
        applies nothing, and the dossier fold neither offers it as a parent of a local edit
        nor counts it as having built on a version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

COMMUNE, MOBILE, DISTRICT = "commune", "mobile", "district"

# why an event had no effect (stable codes: stored in the violations table, translated in the UI)
UNKNOWN_ORIGIN = "unknown_origin"  # no admitted profile for the origin
OUTSIDE_UNIT = "outside_unit"  # a dossier of a unit the origin does not serve
NOT_OWNER = "not_owner"  # a conflict resolution by an office not owning the stage
NOT_RECEIVER = "not_receiver"  # a final code assigned by a node other than the receiving one
NOT_DISTRICT = "not_district"  # shared data or trust material from a non-district origin
REASONS = (UNKNOWN_ORIGIN, OUTSIDE_UNIT, NOT_OWNER, NOT_RECEIVER, NOT_DISTRICT)


@dataclass(frozen=True)
class Certified:
    """An origin as its certificate (or a development node's profile) names it."""

    role: str
    unit: str


@dataclass(frozen=True)
class Violation:
    """An event kept in the log that took no effect, and why (A6)."""

    ref: str
    origin: str
    role: str  # certified; "" when the origin has no admitted profile
    unit: str
    scope: str
    entity: str
    type: str
    at: int
    reason: str


def same_unit(hub_unit: str, unit: str) -> bool:
    """The narrowest A5: a hub serves its own unit only (when no unit list is given)."""
    return hub_unit == unit


class Authority:
    """The authority view: origin -> certified role and unit, and which units a hub serves."""

    def __init__(self, certified: Mapping[str, Certified],
                 serves: Callable[[str, str], bool] = same_unit) -> None:
        self.certified = certified
        self.serves = serves

    def of(self, origin: str) -> Certified | None:
        return self.certified.get(origin)

    def office(self, origin: str) -> str:
        """The unit an origin acts for (A1); "" for an unknown origin, which owns nothing."""
        c = self.certified.get(origin)
        return c.unit if c else ""

    def is_district(self, origin: str) -> bool:
        c = self.certified.get(origin)
        return c is not None and c.role == DISTRICT

    def on_dossier(self, origin: str, unit: str, owner: str | None = None) -> str:
        """A2: "" if ``origin`` may act on a dossier of ``unit`` whose stage ``owner`` holds,
        else the reason it may not."""
        c = self.certified.get(origin)
        if c is None:
            return UNKNOWN_ORIGIN
        if c.role == COMMUNE and (c.unit == unit or (owner is not None and c.unit == owner)):
            return ""
        if c.role == MOBILE and c.unit == unit:
            return ""
        if c.role == DISTRICT and (self.serves(c.unit, unit) or (owner is not None and self.serves(c.unit, owner))):
            return ""
        return OUTSIDE_UNIT

    def on_shared(self, origin: str) -> str:
        """A4: "" for a district origin, else the reason."""
        if origin not in self.certified:
            return UNKNOWN_ORIGIN
        return "" if self.is_district(origin) else NOT_DISTRICT

    def violation(self, e: Any, reason: str) -> Violation:
        c = self.certified.get(e.origin)
        return Violation(e.ref, e.origin, c.role if c else "", c.unit if c else "", e.scope, e.entity, e.type, e.at,
                         reason)
