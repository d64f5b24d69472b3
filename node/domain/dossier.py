"""The dossier aggregate: its statuses, the transitions between them, and its state as a
deterministic fold of its events (pure core: stdlib only).

Rules
-----
Rule 1. A dossier's state is a function of the *set* of its events, never of their arrival
        order; the fold and its conflict rules live in :mod:`node.domain.merge`.
Rule 2. A status change is checked against :data:`TRANSITIONS` when it is made locally
        (:func:`check_transition` raises) and carries the status its author saw (``from``).
Rule 3. Event types and their bodies:

        ``dossier.received``       procedure {code, name}, applicant {name, id_number, phone,
                                   address}, code, received_at (ms), due_at (ms or null),
                                   channel (desk | mobile | online), note, details
                                   (procedure-specific form fields)
        ``dossier.status_changed`` from, to (statuses below), reason, target_office (transfers)
        ``dossier.updated``        fields {applicant.phone | applicant.address | note: value}
        ``dossier.conflict_resolved`` conflict, choose (event ref kept), reason
        ``dossier.code_assigned``  code (the final code), provisional (the code it replaces),
                                   block (the leased number block it came from)
        ``dossier.apology_issued`` reason, new_due_at (ms): the Mẫu 04 apology and new date
        ``dossier.fee_recorded``   status, amount_vnd, receipt_no (:mod:`node.domain.service`)
        ``dossier.rated``          level, channel, comment (:mod:`node.domain.service`)
        A reception body may carry ``fee`` {status, amount_vnd, receipt_no} (Rule S1) and
        ``officer_name``, the receiving officer's full name the forms print.
        Every event body also names the acting ``office`` (unit code) and its ``role``, as
        a record for people only: authority comes from the origin's certificate
        (:mod:`node.domain.authority`), never from these claims.
        A reception body also carries ``lookup_check``, the check code of the public lookup
        (:mod:`node.domain.lookup`), and may carry what the node knew when it received it:
        procedure {key, version, sector, catalogue_version}, reference {catalogue, units,
        calendar} versions, computed_due_at (ms, when an officer overrode the appointment).
Rule 4. Timing facts for deadlines are part of the fold: the applied status history (status,
        at), supplement pauses (supplement_requested -> the next applied status) and their
        count, and the last apology (:mod:`node.domain.deadline` classifies from these).

The national status codes (domain.md §2.1) are given per internal status in
:data:`NATIONAL_CODE`; the full configurable mapping lives with the procedure catalogue.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from node.domain.errors import DomainError, InvalidTransition
from node.domain.inputs import check_instant, check_json
from node.domain.service import fee_of, validate_fee
from node.domain.text import check_text
from node.domain.text import fold as fold_text

KIND = "dossier"
RECEIVED = "dossier.received"
STATUS_CHANGED = "dossier.status_changed"
UPDATED = "dossier.updated"
CODE_ASSIGNED = "dossier.code_assigned"
APOLOGY_ISSUED = "dossier.apology_issued"
PROVISIONAL_PREFIX = "TAM-"

# Internal statuses (domain.md §2.2) and the national code each maps to by default.
NATIONAL_CODE: Mapping[str, int] = {
    "online_filed": 1,
    "received": 2,
    "refused": 3,
    "processing": 4,
    "supplement_requested": 5,
    "fees_pending": 6,
    "withdrawal_requested": 7,
    "stopped": 8,
    "resolved": 9,
    "returned": 10,
}
STATUSES = tuple(NATIONAL_CODE)
TERMINAL = frozenset({"refused", "stopped", "returned"})

TRANSITIONS: Mapping[str, frozenset[str]] = {
    # online_filed -> supplement_requested -> online_filed: the one-time notice to complete an
    # online filing before acceptance (Decree 61/2018 art. 17(2)(a)); see allowed_moves
    "online_filed": frozenset({"received", "refused", "supplement_requested"}),
    "received": frozenset({"processing", "supplement_requested", "withdrawal_requested", "refused"}),
    # processing -> processing is a transfer to another office (liên thông)
    "processing": frozenset(
        {"processing", "supplement_requested", "fees_pending", "resolved", "withdrawal_requested", "stopped"}
    ),
    "supplement_requested": frozenset({"processing", "withdrawal_requested", "stopped", "online_filed", "refused"}),
    "fees_pending": frozenset({"processing", "resolved", "withdrawal_requested"}),
    "withdrawal_requested": frozenset({"stopped", "processing"}),
    "resolved": frozenset({"returned"}),
    "refused": frozenset(),
    "stopped": frozenset(),
    "returned": frozenset(),
}

# Status groups, beside the transitions they summarise (tests/unit/domain/test_status_groups.py
# holds them to TRANSITIONS): every status is in exactly one of OPEN, PAUSED and FINISHED.
OPEN_STATUSES = ("online_filed", "received", "processing", "fees_pending", "withdrawal_requested")  # the office acts
PAUSED_STATUSES = frozenset({"supplement_requested"})  # waiting for the applicant: the deadline is paused
FINISHED_STATUSES = frozenset({"resolved", "returned", "refused", "stopped"})  # the office's work is done

# Steps the applicant must be told the reason for (Mẫu 02/03 print it; a blank one is a slip with
# no reason on it), and steps that cannot be undone, which the desk confirms before sending.
REASON_REQUIRED = frozenset({"refused", "supplement_requested", "withdrawal_requested", "stopped"})
CONFIRM_REQUIRED = frozenset({"refused", "stopped", "resolved", "returned"})

CHANNELS = ("desk", "mobile", "online")
UPDATABLE_FIELDS = ("applicant.phone", "applicant.address", "note")
_ID_NUMBER = re.compile(r"^[0-9]{12}$")


@dataclass(frozen=True, slots=True)
class DossierState:
    id: str
    scope: str
    origin: str
    code: str
    procedure_code: str
    procedure_name: str
    applicant_name: str
    applicant_name_folded: str
    id_number: str
    phone: str
    address: str
    channel: str
    note: str
    status: str
    owner: str  # the office (unit code) that owns the current stage; see node.domain.merge
    received_at: int
    due_at: int | None
    updated_at: int
    updated_hlc: int
    event_count: int
    heads: tuple[str, ...]
    open_conflicts: int
    # Rule 4 and the reception's reference versions (defaults keep older events readable).
    procedure_key: str = ""
    sector: str = ""
    catalogue_version: str = ""
    units_version: str = ""
    history: tuple[tuple[str, int], ...] = ()  # (status, at) as applied, reception first
    pauses: tuple[tuple[int, int | None], ...] = ()  # supplement pauses (start, end or None)
    supplement_requests: int = 0
    apology_at: int | None = None
    apology_reason: str = ""
    new_due_at: int | None = None
    # fees and satisfaction (node.domain.service Rules S1-S2): "" / None when not on record
    fee_status: str = ""
    fee_amount_vnd: int = 0
    fee_receipt: str = ""
    rating: str = ""
    rated_at: int | None = None
    rating_channel: str = ""
    rating_comment: str = ""

    @property
    def national_code(self) -> int:
        return NATIONAL_CODE[self.status]


def _text(body: Mapping[str, Any], key: str, *, required: bool, limit: int, field: str) -> str:
    value = body.get(key, "")
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise DomainError(f"{field} must be text", field)
    value = " ".join(check_text(value, field).split())
    if required and not value:
        raise DomainError(f"{field} is required", field)
    if len(value) > limit:
        raise DomainError(f"{field} is longer than {limit} characters", field)
    return value


def validate_received(body: Mapping[str, Any]) -> dict[str, Any]:
    """Check and normalise the body of a new dossier; raise :class:`DomainError` on bad input."""
    procedure = body.get("procedure")
    applicant = body.get("applicant")
    if not isinstance(procedure, Mapping):
        raise DomainError("procedure is required", "procedure")
    if not isinstance(applicant, Mapping):
        raise DomainError("applicant is required", "applicant")
    id_number = _text(applicant, "id_number", required=False, limit=12, field="applicant.id_number")
    if id_number and not _ID_NUMBER.match(id_number):
        raise DomainError("the personal ID number must be exactly 12 digits", "applicant.id_number")
    channel = body.get("channel", "desk")
    if channel not in CHANNELS:
        raise DomainError(f"channel must be one of {', '.join(CHANNELS)}", "channel")
    received_at = check_instant(body.get("received_at"), "received_at")
    due_at = body.get("due_at")
    if due_at is not None and (check_instant(due_at, "due_at") < received_at):
        raise DomainError("due_at must be epoch milliseconds after received_at", "due_at")
    extra: dict[str, Any] = {}
    if body.get("fee") is not None:
        extra["fee"] = validate_fee(body["fee"])
    if body.get("officer_name"):
        extra["officer_name"] = _text(body, "officer_name", required=False, limit=200, field="officer_name")
    return {
        **extra,
        "procedure": {
            "code": _text(procedure, "code", required=True, limit=40, field="procedure.code"),
            "name": _text(procedure, "name", required=False, limit=300, field="procedure.name"),
        },
        "applicant": {
            "name": _text(applicant, "name", required=True, limit=200, field="applicant.name"),
            "id_number": id_number,
            "phone": _text(applicant, "phone", required=False, limit=20, field="applicant.phone"),
            "address": _text(applicant, "address", required=False, limit=300, field="applicant.address"),
        },
        "code": _text(body, "code", required=False, limit=40, field="code"),
        "received_at": received_at,
        "due_at": due_at,
        "channel": channel,
        "note": _text(body, "note", required=False, limit=2000, field="note"),
        "details": _details(body.get("details", {})),
    }


MAX_DETAILS_CHARS = 16_000


def _details(value: Any) -> dict[str, Any]:
    """Procedure-specific form fields (documents handed in, fee receipt, birth date, …).

    Forms differ per procedure, so these are kept as given, bounded in size; the catalogue
    decides which are required.
    """
    if not isinstance(value, Mapping):
        raise DomainError("details must be an object", "details")
    check_json(value, "details")
    if len(repr(value)) > MAX_DETAILS_CHARS:
        raise DomainError(f"details are longer than {MAX_DETAILS_CHARS} characters", "details")
    return dict(value)


# A supplement request before acceptance is answered by the citizen's completed filing (back to
# online_filed) or ends in a refusal; one after acceptance by processing, withdrawal or a stop.
_BEFORE_ACCEPTANCE = frozenset({"online_filed", "refused"})


def accepted(history: Iterable[tuple[str, int]]) -> bool:
    """Whether the dossier was ever accepted (a desk reception, or an online filing received)."""
    return any(status == "received" for status, _ in history)  # a desk dossier starts there


def allowed_moves(status: str, history: Iterable[tuple[str, int]]) -> frozenset[str]:
    """The moves open to a dossier now: :data:`TRANSITIONS` narrowed by its history. An online
    filing gets one notice to complete it before acceptance (Decree 61/2018 art. 17(2)(a); not
    checked against Decree 118/2025, which replaces it)."""
    history = tuple(history)
    moves = TRANSITIONS.get(status, frozenset())
    if status == "online_filed" and any(s == "supplement_requested" for s, _ in history):
        return moves - {"supplement_requested"}  # the notice is given once
    if status == "supplement_requested":
        return moves - _BEFORE_ACCEPTANCE if accepted(history) else moves & _BEFORE_ACCEPTANCE
    return moves


def check_transition(current: str, to: str, history: Iterable[tuple[str, int]] | None = None) -> None:
    """Raise :class:`InvalidTransition` unless ``current -> to`` is allowed (given the history,
    when known: :func:`allowed_moves`)."""
    if to not in TRANSITIONS:
        raise InvalidTransition(f"unknown status {to!r}", "to")
    moves = TRANSITIONS[current] if history is None else allowed_moves(current, history)
    if to not in moves:
        allowed = ", ".join(sorted(moves)) or "none (final status)"
        if current == "online_filed" and to == "supplement_requested":
            raise InvalidTransition("an online filing is asked to complete its papers only once before acceptance "
                                    "(Decree 61/2018 art. 17(2)(a))", "to")
        raise InvalidTransition(f"cannot go from {current} to {to}; allowed: {allowed}", "to")


def check_reason(to: str, reason: str) -> None:
    """Refusal, supplement request, withdrawal and stop carry a reason the applicant is told."""
    if to in REASON_REQUIRED and not reason.strip():
        raise DomainError(f"a move to {to} needs a reason (it is printed on the slip for the applicant)", "reason")


def validate_update(fields: Mapping[str, Any]) -> dict[str, str]:
    if not fields:
        raise DomainError("nothing to update", "fields")
    out: dict[str, str] = {}
    for key, value in fields.items():
        if key not in UPDATABLE_FIELDS:
            raise DomainError(f"{key} cannot be changed; allowed: {', '.join(UPDATABLE_FIELDS)}", key)
        out[key] = _text({"v": value}, "v", required=False, limit=2000 if key == "note" else 300, field=key)
    return out


def validate_apology(body: Mapping[str, Any], due_at: int | None) -> dict[str, Any]:
    """The body of a Mẫu 04 apology: a reason and a new return date after the current one."""
    reason = _text(body, "reason", required=True, limit=2000, field="reason")
    new_due_at = check_instant(body.get("new_due_at"), "new_due_at")
    if due_at is not None and new_due_at <= due_at:
        raise DomainError("the new return date must be after the current appointment", "new_due_at")
    return {"reason": reason, "new_due_at": new_due_at}


def _reference(b: Mapping[str, Any]) -> tuple[str, str, str, str]:
    procedure, reference = b["procedure"], b.get("reference")
    reference = reference if isinstance(reference, Mapping) else {}

    def text(m: Mapping[str, Any], key: str) -> str:
        value = m.get(key)
        return value if isinstance(value, str) else ""

    return text(procedure, "key"), text(procedure, "sector"), text(reference, "catalogue"), text(reference, "units")


def initial_state(entity_id: str, creation: Any) -> DossierState:
    """The state a dossier has right after its ``dossier.received`` event."""
    b = creation.body
    key, sector, catalogue_version, units_version = _reference(b)
    fee = fee_of(b["fee"]) if "fee" in b else None
    status = "received" if b["channel"] != "online" else "online_filed"
    return DossierState(
        id=entity_id,
        scope=creation.scope,
        origin=creation.origin,
        code=b["code"],
        procedure_code=b["procedure"]["code"],
        procedure_name=b["procedure"]["name"],
        applicant_name=b["applicant"]["name"],
        applicant_name_folded=fold_text(b["applicant"]["name"]),
        id_number=b["applicant"]["id_number"],
        phone=b["applicant"]["phone"],
        address=b["applicant"]["address"],
        channel=b["channel"],
        note=b["note"],
        status=status,
        owner=creation.scope,  # the fold sets the certified office of the receiving node
        received_at=b["received_at"],
        due_at=b["due_at"],
        updated_at=creation.at,
        updated_hlc=creation.hlc,
        event_count=1,
        heads=(creation.ref,),
        open_conflicts=0,
        procedure_key=key,
        sector=sector,
        catalogue_version=catalogue_version,
        units_version=units_version,
        history=((status, b["received_at"]),),
        **({"fee_status": fee[0], "fee_amount_vnd": fee[1], "fee_receipt": fee[2]} if fee else {}),
    )
