"""A small JSON API over the node's use cases: create, change status, update, read, list.

Every route needs a signed-in staff session or a personal API token, checked before the body is
read (:mod:`web.api_auth`); each view declares its action from :mod:`web.permissions` (the same
rules as the web UI). The author of every change is the authenticated account; every read of
personal data leaves an access-log row naming it.

Every write goes through :mod:`node.services` and so through the event log. Errors have one
shape, ``{"error": {"code", "message", "field"}}``, with stable codes: ``bad_json`` (400),
``unauthenticated`` (401), ``forbidden`` and ``csrf_failed`` (403), ``invalid_input`` (422),
``too_large`` (413), ``method_not_allowed`` (405), ``invalid_transition`` (409), ``not_found``
(404), ``write_blocked`` (503: the node must sync before writing, see :mod:`node.writegate`),
``bad_idempotency_key`` (400), ``idempotency_key_reused`` (422), and from :mod:`web.storage_errors`
``storage_full`` (507: the disk is full) and ``read_only`` (503: the database cannot be written).

Every state-changing call (:func:`idempotent`) accepts an ``Idempotency-Key`` header: a retry with
the same key and body answers as the first time and writes nothing (:mod:`web.idempotency`).

``/api/v1/openapi.json`` describes every route (OpenAPI 3.1, :mod:`web.openapi`).

A new dossier that got a provisional code (no leased number block covers its day) answers with
``notices``: the clear message staff read; the final code follows at the next sync. A dossier's
answer carries ``deadline`` (early / on time / late or within time / overdue by the national
rule, and a ``due_soon`` or ``overdue`` warning).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Response, current_app, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from node import codes, reporting
from node.domain.errors import DomainError, DossierNotFound, InvalidTransition
from node.domain.vietnam_time import VIETNAM, vn_day
from node.dossiers import state_to_dict
from node.services import Node
from node.writegate import WriteBlocked
from web import idempotency
from web import permissions as can
from web.api_auth import api_error, audit, authenticate, author, requires
from web.jsonbody import MAX_BODY_BYTES, BadJson, read_object

bp = Blueprint("api", __name__, url_prefix="/api/v1")
bp.before_request(authenticate)
_error = api_error


def _node() -> Node:
    return current_app.extensions["motcua.node"]


@bp.errorhandler(DossierNotFound)
def _not_found(e: DossierNotFound) -> tuple[Response, int]:
    return _error(404, "not_found", e.message, e.field)


@bp.errorhandler(InvalidTransition)
def _invalid_transition(e: InvalidTransition) -> tuple[Response, int]:
    return _error(409, "invalid_transition", e.message, e.field)


@bp.errorhandler(WriteBlocked)
def _write_blocked(e: WriteBlocked) -> tuple[Response, int]:
    return _error(503, "write_blocked", e.message)


@bp.errorhandler(DomainError)
def _invalid(e: DomainError) -> tuple[Response, int]:
    return _error(422, "invalid_input", e.message, e.field)


@bp.errorhandler(BadJson)
def _bad_json(e: BadJson) -> tuple[Response, int]:
    return _error(e.status, e.code, e.message)


def _json_body() -> dict[str, Any]:
    return read_object(request)


F = TypeVar("F", bound=Callable[..., Any])


def idempotent(view: F) -> F:
    """A state-changing view: with an ``Idempotency-Key`` header it runs once per key and account
    (:func:`web.idempotency.run_once`); without one it runs as it always did."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        key = request.headers.get(idempotency.HEADER)
        if key is None:
            return view(*args, **kwargs)
        try:
            idempotency.check_key(key)
        except idempotency.BadKey as e:
            return _error(400, "bad_idempotency_key", str(e), idempotency.HEADER)
        request.max_content_length = MAX_BODY_BYTES
        try:
            body = request.get_data(cache=True)
        except RequestEntityTooLarge:
            return view(*args, **kwargs)  # refused as too_large there, and nothing is kept
        fp = idempotency.fingerprint(request.method, request.path, body)
        answer = idempotency.run_once(g.staff.username, key, fp, lambda: view(*args, **kwargs))
        if isinstance(answer, idempotency.Previous):
            if answer.fingerprint != fp:
                return _error(422, "idempotency_key_reused", "this Idempotency-Key was already used with another "
                                                             "request; use a new key for a new write",
                              idempotency.HEADER)
            return answer.response()
        return answer

    wrapper.idempotent = True  # type: ignore[attr-defined]  # the tests check every write has it
    return wrapper  # type: ignore[return-value]


@bp.app_errorhandler(404)
def _no_route(e: Exception) -> Response | tuple[Response, int]:
    if request.path.startswith("/api/"):
        return _error(404, "not_found", "no such API endpoint")
    return e  # type: ignore[return-value]  # other blueprints render their own pages


@bp.app_errorhandler(405)
def _bad_method(e: Exception) -> Response | tuple[Response, int]:
    if request.path.startswith("/api/"):
        response, status = _error(405, "method_not_allowed", f"{request.method} is not allowed here")
        allowed = getattr(e, "valid_methods", None)
        if allowed:  # RFC 9110: a 405 lists what the resource does accept
            response.headers["Allow"] = ", ".join(sorted(allowed))
        return response, status
    return e  # type: ignore[return-value]


@bp.post("/dossiers")
@requires(can.RECEIVE)
@idempotent
def create_dossier() -> tuple[Response, int]:
    node = _node()
    body = _json_body()
    if isinstance(body, dict):  # the forms print the receiving officer: the account's own name, never a claim
        body = {**body, "officer_name": g.staff.full_name}
    state = node.create_dossier(author(), body)
    data = state_to_dict(state)
    data["lookup_check"] = node.lookup_check(state.id)  # for a receipt printed by the caller
    if codes.is_provisional(state.code):
        day = vn_day(state.received_at)
        data["notices"] = [codes.provisional_notice(state.code, node.settings.AGENCY_ID, day)]
    return jsonify(data), 201


@bp.get("/dossiers")
@requires(can.READ)
def list_dossiers() -> Response:
    try:
        limit = int(request.args.get("limit", 50))
        offset = int(request.args.get("offset", 0))
    except ValueError:
        raise DomainError("limit and offset must be integers", "limit") from None
    q = request.args.get("q", "")
    items, total = _node().list_dossiers(q=q, status=request.args.get("status", ""), limit=limit, offset=offset)
    # like the desk's search: the count, not the query (it may be an ID number)
    audit("", "api:search" if q.strip() else "api:list", detail=f"{total} kết quả")
    return jsonify({"items": items, "total": total, "limit": limit, "offset": offset})


@bp.get("/dossiers/<dossier_id>")
@requires(can.READ)
def get_dossier(dossier_id: str) -> Response:
    node = _node()
    state = node.get_dossier(dossier_id)
    data = state_to_dict(state)
    data["lookup_check"] = node.lookup_check(dossier_id)
    data["national_code"] = int(node.reference.status_mapping().national(state.status))
    data["deadline"] = node.deadline(dossier_id)
    data["timeline"] = node.timeline(dossier_id)
    audit(dossier_id, "api")
    return jsonify(data)


def _instant(value: Any, field: str) -> int:
    """Epoch ms, or a Vietnam wall-clock time ``YYYY-MM-DD HH:MM`` (ISO, ``T`` allowed)."""
    if type(value) is int:
        return value
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            pass
        else:
            return int((moment if moment.tzinfo else moment.replace(tzinfo=VIETNAM)).timestamp() * 1000)
    raise DomainError(f"{field} must be epoch milliseconds or 'YYYY-MM-DD HH:MM' (Vietnam time)", field)


@bp.post("/dossiers/<dossier_id>/apology")
@requires(can.PROCESS)
@idempotent
def issue_apology(dossier_id: str) -> Response:
    """Mẫu 04: reason and new return date; the print view /in/<id>/xin-loi reads them."""
    body = _json_body()
    reason = body.get("reason", "")
    if not isinstance(reason, str):
        raise DomainError("reason must be text", "reason")
    new_due_at = _instant(body.get("new_due_at"), "new_due_at")
    node = _node()
    state = node.issue_apology(author(), dossier_id, reason, new_due_at)
    data = state_to_dict(state)
    data["deadline"] = node.deadline(dossier_id)
    return jsonify(data)


@bp.get("/deadlines")
@requires(can.READ)
def deadline_warnings() -> Response:
    """Open dossiers overdue or due within a working day, most urgent first."""
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        raise DomainError("limit must be an integer", "limit") from None
    items = _node().deadline_warnings(limit)
    audit("", "api:deadlines", detail=f"{len(items)} hồ sơ")
    return jsonify({"items": items})


@bp.get("/reference")
@requires(can.STATUS)
def reference_in_force() -> Response:
    """The catalogue, calendar, status mapping and unit list versions in force on this node."""
    return jsonify({"items": _node().reference_status()})


@bp.get("/procedures")
@requires(can.STATUS)
def procedures() -> Response:
    """The procedures of the catalogue in force (what reception accepts)."""
    return jsonify({"items": _node().procedures()})


@bp.get("/codes")
@requires(can.STATUS)
def codes_status() -> Response:
    """Number blocks held and dossiers still waiting for a final code."""
    return jsonify(_node().codes_status())


def _day(name: str) -> date:
    value = request.args.get(name, "")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DomainError(f"'{name}' must be a date YYYY-MM-DD", name) from None


@bp.get("/reports/bieu-06")
@requires(can.REPORT)
def bieu_06() -> Response:
    """Biểu 06 for ``from``..``to`` (inclusive), ``format`` json (default), csv or xlsx."""
    from node.report_export import CONTENT_TYPES, export_csv, export_filename, export_xlsx
    from node.units import describe_unit

    fmt = request.args.get("format", "json")
    if fmt not in ("json", "csv", "xlsx"):
        raise DomainError("format must be json, csv or xlsx", "format")
    node = _node()
    result = node.report(_day("from"), _day("to"), request.args.get("unit", ""))
    names = {r.unit: describe_unit(r.unit) or r.unit for r in result.report.rows if r.unit}
    audit("", "api:report", detail=f"bieu-06 {result.report.period.first_day}..{result.report.period.last_day} {fmt}")
    if fmt == "json":
        return jsonify(reporting.report_json(result, names))
    content = export_csv(result.report, names) if fmt == "csv" else export_xlsx(
        result.report, names, agency=node.settings.NAME or node.settings.UNIT)
    return Response(content, content_type=CONTENT_TYPES[fmt], headers={
        "Content-Disposition": f'attachment; filename="{export_filename(result.report, fmt)}"'})


@bp.post("/dossiers/<dossier_id>/status")
@requires(can.PROCESS)
@idempotent
def change_status(dossier_id: str) -> Response:
    body = _json_body()
    to = body.get("to")
    if not isinstance(to, str):
        raise DomainError("'to' (the new status) is required", "to")
    target = body.get("target_office", "")
    if not isinstance(target, str):
        raise DomainError("target_office must be a unit code", "target_office")
    state = _node().change_status(author(), dossier_id, to, body.get("reason", ""), target)
    return jsonify(state_to_dict(state))


@bp.patch("/dossiers/<dossier_id>")
@requires(can.PROCESS)
@idempotent
def update_dossier(dossier_id: str) -> Response:
    body = _json_body()
    fields = body.get("fields")
    if not isinstance(fields, dict):
        raise DomainError("'fields' must be an object", "fields")
    return jsonify(state_to_dict(_node().update_dossier(author(), dossier_id, fields)))


@bp.get("/conflicts")
@requires(can.READ)
def list_conflicts() -> Response:
    status = request.args.get("status", "open")
    if status not in ("open", "resolved", "merged", ""):
        raise DomainError("status must be open, resolved, merged or empty", "status")
    try:
        limit = int(request.args.get("limit", 100))
    except ValueError:
        raise DomainError("limit must be an integer", "limit") from None
    items = _node().list_conflicts(status, limit)
    audit("", "api:conflicts", detail=f"{len(items)} xung đột")
    return jsonify({"items": items})


def _known_conflict(conflict_id: str) -> None:
    """404 for a conflict this node does not hold (the use case's refusal is a 422 for the UI)."""
    from node.models import ConflictRow

    if not ConflictRow.select().where(ConflictRow.id == conflict_id).exists():
        raise DossierNotFound(f"no conflict {conflict_id} on this node", "conflict_id")


@bp.get("/conflicts/<conflict_id>")
@requires(can.READ)
def get_conflict(conflict_id: str) -> Response:
    _known_conflict(conflict_id)
    conflict = _node().get_conflict(conflict_id)
    audit(conflict["dossier_id"], "api:conflict")
    return jsonify(conflict)


@bp.post("/conflicts/<conflict_id>/resolve")
@requires(can.RESOLVE)
@idempotent
def resolve_conflict(conflict_id: str) -> Response:
    _known_conflict(conflict_id)
    body = _json_body()
    choose, reason = body.get("choose"), body.get("reason", "")
    if not isinstance(choose, str) or not isinstance(reason, str):
        raise DomainError("'choose' (the version to keep) and 'reason' are required", "choose")
    return jsonify(_node().resolve_conflict(author(), conflict_id, choose, reason))


@bp.get("/sync/status")
@requires(can.STATUS)
def sync_status() -> Response:
    data = _node().sync_status()
    scheduler = current_app.extensions.get("motcua.scheduler")
    data["scheduler"] = vars(scheduler.state) if scheduler else None
    return jsonify(data)


@bp.post("/sync/now")
@requires(can.SYNC)
@idempotent
def sync_now() -> tuple[Response, int]:
    scheduler = current_app.extensions.get("motcua.scheduler")
    if scheduler is None:
        return _error(409, "no_scheduler", "background sync is not running on this node (no PARENT_URL)")
    scheduler.trigger()
    return jsonify({"triggered": True}), 202


@bp.get("/node")
@requires(can.STATUS)
def node_status() -> Response:
    return jsonify(_node().status())


@bp.get("/openapi.json")
@requires(can.STATUS)
def openapi() -> Response:
    """This API's OpenAPI 3.1 description (:mod:`web.openapi`)."""
    from web.openapi import spec

    accepted = [c for p in _node().procedures() for c in (p["national_code"], p["key"]) if c]
    return jsonify(spec(request.script_root + bp.url_prefix, accepted, _node().wall_ms()))
