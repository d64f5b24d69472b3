"""Reception at the desk: what a ``dossier.received`` body holds beyond the citizen's request.

:func:`prepare` checks the request against the reference data in force (the procedure must be in
the catalogue; a 12-digit ID number must have a valid shape), computes the appointment (ngày hẹn
trả) from the procedure's processing time on the working calendar (the periods of Civil Code
arts. 147-148, the procedure's same-day cut-off: :mod:`node.domain.deadline`), and records
what the dossier was received under: the catalogue, calendar, status mapping and unit-list
versions, and the procedure's own publication version. The components
handed in are kept in ``details`` as the desk lists them (free-form: print views skip what they
cannot read), never filled in from the catalogue. The code is issued
later, inside the write transaction (:mod:`node.codes`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from node.domain import dossier as domain
from node.domain.catalogue import Catalogue, Procedure
from node.domain.citizen_id import InvalidCitizenId, parse_citizen_id
from node.domain.deadline import appointment_at
from node.domain.errors import DomainError
from node.domain.inputs import check_json
from node.domain.vietnam_time import to_ms, to_vn
from node.reference import ReferenceData

_LOCAL_CODE = re.compile(r"^([0-9]\.[0-9]{6})\.")


def find_procedure(catalogue: Catalogue, code: str) -> Procedure:
    """A procedure by national code, local (provincial) code or catalogue key."""
    code = " ".join(str(code or "").split())
    for lookup in (catalogue.by_code, catalogue.by_key):
        try:
            return lookup(code)
        except KeyError:
            pass
    for p in catalogue:
        if p.local_code and p.local_code == code:
            return p
    m = _LOCAL_CODE.match(code)
    if m:
        try:
            return catalogue.by_code(m.group(1))
        except KeyError:
            pass
    raise DomainError(
        f"Thủ tục {code!r} không có trong danh mục thủ tục (phiên bản {catalogue.version}) "
        f"/ procedure {code!r} is not in catalogue version {catalogue.version}",
        "procedure.code",
    )


def check_id_number(data: Mapping[str, Any], now_ms: int) -> None:
    """The precise reason a given ID number is not a 12-digit personal number (empty is allowed)."""
    applicant = data.get("applicant")
    raw = applicant.get("id_number") if isinstance(applicant, Mapping) else None
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return
    try:
        parse_citizen_id(" ".join(raw.split()) if isinstance(raw, str) else raw, today=to_vn(now_ms).date())
    except InvalidCitizenId as e:
        raise DomainError(str(e), "applicant.id_number") from None


def prepare(reference: ReferenceData, data: Mapping[str, Any], now_ms: int) -> dict[str, Any]:
    """The validated body of a new dossier, without its code; raises :class:`DomainError`."""
    if not isinstance(data, Mapping):
        raise DomainError("the dossier must be an object", None)
    check_json(data)  # whatever of it ends up in the signed body (``components`` too) is storable
    check_id_number(data, now_ms)
    body = domain.validate_received({"received_at": now_ms, **data})
    catalogue = reference.catalogue()
    procedure = find_procedure(catalogue, body["procedure"]["code"])
    body["procedure"] = {
        "code": procedure.national_code or procedure.key,
        "name": body["procedure"]["name"] or procedure.name,
        "key": procedure.key,
        "version": procedure.version,
        "sector": procedure.sector,
    }
    if "fee" in body and not (isinstance(data.get("fee"), Mapping) and "amount_vnd" in data["fee"]):
        # Decree 61 art. 22: the procedure's fee, as the catalogue states it, unless exempt
        body["fee"]["amount_vnd"] = 0 if body["fee"]["status"] == "exempt" else sum(
            f.amount_vnd or 0 for f in procedure.fees)
    calendar = reference.calendar()
    computed = to_ms(appointment_at(calendar, to_vn(body["received_at"]), procedure.duration))
    if body["due_at"] is None:
        body["due_at"] = computed
    elif body["due_at"] != computed:
        body["computed_due_at"] = computed  # an officer's override keeps the rule's date beside it
    if "components" in data and "components" not in body["details"]:
        body["details"]["components"] = data["components"]  # the API may list them at the top level
    body["reference"] = reference.versions()
    return body
