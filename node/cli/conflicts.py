"""``motcua conflicts``: list, show and resolve conflict records (both versions are always kept)."""

from __future__ import annotations

import json
import os

import click

from node.cli.context import node_of
from node.cli.i18n import _


@click.group()
def conflicts() -> None:
    """List, show and resolve conflict records (both versions are always kept)."""


@conflicts.command("list")
@click.option("--status", type=click.Choice(["open", "resolved", "merged", "all"]), default="open", show_default=True)
@click.pass_context
def conflicts_list(ctx: click.Context, status: str) -> None:
    """One line per conflict: id, kind, dossier, winner and loser values, status."""
    node = node_of(ctx.parent)
    rows = node.list_conflicts("" if status == "all" else status, limit=1000)
    beats = _("thắng")
    for c in rows:
        d = c.get("dossier") or {}
        click.echo(f"{c['id']}  {d.get('code') or c['dossier_id'][-24:]:<24} {d.get('applicant_name', '')[:24]:<24} "
                   f"{c['kind']:<9} {c['field'] or '-':<17} "
                   f"{c['winner_value']!s:<22} {beats} {c['loser_value']!s:<22} {c['status']}")
    click.echo(_("%(n)s xung đột", n=len(rows)))


@conflicts.command("show")
@click.argument("conflict_id")
@click.pass_context
def conflicts_show(ctx: click.Context, conflict_id: str) -> None:
    """Both versions side by side, with who made them, where and when."""
    from node.domain.errors import DomainError
    from node.reports import format_ms

    node = node_of(ctx.parent)
    try:
        c = node.get_conflict(conflict_id)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    d = c.get("dossier") or {}
    click.echo(_("xung đột %(id)s (%(kind)s %(field)s) của hồ sơ %(dossier)s: %(status)s", id=c["id"], kind=c["kind"],
                 field=c["field"], dossier=d.get("code") or c["dossier_id"], status=c["status"]))
    if d:
        click.echo("  " + _("người nộp %(name)s, thủ tục %(procedure)s (%(code)s), trạng thái hồ sơ hiện nay "
                            "%(status)s", name=d["applicant_name"], procedure=d["procedure_name"],
                            code=d["procedure_code"], status=d["status"]))
    for label, ref in ((_("bản thắng"), c["winner"]), (_("bản thua "), c["loser"])):
        v = c["versions"].get(ref) or {}
        click.echo(f"  {label} {ref}\n         " + _(
            "do %(author)s của %(office)s lúc %(at)s: %(body)s", author=v.get("author", "?"),
            office=v.get("office") or "?", at=format_ms(v.get("at")),
            body=json.dumps(v.get("body", {}), ensure_ascii=False)))
    if c["status"] == "resolved":
        click.echo("  " + _("đã được %(by)s giải quyết, giữ %(chosen)s: %(reason)s", by=c["resolved_by"],
                            chosen=c["chosen"], reason=c["reason"]))


@conflicts.command("resolve")
@click.argument("conflict_id")
@click.option("--keep", type=click.Choice(["winner", "loser"]), required=True, help="Which version stands.")
@click.option("--reason", required=True, help="Why (recorded in the resolution event).")
@click.option("--author", default=lambda: os.environ.get("USER", "admin"), help="Staff account making the decision.")
@click.pass_context
def conflicts_resolve(ctx: click.Context, conflict_id: str, keep: str, reason: str, author: str) -> None:
    """Close a conflict with a signed resolution event that replicates everywhere."""
    from node.conflicts import check_may_resolve
    from node.domain.errors import DomainError

    node = node_of(ctx.parent)
    try:
        check_may_resolve(node.settings.ROLE)
        c = node.get_conflict(conflict_id)
        done = node.resolve_conflict(author, conflict_id, c[keep], reason)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    kept = _("bản thắng") if keep == "winner" else _("bản thua")
    click.echo(_("đã giải quyết xung đột %(id)s: giữ %(kept)s (%(chosen)s)", id=conflict_id, kept=kept,
                 chosen=done["chosen"]))
