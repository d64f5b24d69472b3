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
from node.config import Settings


def _password_option(prompt: str = "Mật khẩu / password", confirm: bool = False):  # -> decorator
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
                    password = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
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
        value = click.prompt("Escrow key passphrase (keep it with the exported key, offline)", hide_input=True,
                             confirmation_prompt=confirm)
    if not value:
        if not required:
            return None
        raise click.ClickException(f"the escrow key passphrase: set {ESCROW_PASSPHRASE_ENV} or run in a terminal")
    if len(value) < 12:
        raise click.ClickException("the escrow passphrase needs at least 12 characters")
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
        return [f"FAIL at rest: {st['summary']}"], 1, node
    lines, bad = [], 0
    escrow = (f"escrow {str(st['escrow'])[:16]}…" if st["escrow"]
              else "no district escrow (enroll, or motcua escrow --public FILE)")
    lines.append(f"ok   at rest: SQLCipher database, encrypted node key and CA key, key generation "
                 f"{st['generation']}; {st['account_slots']} account slot(s), {escrow}")
    if st["plaintext_db"]:
        bad += 1
        lines.append("FAIL at rest: the SQLite file is plaintext although a keyring exists (an interrupted "
                     "motcua encrypt?): restore the backup it made")
    if st["setup_slot"]:
        lines.append("warn at rest: no staff account yet: the data key sits unprotected in keys.json; "
                     "run motcua user add")
    district_escrow = settings.data_dir / "ca" / "escrow.pub"
    if (settings.data_dir / "ca" / "ca.pem").exists() and not district_escrow.exists():
        lines.append("warn escrow: this district's CA has no escrow key: communes whose passwords are all lost "
                     "cannot be recovered; run motcua ca escrow-init")
    if district_escrow.exists():
        from node.atrest import escrow_fingerprint, load_escrow_public

        fingerprint = escrow_fingerprint(load_escrow_public(district_escrow.read_bytes()))
        lines.append(f"ok   escrow key of this district: {fingerprint} (private part: ca/escrow.key, "
                     "passphrase-encrypted; keep a copy offline)")
    idle = idle_lock_ms(settings)
    locked_note = ("while locked: the web server serves only its sign-in page and /healthz; no background "
                   "sync, no relay, no API; motcua commands need motcua unlock")
    try:
        node = node_of(ctx)
    except click.ClickException:
        lines.append(f"ok   lock: LOCKED ({locked_note})")
        return lines, bad, None
    how = "setup slot" if st["setup_slot"] else "unlock cache (motcua lock empties it)"
    idle_text = f"; locks itself after {idle // 60000} min idle" if idle else ""
    lines.append(f"ok   lock: unlocked here by the {how}{idle_text}; {locked_note}")
    try:
        _keyring(node)
    except AtRestError as e:
        bad += 1
        lines.append(f"FAIL at rest: {e}")
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
    click.echo(f"unlocked (cache {path}); motcua lock locks again")


@click.command()
@click.pass_context
def lock(ctx: click.Context) -> None:
    """Lock this node: empty the unlock cache and make a running server lock itself."""
    from node.config import read_node_file
    from node.lockstate import request_lock

    settings = settings_of(ctx)
    node_id = str(read_node_file(settings.data_dir).get("node_id", ""))
    request_lock(settings, node_id)
    click.echo("locked: the server serves only its sign-in page until a staff member signs in")


@click.command()
@click.option("--escrow-key", "escrow_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The district's escrow.key (motcua ca escrow-export); its passphrase from "
                   "MOTCUA_ESCROW_PASSPHRASE or prompted.")
@click.option("--user", "username", required=True, help="The staff account whose password is set anew.")
@_password_option("Mật khẩu mới / new password", confirm=True)
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
    click.echo(f"recovered: {username} has a new password and the only account slot; data key rotated "
               f"(generation {ring.generation}); other staff get their slot back at their next sign-in")


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
    click.echo(f"rekeyed: generation {ring.generation}; slots now: {', '.join(ring.kinds())}; the other staff "
               "get their slot back at their next sign-in while the node is unlocked")


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
    click.echo(f"data key escrowed to {fingerprint} (compare with the district's motcua doctor)")


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
    click.echo(f"encrypted; digest before {before}\n           digest after  {after}")
    if before != after:
        raise click.ClickException("the digest changed: restore the backup and report this")
    click.echo("add a staff account slot now (motcua user add, or a sign-in): until then the key is in a setup slot")
