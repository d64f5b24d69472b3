"""How a ``motcua`` command reaches its settings and its node: the data directory comes from
``--data-dir`` or ``MOTCUA_DATA_DIR`` (kept in ``ctx.obj`` by the group in :mod:`node.cli`); a
missing or broken node is a :class:`click.ClickException`, never a traceback.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from node.cli.i18n import _
from node.config import ConfigError, Settings, load_settings

if TYPE_CHECKING:  # annotations only: the CLI opens a node only when a command runs
    from node.services import Node


def settings_of(ctx: click.Context) -> Settings:
    """The settings of the data directory the command was given."""
    try:
        return load_settings(ctx.obj["data_dir"])
    except ConfigError as e:
        raise click.ClickException(str(e)) from e


def node_of(ctx: click.Context) -> Node:
    """The node of that data directory, opened (its database bound)."""
    # deferred: opening a node pulls in the whole application; --help and init must not need it
    from node.atrest import AtRestError
    from node.services import NodeNotInitialised, open_node

    settings = settings_of(ctx)
    try:
        return open_node(settings)
    except NodeNotInitialised as e:
        raise click.ClickException(_("chưa có máy nào trong %(dir)s; hãy chạy: motcua init --role … --unit … --name …",
                                     dir=settings.data_dir)) from e
    except AtRestError as e:  # locked, or a keyring that does not open
        raise click.ClickException(_("%(error)s (mở khoá: motcua unlock --user TÊN)", error=e)) from e


def ca_fingerprint_of(node: Node) -> str:
    """The fingerprint of the district CA this node trusts, or "" when it has none."""
    if node.trust.ca is None:
        return ""
    from certs.identity import ca_fingerprint

    return ca_fingerprint(node.trust.ca)
