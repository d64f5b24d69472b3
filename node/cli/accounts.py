"""``motcua user`` and ``motcua token``: staff accounts and their personal API tokens."""

from __future__ import annotations

import click

from node.cli.atrest import _keyring
from node.cli.context import node_of
from node.cli.i18n import _


def ask_password(prompt: str) -> str:
    """The password, typed twice at a prompt or piped on stdin (two lines). Never an option: a
    command line is seen by every user of the machine (ps) and kept in shell history."""
    import sys

    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True, confirmation_prompt=True))
    first, second = sys.stdin.readline().rstrip("\r\n"), sys.stdin.readline().rstrip("\r\n")
    if not first:
        raise click.UsageError(_("chưa có mật khẩu: hãy gõ ở dấu nhắc, hoặc đưa vào stdin hai lần (hai dòng)"))
    if first != second:
        raise click.UsageError(_("hai mật khẩu trên stdin khác nhau"))
    return first


@click.group()
def user() -> None:
    """Staff accounts of this node: personal, one role each, Argon2id-hashed passwords."""


@user.command("add")
@click.option("--username", required=True, help="Sign-in name: lower-case letters without accents, digits, . _ -")
@click.option("--role", type=click.Choice(["clerk", "head", "mobile", "district_admin"]), required=True,
              help="clerk (one-stop desk), head (head of office), mobile (outreach team), district_admin.")
@click.option("--name", "full_name", required=True, help="Full name, as printed on forms (e.g. 'Nguyễn Thị Lan').")
@click.pass_context
def user_add(ctx: click.Context, username: str, role: str, full_name: str) -> None:
    """Create a staff account (prompts for the password twice; a script pipes it on stdin)."""
    from node.accounts import AccountError, create_account
    from node.unlocking import set_account_slot

    node = node_of(ctx.parent)
    password = ask_password(_("Mật khẩu"))
    try:
        row = create_account(username, full_name, role, password, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    first = node.data_key is not None and not _keyring(node).account_slots
    set_account_slot(node, row.username, password)
    click.echo(_("đã tạo tài khoản %(role)s %(user)s (%(name)s)", role=row.role, user=row.username, name=row.full_name))
    if first:
        # The setup slot is gone: the one who set the node up keeps it unlocked for the next
        # steps (serve, enroll, seed) as motcua unlock would, until motcua lock.
        from node.unlocking import unlock_cache_for

        unlock_cache_for(node.settings, node.data_key)
        click.echo(_("khoá dữ liệu của máy giờ được bảo vệ bằng mật khẩu của tài khoản này (ô khoá); máy vẫn mở khoá "
                     "trên máy tính này đến khi motcua lock (hoặc khởi động lại); sau đó một lần đăng nhập sẽ mở khoá"))


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """One line per account: user name, role, active, last sign-in, full name."""
    from node.accounts import list_accounts
    from node.reports import format_ms

    node_of(ctx.parent)
    rows = list_accounts()
    for r in rows:
        state = _("hoạt động") if r.active else _("đã khoá")
        click.echo(f"{r.username:<20} {r.role:<15} {state:<8} {format_ms(r.last_login_at):<19} {r.full_name}")
    click.echo(_("%(n)s tài khoản", n=len(rows)))


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
    click.echo(_("đã khoá tài khoản %(user)s; các phiên đăng nhập của nó đã kết thúc", user=username)
               + (_("; ô khoá của nó đã bị xoá") if slot else ""))


@user.command("set-password")
@click.argument("username")
@click.pass_context
def user_set_password(ctx: click.Context, username: str) -> None:
    """Set a new password (prompted twice); ends the account's sessions."""
    from node.accounts import AccountError, set_password
    from node.unlocking import set_account_slot

    node = node_of(ctx.parent)
    password = ask_password(_("Mật khẩu mới"))
    try:
        set_password(username, password, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    set_account_slot(node, username, password)
    click.echo(_("đã đổi mật khẩu của %(user)s; các phiên đăng nhập của nó đã kết thúc; ô khoá đã được bọc lại",
                 user=username))


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
    expires = format_ms(row.expires_at) if row.expires_at else _("không bao giờ (đến khi bị thu hồi)")
    click.echo(_("mã truy cập %(id)s cho %(user)s (%(role)s), phạm vi %(scope)s, hết hạn %(expires)s", id=row.id,
                 user=row.account.username, role=row.account.role, scope=scope, expires=expires))
    click.echo(secret)
    click.echo(_("Hãy sao chép ngay: mã này không hiện lại (chỉ lưu SHA-256 của nó)."), err=True)


@token.command("list")
@click.option("--user", "username", default="", help="Only this account's tokens.")
@click.pass_context
def token_list(ctx: click.Context, username: str) -> None:
    """One line per token, newest first: id, account, scope, state, created, expires, last used."""
    from node.reports import format_ms
    from node.tokens import list_tokens

    node = node_of(ctx.parent)
    rows = list_tokens(username, now=node.wall_ms())
    created, expires_word, last_used = _("tạo"), _("hết hạn"), _("dùng lần cuối")
    for t in rows:
        expires = format_ms(t["expires_at"]) if t["expires_at"] else _("không bao giờ")
        click.echo(f"{t['id']:>4} {t['username']:<20} {t['scope']:<5} {t['state']:<16} "
                   f"{created} {format_ms(t['created_at'])}  {expires_word} {expires:<19}"
                   f"  {last_used} {format_ms(t['last_used_at'])}  {t['prefix']}…")
    click.echo(_("%(n)s mã truy cập", n=len(rows)))


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
    click.echo(_("đã thu hồi mã truy cập %(id)s của %(user)s", id=row.id, user=row.account.username))
