"""The JSON API's routes as tests call them, and who may call each (issue 10).

:data:`EXPECTED` is written out here on purpose, not read from :mod:`web.permissions`, so a
change to the rules shows up as a change of the tests; :func:`api_calls` walks an app's
``url_map``, so a route added later is called too (and must be classified here).
"""

from __future__ import annotations

import re

from tests.factories import sample_dossier

C, H, M, D = "clerk", "head", "mobile", "district_admin"
DESK = {C, H, M}
# endpoint -> roles that may call it on a commune or mobile node, and on a district node
EXPECTED: dict[str, tuple[set[str], set[str]]] = {
    "api.create_dossier": (DESK, set()),
    "api.list_dossiers": (DESK, {D}),
    "api.get_dossier": (DESK, {D}),
    "api.update_dossier": ({C, H}, {D}),
    "api.change_status": ({C, H}, {D}),
    "api.issue_apology": ({C, H}, {D}),
    "api.deadline_warnings": (DESK, {D}),
    "api.bieu_06": ({H}, {D}),
    "api.list_conflicts": (DESK, {D}),
    "api.get_conflict": (DESK, {D}),
    "api.resolve_conflict": ({H}, {D}),
    "api.reference_in_force": (DESK, {D}),
    "api.procedures": (DESK, {D}),
    "api.codes_status": (DESK, {D}),
    "api.sync_status": (DESK, {D}),
    "api.sync_now": (DESK, {D}),
    "api.node_status": (DESK, {D}),
    "api.openapi": (DESK, {D}),
    "files_api.api_list": (DESK, {D}),
    "files_api.api_attach": (DESK, set()),
    "files_api.api_read": (DESK, {D}),
}
WRITES = {"api.create_dossier", "api.update_dossier", "api.change_status", "api.issue_apology",
          "api.resolve_conflict", "api.sync_now", "files_api.api_attach"}


def api_calls(app, dossier_id: str):
    """(endpoint, method, url, body) for every method of every /api/ route, with a body that
    would be accepted if the gate let it through (so a missing gate would change something)."""
    bodies = {
        "api.create_dossier": sample_dossier(name="Kẻ Lạ"),
        "api.change_status": {"to": "processing"},
        "api.update_dossier": {"fields": {"applicant.phone": "0999 999 999"}},
        "api.issue_apology": {"reason": "Chậm", "new_due_at": "2030-01-01 09:00"},
        "api.resolve_conflict": {"choose": "x", "reason": "x"},
    }
    queries = {"api.bieu_06": "?from=2026-05-01&to=2026-05-31"}
    found = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: dossier_id if m.group(1) == "dossier_id" else "x", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url + queries.get(rule.endpoint, ""), bodies.get(rule.endpoint)))
    assert found, "no API route found"
    return found
