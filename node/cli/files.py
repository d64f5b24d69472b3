"""``motcua files``: attached files held here, and the retention purge with its preview."""

from __future__ import annotations

import click

from node.cli.context import node_of
from node.cli.i18n import _


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
    click.echo(_("kho mảnh: %(chunks)s mảnh, %(bytes)s byte (đã mã hoá)", chunks=node.chunks.count(),
                 bytes=node.chunks.stored_bytes()))
    click.echo(_("chờ gửi lên: %(files_up)s tệp, %(bytes_up)s byte; chờ nhận về: %(files_down)s tệp, "
                 "%(bytes_down)s byte; quy tắc tải: %(rule)s", files_up=p["files_up"], bytes_up=p["bytes_up"],
                 files_down=p["files_down"], bytes_down=p["bytes_down"], rule=files.fetch_rule(node)))


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
        click.echo(_("FILES_RETENTION_DAYS bằng 0: tệp được giữ mãi, không có gì để xoá"))
        return
    for i in plan["items"]:
        click.echo("  " + _("%(code)s  %(status)s từ %(day)s  %(name)s  %(size)s byte", code=i["code"],
                            status=i["status"], day=vn_day(i["ended_at"]), name=i["name"], size=i["size"]))
    click.echo(_("%(files)s tệp, %(bytes)s byte, quá %(days)s ngày", files=plan["files"], bytes=plan["bytes"],
                 days=plan["days"]))
    if expected is None:
        click.echo(_("chỉ xem trước: chạy `motcua files purge --apply %(n)s` để xoá", n=plan["files"]))
        return
    try:
        done = retention.purge(node, expected)
    except ValueError as e:
        raise click.ClickException(str(e)) from e
    click.echo(_("đã xoá %(files)s tệp: %(chunks)s mảnh; các sự kiện vẫn giữ", files=done["files"],
                 chunks=done["chunks_removed"]))
