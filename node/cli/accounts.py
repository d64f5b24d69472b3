"""``motcua user`` and ``motcua token``: staff accounts and their personal API tokens."""

from __future__ import annotations

import click

from node.cli.atrest import _keyring, _password_option
from node.cli.context import node_of


@click.group()
def user() -> None:
    """Staff accounts of this node: personal, one role each, Argon2id-hashed passwords."""


@user.command("add")
@click.option("--username", required=True, help="Sign-in name: lower-case letters without accents, digits, . _ -")
@click.option("--role", type=click.Choice(["clerk", "head", "mobile", "district_admin"]), required=True,
              help="clerk (one-stop desk), head (head of office), mobile (outreach team), district_admin.")
@click.option("--name", "full_name", required=True, help="Full name, as printed on forms (e.g. 'Nguyễn Thị Lan').")
@_password_option("Mật khẩu / password", confirm=True)
@click.pass_context
def user_add(ctx: click.Context, username: str, role: str, full_name: str, password: str) -> None:
    """Create a staff account (prompts for the password twice)."""
    from node.accounts import AccountError, create_account
    from node.unlocking import set_account_slot

    node = node_of(ctx.parent)
    try:
        row = create_account(username, full_name, role, password, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    first = node.data_key is not None and not _keyring(node).account_slots
    set_account_slot(node, row.username, password)
    click.echo(f"created {row.role} account {row.username} ({row.full_name})")
    if first:
        # The setup slot is gone: the one who set the node up keeps it unlocked for the next
        # steps (serve, enroll, seed) as motcua unlock would, until motcua lock.
        from node.unlocking import unlock_cache_for

        unlock_cache_for(node.settings, node.data_key)
        click.echo("the node's data key is now protected by this account's password (key slot); it stays "
                   "unlocked on this machine until motcua lock (or a restart); then a sign-in unlocks it")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """One line per account: user name, role, active, last sign-in, full name."""
    from node.accounts import list_accounts
    from node.reports import format_ms

    node_of(ctx.parent)
    rows = list_accounts()
    for r in rows:
        click.echo(f"{r.username:<20} {r.role:<15} {'active' if r.active else 'disabled':<8} "
                   f"{format_ms(r.last_login_at):<19} {r.full_name}")
    click.echo(f"{len(rows)} account(s)")


@user.command("disable")
@click.argument("username")
@click.pass_context
def user_disable(ctx: click.Context, username: str) -> None:
    """Disable an account and end its sessions at once (a person who left, a lost laptop)."""
    from node.accounts import AccountError, set_active
    from node.atrest import AtRestError
    from node.unlocking import check_slot_can_go, remove_account_slot

    node = node_of(ctx.parent)
    try:
        check_slot_can_go(node.settings, username)
        set_active(username, False)
    except (AccountError, AtRestError) as e:
        raise click.ClickException(str(e)) from e
    slot = remove_account_slot(node.settings, username)
    click.echo(f"account {username} disabled; its sessions are ended" + ("; its key slot is removed" if slot else ""))


@user.command("set-password")
@click.argument("username")
@_password_option("Mật khẩu mới / new password", confirm=True)
@click.pass_context
def user_set_password(ctx: click.Context, username: str, password: str) -> None:
    """Set a new password (prompted twice); ends the account's sessions."""
    from node.accounts import AccountError, set_password
    from node.unlocking import set_account_slot

    node = node_of(ctx.parent)
    try:
        set_password(username, password, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    set_account_slot(node, username, password)
    click.echo(f"password of {username} changed; its sessions are ended; its key slot is rewrapped")


# -- motcua token: personal API tokens (issue 10) -------------------------------------------------


@click.group()
def token() -> None:
    """Personal API tokens: each acts as its staff account; shown once, only a hash is kept."""


@token.command("create")
@click.option("--user", "username", required=True, help="The staff account the token acts as.")
@click.option("--scope", type=click.Choice(["read", "write"]), required=True,
              help="read: reads only; write: also the changes the account's role allows.")
@click.option("--expires", "expires_days", type=click.IntRange(1, 3650), default=None,
              help="Days until the token stops working (default: until revoked).")
@click.pass_context
def token_create(ctx: click.Context, username: str, scope: str, expires_days: int | None) -> None:
    """Create a token and print it once (send it as 'Authorization: Bearer <token>')."""
    from node.accounts import AccountError
    from node.reports import format_ms
    from node.tokens import create_token

    node = node_of(ctx.parent)
    try:
        secret, row = create_token(username, scope, now=node.wall_ms(), expires_days=expires_days)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    expires = format_ms(row.expires_at) if row.expires_at else "never (until revoked)"
    click.echo(f"token {row.id} for {row.account.username} ({row.account.role}), scope {scope}, expires {expires}")
    click.echo(secret)
    click.echo("Copy it now: it is not shown again (only its SHA-256 is stored).", err=True)


@token.command("list")
@click.option("--user", "username", default="", help="Only this account's tokens.")
@click.pass_context
def token_list(ctx: click.Context, username: str) -> None:
    """One line per token, newest first: id, account, scope, state, created, expires, last used."""
    from node.reports import format_ms
    from node.tokens import list_tokens

    node = node_of(ctx.parent)
    rows = list_tokens(username, now=node.wall_ms())
    for t in rows:
        click.echo(f"{t['id']:>4} {t['username']:<20} {t['scope']:<5} {t['state']:<16} "
                   f"created {format_ms(t['created_at'])}"
                   f"  expires {format_ms(t['expires_at']) if t['expires_at'] else 'never':<19}"
                   f"  last used {format_ms(t['last_used_at'])}  {t['prefix']}…")
    click.echo(f"{len(rows)} token(s)")


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a token at once (a leaked script, a person who left); it never works again."""
    from node.accounts import AccountError
    from node.tokens import revoke_token

    node = node_of(ctx.parent)
    try:
        row = revoke_token(token_id, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"token {row.id} of {row.account.username} revoked")
