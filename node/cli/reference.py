"""``motcua reference``: the reference data published by the district (catalogue, calendar, mapping)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from node.cli.context import node_of
from node.cli.i18n import _


@click.group()
def reference() -> None:
    """Reference data synced down from the district: catalogue, calendar, status mapping."""


@reference.command("show")
@click.pass_context
def reference_show(ctx: click.Context) -> None:
    """The version of each kind in force here, and whether it is a publication or the seed."""
    node = node_of(ctx.parent)
    for r in node.reference_status():
        revision = _("bản sửa %(n)s, ", n=r["revision"]) if r.get("revision") else ""
        click.echo(f"{r['kind']:<15} {r['version']:<50} {revision}{r['source']}")


def _years(text: str) -> list[int] | None:
    if not text:
        return None
    first, _dash, last = text.partition("-")
    try:
        return list(range(int(first), int(last or first) + 1))
    except ValueError:
        raise click.BadParameter(_("năm ghi dạng 2025-2028 hoặc 2026"), param_hint="--years") from None


def _json_file(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise click.ClickException(_("không đọc được %(path)s: %(error)s", path=path, error=e)) from e


@reference.command("publish")
@click.option("--catalogue", "catalogue_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Catalogue JSON to publish (default: the seed shipped with motcua).")
@click.option("--calendar", "calendar_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Calendar JSON to publish, e.g. an edited copy (default: built from the holidays package).")
@click.option("--status-mapping", "mapping_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Status mapping JSON {version, table} (default: the national default mapping).")
@click.option("--years", default="", help="Calendar years, e.g. 2025-2028 (default: last year to two ahead).")
@click.option("--kind", "kinds", multiple=True, type=click.Choice(["catalogue", "calendar", "status_mapping"]),
              help="Publish only these kinds (repeatable; default: all three).")
@click.option("--author", default=lambda: os.environ.get("USER", "admin"), help="Staff account publishing.")
@click.pass_context
def reference_publish(ctx: click.Context, catalogue_file: Path | None, calendar_file: Path | None,
                      mapping_file: Path | None, years: str, kinds: tuple[str, ...], author: str) -> None:
    """District: publish the catalogue, working calendar and status mapping to every node."""
    from node.domain.errors import DomainError
    from node.reference import KINDS

    node = node_of(ctx.parent)
    try:
        done = node.publish_reference(author, catalogue=_json_file(catalogue_file), calendar=_json_file(calendar_file),
                                      status_mapping=_json_file(mapping_file), years=_years(years),
                                      kinds=kinds or KINDS)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    for d in done:
        what = _("đã công bố bản sửa %(n)s", n=d["revision"]) if d["published"] else _("không đổi")
        click.echo(f"{d['kind']:<15} {d['version']:<50} {what}")


@reference.group("calendar")
def reference_calendar() -> None:
    """The working calendar: review a year before publishing it."""


@reference_calendar.command("review")
@click.option("--year", type=click.IntRange(2000, 2099), required=True, help="The year to review, e.g. 2026.")
@click.option("--calendar", "calendar_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Calendar JSON to review, e.g. an edited copy (default: built from the holidays package and "
                   "the recorded decisions).")
@click.option("--approve", is_flag=True, help="Record the review; publishing the calendar requires it.")
@click.option("--note", default="", help="Why a flagged year is approved, e.g. the reference of a decision not "
                                         "to swap days.")
@click.option("--author", default=lambda: os.environ.get("USER", "admin"), help="Staff account reviewing.")
@click.pass_context
def reference_calendar_review(ctx: click.Context, year: int, calendar_file: Path | None, approve: bool, note: str,
                              author: str) -> None:
    """Show a year's days off and worked days with their source; --approve records the review."""
    from node.domain.errors import DomainError

    node = node_of(ctx.parent.parent)
    try:
        checked = node.review_calendar(author, year, calendar=_json_file(calendar_file), approve=approve, note=note)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(_("Lịch làm việc năm %(year)s (mã rà soát %(digest)s)", year=year, digest=checked.digest[:12]))
    for line in checked.lines:
        click.echo("  " + line.text())
    if not checked.lines:
        click.echo("  " + _("(không có ngày nghỉ hay ngày làm bù nào)"))
    click.echo(_("Quyết định hoán đổi ngày làm việc:"))
    for decision in checked.swap_decisions:
        click.echo(f"  - {decision}")
    for flag in checked.flags:
        click.echo(_("CẢNH BÁO: %(flag)s", flag=flag))
    if approve:
        click.echo(_("Đã ghi nhận rà soát năm %(year)s; có thể công bố lịch.", year=year))
    else:
        click.echo(_("Chưa ghi nhận: thêm --approve sau khi đã kiểm tra."))
