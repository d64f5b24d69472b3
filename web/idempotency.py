"""Idempotency keys: a write retried with the same key answers as the first time and writes
nothing more (issue 14.2).

A client that sent a write and lost the answer (a dropped link, a crash of the server after the
commit, a double click) cannot know whether it was stored; without a key its retry makes a second
dossier. With one, the first answer is kept and every retry gets it back.

- The JSON API: a state-changing call may carry ``Idempotency-Key`` (1 to 255 visible ASCII
  characters, e.g. a UUID). :func:`run_once` records the key, a fingerprint of the request
  (method, path, body) and the answer in ``idempotency_key`` (:class:`node.models.IdempotencyRow`)
  **in the same transaction as the write**: the write and the remembered answer are committed
  together or not at all, so a crash in between cannot leave one without the other.
- The web forms that write (reception, intake, status changes) carry a one-time key in the hidden
  field :data:`FORM_FIELD` (:func:`new_form_key`); a second submission of the same form answers with
  the first one's redirect.

Invariants
----------
- Keys belong to the account that sent them: another account's identical key is another key.
- A retry with the same key and the same fingerprint returns the stored status and body and
  writes nothing; the same key with another fingerprint is refused by the caller
  (``idempotency_key_reused``, 422 in the API).
- Only answers that wrote are kept (a 2xx, or a form that succeeded). A refused request wrote
  nothing, so its retry simply runs again, and may succeed once the cause is fixed.
- Two concurrent requests with the same key make one write: the key is claimed inside the
  write transaction (SQLite's ``BEGIN IMMEDIATE``, the log's lock, and on PostgreSQL the primary
  key, whose second insert waits for the first transaction and then fails), so the second one
  finds the first one's answer.
- Rows older than :data:`KEEP_DAYS` are deleted, at most every :data:`PRUNE_EVERY_MS`, inside a
  write transaction.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import peewee as pw
from flask import Request, Response, flash, g, make_response, redirect, request

from node.models import IdempotencyRow
from web.auth import current_staff, node, now_ms
from web.i18n import _

HEADER = "Idempotency-Key"
FORM_FIELD = "idempotency_key"
MAX_KEY = 255
KEEP_DAYS = 7
DAY_MS = 86_400_000
PRUNE_EVERY_MS = 10 * 60 * 1000
_last_prune = {"at": 0}


class BadKey(ValueError):
    """The key is empty, too long or holds characters other than visible ASCII."""


@dataclass(frozen=True)
class Previous:
    """The first answer to a key: what a retry gets back."""

    fingerprint: str
    status: int
    content_type: str
    location: str
    body: str

    def response(self) -> Response:
        answer = Response(self.body, status=self.status, content_type=self.content_type or None)
        if self.location:
            answer.headers["Location"] = self.location
        answer.headers["Idempotent-Replayed"] = "true"
        return answer


class _Discard(Exception):
    """Leave the transaction without keeping the claim: the view answered without writing."""

    def __init__(self, response: Response) -> None:
        self.response = response


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY or not all("!" <= c <= "~" for c in key):
        raise BadKey(f"{HEADER} must be 1 to {MAX_KEY} visible ASCII characters (a UUID, say)")
    return key


def new_form_key() -> str:
    """A fresh one-time key for a form that writes (rendered into :data:`FORM_FIELD`)."""
    return secrets.token_urlsafe(18)


def fingerprint(method: str, path: str, body: bytes) -> str:
    """What must be equal for a retry: the method, the path and the body (as JSON when it is
    JSON, so key order and spacing do not count; else the bytes)."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, ensure_ascii=False).encode()
    except (ValueError, RecursionError):
        canonical = body
    h = hashlib.sha256()
    for part in (method.encode(), path.encode(), canonical):
        h.update(len(part).to_bytes(8, "big"))
        h.update(part)
    return h.hexdigest()


def form_fingerprint(request: Request) -> str:
    """A form's fingerprint: its fields, less the CSRF token (a new one after each sign-in)."""
    fields = sorted((k, v) for k, vs in request.form.lists() if k != "csrf_token" for v in vs)
    return fingerprint(request.method, request.path, json.dumps(fields, ensure_ascii=False).encode())


def _previous(account: str, key: str) -> Previous | None:
    row = IdempotencyRow.get_or_none((IdempotencyRow.account == account) & (IdempotencyRow.key == key))
    if row is None:
        return None
    return Previous(row.fingerprint, row.status, row.content_type, row.location, row.body)


def prune(now: int) -> int:
    """Forget keys older than :data:`KEEP_DAYS`; return how many."""
    return IdempotencyRow.delete().where(IdempotencyRow.created_at < now - KEEP_DAYS * DAY_MS).execute()


def run_once(account: str, key: str, fp: str, view: Callable[[], object],
             kept: Callable[[Response], bool] = lambda r: 200 <= r.status_code < 300) -> Response | Previous:
    """Run ``view`` once for ``(account, key)``: its response, kept with the write when
    ``kept(response)``; or the :class:`Previous` answer when the key was seen (the caller compares
    :attr:`Previous.fingerprint` with ``fp``). An exception of ``view`` rolls everything back."""
    log = node().log
    now = now_ms()
    try:
        with log.transaction():
            previous = _previous(account, key)
            if previous is not None:
                return previous
            if now - _last_prune["at"] >= PRUNE_EVERY_MS:
                prune(now)
                _last_prune["at"] = now
            # claimed before the write: a concurrent insert of the same key waits for us
            IdempotencyRow.insert(account=account, key=key, fingerprint=fp, status=0, created_at=now).execute()
            response = make_response(view())
            if not kept(response):
                raise _Discard(response)
            response.direct_passthrough = False
            IdempotencyRow.update(
                status=response.status_code, content_type=response.content_type or "",
                location=response.headers.get("Location", ""), body=response.get_data(as_text=True),
            ).where((IdempotencyRow.account == account) & (IdempotencyRow.key == key)).execute()
            return response
    except _Discard as e:
        return e.response
    except pw.IntegrityError:
        # PostgreSQL: another request with this key committed while we waited on its row
        previous = _previous(account, key)
        if previous is None:
            raise
        return previous


def wrote() -> None:
    """Called by a form view once its write succeeded: its answer is then kept for the key."""
    g.motcua_form_wrote = True


def form_once(view: Callable[[], object]) -> Response:
    """Run a form view that writes at most once per one-time key (:data:`FORM_FIELD`).

    A second submission of the form (a double click, the browser resending it after a lost
    answer, the back button) writes nothing and goes where the first one went, with a message.
    A form without a key (a page rendered before this release) runs as it always did."""
    key = request.form.get(FORM_FIELD, "")
    try:
        check_key(key)
    except BadKey:
        return make_response(view())
    fp = form_fingerprint(request)
    g.motcua_form_wrote = False
    answer = run_once(current_staff().username, key, fp, view, kept=lambda _r: bool(g.get("motcua_form_wrote")))
    if not isinstance(answer, Previous):
        return answer
    if answer.fingerprint == fp:
        flash(_("Biểu mẫu này đã được gửi và ghi nhận; lần gửi lại không ghi thêm gì."), "info")
    else:
        flash(_("Biểu mẫu này đã được gửi trước đó với nội dung khác; lần này không ghi gì. "
                "Nếu cần ghi mới, hãy mở lại biểu mẫu."), "error")
    return redirect(answer.location or request.referrer or "/", code=303)
