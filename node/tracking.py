"""What a citizen may read about a dossier without signing in: the public status lookup's query.

:func:`find` answers only when both the dossier code and the check code printed on the receipt
match (:mod:`node.domain.lookup` explains the code and why it verifies on every replica), and
then only what the receipt already shows: code, procedure, status, appointment. Anything else,
an unknown code, a wrong, missing or malformed check code, a dossier received before check codes
were recorded on a node other than its receiving one, is the same ``None``: the lookup never
tells a guesser that a code exists.

A code is found as the dossier's current code or any code it was issued before (a citizen's
receipt shows the provisional ``TAM-…`` code the final one later replaced).

The rating page (:mod:`web.rating`) finds a dossier the same way (:func:`find_for_rating`) and
adds only its id and whether it was rated.
"""

from __future__ import annotations

from typing import Any

from node.binding import node_store
from node.domain import dossier as domain
from node.domain.errors import DossierNotFound
from node.domain.lookup import check_code, matches
from node.domain.text import forbidden_char
from node.models import DossierRow, DossierServiceRow, IssuedCodeRow

MAX_CODE_CHARS = 60


def _dossier_by_code(code: str) -> DossierRow | None:
    row = DossierRow.get_or_none(DossierRow.code == code)
    if row is not None:
        return row
    issued = IssuedCodeRow.select(IssuedCodeRow.dossier_id).where(IssuedCodeRow.code == code).first()
    return DossierRow.get_or_none(DossierRow.id == issued.dossier_id) if issued is not None else None


def recorded_check(dossier_id: str, node_id: str, secret: bytes) -> str:
    """The dossier's check code: the one its signed reception event records, else (a dossier this
    node received before codes were recorded) recomputed from this node's secret, else ""."""
    entity = f"{domain.KIND}/{dossier_id}"
    reception = next((e for e in node_store().events_for_entities([entity])[entity]
                      if e.type == domain.RECEIVED and e.ref == dossier_id), None)
    if reception is None:
        return ""
    recorded = reception.body.get("lookup_check")
    if isinstance(recorded, str) and recorded:
        return recorded
    return check_code(secret, dossier_id) if reception.origin == node_id else ""


def find(code: str, check: str, *, node_id: str, secret: bytes) -> dict[str, Any] | None:
    """The public facts of the dossier with this code and check code, or None (see above)."""
    code = " ".join(code.split()).upper()[:MAX_CODE_CHARS]
    if not code or not check or forbidden_char(code) or forbidden_char(check):
        return None
    row = _dossier_by_code(code)
    if row is None or not matches(recorded_check(row.id, node_id, secret), check):
        return None
    return {"code": row.code, "procedure": row.procedure_name, "status": row.status,
            "due_at": row.new_due_at or row.due_at}


def _rating_facts(row: DossierRow) -> dict[str, Any]:
    service = DossierServiceRow.get_or_none(DossierServiceRow.dossier_id == row.id)
    return {"id": row.id, "code": row.code, "procedure": row.procedure_name, "status": row.status,
            "rating": service.rating if service is not None else ""}


def find_for_rating(code: str, check: str, *, node_id: str, secret: bytes) -> dict[str, Any] | None:
    """What the public rating page shows (Decree 61 art. 31): the public facts of :func:`find`
    plus the dossier's id and whether it was rated; None exactly when :func:`find` is None."""
    if find(code, check, node_id=node_id, secret=secret) is None:
        return None
    row = _dossier_by_code(" ".join(code.split()).upper()[:MAX_CODE_CHARS])
    return _rating_facts(row) if row is not None else None


def rating_facts(dossier_id: str) -> dict[str, Any]:
    """The same facts for the desk's tablet page; :class:`DossierNotFound` for an unknown id."""
    row = DossierRow.get_or_none(DossierRow.id == dossier_id)
    if row is None:
        raise DossierNotFound(f"no dossier {dossier_id} on this node", "id")
    return _rating_facts(row)
