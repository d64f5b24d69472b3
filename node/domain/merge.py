"""Folding a dossier's events into its state and its conflicts (pure core).

The fold is a deterministic function of the *set* of events: every replica that holds the
same events computes the same state and the same conflict records, whatever order they
arrived in. Nothing here reads a wall clock.

Rules
-----
Rule 1 (causality). Concurrency comes from ``parents`` (:mod:`sync.merge`), never from clocks.
        An edit applies normally when its author had seen the event that last set the field it
        changes (the *setter*): the edit is then a plain successor.
Rule 2 (transitions are compare-and-set). A status change carries the status its author saw
        (``from``). It applies only from that status and only along :data:`TRANSITIONS`.
Rule 3 (conflicts). Two concurrent status changes that do not have the same effect (a
        different target, or transfers to different offices), or two concurrent edits of the
        same field with different values, make a **conflict record** holding both versions
        (event references; the events stay signed in the log). Concurrent edits of *different*
        fields both apply and are recorded as a **parallel update** (status ``merged``).
Rule 4 (authority). Who acts is the origin's certified unit and role (:mod:`node.domain.authority`,
        Rule A1); an event the origin had no authority for applies nothing (Rule 9). The
        provisional winner is the version made by the office that owned the dossier's stage
        when both authors saw it (the ``owner``: the unit of the node that received it, then
        the office it was last transferred to); then the earlier hybrid-clock stamp (a decision
        already given to the citizen is not silently overturned by a later concurrent one); then
        the smaller origin id. The fold applies the owner's events first among those ready at
        the same point of the causal order, so the owner's branch stands and every concurrent
        step of the other branch becomes a visible loser. Only when the owner's change becomes
        applicable *after* the other branch was already built on (an applied event descends
        from its winner) is that winner kept; the conflict is raised for a person either way.
Rule 5 (resolution). A ``dossier.conflict_resolved`` event names the conflict and the version
        to keep. It counts only if its origin is certified for the owning office or as a
        district (Rule A3); if it keeps the loser, the loser's effect applies from then on.
        Resolutions replicate like any event, so a conflict closes everywhere.
Rule 6 (robustness). A malformed event body never stops the fold: the event is ignored.
Rule 7 (timing). Each applied status change appends (status, at) to the history; entering
        ``supplement_requested`` opens a pause and counts a request, leaving it closes the pause.
        When Rule 4 replaces the last status change by a concurrent one, the timing it added is
        undone first. A resolution keeping the loser applies the loser's status at the
        resolution's time.
Rule 8 (codes and apologies). ``dossier.code_assigned`` replaces a provisional code, once, and
        only when made by the node that received the dossier (it owns the number blocks the
        code came from). ``dossier.apology_issued`` records the reason and the new date; the
        last one in causal order stands. A fee record (``dossier.fee_recorded``) likewise: the
        last stands; a rating (``dossier.rated``): the first stands (Rules S1-S2 of
        :mod:`node.domain.service`).
Rule 9 (authority violations). Every event is checked against the authority view passed in
        (Rules A2-A3) at its place in the causal order, with the stage owner of that point (an
        authority that comes from owning the stage counts only for an event that causally follows
        the transfer handing it over). One that fails is reported in :attr:`Folded.violations`
        and has no effect: it sets nothing, moves no timestamp, does not count as an applied
        event for Rule 4, and is left out of the heads, so a local edit never names it as a
        parent. A reception that fails makes no dossier. The ``office`` and ``role`` an event
        body names are never read.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from node.domain.authority import NOT_OWNER, NOT_RECEIVER, Authority, Violation
from node.domain.conflict import CONFLICT_RESOLVED, Conflict, Folded
from node.domain.dossier import (
    APOLOGY_ISSUED,
    CODE_ASSIGNED,
    PROVISIONAL_PREFIX,
    RECEIVED,
    STATUS_CHANGED,
    TRANSITIONS,
    UPDATABLE_FIELDS,
    UPDATED,
    initial_state,
)
from node.domain.service import FEE_RECORDED, RATED, fee_of, rating_of
from sync.merge import CausalGraph, conflict_id, linearise

__all__ = ["CONFLICT_RESOLVED", "Conflict", "Folded", "fold_checked", "fold_dossier"]


class _Fold:
    def __init__(self, entity_id: str, events: Iterable[Any], authority: Authority) -> None:
        self.graph = CausalGraph(events)
        self.authority = authority
        self.violations: dict[str, Violation] = {}
        creations = []
        for e in self.graph.by_ref.values():
            if e.type != RECEIVED:
                continue
            reason = authority.on_dossier(e.origin, e.scope)  # Rule 9: a reception needs authority too
            if reason:
                self.violations[e.ref] = authority.violation(e, reason)
            else:
                creations.append(e)
        creations.sort(key=lambda e: (e.ref != entity_id, e.hlc, e.origin, e.seq))
        self.creation = creations[0] if creations else None
        self.entity_id = entity_id
        self.values: dict[str, Any] = {}
        self.setter: dict[str, str] = {}
        # status setter ref -> (status, owner, owner_from) before it; field setter -> (value, owner)
        self.base: dict[str, tuple[Any, ...]] = {}
        self.owner_from = ""  # the event that handed the stage to the current owner (Rule 9)
        self.applied: list[str] = []
        self.updates: list[Any] = []
        self.conflicts: dict[str, dict[str, Any]] = {}
        self.foreign: dict[str, tuple[str, str, str, str]] = {}
        # Rule 7: timing, and the timing before each status setter (to undo a replaced one)
        self.history: list[tuple[str, int]] = []
        self.pauses: list[tuple[int, int | None]] = []
        self.supplements = 0
        self.timing_base: dict[str, tuple[tuple, tuple, int]] = {}
        self.code = ""
        self.apology: tuple[int, str, int] | None = None
        self.fee: tuple[str, int, str] | None = None
        self.rating: tuple[int, str, str, str] | None = None

    # -- helpers -------------------------------------------------------------------------

    def rank(self, e: Any, owner: str) -> tuple[Any, ...]:
        return (self.authority.office(e.origin) != owner, e.hlc, e.origin, e.scope, e.seq)

    def refused(self, e: Any) -> str:
        """Rule 9: why ``e`` has no authority at this point of the fold ("" if it has)."""
        if e.ref in self.violations:
            return self.violations[e.ref].reason
        # authority that comes from owning the stage needs the event that handed it over in sight
        seen = self.owner_from == self.creation.ref or self.graph.happened_before(self.owner_from, e.ref)
        owner = self.values["owner"] if seen else None
        reason = self.authority.on_dossier(e.origin, self.creation.scope, owner)
        if not reason and e.type == CONFLICT_RESOLVED and not (
            self.authority.is_district(e.origin) or self.authority.office(e.origin) == owner
        ):
            reason = NOT_OWNER
        if not reason and e.type == CODE_ASSIGNED and e.origin != self.creation.origin:
            reason = NOT_RECEIVER
        return reason

    def key(self, e: Any) -> tuple[Any, ...]:
        return (e.type != RECEIVED, *self.rank(e, self.values.get("owner", "")))

    def built_on(self, ref: str, exclude: str) -> bool:
        return any(ref in self.graph.ancestors(r) for r in self.applied if r != exclude)

    def sees(self, e: Any, field_name: str) -> bool:
        setter = self.setter[field_name]
        return setter == e.ref or self.graph.happened_before(setter, e.ref)

    def record(self, kind: str, field_name: str, winner: Any, loser: Any, wv: Any, lv: Any, status: str) -> None:
        cid = conflict_id(winner.ref, loser.ref)
        self.conflicts[cid] = {
            "id": cid, "dossier_id": self.entity_id, "kind": kind, "field": field_name,
            "winner": winner.ref, "loser": loser.ref, "winner_value": wv, "loser_value": lv, "status": status,
        }

    # -- event kinds ---------------------------------------------------------------------

    def status_change(self, e: Any) -> None:
        to, frm, target = e.body.get("to"), e.body.get("from"), e.body.get("target_office")
        if not isinstance(to, str) or to not in TRANSITIONS:
            return
        status, owner = self.values["status"], self.values["owner"]
        if self.sees(e, "status"):
            if (frm is None or frm == status) and to in TRANSITIONS[status]:
                self._set_status(e, to, target, status, owner, self.owner_from)
            return
        last = self.graph.by_ref[self.setter["status"]]
        base_status, base_owner, base_from = self.base.get(last.ref, (status, owner, self.owner_from))
        if to == status and last.body.get("target_office") == target:
            return  # same effect: both authors decided the same thing
        winner, loser = last, e
        if (
            self.rank(e, base_owner) < self.rank(last, base_owner)
            and not self.built_on(last.ref, e.ref)
            and (frm is None or frm == base_status)
            and to in TRANSITIONS[base_status]
        ):
            self._restore_timing(last.ref)
            self._set_status(e, to, target, base_status, base_owner, base_from)
            winner, loser = e, last
        self.record("status", "status", winner, loser, winner.body.get("to"), loser.body.get("to"), "open")

    def _set_status(self, e: Any, to: str, target: Any, before: str, owner: str, owner_from: str) -> None:
        self.base[e.ref] = (before, owner, owner_from)
        self._timing(e, to, before)
        self.values["status"] = to
        if to == "processing" and isinstance(target, str) and target:
            self.values["owner"] = target  # a transfer hands the stage to another office
            self.owner_from = e.ref if target != owner else owner_from
        else:
            self.values["owner"] = owner
            self.owner_from = owner_from
        self.setter["status"] = e.ref

    def _timing(self, e: Any, to: str, before: str) -> None:
        """Rule 7."""
        self.timing_base[e.ref] = (tuple(self.history), tuple(self.pauses), self.supplements)
        self.history.append((to, e.at))
        if before == "supplement_requested" and to != before and self.pauses and self.pauses[-1][1] is None:
            self.pauses[-1] = (self.pauses[-1][0], max(e.at, self.pauses[-1][0]))
        if to == "supplement_requested" and before != to:
            self.pauses.append((e.at, None))
            self.supplements += 1

    def _restore_timing(self, ref: str) -> None:
        if ref in self.timing_base:
            history, pauses, supplements = self.timing_base[ref]
            self.history, self.pauses, self.supplements = list(history), list(pauses), supplements

    def assign_code(self, e: Any) -> None:
        """Rule 8: a provisional code gets its final code once, from the receiving node."""
        code = e.body.get("code")
        if (
            isinstance(code, str) and code and not code.startswith(PROVISIONAL_PREFIX)
            and self.code.startswith(PROVISIONAL_PREFIX)
        ):
            self.code = code

    def apologise(self, e: Any) -> None:
        """Rule 8: the Mẫu 04 letter; the last one stands."""
        reason, new_due_at = e.body.get("reason"), e.body.get("new_due_at")
        if isinstance(reason, str) and type(new_due_at) is int:
            self.apology = (e.at, reason, new_due_at)

    def record_fee(self, e: Any) -> None:
        """Rule S1 of :mod:`node.domain.service`: the last fee record stands."""
        self.fee = fee_of(e.body) or self.fee

    def rate(self, e: Any) -> None:
        """Rule S2 of :mod:`node.domain.service`: the first rating stands."""
        rating = rating_of(e.body)
        if rating is not None and self.rating is None:
            self.rating = (e.at, *rating)

    def update(self, e: Any) -> None:
        fields = e.body.get("fields")
        if not isinstance(fields, Mapping):
            return
        for other in self.updates:
            if self.graph.concurrent(other.ref, e.ref) and not set(other.body["fields"]) & set(fields):
                self.record("parallel", "", other, e, sorted(other.body["fields"]), sorted(fields), "merged")
        for name, value in sorted(fields.items()):
            if name not in UPDATABLE_FIELDS or not isinstance(value, str):
                continue
            if self.sees(e, name):
                self.base[e.ref + "#" + name] = (self.values[name], self.values["owner"])
                self.values[name], self.setter[name] = value, e.ref
                continue
            last = self.graph.by_ref[self.setter[name]]
            if self.values[name] == value:
                continue
            winner, loser = last, e
            if self.rank(e, self.values["owner"]) < self.rank(last, self.values["owner"]) and not self.built_on(
                last.ref, e.ref
            ):
                self.values[name], self.setter[name] = value, e.ref
                winner, loser = e, last
            wv = winner.body["fields"].get(name) if winner.type == UPDATED else None
            lv = loser.body["fields"].get(name) if loser.type == UPDATED else None
            self.record("field", name, winner, loser, wv, lv, "open")
        self.updates.append(e)

    def resolve(self, e: Any) -> None:
        cid, chosen = e.body.get("conflict"), e.body.get("choose")
        reason = e.body.get("reason") if isinstance(e.body.get("reason"), str) else ""
        if not (isinstance(cid, str) and isinstance(chosen, str)):
            return
        c = self.conflicts.get(cid)
        if c is None:
            self.foreign.setdefault(cid, (e.ref, chosen, e.author, reason))
            return
        if c["status"] != "open" or chosen not in (c["winner"], c["loser"]):
            return
        c.update(status="resolved", resolution=e.ref, chosen=chosen, resolved_by=e.author, reason=reason)
        if chosen == c["loser"]:
            loser = self.graph.by_ref[c["loser"]]
            if c["kind"] == "status":
                owner = self.values["owner"]
                self._set_status(e, loser.body["to"], loser.body.get("target_office"), self.values["status"], owner,
                                 self.owner_from)
            elif c["kind"] == "field":
                self.values[c["field"]], self.setter[c["field"]] = c["loser_value"], e.ref

    # -- the fold ------------------------------------------------------------------------

    def run(self) -> Folded | None:
        if self.creation is None:
            return None
        try:
            state = initial_state(self.entity_id, self.creation)
        except (KeyError, TypeError, AttributeError):
            return None  # Rule 6: a creation the domain cannot read makes no dossier
        self.values = {
            "status": state.status, "owner": self.authority.office(self.creation.origin),
            "applicant.phone": state.phone, "applicant.address": state.address, "note": state.note,
        }
        self.setter = dict.fromkeys(self.values, self.creation.ref)
        self.owner_from = self.creation.ref
        self.history, self.code = list(state.history), state.code
        updated_at, updated_hlc = state.updated_at, state.updated_hlc
        handlers = {
            STATUS_CHANGED: self.status_change, UPDATED: self.update, CONFLICT_RESOLVED: self.resolve,
            CODE_ASSIGNED: self.assign_code, APOLOGY_ISSUED: self.apologise,
            FEE_RECORDED: self.record_fee, RATED: self.rate,
        }
        for e in linearise(self.graph, self.key):
            if e is not self.creation:
                reason = self.refused(e)
                if reason:
                    self.violations[e.ref] = self.authority.violation(e, reason)
                    continue
            self.applied.append(e.ref)
            handler = handlers.get(e.type) if e is not self.creation else None
            if handler is not None and isinstance(e.body, Mapping):
                with contextlib.suppress(KeyError, TypeError, AttributeError):  # Rule 6
                    handler(e)
            updated_at, updated_hlc = max(updated_at, e.at), max(updated_hlc, e.hlc)
        conflicts = tuple(Conflict(**c) for _, c in sorted(self.conflicts.items()))
        state = replace(
            state,
            status=self.values["status"],
            owner=self.values["owner"],
            phone=self.values["applicant.phone"],
            address=self.values["applicant.address"],
            note=self.values["note"],
            updated_at=updated_at,
            updated_hlc=updated_hlc,
            event_count=len(self.graph.by_ref) - len(self.violations),  # Rule 9: those with effect
            heads=self.heads(),
            open_conflicts=sum(c.status == "open" for c in conflicts),
            code=self.code,
            history=tuple(self.history),
            pauses=tuple(self.pauses),
            supplement_requests=self.supplements,
            apology_at=self.apology[0] if self.apology else None,
            apology_reason=self.apology[1] if self.apology else "",
            new_due_at=self.apology[2] if self.apology else None,
        )
        if self.fee is not None:
            state = replace(state, fee_status=self.fee[0], fee_amount_vnd=self.fee[1], fee_receipt=self.fee[2])
        if self.rating is not None:
            at, level, channel, comment = self.rating
            state = replace(state, rating=level, rated_at=at, rating_channel=channel, rating_comment=comment)
        return Folded(state, conflicts, dict(self.foreign), self.sorted_violations())

    def heads(self) -> tuple[str, ...]:
        """The heads among the events with effect: what a local edit names as parents (Rule 9)."""
        kept = [ref for ref in self.graph.by_ref if ref not in self.violations]
        superseded = {p for ref in kept for p in self.graph.parents[ref]}
        return tuple(sorted(set(kept) - superseded))

    def sorted_violations(self) -> tuple[Violation, ...]:
        return tuple(v for _, v in sorted(self.violations.items()))


def fold_checked(entity_id: str, events: Iterable[Any], authority: Authority) -> tuple[
    Folded | None, tuple[Violation, ...]
]:
    """The dossier (None without a creation that counts) and every event that had no authority."""
    fold = _Fold(entity_id, events, authority)
    folded = fold.run()
    return folded, folded.violations if folded is not None else fold.sorted_violations()


def fold_dossier(entity_id: str, events: Iterable[Any], authority: Authority) -> Folded | None:
    """State, conflicts and authority violations of one dossier from its events, or None
    without a creation that counts."""
    return _Fold(entity_id, events, authority).run()
