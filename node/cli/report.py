"""``motcua report``: Biểu 06 (Biểu số 06/VPCP/KSTT) for a period, as CSV or XLSX."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.cli.context import node_of

FORMATS = ("csv", "xlsx")


def parse_day(value: str, option: str):
    """A YYYY-MM-DD day; an impossible one (2026-02-30) is named as such, not as a format error."""
    from datetime import date

    try:
        return date.fromisoformat(value)
    except ValueError:
        shape = len(value) == 10 and value[4] == "-" and value[7] == "-" and value.replace("-", "").isdigit()
        why = "is not a day of the calendar" if shape else "is not a day written YYYY-MM-DD"
        raise click.BadParameter(f"{value!r} {why}", param_hint=option) from None


def format_of(output: Path, fmt: str | None) -> str:
    """The format given, else the output file's extension (.csv or .xlsx)."""
    if fmt:
        return fmt
    suffix = output.suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise click.BadParameter(f"cannot tell the format from {output.name!r}: name the file .csv or .xlsx, "
                                 "or pass --format", param_hint="--output")
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
        raise click.BadParameter(f"the folder {str(output.parent)!r} does not exist; create it first",
                                 param_hint="--output")
    node = node_of(ctx)
    bar = None

    def progress(done: int, total: int) -> None:
        nonlocal bar
        if bar is None and total > 1000:
            bar = click.progressbar(length=total, label="counting dossiers", file=sys.stderr)
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
    click.echo(f"Biểu 06 {result.report.period.label}: {total.received_total} received, "
               f"{total.resolved_total} resolved, {total.pending_total} pending, {total.withdrawn} withdrawn "
               f"-> {output}")
    for dossier_id, why in result.skipped:
        click.echo(f"skipped {dossier_id}: {why}", err=True)
