"""``motcua doctor``, ``verify``, ``rebuild`` and ``digest``: check a node and repair its derived state.
They only read, except ``rebuild``, which recomputes the derived tables from the events.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from node import __version__
from node.cli.context import ca_fingerprint_of, node_of, settings_of
from node.config import SETTINGS
from node.signing import KEY_FILE

if TYPE_CHECKING:  # annotations only: the CLI opens a node only when a command runs
    from node.services import Node


@click.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Print settings and health: key, database, migrations, event log integrity."""
    from node.db import backend_name, pending_migrations
    from node.units import describe_unit

    settings = settings_of(ctx)
    problems = 0
    click.echo(f"motcua {__version__}")
    click.echo("settings:")
    for s in SETTINGS:
        value = settings.values[s.name]
        if s.name == "SECRET_KEY":
            value = "(set)" if value else "(missing)"
        elif s.name == "DATABASE_URL" and value:
            value = value.split("@")[-1]  # never print a password
        click.echo(f"  {s.name:<24} {value!s:<34} {s.help}")
    if not settings.node_file.exists():
        click.echo(f"FAIL no node in {settings.data_dir}: run motcua init")
        sys.exit(1)
    key_path = settings.data_dir / KEY_FILE
    mode = key_path.stat().st_mode & 0o777 if key_path.exists() else None
    ok_key = mode is not None and not mode & 0o077
    problems += not ok_key
    click.echo(f"{'ok  ' if ok_key else 'FAIL'} key file {key_path} mode {mode and oct(mode)}")
    click.echo(f"ok   unit {settings.UNIT}: {describe_unit(settings.UNIT) or 'not in the 2025 list'}")
    from node.cli.atrest import at_rest_report

    lines, bad, node = at_rest_report(ctx, settings)
    problems += bad
    warnings = sum(line.startswith("warn") for line in lines)
    for line in lines:
        click.echo(line)
    if node is None:  # locked: a normal state, but the database could not be checked
        click.echo(f"{'ok  ' if not problems else 'FAIL'} {problems} problem(s), {warnings} warning(s); the database, "
                   "feeds and backups "
                   "were not checked: the node is locked (motcua unlock --user NAME, then doctor again)")
        sys.exit(1 if problems else 0)
    click.echo(f"ok   database {backend_name(node.db)}; pending migrations: {pending_migrations(node.db) or 'none'}")
    status = node.status()
    click.echo(f"ok   node {status['node_id']}: {status['events']} events, {status['dossiers']} dossiers")
    from node.backup import doctor_line
    from node.https import report as https_report

    lines = [*trust_report(node), *https_report(node.trust), doctor_line(node.wall_ms())]
    from node.storage import free_mb, space_warning

    low = space_warning(settings.data_dir, settings.MIN_FREE_MB)
    lines.append(f"warn disk: {low}" if low else f"ok   disk: {free_mb(settings.data_dir)} MiB free")
    from node import clockcheck

    skew_ms = settings.MAX_CLOCK_SKEW_SECONDS * 1000
    wrong = clockcheck.problem(node.wall_ms(), node.trust.trusted_floor_ms(), skew_ms)
    lines.append(f"FAIL clock: {wrong}" if wrong else "ok   clock: within the trusted time and the last sync")
    odd = clockcheck.implausible_events(node.store, node.wall_ms(), skew_ms)
    lines += [f"warn clock of {e['origin']}: event {e['ref']} at {e['at']} is {e['clock']} its HLC time {e['hlc_ms']}"
              for e in odd[:10]]
    if status["write_block"]:
        lines.append(f"FAIL writes blocked ({status['write_block']}): sync with the parent, or see unblock-writes")
    # one integrity line per feed, as `motcua verify` prints them (the README promises both)
    for r in node.verify():
        lines.append(f"ok   feed {r.origin}:{r.scope}  {r.events} events" if r.ok else
                     f"FAIL feed {r.origin}:{r.scope}: {r.reason} at {r.ref}: {r.detail}")
    lines += [f"FAIL {p}: motcua rebuild recreates it" for p in node.search_index_problems()] or [
        "ok   name search index: one entry per dossier"]
    for line in lines:
        problems += line.startswith("FAIL")
        warnings += line.startswith("warn")
        click.echo(line)
    click.echo(f"{'ok  ' if not problems else 'FAIL'} {problems} problem(s), {warnings} warning(s)")
    sys.exit(1 if problems else 0)


def trust_report(node: Node) -> list[str]:
    """What ``motcua doctor`` says of the trust mode (the development switch included)."""
    if node.trust.enforced:
        lines = [f"ok   trust: district CA {ca_fingerprint_of(node)[:16]}…; only its certified nodes may sync"]
        if node.settings.DEV_OPEN_TRUST:
            lines.append("warn trust: DEV_OPEN_TRUST is set but ignored: a district CA is in force")
        return lines
    from sync.ledger import ProfileRow

    known = ProfileRow.select().where(ProfileRow.node_id != node.node_id).count()
    if node.trust.open_to_strangers:
        return [f"warn trust: DEVELOPMENT MODE (DEV_OPEN_TRUST): no district CA; any self-signed node that syncs "
                f"is trusted on first use ({known} known so far); never on an office network"]
    return [f"warn trust: no district CA here: sync only with the {known} node(s) already known, strangers are "
            "refused; enroll with motcua enroll, or on the district run motcua ca init"]


@click.command()
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Verify every feed (hash chain, order, completeness, origin signature), every attached file,
    and the name search index (a line only when it is wrong)."""
    node = node_of(ctx)
    bad = 0
    for r in node.verify():
        if r.ok:
            click.echo(f"ok    {r.origin}:{r.scope}  {r.events} events")
        else:
            bad += 1
            click.echo(f"FAIL  {r.origin}:{r.scope}  {r.reason} at {r.ref}: {r.detail}")
    for problem in node.search_index_problems():
        bad += 1
        click.echo(f"FAIL  {problem}: motcua rebuild recreates it")
    from node import files

    held = files.verify(node)  # attached files: every chunk and the whole hash of each complete file
    # not an "ok" line: doctor and the README count those per feed
    click.echo(f"{'FAIL  ' if held['damaged'] else ''}files: {held['ok']} complete and verified, "
               f"{held['damaged']} damaged (fetched again at the next sync)")
    sys.exit(1 if bad or held["damaged"] else 0)


@click.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Drop and recompute the derived tables from the events; print digests before and after."""
    node = node_of(ctx)
    before = node.digest()
    with click.progressbar(length=1, label="rebuilding", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        count = node.rebuild(progress)
    after = node.digest()
    click.echo(f"rebuilt {count} dossiers\ndigest before {before}\ndigest after  {after}")
    if before != after:
        click.echo("WARNING: derived state differed from the events; the rebuilt state is now in place")


@click.command()
@click.pass_context
def digest(ctx: click.Context) -> None:
    """Print the digest of the derived state (equal on replicas holding the same events)."""
    click.echo(node_of(ctx).digest())
