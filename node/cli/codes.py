"""``motcua codes``: dossier number blocks leased by the district and the final codes drawn from them."""

from __future__ import annotations

import os

import click

from node.cli.context import node_of
from node.cli.i18n import _


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
    click.echo(_("đã cấp khối số %(block)s cho %(node)s (đơn vị %(unit)s): số %(agency)s %(range)s mỗi ngày từ "
                 "%(first)s đến %(last)s", block=b["block_id"], node=node_id, unit=b["unit"], agency=agency_id,
                 range=f"{b['first_seq']:04d}-{b['last_seq']:04d}", first=b["first_day"], last=b["last_day"]))


@codes.command("status")
@click.pass_context
def codes_status(ctx: click.Context) -> None:
    """Blocks held, numbers issued from each, dossiers still waiting for a final code."""
    node = node_of(ctx.parent)
    s = node.codes_status()
    click.echo(_("mã cơ quan: %(agency)s", agency=s["agency_id"] or _("(chưa đặt AGENCY_ID: chỉ có mã tạm)")))
    for b in s["blocks"]:
        flag = _("dùng được") if b["usable"] else (
            _("mã cơ quan khác") if b["mine"] else _("máy %(node)s", node=b["node_id"]))
        click.echo(f"  {b['agency_id']} {b['first_day']}..{b['last_day']} {b['first_seq']:04d}-{b['last_seq']:04d}"
                   "  " + _("đã cấp %(n)s", n=b["issued"]) + f"  {flag}")
    if not s["blocks"]:
        click.echo("  " + _("chưa giữ khối số nào"))
    click.echo(_("%(n)s hồ sơ mang mã tạm đang chờ khối số", n=s["provisional_waiting"]))


@codes.command("assign")
@click.option("--author", default="motcua", help="Account recorded on the assignment events.")
@click.pass_context
def codes_assign(ctx: click.Context, author: str) -> None:
    """Give provisional dossiers their final codes from the blocks now held (sync does this too)."""
    node = node_of(ctx.parent)
    done = node.assign_final_codes(author)
    for d in done:
        click.echo(f"{d['provisional']} -> {d['code']}")
    click.echo(_("đã cấp %(n)s mã chính thức; còn %(waiting)s mã tạm", n=len(done),
                 waiting=node.codes_status()["provisional_waiting"]))
