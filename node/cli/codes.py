"""``motcua codes``: dossier number blocks leased by the district and the final codes drawn from them."""

from __future__ import annotations

import os

import click

from node.cli.context import node_of


@click.group()
def codes() -> None:
    """Dossier number blocks: lease (district), status, assign final codes."""


@codes.command("lease")
@click.option("--node", "node_id", required=True, help="Id of the node the block is for.")
@click.option("--days", type=click.IntRange(1, 366), required=True, help="Days the block covers, from --from.")
@click.option("--size", type=click.IntRange(1, 9999), required=True, help="Numbers per day.")
@click.option("--agency", "agency_id", required=True, help="Agency electronic ID the node issues codes for.")
@click.option("--unit", default="", help="Unit of the node (default: from its profile, seen at a sync).")
@click.option("--from", "first_day", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day YYYY-MM-DD (default: today).")
@click.option("--author", default=lambda: os.environ.get("USER", "admin"), help="Staff account leasing.")
@click.pass_context
def codes_lease(ctx: click.Context, node_id: str, days: int, size: int, agency_id: str, unit: str,
                first_day, author: str) -> None:
    """District: lease a node the lowest free block of numbers; it reaches the node at its next sync."""
    from node.domain.errors import DomainError

    node = node_of(ctx.parent)
    try:
        b = node.lease_codes(author, node_id, days=days, size=size, agency_id=agency_id, unit=unit,
                             first_day=first_day.date() if first_day else None)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"leased block {b['block_id']} to {node_id} (unit {b['unit']}): {agency_id} numbers "
               f"{b['first_seq']:04d}-{b['last_seq']:04d} each day {b['first_day']} to {b['last_day']}")


@codes.command("status")
@click.pass_context
def codes_status(ctx: click.Context) -> None:
    """Blocks held, numbers issued from each, dossiers still waiting for a final code."""
    node = node_of(ctx.parent)
    s = node.codes_status()
    click.echo(f"agency id: {s['agency_id'] or '(AGENCY_ID not set: provisional codes only)'}")
    for b in s["blocks"]:
        flag = "usable" if b["usable"] else ("other agency id" if b["mine"] else f"node {b['node_id']}")
        click.echo(f"  {b['agency_id']} {b['first_day']}..{b['last_day']} {b['first_seq']:04d}-{b['last_seq']:04d}"
                   f"  issued {b['issued']}  {flag}")
    if not s["blocks"]:
        click.echo("  no number block held yet")
    click.echo(f"{s['provisional_waiting']} dossier(s) carry a provisional code waiting for a block")


@codes.command("assign")
@click.option("--author", default="motcua", help="Account recorded on the assignment events.")
@click.pass_context
def codes_assign(ctx: click.Context, author: str) -> None:
    """Give provisional dossiers their final codes from the blocks now held (sync does this too)."""
    node = node_of(ctx.parent)
    done = node.assign_final_codes(author)
    for d in done:
        click.echo(f"{d['provisional']} -> {d['code']}")
    click.echo(f"{len(done)} final code(s) assigned; {node.codes_status()['provisional_waiting']} still provisional")
