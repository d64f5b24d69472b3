"""``motcua unlock``, ``lock``, ``recover``, ``rekey``, ``escrow`` and ``encrypt``: encryption at rest
(issue 16; the use cases are in :mod:`node.unlocking`), and the at-rest lines of ``motcua doctor``.

Passwords are prompted, or read from one line of standard input with ``--password-stdin``
(scripts, the demo); never taken from the environment.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import click

from node.cli.context import node_of, settings_of
from node.cli.i18n import N_, _
from node.config import Settings


def _password_option(prompt: str = N_("Mật khẩu"), confirm: bool = False):  # -> decorator
    """``--password-stdin`` (scripts: one line of standard input), else a hidden prompt; the
    command receives ``password``. ``--password VALUE`` is kept for old scripts and tests (it
    shows in the process list: avoid it)."""

    def deco(f):
        @functools.wraps(f)
        def wrapped(*args: Any, password: str | None, password_stdin: bool, **kwargs: Any) -> Any:
            if password is None:
                if password_stdin:
                    password = sys.stdin.readline().rstrip("\r\n")
                else:
                    password = click.prompt(_(prompt), hide_input=True, confirmation_prompt=confirm)
            return f(*args, password=password, **kwargs)

        wrapped = click.option("--password-stdin", is_flag=True,
                               help="Read the password from one line of standard input (else prompted).")(wrapped)
        return click.option("--password", default=None, hidden=True)(wrapped)

    return deco


ESCROW_PASSPHRASE_ENV = "MOTCUA_ESCROW_PASSPHRASE"


def _escrow_passphrase(confirm: bool, required: bool = True) -> bytes | None:
    """From ``MOTCUA_ESCROW_PASSPHRASE``, else prompted on a terminal; without either, None when
    not ``required`` (an unattended ``ca init``), else an error."""
    value = os.environ.get(ESCROW_PASSPHRASE_ENV)
    if not value and sys.stdin.isatty():
        value = click.prompt(_("Cụm mật khẩu của khoá ký gửi (cất cùng khoá đã xuất, ngoại tuyến)"), hide_input=True,
                             confirmation_prompt=confirm)
    if not value:
        if not required:
            return None
        raise click.ClickException(_("cần cụm mật khẩu của khoá ký gửi: đặt %(env)s hoặc chạy trong một cửa sổ lệnh",
                                     env=ESCROW_PASSPHRASE_ENV))
    if len(value) < 12:
        raise click.ClickException(_("cụm mật khẩu của khoá ký gửi cần ít nhất 12 ký tự"))
    return value.encode("utf-8")


def _keyring(node):  # -> Keyring
    from node.atrest import Keyring

    return Keyring.load(node.settings.data_dir)


def at_rest_report(ctx: click.Context, settings: Settings) -> tuple[list[str], int, Any]:
    """``motcua doctor``'s lines on encryption at rest and the lock; the node if it opens."""
    from node.atrest import AtRestError
    from node.lockstate import idle_lock_ms
    from node.unlocking import state

    st = state(settings)
    if not st["encrypted"]:
        node = node_of(ctx)
        return ["FAIL " + _("mã hoá khi lưu: %(summary)s", summary=st["summary"])], 1, node
    lines, bad = [], 0
    escrow = (_("ký gửi %(fingerprint)s…", fingerprint=str(st["escrow"])[:16]) if st["escrow"]
              else _("chưa ký gửi cho cấp trên (enroll, hoặc motcua escrow --public TỆP)"))
    lines.append("ok   " + _("mã hoá khi lưu: cơ sở dữ liệu SQLCipher, khoá của máy và khoá CA được mã hoá, "
                             "thế hệ khoá %(generation)s; %(slots)s ô khoá tài khoản, %(escrow)s",
                             generation=st["generation"], slots=st["account_slots"], escrow=escrow))
    if st["plaintext_db"]:
        bad += 1
        lines.append("FAIL " + _("mã hoá khi lưu: tệp SQLite chưa được mã hoá dù đã có chùm khoá (motcua encrypt bị "
                                 "ngắt giữa chừng?): hãy khôi phục bản sao lưu lệnh đó đã tạo"))
    if st["setup_slot"]:
        lines.append("warn " + _("mã hoá khi lưu: chưa có tài khoản cán bộ nào: khoá dữ liệu nằm trong keys.json mà "
                                 "không được bảo vệ; hãy chạy motcua user add"))
    district_escrow = settings.data_dir / "ca" / "escrow.pub"
    if (settings.data_dir / "ca" / "ca.pem").exists() and not district_escrow.exists():
        lines.append("warn " + _("ký gửi: CA của cấp trên này chưa có khoá ký gửi: xã nào mất hết mật khẩu sẽ không "
                                 "khôi phục được; hãy chạy motcua ca escrow-init"))
    if district_escrow.exists():
        from node.atrest import escrow_fingerprint, load_escrow_public

        fingerprint = escrow_fingerprint(load_escrow_public(district_escrow.read_bytes()))
        lines.append("ok   " + _("khoá ký gửi của cấp trên này: %(fingerprint)s (phần bí mật: ca/escrow.key, mã hoá "
                                 "bằng cụm mật khẩu; hãy giữ một bản ngoại tuyến)", fingerprint=fingerprint))
    idle = idle_lock_ms(settings)
    locked_note = _("khi khoá: máy chủ web chỉ phục vụ trang đăng nhập và /healthz; không đồng bộ nền, không chuyển "
                    "tiếp, không API; các lệnh motcua cần motcua unlock")
    try:
        node = node_of(ctx)
    except click.ClickException:
        lines.append("ok   " + _("khoá: ĐANG KHOÁ (%(note)s)", note=locked_note))
        return lines, bad, None
    how = _("ô khoá khởi tạo") if st["setup_slot"] else _("bộ nhớ mở khoá (motcua lock xoá nó)")
    idle_text = _("; tự khoá sau %(minutes)s phút không dùng", minutes=idle // 60000) if idle else ""
    lines.append("ok   " + _("khoá: đang mở khoá ở đây nhờ %(how)s%(idle)s; %(note)s", how=how, idle=idle_text,
                             note=locked_note))
    try:
        _keyring(node)
    except AtRestError as e:
        bad += 1
        lines.append("FAIL " + _("mã hoá khi lưu: %(summary)s", summary=e))
    return lines, bad, node


@click.command()
@click.option("--user", "username", required=True, help="A staff account of this node.")
@_password_option()
@click.pass_context
def unlock(ctx: click.Context, username: str, password: str) -> None:
    """Unlock this node for command-line work: the data key goes to the unlock cache (in RAM)."""
    from node.atrest import AtRestError
    from node.unlocking import unlock_cache_for, unlock_with_password

    settings = settings_of(ctx)
    try:
        data_key = unlock_with_password(settings, username, password)
    except AtRestError as e:
        raise click.ClickException(str(e)) from e
    path = unlock_cache_for(settings, data_key)
    click.echo(_("đã mở khoá (bộ nhớ %(path)s); motcua lock để khoá lại", path=path))


@click.command()
@click.pass_context
def lock(ctx: click.Context) -> None:
    """Lock this node: empty the unlock cache and make a running server lock itself."""
    from node.config import read_node_file
    from node.lockstate import request_lock

    settings = settings_of(ctx)
    node_id = str(read_node_file(settings.data_dir).get("node_id", ""))
    request_lock(settings, node_id)
    click.echo(_("đã khoá: máy chủ chỉ phục vụ trang đăng nhập cho đến khi một cán bộ đăng nhập"))


@click.command()
@click.option("--escrow-key", "escrow_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The district's escrow.key (motcua ca escrow-export); its passphrase from "
                   "MOTCUA_ESCROW_PASSPHRASE or prompted.")
@click.option("--user", "username", required=True, help="The staff account whose password is set anew.")
@_password_option(N_("Mật khẩu mới"), confirm=True)
@click.pass_context
def recover(ctx: click.Context, escrow_file: Path, username: str, password: str) -> None:
    """Open a node whose passwords are all lost with the district escrow key; set a new password
    for one account and rotate the data key."""
    from node.accounts import AccountError, check_password_policy
    from node.atrest import AtRestError
    from node.services import system_wall_ms
    from node.unlocking import recover as do_recover

    settings = settings_of(ctx)
    try:
        check_password_policy(password, username)
        ring = do_recover(settings, escrow_file.read_bytes(), _escrow_passphrase(confirm=False), username, password,
                          system_wall_ms())
    except (AtRestError, AccountError, OSError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(_("đã khôi phục: %(user)s có mật khẩu mới và là ô khoá tài khoản duy nhất; khoá dữ liệu đã được thay "
                 "(thế hệ %(generation)s); các cán bộ khác có lại ô khoá ở lần đăng nhập tới", user=username,
                 generation=ring.generation))


@click.command()
@click.option("--user", "username", required=True, help="Your staff account (its slot is rewrapped at once).")
@_password_option()
@click.pass_context
def rekey(ctx: click.Context, username: str, password: str) -> None:
    """Rotate the data key: re-encrypt the database and key files (stop motcua serve first)."""
    from node.atrest import AtRestError
    from node.unlocking import rekey as do_rekey
    from node.unlocking import unlock_with_password

    settings = settings_of(ctx)
    try:
        old = unlock_with_password(settings, username, password)
        ring = do_rekey(settings, old, username, password)
    except AtRestError as e:
        raise click.ClickException(str(e)) from e
    click.echo(_("đã thay khoá: thế hệ %(generation)s; các ô khoá hiện có: %(slots)s; các cán bộ khác có lại ô khoá ở "
                 "lần đăng nhập tới khi máy đang mở khoá", generation=ring.generation, slots=", ".join(ring.kinds())))


@click.command()
@click.option("--public", "public_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The district's escrow.pub (its CA folder, or motcua ca escrow-export).")
@click.pass_context
def escrow(ctx: click.Context, public_file: Path) -> None:
    """Wrap the data key to the district escrow key too (enrolling does it; this is for nodes
    enrolled before the district had one). Check the fingerprint with the district."""
    from node.atrest import AtRestError
    from node.unlocking import escrow_to

    node = node_of(ctx)
    try:
        fingerprint = escrow_to(node, public_file.read_bytes())
    except (AtRestError, OSError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(_("đã ký gửi khoá dữ liệu cho %(fingerprint)s (hãy đối chiếu với motcua doctor của cấp trên)",
                 fingerprint=fingerprint))


@click.command()
@click.option("--backup-to", "backup_to", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the checked backup taken first goes (an external disk).")
@click.pass_context
def encrypt(ctx: click.Context, backup_to: Path) -> None:
    """Encrypt a plaintext node in place (stop motcua serve first): backup, SQLCipher copy,
    node key rewrapped; the digest is compared before and after."""
    from node.atrest import AtRestError
    from node.backup import BackupError
    from node.services import system_wall_ms
    from node.unlocking import encrypt_plaintext_node

    settings = settings_of(ctx)
    try:
        _key, before, after = encrypt_plaintext_node(settings, backup_to, lambda m: click.echo(f"  {m}", err=True),
                                                     system_wall_ms())
    except (AtRestError, BackupError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(_("đã mã hoá; mã băm trước %(digest)s", digest=before))
    click.echo(_("           mã băm sau   %(digest)s", digest=after))
    if before != after:
        raise click.ClickException(_("mã băm đã thay đổi: hãy khôi phục bản sao lưu và báo lại việc này"))
    click.echo(_("hãy thêm ô khoá cho một tài khoản cán bộ ngay (motcua user add, hoặc một lần đăng nhập): trước đó "
                 "khoá nằm trong ô khoá khởi tạo"))
