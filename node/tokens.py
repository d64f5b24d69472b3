"""Personal API tokens: ``motcua token create|list|revoke`` and their check at each API call.

Plain functions over :class:`node.models.ApiTokenRow`, no Flask, like :mod:`node.accounts`: the CLI
and the API (:mod:`web.api_auth`) share them, and tests call them directly with their own clock.

Invariants
----------
- A token is ``mct_`` followed by 256 random bits (url-safe base64). It is shown once, when
  created; the database keeps only its SHA-256 (and its first characters, to tell tokens apart),
  so a copied database carries no usable token.
- A token acts as its account: it is refused as soon as the account is disabled, and the author
  of what it writes is the account's user name.
- Scope ``read`` or ``write``; what a read token may not do is decided by
  :mod:`web.permissions` (actions that write).
- Refused once expired (``expires_at``, by the caller's clock) or revoked; a revoked token never
  works again. Revoking is recorded, not deleted, so ``token list`` still shows it.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from node import storage
from node.accounts import AccountError, Staff
from node.models import ApiTokenRow, StaffAccountRow

PREFIX = "mct_"
SCOPES = ("read", "write")
DAY_MS = 24 * 3600 * 1000
MAX_TOKEN_LENGTH = 100
_SHOWN = 8  # characters of the secret kept to tell tokens apart (48 of the 256 bits: not enough to guess)
_TOUCH_EVERY_MS = 60 * 1000  # last_used_at is written at most once a minute per token


@dataclass(frozen=True)
class TokenStaff:
    """Who a valid token acts for, and what it may do."""

    staff: Staff
    scope: str
    token_id: int


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "replace")).hexdigest()


def create_token(username: str, scope: str, *, now: int, expires_days: int | None = None) -> tuple[str, ApiTokenRow]:
    """Make a token for an active account; return the secret (show it once) and its row."""
    if scope not in SCOPES:
        raise AccountError(f"Phạm vi phải là một trong: {', '.join(SCOPES)}.")
    if expires_days is not None and not 1 <= expires_days <= 3650:
        raise AccountError("Thời hạn từ 1 đến 3650 ngày.")
    account = StaffAccountRow.get_or_none(StaffAccountRow.username == username.strip().lower())
    if account is None:
        raise AccountError(f"Không có tài khoản {username}.")
    if not account.active:
        raise AccountError(f"Tài khoản {account.username} đã bị khóa.")
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiTokenRow.create(
        account=account.id, token_hash=_hash(secret), prefix=secret[:_SHOWN], scope=scope, created_at=now,
        expires_at=now + expires_days * DAY_MS if expires_days else 0,
    )
    return secret, row


def list_tokens(username: str = "", *, now: int) -> list[dict]:
    """Every token (newest first) with its account and state; never the secret (not stored)."""
    query = ApiTokenRow.select(ApiTokenRow, StaffAccountRow).join(StaffAccountRow)
    if username:
        query = query.where(StaffAccountRow.username == username)
    return [
        {"id": r.id, "username": r.account.username, "role": r.account.role, "active": r.account.active,
         "prefix": r.prefix, "scope": r.scope, "created_at": r.created_at, "expires_at": r.expires_at,
         "revoked_at": r.revoked_at, "last_used_at": r.last_used_at, "state": token_state(r, now)}
        for r in query.order_by(ApiTokenRow.id.desc())
    ]


def revoke_token(token_id: int, *, now: int) -> ApiTokenRow:
    row = ApiTokenRow.get_or_none(ApiTokenRow.id == token_id)
    if row is None:
        raise AccountError(f"Không có mã truy cập số {token_id}.")
    if not row.revoked_at:
        ApiTokenRow.update(revoked_at=now).where(ApiTokenRow.id == token_id).execute()
    return ApiTokenRow.get_by_id(token_id)


def token_state(row: ApiTokenRow, now: int) -> str:
    """``active``, ``revoked``, ``expired`` or ``account disabled``, as ``token list`` shows it."""
    if row.revoked_at:
        return "revoked"
    if row.expires_at and now >= row.expires_at:
        return "expired"
    if not row.account.active:
        return "account disabled"
    return "active"


def token_staff(secret: str, *, now: int) -> TokenStaff | None:
    """The account a token acts for, or None if it is unknown, revoked, expired or disabled."""
    if not secret.startswith(PREFIX) or len(secret) > MAX_TOKEN_LENGTH:
        return None
    row = (
        ApiTokenRow.select(ApiTokenRow, StaffAccountRow)
        .join(StaffAccountRow)
        .where(ApiTokenRow.token_hash == _hash(secret))
        .first()
    )
    if row is None or token_state(row, now) != "active":
        return None
    if now - row.last_used_at > _TOUCH_EVERY_MS:
        storage.bookkeeping(ApiTokenRow.update(last_used_at=now).where(ApiTokenRow.id == row.id).execute,
                            f"token {row.id} used at {now}")
    account = row.account
    return TokenStaff(Staff(account.id, account.username, account.full_name, account.role), row.scope, row.id)
