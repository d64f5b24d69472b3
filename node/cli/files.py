"""``motcua files``: attached files held here, and the retention purge with its preview."""

from __future__ import annotations

import click

from node.cli.context import node_of


@click.group("files")
def files_group() -> None:
    """Attached files: what is held and pending, the retention purge (preview first)."""


@files_group.command("status")
@click.pass_context
def files_status(ctx: click.Context) -> None:
    """Files complete here and pending towards the parent (from the last sync)."""
    from node import files

    node = node_of(ctx.parent)
    status = node.sync_status()
    p = status["files"]
    click.echo(f"chunk store: {node.chunks.count()} chunks, {node.chunks.stored_bytes()} bytes (sealed)")
    click.echo(f"pending up: {p['files_up']} files, {p['bytes_up']} bytes; pending down: {p['files_down']} files, "
               f"{p['bytes_down']} bytes; fetch rule: {files.fetch_rule(node)}")


@files_group.command("purge")
@click.option("--apply", "expected", type=int, default=None,
              help="Purge, giving the number of files the preview listed (refused if it changed).")
@click.pass_context
def files_purge(ctx: click.Context, expected: int | None) -> None:
    """Preview (default) or run the retention purge of refused and stopped dossiers' files."""
    from node import retention
    from node.domain.vietnam_time import vn_day

    node = node_of(ctx.parent)
    plan = retention.preview(node)
    if not plan["days"]:
        click.echo("FILES_RETENTION_DAYS is 0: files are kept for ever, nothing to purge")
        return
    for i in plan["items"]:
        click.echo(f"  {i['code']}  {i['status']} since {vn_day(i['ended_at'])}  {i['name']}  {i['size']} bytes")
    click.echo(f"{plan['files']} file(s), {plan['bytes']} bytes older than {plan['days']} days")
    if expected is None:
        click.echo(f"preview only: run `motcua files purge --apply {plan['files']}` to remove them")
        return
    try:
        done = retention.purge(node, expected)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"purged {done['files']} file(s): {done['chunks_removed']} chunks removed; events kept")
