"""The OpenAPI 3.1 description of ``/api/v1``, written by hand beside the routes (issue 14.6).

Served at ``/api/v1/openapi.json`` (to any signed-in account or token, like the rest of the API).
:data:`OPERATIONS` maps each Flask endpoint of :mod:`web.api` to its method, path and operation;
``tests/integration/test_openapi.py`` checks it against the app's ``url_map`` both ways (every
route documented, every documented route served, the methods equal), and
``tests/scenarios/test_api_schemathesis.py`` runs schemathesis against a served node with it.

What the description promises, and the code keeps:

- authentication: ``Authorization: Bearer <personal API token>`` (``bearerAuth``) on every
  operation, or the web UI's session cookie with the page's CSRF token (``sessionCookie``);
- one error shape for every refusal, :data:`ERROR` (``{"error": {"code", "message", "field"}}``),
  with the stable codes listed in :mod:`web.api`;
- every state-changing operation takes an ``Idempotency-Key`` header (:mod:`web.idempotency`).

Request schemas describe the shape; rules the schema cannot state (the procedure must be in the
catalogue in force, an ID number's province code, the allowed status transitions) answer 422
``invalid_input`` or 409 ``invalid_transition`` with the field named.
"""

from __future__ import annotations

from typing import Any

from node import __version__
from node.domain.dossier import CHANNELS, STATUSES, UPDATABLE_FIELDS
from node.domain.inputs import MAX_INSTANT_MS, MIN_INSTANT_MS

JSON = "application/json"
ERROR_CODES = ("bad_json", "bad_idempotency_key", "unauthenticated", "forbidden", "csrf_failed", "not_found",
               "method_not_allowed", "invalid_transition", "no_scheduler", "too_large", "invalid_input",
               "idempotency_key_reused", "write_blocked", "read_only", "storage_full", "not_complete")
ERROR: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message", "field"],
        "additionalProperties": False,
        "properties": {
            "code": {"type": "string", "enum": list(ERROR_CODES)},
            "message": {"type": "string", "minLength": 1},
            "field": {"type": ["string", "null"], "description": "the body field (dotted path), query parameter "
                                                                 "or header at fault, when there is one"},
        },
    }},
}
WHY = {
    400: "Malformed request: the body is not a JSON object (`bad_json`), or a bad `Idempotency-Key`.",
    401: "No credential, or one unknown, expired or revoked (`unauthenticated`).",
    403: "The account's role, the node's role or the token's scope does not allow this (`forbidden`); a "
         "signed-in browser's write without its CSRF token (`csrf_failed`).",
    404: "No such dossier or conflict (`not_found`).",
    409: "The change is not possible now: not from the dossier's present state (`invalid_transition`), no "
         "background sync on this node (`no_scheduler`), or a file still arriving (`not_complete`).",
    413: "The body is larger than 1 MiB (`too_large`).",
    422: "A field breaks a rule (`invalid_input`, `field` names it), or the `Idempotency-Key` was used with "
         "another request (`idempotency_key_reused`).",
    503: "This node must sync before it may write (`write_blocked`), or its database is read-only: it serves "
         "reads and sync pulls and refuses every write (`read_only`). Nothing was written.",
    507: "The disk is full: the write was not stored, and nothing stored before is lost (`storage_full`). "
         "Writes resume once space is freed.",
}
TEXT = {"type": "string"}
INT = {"type": "integer"}
MS = {"type": "integer", "description": "epoch milliseconds"}
INSTANT = {"type": "integer", "minimum": MIN_INSTANT_MS, "exclusiveMaximum": MAX_INSTANT_MS,
           "description": "epoch milliseconds, before the year 2100"}
MS_OR_NULL = {"type": ["integer", "null"], "description": "epoch milliseconds"}
ANY_OBJECT = {"type": "object"}


def opt_text(limit: int) -> dict[str, Any]:
    """An optional text field: null is read as empty, as the domain does."""
    return {"type": ["string", "null"], "maxLength": limit}


def clamped(low: int, high: int) -> dict[str, Any]:
    """An integer query parameter; values outside ``low..high`` are brought within it, not refused."""
    return {"type": "integer", "description": f"{low} to {high}; other values are clamped"}

DOSSIER: dict[str, Any] = {
    "type": "object",
    "required": ["id", "code", "status", "national_code", "procedure_code", "applicant_name", "received_at",
                 "due_at", "heads", "owner", "scope", "origin"],
    "properties": {
        **{name: TEXT for name in ("id", "scope", "origin", "code", "procedure_code", "procedure_name",
                                   "applicant_name", "id_number", "phone", "address", "note", "owner",
                                   "procedure_key", "sector", "catalogue_version", "units_version",
                                   "apology_reason", "lookup_check")},
        "status": {"type": "string", "enum": list(STATUSES)},
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "national_code": INT,
        "received_at": MS, "updated_at": MS, "updated_hlc": INT, "event_count": INT, "open_conflicts": INT,
        "supplement_requests": INT,
        "due_at": MS_OR_NULL, "apology_at": MS_OR_NULL, "new_due_at": MS_OR_NULL,
        "heads": {"type": "array", "items": TEXT},
        "history": {"type": "array", "items": {"type": "array"}},
        "pauses": {"type": "array", "items": {"type": "array"}},
        "notices": {"type": "array", "items": TEXT,
                    "description": "on a new dossier with a provisional code: what staff must know"},
        "deadline": ANY_OBJECT,
        "timeline": {"type": "array", "items": {
            "type": "object",
            "required": ["ref", "type", "at", "author", "origin", "body", "parents"],
            "properties": {"ref": TEXT, "type": TEXT, "at": MS, "hlc": INT, "author": TEXT, "origin": TEXT,
                           "office": TEXT, "violation": TEXT, "body": ANY_OBJECT,
                           "parents": {"type": "array", "items": TEXT}},
        }},
    },
}
CONFLICT: dict[str, Any] = {
    "type": "object",
    "required": ["id", "dossier_id", "kind", "status", "winner", "loser"],
    "properties": {"id": TEXT, "dossier_id": TEXT, "kind": TEXT, "status": TEXT, "winner": TEXT, "loser": TEXT,
                   "versions": ANY_OBJECT},
}


def items_of(schema: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"type": "object", "required": ["items", *extra], "properties": {
        "items": {"type": "array", "items": schema}, **extra}}


def query(name: str, schema: dict[str, Any], description: str, required: bool = False) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


def path(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}


IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key", "in": "header", "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$"},
    "description": "Sent again with the same request, returns the first answer and writes nothing; with another "
                   "request, refused (422 `idempotency_key_reused`). Kept 7 days per account.",
}


def body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {JSON: {"schema": schema}}}


def operation(op_id: str, summary: str, ok: dict[str, Any], *errors: int, status: int = 200,
              parameters: tuple[dict[str, Any], ...] = (), request: dict[str, Any] | None = None,
              writes: bool = False, ok_content: dict[str, Any] | None = None) -> dict[str, Any]:
    codes = {401, 403, *errors}
    if request is not None:
        codes |= {400, 413, 422}
    if writes:
        codes |= {400, 422, 503, 507}  # 503 write_blocked or read_only, 507 storage_full (node.storage)
        parameters = (*parameters, IDEMPOTENCY_KEY)
    responses: dict[str, Any] = {str(status): {"description": "OK", "content": ok_content or {JSON: {"schema": ok}}}}
    for code in sorted(codes):
        responses[str(code)] = {"$ref": f"#/components/responses/E{code}"}
    op: dict[str, Any] = {"operationId": op_id, "summary": summary, "responses": responses}
    if parameters:
        op["parameters"] = list(parameters)
    if request is not None:
        op["requestBody"] = request
    return op


NEW_DOSSIER = {
    "type": "object",
    "required": ["procedure", "applicant"],
    "properties": {
        "procedure": {"type": "object", "required": ["code"], "properties": {
            "code": {"type": "string", "minLength": 1, "maxLength": 40,
                     "description": "national code or key of a procedure in the catalogue in force (GET /procedures)"},
            "name": opt_text(300)}},
        "applicant": {"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 200},
            "id_number": {"type": ["string", "null"], "pattern": "^([0-9]{12})?$",
                          "description": "12 digits whose first three name a province of birth registration"},
            "phone": opt_text(20),
            "address": opt_text(300)}},
        "channel": {"type": "string", "enum": list(CHANNELS)},
        "due_at": {**MS_OR_NULL, "description": "an officer's appointment (epoch ms, after now); default: computed"},
        "note": opt_text(2000),
        "details": ANY_OBJECT,
        "components": {"type": "array"},
    },
}
DOSSIER_PATH = (path("dossier_id"),)
CONFLICT_PATH = (path("conflict_id"),)

# endpoint -> (method, path, operation)
OPERATIONS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "api.create_dossier": ("post", "/dossiers", operation(
        "createDossier", "Receive a new dossier (code, appointment and receipt check computed here)",
        DOSSIER, status=201, request=body(NEW_DOSSIER), writes=True)),
    "api.list_dossiers": ("get", "/dossiers", operation(
        "listDossiers", "Dossiers newest first, by search text (code, ID number, name without diacritics)",
        items_of(DOSSIER, total=INT, limit=INT, offset=INT), 422, parameters=(
            query("q", TEXT, "search text"),
            query("status", {"type": "string", "enum": ["", *STATUSES]}, "status (empty: any)"),
            query("limit", clamped(1, 500), "page size, default 50"),
            query("offset", clamped(0, 10**9), "dossiers to skip")))),
    "api.get_dossier": ("get", "/dossiers/{dossier_id}", operation(
        "getDossier", "One dossier with its timeline and deadline", DOSSIER, 404, parameters=DOSSIER_PATH)),
    "api.update_dossier": ("patch", "/dossiers/{dossier_id}", operation(
        "updateDossier", "Change the applicant's phone or address, or the note", DOSSIER, 404,
        parameters=DOSSIER_PATH, writes=True, request=body({
            "type": "object", "required": ["fields"], "properties": {"fields": {
                "type": "object", "minProperties": 1, "additionalProperties": False,
                "properties": {f: opt_text(2000 if f == "note" else 300) for f in UPDATABLE_FIELDS}}}}))),
    "api.change_status": ("post", "/dossiers/{dossier_id}/status", operation(
        "changeStatus", "Move the dossier on (a processing -> processing with target_office is a transfer)",
        DOSSIER, 404, 409, parameters=DOSSIER_PATH, writes=True, request=body({
            "type": "object", "required": ["to"], "properties": {
                "to": {"type": "string", "enum": list(STATUSES)},
                "reason": {"type": ["string", "null"], "description": (
                    "cut at 2000 characters; required (printed on the slip) for refused, "
                    "supplement_requested, withdrawal_requested and stopped")},
                "target_office": {"type": "string", "description": "the receiving office's unit code"}}}))),
    "api.issue_apology": ("post", "/dossiers/{dossier_id}/apology", operation(
        "issueApology", "Mẫu 04: apologise for a late dossier and set a new return date", DOSSIER, 404,
        parameters=DOSSIER_PATH, writes=True, request=body({
            "type": "object", "required": ["reason", "new_due_at"], "properties": {
                "reason": {"type": "string", "minLength": 1, "maxLength": 2000},
                "new_due_at": {"oneOf": [INSTANT, {"type": "string",
                                                   "description": "YYYY-MM-DD HH:MM, Vietnam time"}]}}}))),
    "files_api.api_list": ("get", "/dossiers/{dossier_id}/files", operation(
        "listFiles", "The files attached to a dossier, each with its state on this node (complete, receiving, "
        "not_fetched, purged)", items_of(ANY_OBJECT), 404, parameters=DOSSIER_PATH)),
    "files_api.api_attach": ("post", "/dossiers/{dossier_id}/files", operation(
        "attachFile", "Attach the pages of one paper (JPEG/PNG, assembled into one PDF) or one PDF", ANY_OBJECT,
        404, 413, 422, 503, 507, status=201, parameters=(*DOSSIER_PATH, IDEMPOTENCY_KEY),
        request={"required": True, "content": {
            "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                "file": {"type": "array", "items": {"type": "string", "format": "binary"}},
                "component": opt_text(200), "name": opt_text(200),
                "kind": {"type": "string", "enum": ["scan", "result"]},
                "grayscale": {"type": "string", "enum": ["", "1", "true", "on"]}}}}}})),
    "files_api.api_read": ("get", "/files/{file_hash}", operation(
        "readFile", "A complete file's bytes, by its SHA-256", ANY_OBJECT, 404, 409,
        parameters=(path("file_hash"),), ok_content={"application/pdf": {"schema": {"type": "string",
                                                                                   "format": "binary"}}})),
    "api.deadline_warnings": ("get", "/deadlines", operation(
        "deadlineWarnings", "Open dossiers overdue or due within a working day", items_of(ANY_OBJECT), 422,
        parameters=(query("limit", clamped(1, 100_000), "default 100"),))),
    "api.reference_in_force": ("get", "/reference", operation(
        "referenceInForce", "Reference data versions in force on this node", items_of(ANY_OBJECT))),
    "api.procedures": ("get", "/procedures", operation(
        "procedures", "The procedures reception accepts", items_of(ANY_OBJECT))),
    "api.codes_status": ("get", "/codes", operation(
        "codesStatus", "Number blocks held and dossiers waiting for a final code", ANY_OBJECT)),
    "api.bieu_06": ("get", "/reports/bieu-06", operation(
        "bieu06", "Biểu 06 for a period, as JSON, CSV or XLSX", ANY_OBJECT, 422, ok_content={
            JSON: {"schema": ANY_OBJECT}, "text/csv": {"schema": TEXT},
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {"schema": TEXT}},
        parameters=(query("from", {"type": "string", "format": "date"}, "first day", required=True),
                    query("to", {"type": "string", "format": "date"}, "last day", required=True),
                    query("unit", TEXT, "one unit (default: all)"),
                    query("format", {"type": "string", "enum": ["json", "csv", "xlsx"]}, "default json")))),
    "api.list_conflicts": ("get", "/conflicts", operation(
        "listConflicts", "Conflicts found by merging", items_of(CONFLICT), 422, parameters=(
            query("status", {"type": "string", "enum": ["open", "resolved", "merged", ""]}, "default open"),
            query("limit", clamped(1, 100_000), "default 100")))),
    "api.get_conflict": ("get", "/conflicts/{conflict_id}", operation(
        "getConflict", "One conflict with both versions", CONFLICT, 404, parameters=CONFLICT_PATH)),
    "api.resolve_conflict": ("post", "/conflicts/{conflict_id}/resolve", operation(
        "resolveConflict", "Keep one version, with a reason", CONFLICT, 404, parameters=CONFLICT_PATH, writes=True,
        request=body({"type": "object", "required": ["choose", "reason"], "properties": {
            "choose": {"type": "string", "description": "the ref of the version to keep"},
            "reason": {"type": "string", "minLength": 1, "description": "cut at 2000 characters"}}}))),
    "api.sync_status": ("get", "/sync/status", operation(
        "syncStatus", "Link to the parent, events pending each way, write block", ANY_OBJECT)),
    "api.sync_now": ("post", "/sync/now", operation(
        "syncNow", "Start a sync with the parent now", {"type": "object", "required": ["triggered"],
                                                          "properties": {"triggered": {"type": "boolean"}}},
        409, status=202, writes=True)),
    "api.node_status": ("get", "/node", operation(
        "nodeStatus", "This node: id, role, unit, counts, write block", {
            "type": "object", "required": ["node_id", "role", "unit"],
            "properties": {"node_id": TEXT, "role": TEXT, "unit": TEXT, "events": INT, "dossiers": INT}})),
    "api.openapi": ("get", "/openapi.json", operation(
        "openapi", "This description", ANY_OBJECT)),
}


# where a dossier's id comes from for the operations on it (OpenAPI links; clients and
# schemathesis's stateful phase follow them)
LINKS = {
    "createDossier": {op: {"operationId": op, "parameters": {"dossier_id": "$response.body#/id"}}
                      for op in ("getDossier", "updateDossier", "changeStatus", "issueApology")},
    "listConflicts": {op: {"operationId": op, "parameters": {"conflict_id": "$response.body#/items/0/id"}}
                      for op in ("getConflict", "resolveConflict")},
}


def spec(server_url: str = "/api/v1", procedure_codes: list[str] | None = None,
         now_ms: int | None = None) -> dict[str, Any]:
    """The OpenAPI document; ``server_url`` is where ``/api/v1`` is served, ``procedure_codes``
    the codes and keys of the catalogue in force (what reception accepts), ``now_ms`` the node's
    clock (an appointment given at reception lies after it), when known."""
    import copy

    paths: dict[str, dict[str, Any]] = {}
    for method, route, op in copy.deepcopy(OPERATIONS).values():
        paths.setdefault(route, {})[method] = op
        for status, response in op["responses"].items():
            if int(status) < 300 and op["operationId"] in LINKS:
                response["links"] = LINKS[op["operationId"]]
    if procedure_codes:
        code = paths["/dossiers"]["post"]["requestBody"]["content"][JSON]["schema"]["properties"]["procedure"]
        code["properties"]["code"]["enum"] = sorted(set(procedure_codes))
    if now_ms is not None:
        new = paths["/dossiers"]["post"]["requestBody"]["content"][JSON]["schema"]["properties"]
        new["due_at"] = {**new["due_at"], "minimum": now_ms, "exclusiveMaximum": MAX_INSTANT_MS}
    error = {JSON: {"schema": {"$ref": "#/components/schemas/Error"}}}
    responses: dict[str, Any] = {f"E{code}": {"description": why, "content": error} for code, why in WHY.items()}
    responses["E401"]["headers"] = {"WWW-Authenticate": {"schema": {"type": "string", "pattern": "^Bearer"},
                                                         "description": "Bearer realm=\"motcua\""}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "motcua node API", "version": __version__,
                 "description": "The JSON API of one motcua node (commune, mobile or district). Errors always "
                                "have the shape of `Error`; every write is signed into the node's event log "
                                "and authored by the authenticated account."},
        "servers": [{"url": server_url}],
        "security": [{"bearerAuth": []}, {"sessionCookie": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "mct_…",
                               "description": "a personal API token: motcua token create --user … --scope read|write"},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "motcua_auth",
                                  "description": "the web UI's sign-in; writes also need the page's CSRF token in "
                                                 "the X-CSRFToken header"},
            },
            "schemas": {"Error": ERROR, "Dossier": DOSSIER, "Conflict": CONFLICT},
            "responses": responses,
        },
    }
