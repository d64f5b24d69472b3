"""``motcua report``: Biểu 06 (Biểu số 06/VPCP/KSTT) for a period, as CSV or XLSX."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.cli.context import node_of
from node.cli.i18n import _

FORMATS = ("csv", "xlsx")


def parse_day(value: str, option: str):
    """A YYYY-MM-DD day; an impossible one (2026-02-30) is named as such, not as a format error."""
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        shape = len(value) == 10 and value[4] == "-" and value[7] == "-" and value.replace("-", "").isdigit()
        why = (_("%(value)s không phải là một ngày có trên lịch", value=repr(value)) if shape else
               _("%(value)s không phải là một ngày viết dạng YYYY-MM-DD", value=repr(value)))
        raise click.BadParameter(why, param_hint=option) from None


def format_of(output: Path, fmt: str | None) -> str:
    """The format given, else the output file's extension (.csv or .xlsx)."""
    if fmt:
        return fmt
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise click.BadParameter(_("không biết định dạng từ tên %(name)s: hãy đặt tên tệp .csv hoặc .xlsx, hoặc dùng "
                                   "--format", name=repr(output.name)), param_hint="--output")
    return suffix


@click.command()
@click.option("--from", "first_text", required=True, help="First day YYYY-MM-DD.")
@click.option("--to", "last_text", required=True, help="Last day YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None,
              help="csv or xlsx (default: from the --output file's extension).")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--unit", default="", help="Only this unit (default: every unit this node holds).")
@click.pass_context
def report(ctx: click.Context, first_text: str, last_text: str, fmt: str | None, output: Path, unit: str) -> None:
    """Biểu 06 (Biểu số 06/VPCP/KSTT) for a period, as CSV or XLSX."""
    from node.domain.errors import DomainError
    from node.report_export import export_csv, export_xlsx
    from node.units import describe_unit

    first, last = parse_day(first_text, "--from"), parse_day(last_text, "--to")
    fmt = format_of(output, fmt)
    if not output.parent.is_dir():
        raise click.BadParameter(_("thư mục %(dir)s không tồn tại; hãy tạo nó trước", dir=repr(str(output.parent))),
                                 param_hint="--output")
    node = node_of(ctx)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and total > 1000:
            bar = click.progressbar(length=total, label=_("đang đếm hồ sơ"), file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(done - bar.pos)

    try:
        result = node.report(first, last, unit, progress)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    names = {r.unit: describe_unit(r.unit) or r.unit for r in result.report.rows if r.unit}
    content = export_csv(result.report, names) if fmt == "csv" else export_xlsx(
        result.report, names, agency=node.settings.NAME or node.settings.UNIT)
    output.write_bytes(content)
    total = result.report.total
    click.echo(_("Biểu 06 %(period)s: %(received)s tiếp nhận, %(resolved)s đã giải quyết, %(pending)s đang giải quyết, "
                 "%(withdrawn)s rút hồ sơ -> %(output)s", period=result.report.period.label,
                 received=total.received_total, resolved=total.resolved_total, pending=total.pending_total,
                 withdrawn=total.withdrawn, output=output))
    for dossier_id, why in result.skipped:
        click.echo(_("bỏ qua %(dossier)s: %(why)s", dossier=dossier_id, why=why), err=True)
