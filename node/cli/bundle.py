"""``motcua bundle export`` and ``bundle import``: sync with no link at all, through a file on a
USB stick (:mod:`node.bundles`). Every refusal exits 1 with its code and what to do."""

from __future__ import annotations

from pathlib import Path

import click

from node.cli.context import node_of
from node.cli.i18n import _


def _fail(e: Exception) -> click.ClickException:
    code = getattr(e, "code", "")
    code = getattr(code, "value", code)
    return click.ClickException(_("gói dữ liệu bị từ chối (%(code)s): %(detail)s", code=code,
                                  detail=getattr(e, "message", str(e))))


@click.group("bundle")
def bundle() -> None:
    """Carry sync on a USB stick: signed, encrypted bundles, acknowledged by a bundle back."""


@bundle.command("export")
@click.option("--to", "to", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="File to write (part N of a cut export goes to FILE.N).")
@click.option("--for", "target", default=None,
              help="Recipient: its node id, or the path of its node.pem (default: the parent).")
@click.option("--max-size", "max_mb", type=click.FloatRange(min=0.25), default=None,
              help="Cut the export into parts of at most this many MB each.")
@click.pass_context
def export(ctx: click.Context, to: Path, target: str | None, max_mb: float | None) -> None:
    """Write what the recipient lacks, per the vector it last acknowledged."""
    from node.bundles import export as run_export
    from sync.bundle import BundleError

    node = node_of(ctx)
    try:
        result, _payloads = run_export(node, to, target, int(max_mb * 1_000_000) if max_mb else None)
    except BundleError as e:
        raise _fail(e) from e
    except OSError as e:  # the stick is full, read-only or gone
        raise click.ClickException(_("không ghi được %(path)s: %(error)s", path=to, error=e)) from e
    click.echo(_("gói %(bundle)s cho %(name)s (%(node)s): %(events)s sự kiện, %(bytes)s byte", bundle=result.bundle,
                 name=result.recipient.name or result.recipient.node_id, node=result.recipient.node_id,
                 events=result.events, bytes=result.bytes))
    for path in result.files:
        click.echo("  " + _("đã ghi %(path)s", path=path))
    if len(result.files) > 1:
        click.echo("  " + _("%(n)s phần: hãy nhập theo đúng thứ tự", n=len(result.files)))


@bundle.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--ack-to", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the acknowledgement of a single bundle (default: FILE.ack).")
@click.pass_context
def import_(ctx: click.Context, files: tuple[Path, ...], ack_to: Path | None) -> None:
    """Verify and apply bundles, in order (the parts of a cut export); acknowledge each.

    Each file is judged on its own: a refused one is reported with its reason and the next one
    is still tried; the command exits 1 if any was refused.
    """
    from node.bundles import default_ack_path, import_bundle
    from sync.bundle import BundleError
    from sync.protocol import ProtocolError

    if ack_to is not None and len(files) > 1:
        raise click.BadParameter(_("--ack-to chỉ ghi cho một tệp: hãy nhập từng gói một khi dùng nó"),
                                 param_hint="--ack-to")
    node = node_of(ctx)
    refused = 0
    for file in files:
        try:
            result = import_bundle(node, file.read_bytes(), ack_to or default_ack_path(file))
        except (BundleError, ProtocolError) as e:
            refused += 1
            click.echo(f"{file}: {_fail(e).message}", err=True)
            continue
        except OSError as e:  # unreadable file, or no room for the acknowledgement
            refused += 1
            click.echo(f"{file}: {e}", err=True)
            continue
        who = result.sender.name or result.sender.node_id
        click.echo(_("%(file)s: gói %(kind)s từ %(who)s (%(node)s): %(events)s sự kiện mới, %(skipped)s đã có",
                     file=file, kind=result.kind, who=who, node=result.sender.node_id, events=result.events,
                     skipped=result.skipped))
        if result.ack_file:
            click.echo("  " + _("đã ghi xác nhận (%(n)s sự kiện gửi lại) vào %(path)s", n=result.ack_events,
                                path=result.ack_file))
    if refused:
        raise click.exceptions.Exit(1)
