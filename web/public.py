"""Public status lookup by dossier code (blueprint ``public``, ``/tra-cuu``), on every node.

Shows exactly what the citizen's receipt already shows and nothing else: the code, the
procedure, the status and the appointment. No name, ID number, phone or address, so knowing or
guessing a code reveals no personal data. No sign-in, no access-log row (nothing personal is
read); the form is a GET, so it needs no CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request

from node import staff_queries as queries

bp = Blueprint("public", __name__, template_folder="templates")


@bp.get("/tra-cuu")
def lookup() -> str | tuple[str, int]:
    code = " ".join(request.args.get("ma", "").split())[:60]
    if not code:
        return render_template("public/lookup.html", code="", found=None)
    row = queries.find_by_code(code)
    found = None
    if row is not None:
        found = {"code": row.code, "procedure": row.procedure_name, "status": row.status, "due_at": row.due_at}
    return render_template("public/lookup.html", code=code, found=found), 200 if found else 404
