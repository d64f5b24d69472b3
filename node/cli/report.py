"""``motcua report``: Biểu 06 (Biểu số 06/VPCP/KSTT) for a period, as CSV or XLSX."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from node.cli.context import node_of


@click.command()
@click.option("--from", "first", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day YYYY-MM-DD.")
@click.option("--to", "last", type=click.DateTime(["%Y-%m-%d"]), required=True, help="Last day YYYY-MM-DD.")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="xlsx", show_default=True)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), required=True, help="File to write.")
@click.option("--unit", default="", help="Only this unit (default: every unit this node holds).")
@click.pass_context
def report(ctx: click.Context, first, last, fmt: str, output: Path, unit: str) -> None:
    """Biểu 06 (Biểu số 06/VPCP/KSTT) for a period, as CSV or XLSX."""
    from node.domain.errors import DomainError
    from node.report_export import export_csv, export_xlsx
    from node.units import describe_unit

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
        result = node.report(first.date(), last.date(), unit, progress)
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
