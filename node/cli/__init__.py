"""The ``motcua`` command: create, run, check and repair a node. Each command is a thin call
into the node's use cases; the data directory comes from ``--data-dir`` or ``MOTCUA_DATA_DIR``.

One module per command group: :mod:`~node.cli.lifecycle` (init, serve, backup, restore,
unblock-writes, seed-demo), :mod:`~node.cli.health` (doctor, verify, rebuild, digest),
:mod:`~node.cli.peering` (sync, peers, sync-log),
:mod:`~node.cli.bundle` (bundle export/import), :mod:`~node.cli.conflicts`,
:mod:`~node.cli.trust` (ca, enroll, tls), :mod:`~node.cli.accounts` (user, token),
:mod:`~node.cli.reference`, :mod:`~node.cli.codes`, :mod:`~node.cli.report` and
:mod:`~node.cli.atrest` (unlock, lock, recover, rekey, escrow, encrypt). This module only
declares the group and attaches them; ``python -m node.cli`` runs it (``__main__.py``). The
language of the messages is chosen here, once per command (:mod:`~node.cli.i18n`).
"""

from __future__ import annotations

from pathlib import Path

import click

from node import __version__
from node.cli import (
    accounts,
    atrest,
    bundle,
    codes,
    conflicts,
    files,
    health,
    i18n,
    lifecycle,
    peering,
    reference,
    report,
    trust,
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="motcua")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MOTCUA_DATA_DIR",
    help="Node data directory (default: $MOTCUA_DATA_DIR or ~/.local/share/motcua).",
)
@click.option(
    "--lang",
    type=click.Choice(i18n.LANGUAGES),
    default=None,
    help="Language of the messages: vi or en (default: $MOTCUA_LANG, else the node's LANGUAGE, else vi).",
)
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None, lang: str | None) -> None:
    """motcua: offline-first sync node for commune one-stop offices."""
    ctx.obj = {"data_dir": data_dir, "lang": i18n.choose(lang, data_dir)}


for _command in (
    lifecycle.init, lifecycle.serve, lifecycle.backup, lifecycle.restore, lifecycle.unblock_writes,
    lifecycle.seed_demo,
    health.doctor, health.verify, health.rebuild, health.digest,
    peering.sync, peering.peers, peering.sync_log, bundle.bundle,
    conflicts.conflicts,
    trust.ca_group, trust.enroll, trust.tls_group,
    accounts.user, accounts.token,
    reference.reference,
    codes.codes,
    files.files_group,
    report.report,
    atrest.unlock, atrest.lock, atrest.recover, atrest.rekey, atrest.escrow, atrest.encrypt,
):
    main.add_command(_command)
del _command

__all__ = ["main"]
