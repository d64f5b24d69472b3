"""Who may do what: the one table of staff roles and actions, read by the web UI and the JSON API.

A person acts through a personal account with one role (:data:`node.models.STAFF_ROLES`). Two
rules decide whether the account may do something, on the UI and on the API alike:

1. the account's role works on this kind of node at all (:data:`ROLES_ON_NODE`): clerks, heads
   and outreach teams at the commune's desk and on the field laptops, district admins at the hub;
2. the role is one of the action's roles (:data:`ACTIONS`).

Token scope is a third rule for the API only: a ``read`` token may do no action that ``writes``.

Invariants
----------
- This module is the only place these rules are written. The UI blueprints' guards
  (:func:`web.auth.login_required`, :func:`web.auth.roles_required`) take their role lists from
  :func:`roles_for`; every API view declares its action (:func:`web.api_auth.requires`).
- Unknown roles and unknown actions are refused (:func:`allows` is False), never let through.
- Authority over *which* dossiers a node may change comes from its certificate, in the fold; this
  table only says which people may ask their own node to act.
"""

from __future__ import annotations

from dataclasses import dataclass

CLERK, HEAD, MOBILE, DISTRICT_ADMIN = "clerk", "head", "mobile", "district_admin"
ROLES = (CLERK, HEAD, MOBILE, DISTRICT_ADMIN)
_DESK_STAFF = (CLERK, HEAD, MOBILE)
# Which accounts work on which node (the UI serves the desk and the field intake on commune and
# mobile nodes, the console on a district); any other node role is served like a commune.
ROLES_ON_NODE: dict[str, tuple[str, ...]] = {
    "commune": _DESK_STAFF,
    "mobile": _DESK_STAFF,
    "district": (DISTRICT_ADMIN,),
}


@dataclass(frozen=True)
class Action:
    name: str
    roles: tuple[str, ...]
    writes: bool  # changes something (an event, a sync): refused to read-scope tokens
    doc: str


DESK = Action("desk", _DESK_STAFF, False, "use the one-stop desk and the field intake pages")
CONSOLE = Action("console", (DISTRICT_ADMIN,), False, "use the district console: sync log, node health")
READ = Action("read", ROLES, False, "read dossiers: list, search, one dossier, deadlines, conflicts")
PRINT = Action("print", ROLES, False, "print a dossier's forms and the tracking ledger")
STATUS = Action("status", ROLES, False, "see the node, its sync state, reference data and number blocks")
REPORT = Action("report", (HEAD, DISTRICT_ADMIN), False, "see statistics and Biểu 06, and export them")
RECEIVE = Action("receive", _DESK_STAFF, True, "receive a new dossier")
PROCESS = Action("process", (CLERK, HEAD, DISTRICT_ADMIN), True,
                 "change a dossier's status, issue an apology letter, correct the applicant's contacts")
RESOLVE = Action("resolve", (HEAD, DISTRICT_ADMIN), True, "resolve a conflict")
SYNC = Action("sync", ROLES, True, "start a sync now")
ACTIONS: dict[str, Action] = {a.name: a for a in (DESK, CONSOLE, READ, PRINT, STATUS, REPORT, RECEIVE, PROCESS,
                                                 RESOLVE, SYNC)}


def roles_on(node_role: str) -> tuple[str, ...]:
    return ROLES_ON_NODE.get(node_role, ROLES_ON_NODE["commune"])


def allows(role: str, action: Action, node_role: str) -> bool:
    """True when an account of ``role`` on a node of ``node_role`` may do ``action``."""
    return ACTIONS.get(action.name) is action and role in action.roles and role in roles_on(node_role)


def roles_for(action: Action, node_role: str | None = None) -> tuple[str, ...]:
    """The roles that may do ``action`` (on a node of ``node_role`` when given), in table order."""
    return tuple(r for r in action.roles if node_role is None or r in roles_on(node_role))
