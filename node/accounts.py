"""Staff accounts, server-side sessions, sign-in throttling and the dossier access log.

Plain functions over the account tables (:mod:`node.models`), no Flask: the CLI (``motcua
user``) and the web layer (:mod:`web.auth`) share them, and tests call them directly.

Invariants
----------
- Passwords are hashed with Argon2id (argon2-cffi's defaults: 64 MiB, 3 passes, 4 lanes; ASVS
  2.4.1) and never stored, logged or echoed. A hash made with older parameters is upgraded at
  the next successful sign-in.
- A session is a random 256-bit token held by the browser; the database keeps only its SHA-256,
  so a copied database does not carry live sessions. Deleting the row ends the session at once,
  whoever holds a copy of the cookie (ASVS 3.3.1; Flask's own cookie session cannot do that).
- Sessions end after :data:`_IDLE_MS` without a request or :data:`_ABSOLUTE_MS` after sign-in
  (ASVS 3.3.2: 30 minutes idle, 12 hours in all).
- Sign-in is throttled from the attempts table, so the limits hold across threads and restarts
  without any external service, and no stranger can lock a person out (OWASP's "lock out
  untrusted clients, not accounts"):

  * per client address: at most :data:`_MAX_FAILURES_PER_IP` failures within :data:`_WINDOW_MS`,
    whatever the accounts tried;
  * per account, a growing delay instead of a lock: after :data:`_FREE_FAILURES` failures the
    next try waits :data:`_BACKOFF_BASE_MS`, doubling with every further failure up to
    :data:`_BACKOFF_MAX_MS` (about 100 guesses a day at most, ASVS 2.2.1). Failures are counted
    separately for the person's *known* addresses (one this account signed in from within
    :data:`_KNOWN_ADDRESS_MS`: only that address's own failures since its last success count)
    and for every other address together (strangers: their failures within
    :data:`_BACKOFF_MEMORY_MS`, which a success elsewhere does not reset). A guesser on the
    office Wi-Fi therefore slows down guessing on the account, never the clerk at her own PC;
  * an attempt refused while throttled is answered at once, without checking the password (no
    Argon2 work for a flood), and is not recorded: it counts against no account and cannot
    prolong anyone's delay.
- Unknown user names cost the same Argon2 verification as known ones (no timing oracle), and
  every refusal says the same thing.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

import peewee as pw
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from node import storage
from node.domain.text import forbidden_char
from node.models import STAFF_ROLES, AccessLogRow, LoginAttemptRow, StaffAccountRow, StaffSessionRow
from node.ratelimit import address_key

_IDLE_MS = 30 * 60 * 1000
_ABSOLUTE_MS = 12 * 3600 * 1000
_TOUCH_EVERY_MS = 60 * 1000  # last_seen_at is written at most once a minute per session
_WINDOW_MS = 15 * 60 * 1000
_MAX_FAILURES_PER_IP = 30
_FREE_FAILURES = 5
_BACKOFF_BASE_MS = 30 * 1000
_BACKOFF_MAX_MS = 15 * 60 * 1000
_BACKOFF_MEMORY_MS = 24 * 3600 * 1000
_KNOWN_ADDRESS_MS = 30 * 24 * 3600 * 1000
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 128
USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
# A few passwords every list of breached ones starts with, in the lengths we accept (ASVS 2.1.7
# asks for a real list; this keeps the worst out until one ships with the node).
_COMMON = frozenset({
    "123456789012", "1234567890123", "12345678901234", "qwertyuiop12", "password1234", "matkhau12345",
    "matkhau123456", "abc123456789", "111111111111", "000000000000", "motcua123456", "admin1234567",
})  # fmt: skip

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("motcua-dummy-password")


class AccountError(ValueError):
    """Raised for a bad account request; the message is Vietnamese, safe to show staff."""


class LoginThrottled(AccountError):
    """Raised when too many sign-ins failed for this account or address lately; ``retry_after_ms``
    says when the next try will be heard."""

    def __init__(self, retry_after_ms: int) -> None:
        self.retry_after_ms = retry_after_ms
        self.minutes = max(1, -(-retry_after_ms // 60_000))
        super().__init__(f"Đăng nhập sai quá nhiều lần. Hãy chờ {self.minutes} phút rồi thử lại.")


@dataclass(frozen=True)
class Staff:
    """The signed-in person, as views see them."""

    id: int
    username: str
    full_name: str
    role: str
    session_id: str = ""

    @property
    def author(self) -> str:
        """What events record as their author: the personal account, never a shared desk name."""
        return self.username


def check_password_policy(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Mật khẩu phải có ít nhất {MIN_PASSWORD_LENGTH} ký tự.")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise AccountError(f"Mật khẩu dài tối đa {MAX_PASSWORD_LENGTH} ký tự.")
    if password.lower() in _COMMON or len(set(password)) < 4 or (username and username.lower() in password.lower()):
        raise AccountError("Mật khẩu quá dễ đoán; hãy chọn một cụm từ dài hơn.")


def create_account(username: str, full_name: str, role: str, password: str, *, now: int) -> StaffAccountRow:
    username = username.strip().lower()
    full_name = " ".join(full_name.split())
    if not USERNAME_RE.match(username):
        raise AccountError("Tên đăng nhập gồm 2-64 ký tự: chữ thường không dấu, số, dấu chấm, gạch.")
    if role not in STAFF_ROLES:
        raise AccountError(f"Vai trò phải là một trong: {', '.join(STAFF_ROLES)}.")
    if not full_name:
        raise AccountError("Cần họ và tên.")
    if forbidden_char(full_name):  # the name is printed on every form this person signs
        raise AccountError(f"Họ và tên có ký tự ẩn hoặc ký tự điều khiển hướng chữ ({forbidden_char(full_name)}).")
    check_password_policy(password, username)
    try:
        return StaffAccountRow.create(
            username=username, full_name=full_name[:200], role=role, password_hash=_hasher.hash(password),
            created_at=now, password_changed_at=now,
        )
    except pw.IntegrityError:
        raise AccountError(f"Tên đăng nhập {username} đã có.") from None


def set_password(username: str, password: str, *, now: int) -> None:
    check_password_policy(password, username)
    updated = (
        StaffAccountRow.update(password_hash=_hasher.hash(password), password_changed_at=now)
        .where(StaffAccountRow.username == username)
        .execute()
    )
    if not updated:
        raise AccountError(f"Không có tài khoản {username}.")
    end_sessions_of(username)


def any_account() -> bool:
    """True once this node has at least one staff account."""
    return StaffAccountRow.select().exists()


def list_accounts() -> list[StaffAccountRow]:
    return list(StaffAccountRow.select().order_by(StaffAccountRow.username))


def full_names(usernames: Iterable[str]) -> dict[str, str]:
    """The full names of these accounts of this node (what the forms print; never the login)."""
    wanted = sorted({u for u in usernames if u})
    if not wanted:
        return {}
    query = StaffAccountRow.select(StaffAccountRow.username, StaffAccountRow.full_name)
    return dict(query.where(StaffAccountRow.username.in_(wanted)).tuples())


def set_active(username: str, active: bool) -> None:
    if not StaffAccountRow.update(active=active).where(StaffAccountRow.username == username).execute():
        raise AccountError(f"Không có tài khoản {username}.")
    if not active:
        end_sessions_of(username)


def end_sessions_of(username: str) -> int:
    account = StaffAccountRow.get_or_none(StaffAccountRow.username == username)
    if account is None:
        return 0
    return StaffSessionRow.delete().where(StaffSessionRow.account == account.id).execute()


def _failed(where: pw.Expression) -> pw.ModelSelect:
    return LoginAttemptRow.select().where(where & (LoginAttemptRow.ok == False))  # noqa: E712


def _last_ok(where: pw.Expression) -> int:
    return (LoginAttemptRow.select(pw.fn.MAX(LoginAttemptRow.at))
            .where(where & (LoginAttemptRow.ok == True)).scalar() or 0)  # noqa: E712


def backoff_ms(failures: int) -> int:
    """The delay an account's ``failures`` (counted as the module docstring says) impose."""
    if failures < _FREE_FAILURES:
        return 0
    return min(_BACKOFF_BASE_MS * 2 ** min(failures - _FREE_FAILURES, 20), _BACKOFF_MAX_MS)


def retry_after_ms(username: str, ip: str, now: int) -> int:
    """0 when a sign-in to ``username`` from ``ip`` may be tried now, else how long to wait."""
    wait = 0
    nth = (_failed((LoginAttemptRow.ip == ip) & (LoginAttemptRow.at > now - _WINDOW_MS))
           .order_by(LoginAttemptRow.at.desc()).offset(_MAX_FAILURES_PER_IP - 1).limit(1).first())
    if nth is not None:  # the address used up its window: wait until its oldest counted failure ages out
        wait = nth.at + _WINDOW_MS - now
    mine = LoginAttemptRow.username == username
    here = LoginAttemptRow.ip == ip
    known_since = now - _KNOWN_ADDRESS_MS
    if _last_ok(mine & here & (LoginAttemptRow.at > known_since)):
        counted = mine & here & (LoginAttemptRow.at > max(_last_ok(mine & here), now - _BACKOFF_MEMORY_MS))
    else:
        ok = LoginAttemptRow.alias()
        known = ok.select(ok.ip).where((ok.username == username) & (ok.ok == True) & (ok.at > known_since))  # noqa: E712
        counted = mine & LoginAttemptRow.ip.not_in(known) & (LoginAttemptRow.at > now - _BACKOFF_MEMORY_MS)
    failures = _failed(counted)
    n = failures.count()
    if n >= _FREE_FAILURES:
        last = failures.select(pw.fn.MAX(LoginAttemptRow.at)).scalar() or 0
        wait = max(wait, last + backoff_ms(n) - now)
    return max(0, wait)


def prune_attempts(now: int) -> int:
    """Forget sign-in attempts older than anything the limits remember (the known-address
    memory is the longest); without this the table grew by one row per attempt forever."""
    return LoginAttemptRow.delete().where(LoginAttemptRow.at <= now - _KNOWN_ADDRESS_MS).execute()


def authenticate(username: str, password: str, ip: str, *, now: int) -> Staff:
    """Check a sign-in; record the attempt; raise :class:`AccountError` on any refusal."""
    username = username.strip().lower()[:64]
    # Counted per /64 for IPv6 (one subscriber's block), as the other limits are: an attacker
    # rotating addresses inside their own block is one address here.
    ip = address_key(ip)[:64]
    wait = retry_after_ms(username, ip, now)
    if wait > 0:
        raise LoginThrottled(wait)
    account = StaffAccountRow.get_or_none(StaffAccountRow.username == username)
    stored = account.password_hash if account is not None and account.active else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
        ok = account is not None and account.active
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
    LoginAttemptRow.create(username=username, ip=ip, at=now, ok=ok)
    if not ok or account is None:
        raise AccountError("Tên đăng nhập hoặc mật khẩu không đúng.")
    prune_attempts(now)  # on each staff sign-in: a few times a day, so the table stays small
    updates: dict = {StaffAccountRow.last_login_at: now}
    if _hasher.check_needs_rehash(account.password_hash):
        updates[StaffAccountRow.password_hash] = _hasher.hash(password)
    StaffAccountRow.update(updates).where(StaffAccountRow.id == account.id).execute()
    return Staff(account.id, account.username, account.full_name, account.role)


def _token_id(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def open_session(staff: Staff, *, ip: str, user_agent: str, now: int) -> str:
    """Start a session and return the token for the cookie (a new one at every sign-in)."""
    token = secrets.token_urlsafe(32)
    StaffSessionRow.create(
        id=_token_id(token), account=staff.id, created_at=now, last_seen_at=now, ip=ip[:64],
        user_agent=user_agent[:200],
    )
    return token


def session_staff(token: str, *, now: int) -> Staff | None:
    """The staff member a session token belongs to, or None if it is unknown, ended or expired."""
    if not token or len(token) > 100:
        return None
    sid = _token_id(token)
    row = (
        StaffSessionRow.select(StaffSessionRow, StaffAccountRow)
        .join(StaffAccountRow)
        .where(StaffSessionRow.id == sid)
        .first()
    )
    if row is None:
        return None
    account = row.account
    if not account.active or now - row.last_seen_at > _IDLE_MS or now - row.created_at > _ABSOLUTE_MS:
        StaffSessionRow.delete().where(StaffSessionRow.id == sid).execute()
        return None
    if now - row.last_seen_at > _TOUCH_EVERY_MS:
        StaffSessionRow.update(last_seen_at=now).where(StaffSessionRow.id == sid).execute()
    return Staff(account.id, account.username, account.full_name, account.role, sid)


def close_session(token: str) -> None:
    if token and len(token) <= 100:
        StaffSessionRow.delete().where(StaffSessionRow.id == _token_id(token)).execute()


def record_access(username: str, dossier_id: str, action: str, ip: str, *, now: int, detail: str = "") -> None:
    """One row of the read audit: who read which dossier, when, from where."""
    row = {"at": now, "username": username[:64], "dossier_id": dossier_id[:120], "action": action[:40],
           "ip": ip[:64], "detail": detail[:300]}
    storage.bookkeeping(lambda: AccessLogRow.create(**row), f"access log {row}")


def access_log(dossier_id: str = "", username: str = "", limit: int = 200) -> list[dict]:
    query = AccessLogRow.select()
    if dossier_id:
        query = query.where(AccessLogRow.dossier_id == dossier_id)
    if username:
        query = query.where(AccessLogRow.username == username)
    return list(query.order_by(AccessLogRow.id.desc()).limit(limit).dicts())
