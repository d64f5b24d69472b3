"""``motcua ca`` (the district certificate authority) and ``motcua enroll`` (a node joining it)."""

from __future__ import annotations

import os

import click

from node.cli.context import node_of, settings_of


@click.group("ca")
def ca_group() -> None:
    """The district certificate authority (on the district node): init, pair, revoke."""


@ca_group.command("init")
@click.pass_context
def ca_init(ctx: click.Context) -> None:
    """Create the district CA under <data dir>/ca and certify this district node."""
    from node.domain.errors import DomainError
    from node.enrollment import init_ca

    node = node_of(ctx.parent)
    try:
        fingerprint = init_ca(node)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"district CA created; fingerprint {fingerprint}")
    click.echo("restart motcua serve: it now serves https and accepts only certified nodes")


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
    from node.enrollment import EnrollmentFailed
    from node.enrollment import enroll as do_enroll
    from node.https import default_names

    settings = settings_of(ctx)
    names = list(dict.fromkeys([*default_names(settings), *extra_names]))
    try:
        done = do_enroll(settings.data_dir, district_url, code, settings.HTTP_TIMEOUT_SECONDS, names)
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
            certified = request_from_district(settings.data_dir, url, names, settings.HTTP_TIMEOUT_SECONDS)
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
