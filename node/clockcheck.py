"""Clock sanity: a node whose wall clock is plainly wrong does not write (issue 14.5).

A dossier's reception time and appointment are legal facts taken from the PC clock, so a clock
ten years behind or two days ahead writes wrong dates silently. Two bounds, each with the
allowed skew (``MAX_CLOCK_SKEW_SECONDS``) as tolerance:

* **behind**: the wall clock is earlier than the trusted-time floor (the newest district-stamped
  event this node holds, :meth:`node.trust.NodeTrust.trusted_floor_ms`): time cannot be before
  what the district already stamped;
* **ahead**: at the last sync the wall clock was later than the peer's time (the ``Date`` of its
  answer, :attr:`sync.transport.HttpTransport.peer_time_ms`) plus the skew. The observation is
  kept in ``node_state``; the next sync with a sane clock (the background sync runs every
  minute) clears it, so once the clock is corrected writing resumes by itself.

:func:`check` runs inside every gated write transaction (:class:`node.writer.EventWriter`) and
raises :class:`ClockWrong`, a :class:`~node.writegate.WriteBlocked` (API ``write_blocked``,
503), whose message names the two times.

The received side (:func:`implausible_events`): an event whose ``at`` (its origin's wall time)
lies outside ``[its own HLC time - skew, now + skew]`` came from a clock that was wrong: the HLC
part never falls below what the origin had seen, so an ``at`` far below it means the origin's
clock was behind; an ``at`` in the future means it was ahead. ``motcua doctor`` lists them.

A caller-supplied ``received_at`` (``POST /api/v1/dossiers``) is bounded by the same window
(:func:`check_received_at`): a reception cannot be backdated before the trusted floor or dated in
the future, beyond the skew.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from node.domain.errors import DomainError
from node.domain.vietnam_time import VIETNAM
from node.writegate import NodeStateRow, WriteBlocked
from sync.clock import physical_ms
from sync.wire import Event, load_stored_event

KEY = "clock_observation"


class ClockWrong(WriteBlocked):
    """Raised when a write is refused because the PC clock is wrong."""


def _show(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).astimezone(VIETNAM).strftime("%H:%M %d/%m/%Y")


def message(wall_ms: int, trusted_ms: int, ahead: bool) -> str:
    side = "chạy nhanh" if ahead else "chạy chậm"
    return (f"Đồng hồ của máy tính này sai: máy đang chỉ {_show(wall_ms)}, nhưng thời gian tin cậy (của huyện) là "
            f"{_show(trusted_ms)} (máy {side}). Hãy chỉnh lại đồng hồ rồi tiếp tục; chưa ghi gì. (This PC's clock "
            f"is wrong: {_show(wall_ms)} here, trusted time {_show(trusted_ms)}.)")


def observe_peer(peer_ms: int | None, wall_ms: int) -> None:
    """Keep what the last sync said of this clock (``peer_ms``: the peer's time then)."""
    if peer_ms is None:
        return
    value = json.dumps({"peer_ms": int(peer_ms), "wall_ms": int(wall_ms)})
    NodeStateRow.insert(key=KEY, value=value).on_conflict(
        conflict_target=[NodeStateRow.key], update={NodeStateRow.value: value}).execute()


def problem(wall_ms: int, floor_ms: int, skew_ms: int) -> str:
    """The refusal message if the clock is wrong now, else ""."""
    if floor_ms and wall_ms + skew_ms < floor_ms:
        return message(wall_ms, floor_ms, ahead=False)
    row = NodeStateRow.get_or_none(NodeStateRow.key == KEY)
    if row is not None:
        seen = json.loads(row.value)
        if seen["wall_ms"] > seen["peer_ms"] + skew_ms:
            # what the peer's time is now, had this clock run true since: the time staff must set
            return message(wall_ms, seen["peer_ms"] + (wall_ms - seen["wall_ms"]), ahead=True)
    return ""


def check(wall_ms: int, floor_ms: int, skew_ms: int) -> None:
    found = problem(wall_ms, floor_ms, skew_ms)
    if found:
        raise ClockWrong(found)


def check_received_at(received_at: Any, wall_ms: int, floor_ms: int, skew_ms: int) -> None:
    """A caller-supplied reception time is bounded by the same window as this clock: not before
    the trusted floor, not after now, each less the skew; a backdated or future reception is
    refused (``invalid_input``), since it would move the legal dates and the appointment."""
    if not isinstance(received_at, int) or isinstance(received_at, bool):
        return  # its type is refused by the dossier's validation, with its own message
    if received_at > wall_ms + skew_ms:
        raise DomainError(f"received_at {_show(received_at)} is in the future (now {_show(wall_ms)})", "received_at")
    if floor_ms and received_at < floor_ms - skew_ms:
        raise DomainError(f"received_at {_show(received_at)} is before the trusted time {_show(floor_ms)}: a "
                          f"reception cannot be backdated past the last district-stamped time", "received_at")


def implausible(event: Event, now_ms: int, skew_ms: int) -> str:
    """"behind", "ahead" or "" for a received event's ``at``."""
    if event.at < physical_ms(event.hlc) - skew_ms:
        return "behind"
    if event.at > now_ms + skew_ms:
        return "ahead"
    return ""


def implausible_events(store: Any, now_ms: int, skew_ms: int, limit: int = 100) -> list[dict[str, Any]]:
    """Received events (not this node's) whose ``at`` lies outside their origin's plausible window."""
    out = []
    for head in store.feeds():
        for stored in store.stored_feed(head.origin, head.scope):
            event = load_stored_event(stored.raw)
            why = implausible(event, now_ms, skew_ms)
            if why:
                out.append({"ref": event.ref, "origin": event.origin, "at": event.at,
                            "hlc_ms": physical_ms(event.hlc), "clock": why})
                if len(out) >= limit:
                    return out
    return out
