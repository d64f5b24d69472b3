"""Field intake for an outreach team's laptop (blueprint ``mobile``, prefix ``/luu-dong``).

``/``              today's applicants and the sync state
``/tiep-nhan``     fast intake: a few fields per screen, Enter moves on, everything typed stays
                   in the form (no server state until the last screen saves)
``/can-cuoc``      ID-card pre-registration for the police's mobile session: the person and the
                   appointment only, no dossier code, no receipt, no biometrics (fingerprints, iris
                   and the photo are taken by the police on their own equipment; domain.md §6)
``/can-cuoc/danh-sach[.csv]``  the list of one session day, and its CSV for the police
``/dong-bo``       "sync now": the peers this node can reach, with progress

Peers: the configured parent (``PARENT_URL``) and the commune of this unit (or a district) heard
on the LAN by mDNS (:mod:`sync.discovery`): the "find nodes" button listens for two seconds.
:func:`sync_peers` also lists what a long-running browser reports: any object stored in
``app.extensions["motcua.discovery"]`` with a ``peers()`` method (``sync.discovery.PeerBrowser``)
returning records with ``url``, ``name``, ``role`` and ``unit``.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import asdict
from datetime import date
from typing import Any

from flask import Blueprint, Response, current_app, flash, jsonify, redirect, render_template, request, url_for

from node.domain import id_card as id_card_domain
from node.domain.errors import DomainError
from node.domain.id_card import RegistrationError
from node.domain.vietnam_time import day_start_ms, vn_day
from node.id_cards import registrations
from node.queries import dashboard as dashboard_queries
from web import forms, idempotency
from web import permissions as can
from web.auth import audit_read, current_staff, login_required, node, now_ms
from web.i18n import N_, _
from web.staff import catalogue, domain_message, sync_summary
from web.syncjob import SyncJobs

log = logging.getLogger("motcua.web")
bp = Blueprint("mobile", __name__, url_prefix="/luu-dong", template_folder="templates")
bp.before_request(login_required(*can.roles_for(can.DESK)))
ID_CARD_PROCEDURE = "can-cuoc.cap-the-can-cuoc-luu-dong"
# (fields shown on the screen) per step of the fast intake; the review screen comes after.
STEPS: tuple[tuple[str, ...], ...] = (("thu_tuc", "name"), ("id_number", "phone"), ("address", "delivery"),
                                      ("component", "sets"))
LAN_LISTEN_SECONDS = 2.0
CARRIED = ("thu_tuc", "name", "id_number", "phone", "address", "delivery", "sets", "note")


def jobs() -> SyncJobs:
    return current_app.extensions.setdefault("motcua.web_sync", SyncJobs())


def sync_peers() -> list[dict[str, str]]:
    """Where "sync now" can go: the parent, then peers found on the LAN (see module doc)."""
    peers = []
    parent = node().settings.PARENT_URL
    if parent:
        peers.append({"url": parent, "name": _("Máy cấp trên"), "source": "parent", "ca": "configured"})
    mine = node().trust.ca_fingerprint
    heard: list[Any] = list(current_app.extensions.get("motcua.lan_peers", []))
    discovery = current_app.extensions.get("motcua.discovery")
    if discovery is not None and hasattr(discovery, "peers"):
        heard += discovery.peers()
    for p in heard:
        url = str(getattr(p, "url", "") or "")
        if url and url not in {x["url"] for x in peers} and _may_sync_with(p):
            peers.append({"url": url, "name": str(getattr(p, "name", "") or url), "source": "lan",
                          "ca": _ca_relation(mine, str(getattr(p, "ca_fingerprint", "") or ""))})
    return peers


def _ca_relation(mine: str, theirs: str) -> str:
    """``same``: the peer advertises this district's CA; ``foreign``: another CA, or none while
    this node has one (it could not prove it belongs here: the button is disabled for it);
    ``unchecked``: this node has no CA itself (a development node), so nothing can be told."""
    if not mine:
        return "unchecked"
    return "same" if theirs == mine else "foreign"


def _may_sync_with(record: Any) -> bool:
    """A laptop syncs with the commune of its own unit or with a district; an advertisement is
    only a hint (the sync itself checks the peer's certificate)."""
    role, unit = getattr(record, "role", ""), getattr(record, "unit", "")
    return role == "district" or (role == "commune" and unit == node().settings.UNIT)


def _discover(seconds: float) -> list[Any]:
    from sync.discovery import discover

    return discover(seconds)


@bp.get("/")
def home() -> str:
    today = day_start_ms(vn_day(now_ms()))
    # the team's own intake: dossiers synced down from the commune's desk are not theirs to chase
    rows = dashboard_queries.received_between(today, today + 24 * 3600 * 1000, origin=node().node_id)
    if rows:  # the list names applicants: a read of personal data like any other
        audit_read("", "dashboard", detail=f"{len(rows)} hồ sơ")
    return render_template("mobile/home.html", rows=rows, sync=sync_summary(), job=jobs().snapshot())


# -- fast intake ------------------------------------------------------------------------------


def _validate_step(step: int, form: Any) -> dict[str, str]:
    errors: dict[str, str] = {}
    procedure = forms.find_procedure(catalogue(), form.get("thu_tuc", ""))
    if step >= 0 and procedure is None:
        errors["thu_tuc"] = N_("Chọn thủ tục.")
    if step >= 0 and not " ".join(form.get("name", "").split()):
        errors["name"] = N_("Cần nhập họ và tên người nộp.")
    if step >= 1:
        parsed = forms.parse_applicant(form, vn_day(now_ms()))
        errors.update({k: v for k, v in parsed.errors.items() if k in ("id_number", "phone")})
    if step >= 3 and procedure is not None:
        errors.update(forms.parse_components(procedure, form).errors)
    errors.update(forms.forbidden_fields(form, tuple(f for fields in STEPS[: step + 1] for f in fields)))
    return errors


def _render_step(step: int, errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    procedure = forms.find_procedure(catalogue(), request.form.get("thu_tuc", "") or request.args.get("thu_tuc", ""))
    return render_template(
        "mobile/intake.html", step=step, steps=len(STEPS), fields=STEPS[step] if step < len(STEPS) else (),
        form=request.form, errors=errors, procedure=procedure, carried=CARRIED,
        sectors=forms.sectors(catalogue(), mobile_first=True),
        picked=request.form.getlist("component"),
        due_at=(dashboard_queries.compute_appointment(node().reference, now_ms(), procedure.duration)
                if procedure else None),
    ), status


@bp.get("/tiep-nhan")
def intake() -> tuple[str, int]:
    return _render_step(0, {})


@bp.post("/tiep-nhan")
def intake_step() -> Response | tuple[str, int]:
    try:
        step = max(0, min(int(request.form.get("step", 0)), len(STEPS)))
    except ValueError:
        step = 0
    if request.form.get("back") and step > 0:
        return _render_step(step - 1, {})
    errors = _validate_step(min(step, len(STEPS) - 1), request.form)
    if errors:
        first_bad = next((i for i, fields in enumerate(STEPS) if set(fields) & set(errors)), 0)
        return _render_step(first_bad, errors, 422)
    if step < len(STEPS):
        return _render_step(step + 1, {})
    return idempotency.form_once(_save_intake)


def _save_intake() -> Response | tuple[str, int]:
    procedure = forms.find_procedure(catalogue(), request.form.get("thu_tuc", ""))
    assert procedure is not None  # validated above
    applicant = forms.parse_applicant(request.form, vn_day(now_ms()))
    components = forms.parse_components(procedure, request.form)
    n = node()
    body = forms.dossier_body(procedure, applicant, components, channel="mobile",
                              due_at=None)
    body["officer_name"] = current_staff().full_name  # printed on the receipt, never the login
    try:
        state = n.create_dossier(current_staff().author, body)
    except DomainError as e:
        flash(domain_message(e), "error")
        return _render_step(len(STEPS), {}, 422)
    idempotency.wrote()
    flash(_("Đã tiếp nhận hồ sơ %(code)s. Hãy in giấy biên nhận cho người nộp.", code=state.code), "ok")
    return redirect(url_for("staff.dossier", dossier_id=state.id, moi=1))


# -- ID-card pre-registration for the police's mobile session ------------------------------------
# Police work (node.domain.id_card): a list of people and appointments, no dossier, no receipt,
# no biometrics; the police take it as CSV.

REGISTRATION_FIELDS = ("procedure", "request", "name", "id_number", "birth_date", "phone", "address",
                       "session_date", "slot", "note")
REGISTRATION_MESSAGES = {
    "not_a_date": N_("Ngày không có thật: hãy ghi theo dạng dd/mm/yyyy, ví dụ 05/03/1990."),
    "future": N_("Ngày sinh ở tương lai."),
    "year_mismatch": N_("Năm sinh không khớp với năm sinh ghi trong số định danh cá nhân."),
    "too_young": N_("Người đề nghị chưa đủ tuổi theo quy định của thủ tục đã chọn vào ngày hẹn."),
    "session_past": N_("Ngày hẹn đã qua."),
    "session_far": N_("Ngày hẹn quá xa: chỉ lập danh sách cho các phiên trong 120 ngày tới."),
    "request": N_("Chọn loại đề nghị."),
    "slot": N_("Giờ hẹn ghi theo dạng HH:MM, ví dụ 08:30."),
    "id_number": N_("Số định danh cá nhân không hợp lệ."),
}


def _card_procedures() -> list[Any]:
    """The ID-card procedures of the catalogue in force (each with its age rule)."""
    return [p for p in catalogue() if p.key.startswith("can-cuoc.")]


def _render_id_card(form: Any, errors: dict[str, str], status: int = 200) -> tuple[str, int]:
    return render_template("mobile/id_card.html", procedures=_card_procedures(), form=form, errors=errors,
                           requests=forms.CARD_REQUESTS), status


@bp.route("/can-cuoc", methods=["GET", "POST"])
def id_card() -> Response | str | tuple[str, int]:
    if not _card_procedures():
        return render_template("errors/page.html", code=404,
                               message=_("Danh mục thủ tục không có thủ tục cấp thẻ căn cước.")), 404
    if request.method == "GET":
        return _render_id_card({}, {})
    return idempotency.form_once(_save_id_card)


def _save_id_card() -> Response | tuple[str, int]:
    procedures = {p.key: p for p in _card_procedures()}
    procedure = procedures.get(request.form.get("procedure", "")) or procedures.get(ID_CARD_PROCEDURE)
    errors = {k: v for k, v in forms.parse_applicant(request.form, vn_day(now_ms())).errors.items()
              if k in ("name", "id_number", "phone")}
    errors.update(forms.forbidden_fields(request.form, REGISTRATION_FIELDS))
    if procedure is None:
        errors["procedure"] = N_("Chọn thủ tục.")
    if errors:
        return _render_id_card(request.form, errors, 422)
    data = {f: str(request.form.get(f, "")) for f in REGISTRATION_FIELDS}
    data["procedure"] = procedure.key
    try:
        r = node().register_id_card(current_staff().author, data, procedure.applicant_min_age)
    except RegistrationError as e:
        return _render_id_card(request.form, {e.field or "": REGISTRATION_MESSAGES[e.reason]}, 422)
    except DomainError as e:
        flash(domain_message(e), "error")
        return _render_id_card(request.form, {}, 422)
    idempotency.wrote()
    flash(_("Đã ghi %(name)s vào danh sách hẹn phiên cấp căn cước lưu động ngày %(day)s.", name=r.name,
            day=_vn_day(r.session_date)), "ok")
    return redirect(url_for("mobile.id_card_list", ngay=_vn_day(r.session_date)))


def _vn_day(iso: str) -> str:
    return date.fromisoformat(iso).strftime("%d/%m/%Y")


def _session_day() -> date | None:
    text = request.args.get("ngay", "")
    if not text:
        return None
    try:
        return id_card_domain.parse_day(text, "ngay")
    except DomainError:
        return None


@bp.get("/can-cuoc/danh-sach")
def id_card_list() -> str:
    """The pre-registration list (of one session day when ``ngay`` is given)."""
    day = _session_day()
    rows = registrations(day)
    if rows:  # the list names people: a read of personal data like any other
        audit_read("", "id_card_list", detail=f"{len(rows)} người")
    shown = [{**asdict(r), "birth": _vn_day(r.birth_date), "session": _vn_day(r.session_date)} for r in rows]
    return render_template("mobile/id_card_list.html", rows=shown, day=day, requests=forms.CARD_REQUESTS)


@bp.get("/can-cuoc/danh-sach.csv")
def id_card_export() -> Response:
    """The list for the police (UTF-8 with BOM, so a spreadsheet reads the Vietnamese)."""
    day = _session_day()
    rows = registrations(day)
    audit_read("", "id_card_export", detail=f"{len(rows)} người")
    out = io.StringIO()
    csv.writer(out).writerows(id_card_domain.csv_rows(rows))
    name = f"danh-sach-can-cuoc-{day.isoformat() if day else 'tat-ca'}.csv"
    return Response("\ufeff" + out.getvalue(), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# -- sync now -------------------------------------------------------------------------------------


@bp.get("/dong-bo")
def sync_page() -> str:
    return render_template("mobile/sync.html", peers=sync_peers(), sync=sync_summary(), job=jobs().snapshot())


@bp.post("/dong-bo")
def sync_now() -> Response:
    peers = sync_peers()
    try:
        index = int(request.form.get("peer", "-1"))
        if index < 0:  # a negative index would pick the last peer, not none
            raise IndexError(index)
        peer = peers[index]
    except (ValueError, IndexError):
        flash(_("Chọn máy để đồng bộ."), "error")
        return redirect(url_for("mobile.sync_page"))
    if peer["ca"] == "foreign":  # the button is disabled; a crafted post is refused the same
        flash(_("Máy %(name)s thuộc cơ quan cấp chứng chỉ khác: không đồng bộ với máy này.", name=peer["name"]),
              "error")
        return redirect(url_for("mobile.sync_page"))
    if not jobs().start(node(), peer["url"], peer["name"]):
        flash(_("Đang đồng bộ; hãy chờ lần này xong."), "info")
    return redirect(url_for("mobile.sync_page"))


@bp.post("/dong-bo/tim-may")
def find_peers() -> Response:
    """Listen for commune nodes on the LAN (mDNS) for a few seconds and list them."""
    try:
        current_app.extensions["motcua.lan_peers"] = _discover(LAN_LISTEN_SECONDS)
    except OSError as e:  # no network interface at all (a laptop in a hamlet)
        log.info("LAN discovery failed: %s", e)  # the detail is for the log, not the clerk
        flash(_("Không dò được mạng nội bộ: máy này chưa nối mạng. Dữ liệu vẫn được lưu trên máy này."), "error")
    return redirect(url_for("mobile.sync_page"))


@bp.get("/dong-bo/tien-do")
def sync_progress() -> Response:
    data = jobs().snapshot()
    data["pending_up"] = node().sync_status()["pending_up"]
    return jsonify(data)
