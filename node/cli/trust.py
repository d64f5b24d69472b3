"""``motcua ca`` (the district certificate authority) and ``motcua enroll`` (a node joining it)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from node.cli.atrest import _escrow_passphrase
from node.cli.context import node_of, settings_of


@click.group("ca")
def ca_group() -> None:
    """The district certificate authority (on the district node): init, pair, revoke."""


@ca_group.command("init")
@click.pass_context
def ca_init(ctx: click.Context) -> None:
    """Create the district CA under <data dir>/ca, certify this district node, and make the
    district escrow key pair (passphrase from MOTCUA_ESCROW_PASSPHRASE, else prompted)."""
    from node.domain.errors import DomainError
    from node.enrollment import init_ca

    node = node_of(ctx.parent)
    passphrase = _escrow_passphrase(confirm=True, required=False)
    try:
        fingerprint = init_ca(node, escrow_passphrase=passphrase or b"")
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"district CA created; fingerprint {fingerprint}")
    if passphrase:
        click.echo("escrow key pair created in ca/escrow.key (passphrase-encrypted) and ca/escrow.pub; enrolling "
                   "nodes wrap their data key to it. Copy it offline: motcua ca escrow-export --to DIR")
    else:
        click.echo("WARNING: no escrow key (no MOTCUA_ESCROW_PASSPHRASE and no terminal): a commune whose "
                   "passwords are all lost cannot be recovered; run motcua ca escrow-init", err=True)
    click.echo("restart motcua serve: it now serves https and accepts only certified nodes")


@ca_group.command("escrow-init")
@click.pass_context
def ca_escrow_init(ctx: click.Context) -> None:
    """Make the district escrow key pair if the CA was made without it (passphrase from
    MOTCUA_ESCROW_PASSPHRASE, else prompted); nodes enrolling from now on escrow to it."""
    from node.atrest import ESCROW_PUBLIC_FILE
    from node.enrollment import ca_layout, make_escrow_key
    from node.unlocking import escrow_to

    node = node_of(ctx.parent)
    layout = ca_layout(node)
    if not layout.certificate.exists():
        raise click.ClickException("no CA here: run motcua ca init")
    if (layout.root / ESCROW_PUBLIC_FILE).exists():
        raise click.ClickException(f"{layout.root / ESCROW_PUBLIC_FILE} exists already")
    make_escrow_key(layout, _escrow_passphrase(confirm=True))
    fingerprint = escrow_to(node, (layout.root / ESCROW_PUBLIC_FILE).read_bytes()) if node.data_key else ""
    click.echo(f"escrow key pair created in {layout.root}; this node escrowed to it {fingerprint[:16]}… "
               "Nodes enrolled before: motcua escrow --public escrow.pub on each")


@ca_group.command("escrow-export")
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder (a USB key kept in the district's safe) receiving escrow.key and escrow.pub.")
@click.pass_context
def ca_escrow_export(ctx: click.Context, dest: Path) -> None:
    """Copy the escrow key pair (private part still passphrase-encrypted) for offline keeping."""
    import shutil

    from node.atrest import ESCROW_KEY_FILE, ESCROW_PUBLIC_FILE

    root = settings_of(ctx.parent).data_dir / "ca"
    if not (root / ESCROW_KEY_FILE).exists():
        raise click.ClickException(f"no escrow key in {root}: run motcua ca init")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in (ESCROW_KEY_FILE, ESCROW_PUBLIC_FILE):
        shutil.copy2(root / name, dest / name)
    click.echo(f"escrow key exported to {dest}; it opens with its passphrase only (motcua recover --escrow-key)")


@ca_group.command("pair")
@click.option("--role", type=click.Choice(["commune", "mobile", "district"]), required=True)
@click.option("--unit", required=True, help="Unit code the enrolled node will serve.")
@click.option("--name", required=True, help="Name the certificate will carry.")
@click.option("--valid-hours", type=click.IntRange(1, 720), default=72, show_default=True)
@click.pass_context
def ca_pair(ctx: click.Context, role: str, unit: str, name: str, valid_hours: int) -> None:
    """Print a one-time pairing code to type on the node being enrolled."""
    from node.domain.errors import DomainError
    from node.enrollment import new_pairing_code

    node = node_of(ctx.parent)
    try:
        code, expires = new_pairing_code(node, role, unit, name, valid_hours)
    except (DomainError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"pairing code: {code}\nfor {name} ({role}, unit {unit}); valid until {expires}; works once")


@ca_group.command("revoke")
@click.argument("node_id")
@click.option("--after-seq", type=int, default=None, help="Last valid seq (default: what the district holds).")
@click.option("--unit", default=None, help="Unit of the feed (default: the node's unit).")
@click.option("--reason", type=click.Choice(["unspecified", "key_compromise", "superseded",
                                            "cessation_of_operation"]), default="unspecified")
@click.option("--author", default=lambda: os.environ.get("USER", "admin"))
@click.pass_context
def ca_revoke(ctx: click.Context, node_id: str, after_seq: int | None, unit: str | None, reason: str,
              author: str) -> None:
    """Revoke a node: its work up to the given seq stays valid, anything later is refused everywhere."""
    from node.domain.errors import DomainError
    from node.enrollment import revoke

    node = node_of(ctx.parent)
    try:
        done = revoke(node, node_id, author, reason, after_seq, unit)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"revoked {node_id} after seq {done['after_seq']} of unit {done['unit']} (event {done['event']})")


@click.command()
@click.option("--district", "district_url", required=True, help="URL of the district node.")
@click.option("--code", required=True, help="The one-time pairing code shown by the district.")
@click.option("--name", "extra_names", multiple=True,
              help="Another host name or LAN address for the https certificate (repeatable).")
@click.pass_context
def enroll(ctx: click.Context, district_url: str, code: str, extra_names: tuple[str, ...]) -> None:
    """Enroll this node with the district CA using a one-time pairing code."""
    from node.atrest import AtRestError, node_key_password
    from node.enrollment import EnrollmentFailed
    from node.enrollment import enroll as do_enroll
    from node.https import default_names
    from node.lockstate import resolve_data_key
    from node.unlocking import escrow_to

    settings = settings_of(ctx)
    names = list(dict.fromkeys([*default_names(settings), *extra_names]))
    try:
        data_key = resolve_data_key(settings)
        done = do_enroll(settings.data_dir, district_url, code, settings.HTTP_TIMEOUT_SECONDS, names,
                         node_key_password=node_key_password(data_key))
    except AtRestError as e:
        raise click.ClickException(f"{e} (motcua unlock --user NAME)") from e
    except EnrollmentFailed as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"enrolled as {done.name} ({done.role}, unit {done.unit}), node {done.node_id}")
    if done.tls_names:
        click.echo(f"https certificate (ECDSA P-256) for {', '.join(done.tls_names)}")
        if done.tls_error:
            click.echo(f"warning: the district refused some names ({done.tls_error}); the certificate names "
                       "only the LAN ones", err=True)
    else:
        click.echo(f"warning: no https certificate for browsers: {done.tls_error}; sync works; later run "
                   "motcua tls request --district URL", err=True)
    if done.escrow_pem and data_key is not None:
        node = node_of(ctx)
        fingerprint = escrow_to(node, done.escrow_pem)
        node.close()
        click.echo(f"data key escrowed to the district escrow key {fingerprint[:16]}… (motcua recover)")
    click.echo(f"district CA fingerprint {done.fingerprint}; restart motcua serve to serve https")


@click.group("tls")
def tls_group() -> None:
    """The https certificate browsers accept (ECDSA P-256, from the district TLS CA)."""


@tls_group.command("request")
@click.option("--district", "district_url", default=None,
              help="URL of the district node (default: PARENT_URL). Not needed on the district itself.")
@click.option("--name", "extra_names", multiple=True,
              help="Another host name or LAN address staff type for this node (repeatable).")
@click.option("--only", is_flag=True, help="Certify only the --name values, not the names found automatically.")
@click.pass_context
def tls_request(ctx: click.Context, district_url: str | None, extra_names: tuple[str, ...], only: bool) -> None:
    """Get (or renew) this node's https certificate; restart motcua serve afterwards."""
    from certs.errors import CertsError
    from node.domain.errors import DomainError
    from node.enrollment import ca_layout
    from node.https import TlsRequestFailed, default_names, issue_locally, request_from_district

    settings = settings_of(ctx.parent)
    names = list(dict.fromkeys([*([] if only else default_names(settings)), *extra_names]))
    node = node_of(ctx.parent)
    try:
        if settings.ROLE == "district" and ca_layout(node).certificate.exists():
            certified = issue_locally(node, names)
        else:
            url = district_url or settings.PARENT_URL
            if not url:
                raise click.ClickException("give --district URL (the district node that holds the CA)")
            from node.atrest import node_key_password

            certified = request_from_district(settings.data_dir, url, names, settings.HTTP_TIMEOUT_SECONDS,
                                              node_key_password(node.data_key))
    except (TlsRequestFailed, DomainError) as e:
        raise click.ClickException(str(e)) from e
    except CertsError as e:
        raise click.ClickException(f"{e} (is MOTCUA_CA_PASSPHRASE set?)") from e
    click.echo(f"https certificate (ECDSA P-256) for {', '.join(certified)}")
    click.echo(f"staff browsers must trust {node.trust.layout.tls_ca_certificate}; restart motcua serve")


@tls_group.command("show")
@click.pass_context
def tls_show(ctx: click.Context) -> None:
    """Say which certificate https uses, for which names, until when."""
    from node.https import report

    node = node_of(ctx.parent)
    for line in report(node.trust) or ["no district CA here: motcua serve speaks plain http"]:
        click.echo(line)
