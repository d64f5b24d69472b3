"""The one write recipe of a node: transaction -> write gate -> append (with parents) -> project.

Every use case that records an event goes through :class:`EventWriter`, so the order of the steps
is written once:

1. :meth:`EventWriter.transaction` opens :meth:`sync.log.LocalLog.transaction` (one writer at a
   time; the feed heads are signed when the outermost transaction ends) and checks the
   :class:`~node.writegate.WriteGate` *inside* it, so no write slips in between the check and
   the append, and that the PC clock is sane (:mod:`node.clockcheck`).
2. :meth:`EventWriter.record` appends one event to this node's feed for the scope and projects it
   (:func:`node.projection.project`) in the same transaction: the event and the state derived
   from it commit together or not at all.
3. :meth:`EventWriter.record_on` is the same for an event on a dossier that exists: its parents
   are the dossier's current heads, so concurrency is decided by causality (Rule 1 of
   :mod:`node.domain.merge`).

Kill points: :attr:`EventWriter.step` is called with the name of each step of the recipe
(``appended``, ``projected``, ``before_commit``, ``committed``) and the event where there is one.
It does nothing in production; the crash harness (``tests/crash``) sets it in a forked child to
SIGKILL the process at exactly that step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from node import projection
from node.config import Settings
from node.domain import dossier as domain
from node.models import DossierRow
from node.writegate import WriteGate
from sync.log import LocalLog
from sync.wire import Event


def acting_office(settings: Settings) -> dict[str, str]:
    """Who acts, as every dossier event body records it: this node's unit and role (for display;
    authority comes from the origin's certificate, never from these fields)."""
    return {"office": settings.UNIT, "role": settings.ROLE}


def no_step(step: str, event: Event | None = None) -> None:
    """The production kill-point hook: nothing."""


class EventWriter:
    """Appends this node's events and projects them, behind the write gate."""

    def __init__(self, log: LocalLog, gate: WriteGate, clock_check: Callable[[], None] | None = None) -> None:
        self.log = log
        self.gate = gate
        self.clock_check = clock_check or (lambda: None)  # node.clockcheck: refuses on a wrong PC clock
        self.step: Callable[[str, Event | None], None] = no_step  # see "Kill points" above

    def project(self, events: Iterable[Event]) -> None:
        """Refresh the derived state of what ``events`` touch, in the caller's transaction."""
        projection.project(events)  # looked up at each call, so a test may replace it

    @contextlib.contextmanager
    def transaction(self, *, gated: bool = True) -> Iterator[None]:
        """One write transaction; raises :class:`~node.writegate.WriteBlocked` first if writes
        wait (``gated=False`` only for the writes that never waited: see their callers)."""
        with self.log.transaction():
            if gated:
                self.gate.check()
                self.clock_check()
            yield
            self.step("before_commit", None)
        self.step("committed", None)  # an outer transaction's end; nested ones pass here early

    def append(self, *, scope: str, entity: str, type: str, body: Mapping[str, Any], author: str,
               parents: tuple[str, ...] | list[str] = (), at: int | None = None) -> Event:
        """Append one event without projecting it (the caller projects it in the same transaction)."""
        return self.log.append(scope=scope, entity=entity, type=type, body=body, author=author, parents=parents, at=at)

    def record(self, *, scope: str, entity: str, type: str, body: Mapping[str, Any], author: str,
               parents: tuple[str, ...] | list[str] = (), at: int | None = None) -> Event:
        """Append one event and project it at once; call inside :meth:`transaction`."""
        event = self.append(scope=scope, entity=entity, type=type, body=body, author=author, parents=parents, at=at)
        self.step("appended", event)
        self.project([event])
        self.step("projected", event)
        return event

    def record_on(self, row: DossierRow, type: str, body: Mapping[str, Any], author: str) -> Event:
        """An event on the dossier of ``row``, in its scope, with its heads as parents."""
        return self.record(scope=row.scope, entity=f"{domain.KIND}/{row.id}", type=type, body=body, author=author,
                           parents=row.heads.split())
