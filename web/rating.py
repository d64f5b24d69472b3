"""Citizen satisfaction when the result is returned (Decree 61/2018 art. 31; Circular
01/2018/TT-VPCP arts. 12-14), blueprint ``rating``.

``/danh-gia?ma=…&kiem_tra=…``      the public page the QR on the slip opens (channel ``qr``): the
                                   dossier code and check code of the receipt, as on ``/tra-cuu``
``/mot-cua/ho-so/<id>/danh-gia``   the LAN tablet page at the desk (channel ``desk``), opened by
                                   the officer on the desk's tablet when handing over the result

Both record a signed ``dossier.rated`` event (Rule S2 of :mod:`node.domain.service`); only a
dossier whose result was returned, and only once. The public page shows nothing personal and
spends the lookup's miss allowance on a wrong code pair, like ``/tra-cuu`` (:mod:`web.public`).
The citizen, not the officer, rates: the event's author is :data:`CITIZEN`.
"""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from node import tracking
from node.domain.errors import DomainError, DossierNotFound
from node.domain.service import RATING_LEVELS
from node.ratelimit import address_key
from web import permissions as can
from web.auth import client_ip, current_staff, node, now_ms
from web.i18n import N_, _
from web.public import limiter

bp = Blueprint("rating", __name__, template_folder="templates")
CITIZEN = "cong-dan"  # the author of a rating: the citizen at the desk or behind the QR
LEVEL_LABELS = {"very_satisfied": N_("Rất hài lòng"), "satisfied": N_("Hài lòng"),
                "not_satisfied": N_("Không hài lòng")}
assert tuple(LEVEL_LABELS) == RATING_LEVELS


def _render(found: dict | None, status: int, **kw: object) -> tuple[str, int]:
    return render_template("public/rating.html", found=found, levels=LEVEL_LABELS, **kw), status


def _record(dossier_id: str, channel: str) -> str:
    """"" when recorded, else the reason it was not (already rated, result not returned)."""
    try:
        node().rate_dossier(CITIZEN, dossier_id, {"level": request.form.get("level", ""), "channel": channel,
                                                  "comment": request.form.get("comment", "")})
    except DomainError as e:
        return e.field or "level"
    return ""


@bp.route("/danh-gia", methods=["GET", "POST"])
def public_rating() -> tuple[str, int] | tuple[str, int, dict[str, str]]:
    source = request.form if request.method == "POST" else request.args
    code = " ".join(source.get("ma", "").split())[: tracking.MAX_CODE_CHARS]
    check = " ".join(source.get("kiem_tra", "").split())[:20]
    who, now = address_key(client_ip()), now_ms()
    wait = limiter().retry_after_ms(who, now)
    if wait:
        page, status = _render(None, 429, code=code, check=check, limited=True)
        return page, status, {"Retry-After": str(-(-wait // 1000))}
    n = node()
    found = tracking.find_for_rating(code, check, node_id=n.node_id, secret=n.lookup_secret)
    if found is None:
        limiter().spend(who, now)
        return _render(None, 404, code=code, check=check)
    if request.method == "POST":
        problem = _record(found["id"], "qr")
        found = tracking.find_for_rating(code, check, node_id=n.node_id, secret=n.lookup_secret)
        return _render(found, 422 if problem else 200, code=code, check=check, problem=problem, done=not problem)
    return _render(found, 200, code=code, check=check)


@bp.route("/mot-cua/ho-so/<dossier_id>/danh-gia", methods=["GET", "POST"])
def desk_rating(dossier_id: str) -> tuple[str, int] | Response:
    staff = current_staff()
    if staff is None or not can.allows(staff.role, can.DESK, node().settings.ROLE):
        return render_template("errors/page.html", code=403, message=_("Cần đăng nhập tại quầy.")), 403
    try:
        found = tracking.rating_facts(dossier_id)
    except DossierNotFound:
        return render_template("errors/page.html", code=404, message=_("Không tìm thấy hồ sơ.")), 404
    if request.method == "POST":
        problem = _record(dossier_id, "desk")
        return _render(tracking.rating_facts(dossier_id), 422 if problem else 200, problem=problem,
                       done=not problem, desk=True)
    return _render(found, 200, desk=True)
