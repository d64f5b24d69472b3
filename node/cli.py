"""The ``motcua`` command: create, run, check and repair a node. Each command is a thin call
into :mod:`node.services`; the data directory comes from ``--data-dir`` or ``MOTCUA_DATA_DIR``.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import click

from node import __version__
from node.config import ROLES, SETTINGS, ConfigError, Settings, load_settings
from node.signing import KEY_FILE, NodeKey


def _settings(ctx: click.Context) -> Settings:
    try:
        return load_settings(ctx.obj["data_dir"])
    except ConfigError as e:
        raise click.ClickException(str(e)) from e


def _open(ctx: click.Context):  # -> Node
    from node.services import NodeNotInitialised, open_node

    try:
        return open_node(_settings(ctx))
    except NodeNotInitialised as e:
        raise click.ClickException(str(e)) from e


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="motcua")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MOTCUA_DATA_DIR",
    help="Node data directory (default: $MOTCUA_DATA_DIR or ~/.local/share/motcua).",
)
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """motcua: offline-first sync node for commune one-stop offices."""
    ctx.obj = {"data_dir": data_dir}


def _inside_unignored_git_tree(path: Path) -> bool:
    """True if ``path`` would be committed by accident (inside a work tree and not ignored)."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent  # git must run in a folder that exists; the nearest ancestor will do
    try:
        inside = subprocess.run(
            ["git", "-C", str(probe), "rev-parse", "--is-inside-work-tree"],
            capture_output=True, text=True, timeout=10, check=False,
        )
        if inside.stdout.strip() != "true":
            return False
        ignored = subprocess.run(
            ["git", "-C", str(probe), "check-ignore", "-q", str(path)],
            capture_output=True, timeout=10, check=False,
        )
        return ignored.returncode != 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@main.command()
@click.option("--role", type=click.Choice(ROLES), required=True, help="commune, mobile or district.")
@click.option("--unit", required=True, help="Administrative unit code (5 digits: commune, 2: province).")
@click.option("--name", required=True, help="Human name of this node.")
@click.option("--parent-url", default="", help="Upstream node to sync with (district or commune URL).")
@click.option("--port", type=int, default=None, help="Port for motcua serve (default 8750).")
@click.option("--exist-ok", is_flag=True, help="Succeed if the same node already exists here.")
@click.option("--dev-open-trust", is_flag=True,
              help="DEVELOPMENT ONLY: trust any self-signed node on first use while this node has no CA.")
@click.pass_context
def init(ctx: click.Context, role: str, unit: str, name: str, parent_url: str, port: int | None,
         exist_ok: bool, dev_open_trust: bool) -> None:
    """Create a node: data directory, Ed25519 key (0600), node.json, migrated database."""
    from node.db import open_database
    from node.units import describe_unit, is_unit_code

    settings = _settings(ctx)
    data_dir = settings.data_dir
    if not is_unit_code(unit):
        raise click.BadParameter("a unit code is 2 to 5 digits, e.g. 17272 for a commune", param_hint="--unit")
    if settings.node_file.exists():
        existing = json.loads(settings.node_file.read_text(encoding="utf-8"))
        if exist_ok and existing.get("role") == role and existing.get("unit") == unit:
            click.echo(f"node already initialised in {data_dir} ({existing['node_id']})")
            return
        raise click.ClickException(f"{data_dir} already holds node {existing.get('node_id')}; refusing to replace it")
    if _inside_unignored_git_tree(data_dir):
        raise click.ClickException(
            f"{data_dir} is inside a git checkout and not ignored; keys and data must stay out of git"
        )
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = data_dir / KEY_FILE
    key = NodeKey.load(key_path) if key_path.exists() else NodeKey.generate()
    if not key_path.exists():
        key.save(key_path)
    node_file: dict[str, Any] = {
        "role": role,
        "unit": unit,
        "name": name,
        "node_id": key.node_id,
        "secret_key": secrets.token_urlsafe(32),
    }
    if parent_url:
        node_file["parent_url"] = parent_url
    if port:
        node_file["port"] = port
    if dev_open_trust:
        node_file["dev_open_trust"] = True
    tmp = settings.node_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(node_file, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)  # it holds the session secret
    os.replace(tmp, settings.node_file)
    db = open_database(load_settings(data_dir))
    db.close()
    where = describe_unit(unit) or "unit not in the 2025 national list (kept as given)"
    click.echo(f"initialised {role} node {key.node_id}\n  unit {unit}: {where}\n  data  {data_dir}")
    if dev_open_trust:
        click.echo(DEV_OPEN_WARNING, err=True)


@main.command()
@click.option("--host", default=None, help="Listen address (default: HOST setting).")
@click.option("--port", type=int, default=None, help="Listen port (default: PORT setting).")
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of gunicorn.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, dev: bool) -> None:
    """Run the node's web server (gunicorn, one process, threads)."""
    from node.app import create_app

    settings = _settings(ctx)
    node = _open(ctx)
    app = create_app(settings, node=node)
    host = host or settings.HOST
    port = port or settings.PORT
    from node.https import report, serving_files

    tls = serving_files(node.trust)
    scheme = "https" if tls else "http"
    click.echo(f"motcua {settings.ROLE} node {node.node_id} on {scheme}://{host}:{port}/", err=True)
    for line in report(node.trust):
        if not line.startswith("ok"):
            click.echo(line, err=True)
    if node.trust.open_to_strangers:
        click.echo(DEV_OPEN_WARNING, err=True)
    scheduler = make_scheduler(node, app)
    advertiser = make_advertiser(node, host, port, scheme)
    try:
        if dev:
            if scheduler:
                scheduler.start()
            try:
                app.run(host=host, port=port, threaded=True, ssl_context=tls)
            finally:
                if scheduler:
                    scheduler.stop()
            return
        from node.wsgi import serve_with_gunicorn

        serve_with_gunicorn(app, host, port, threads=settings.WORKERS, scheduler=scheduler, tls=tls)
    finally:
        if advertiser is not None:
            advertiser.close()


def make_advertiser(node, host: str, port: int, scheme: str):  # -> Advertiser | None
    """Commune and district nodes announce themselves on the LAN (mDNS), mobiles do not."""
    if node.settings.ROLE == "mobile" or not node.settings.ADVERTISE:
        return None
    from sync.discovery import Advertiser, ServiceRecord

    try:
        return Advertiser(ServiceRecord.for_node(node, host, port, scheme))
    except OSError as e:  # no multicast on this machine: serving matters more than announcing
        click.echo(f"warning: cannot advertise on the LAN: {e}", err=True)
        return None


def make_scheduler(node, app):  # -> SyncScheduler | None
    """The background sync of ``serve``: only for nodes with a parent to sync with."""
    import logging

    from sync.scheduler import SyncScheduler

    if not node.settings.PARENT_URL:
        return None
    logger = logging.getLogger("motcua.sync")

    def run() -> bool:
        summary = node.sync_with(node.settings.PARENT_URL)
        logger.info("sync %s: %s up, %s down, %s", summary.outcome, summary.events_out, summary.events_in,
                    summary.error or "")
        return summary.ok

    scheduler = SyncScheduler(run, node.settings.SYNC_INTERVAL_SECONDS)
    app.extensions["motcua.scheduler"] = scheduler
    return scheduler


@main.command()
@click.pass_context
def doctor(ctx: click.Context) -> None:
    """Print settings and health: key, database, migrations, event log integrity."""
    from node.db import backend_name, pending_migrations
    from node.units import describe_unit

    settings = _settings(ctx)
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
    node = _open(ctx)
    click.echo(f"ok   database {backend_name(node.db)}; pending migrations: {pending_migrations(node.db) or 'none'}")
    status = node.status()
    click.echo(f"ok   node {status['node_id']}: {status['events']} events, {status['dossiers']} dossiers")
    from node.https import report as https_report

    for line in [*trust_report(node), *https_report(node.trust)]:
        problems += line.startswith("FAIL")
        click.echo(line)
    from node.backup import doctor_line

    click.echo(doctor_line(node.wall_ms()))
    if status["write_block"]:
        problems += 1
        click.echo(f"FAIL writes blocked ({status['write_block']}): sync with the parent, or see unblock-writes")
    for r in node.verify():
        if not r.ok:
            problems += 1
            click.echo(f"FAIL feed {r.origin}:{r.scope}: {r.reason} at {r.ref}: {r.detail}")
    click.echo(f"{'ok  ' if not problems else 'FAIL'} {problems} problem(s)")
    sys.exit(1 if problems else 0)


DEV_OPEN_WARNING = ("WARNING: DEV_OPEN_TRUST is on: this node trusts ANY node that syncs with it (development "
                    "only; never on an office network)")


def trust_report(node) -> list[str]:
    """What ``motcua doctor`` says of the trust mode (the development switch included)."""
    if node.trust.enforced:
        lines = [f"ok   trust: district CA {_ca_fingerprint(node)[:16]}…; only its certified nodes may sync"]
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


@main.command()
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Verify every feed: hash chain, order, completeness and origin signature."""
    node = _open(ctx)
    bad = 0
    for r in node.verify():
        if r.ok:
            click.echo(f"ok    {r.origin}:{r.scope}  {r.events} events")
        else:
            bad += 1
            click.echo(f"FAIL  {r.origin}:{r.scope}  {r.reason} at {r.ref}: {r.detail}")
    sys.exit(1 if bad else 0)


@main.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Drop and recompute the derived tables from the events; print digests before and after."""
    node = _open(ctx)
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


@main.command()
@click.pass_context
def digest(ctx: click.Context) -> None:
    """Print the digest of the derived state (equal on replicas holding the same events)."""
    click.echo(_open(ctx).digest())


@main.command()
@click.option("--peer", "peer_url", default=None, help="Peer base URL (default: PARENT_URL setting).")
@click.option("--discover", "discover_lan", is_flag=True, help="Find the commune node on the LAN by mDNS.")
@click.option("--interface", default="", help="With --discover: listen on this address only.")
@click.pass_context
def sync(ctx: click.Context, peer_url: str | None, discover_lan: bool, interface: str) -> None:
    """Sync once with the parent (or --peer, or a peer found with --discover); exit 1 on failure."""
    node = _open(ctx)
    url = peer_url or (discover_parent(node, 3.0, interface) if discover_lan else node.settings.PARENT_URL)
    if not url:
        raise click.ClickException("no peer: pass --peer URL or set PARENT_URL (motcua init --parent-url)")
    bar = None

    def progress(summary, remaining: int) -> None:
        nonlocal bar
        if bar is None and remaining > 1000:
            bar = click.progressbar(length=summary.events_out + remaining, label="sending", file=sys.stderr)
            bar.__enter__()
        if bar is not None:
            bar.update(summary.events_out - bar.pos)

    try:
        summary = node.sync_with(url, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(
        f"{summary.outcome}: session {summary.session} with {summary.peer or url}: "
        f"sent {summary.events_out} events, received {summary.events_in}, "
        f"{summary.exchanges} exchange(s), {summary.bytes_out} B up / {summary.bytes_in} B down"
    )
    if not summary.ok:
        click.echo(f"error {summary.error_code}: {summary.error}", err=True)
        sys.exit(1)


@main.command()
@click.option("--seconds", type=float, default=3.0, show_default=True, help="How long to listen.")
@click.option("--interface", default="", help="Listen on this address only (e.g. 127.0.0.1).")
@click.pass_context
def peers(ctx: click.Context, seconds: float, interface: str) -> None:
    """List motcua nodes advertised on the LAN (mDNS); trust is checked when syncing."""
    from sync.discovery import discover

    node = _open(ctx)
    mine = _ca_fingerprint(node)
    found = discover(seconds, interface)
    for r in found:
        same = "same CA" if mine and r.ca_fingerprint == mine else ("no CA" if not r.ca_fingerprint else "OTHER CA")
        click.echo(f"{r.url:<32} {r.role:<9} {r.unit:<6} {r.name[:30]:<30} {r.node_id}  {same}")
    click.echo(f"{len(found)} peer(s) heard in {seconds:g} s")


def _ca_fingerprint(node) -> str:
    if node.trust.ca is None:
        return ""
    from certs.identity import ca_fingerprint

    return ca_fingerprint(node.trust.ca)


def discover_parent(node, seconds: float, interface: str) -> str:
    """A LAN peer this node may sync with: its unit's commune (or a district), same CA."""
    from sync.discovery import discover

    mine = _ca_fingerprint(node)
    for r in sorted(discover(seconds, interface), key=lambda r: (r.role != "commune", r.node_id)):
        if r.node_id == node.node_id or (mine and r.ca_fingerprint != mine):
            continue
        if r.role == "district" or (r.role == "commune" and r.unit == node.settings.UNIT):
            return r.url
    raise click.ClickException("no commune of this unit or district with our CA was heard on the LAN")


@main.command("sync-log")
@click.option("--limit", type=int, default=20, show_default=True, help="Sessions to show, newest first.")
@click.option("--peer", default="", help="Only sessions with this node id (prefix).")
@click.option("--outcome", type=click.Choice(["ok", "partial", "failed", "running"]), default=None)
@click.pass_context
def sync_log(ctx: click.Context, limit: int, peer: str, outcome: str | None) -> None:
    """Show the sync log: session, peer, times, events and bytes each way, outcome, error."""
    from node.reports import format_ms, sync_sessions

    node = _open(ctx)
    rows = sync_sessions(limit=limit, peer=peer, outcome=outcome)
    click.echo(f"{'started':<19} {'side':<6} {'peer':<20} {'ev in':>7} {'ev out':>7} {'B in':>9} {'B out':>9} "
               f"{'exch':>4} {'cfl':>3} outcome  error")
    for r in rows:
        click.echo(
            f"{format_ms(r['started_at']):<19} {r['side']:<6} {(r['peer_name'] or r['peer'])[:20]:<20} "
            f"{r['events_in']:>7} {r['events_out']:>7} {r['bytes_in']:>9} {r['bytes_out']:>9} "
            f"{r['exchanges']:>4} {r['conflicts']:>3} {r['outcome']:<8} {r['error_code']} {r['error'][:60]}"
        )
    if not rows:
        click.echo("(no sessions yet)")
    node.close()


@main.group()
def conflicts() -> None:
    """List, show and resolve conflict records (both versions are always kept)."""


@conflicts.command("list")
@click.option("--status", type=click.Choice(["open", "resolved", "merged", "all"]), default="open", show_default=True)
@click.pass_context
def conflicts_list(ctx: click.Context, status: str) -> None:
    """One line per conflict: id, kind, dossier, winner and loser values, status."""
    node = _open(ctx.parent)
    rows = node.list_conflicts("" if status == "all" else status, limit=1000)
    for c in rows:
        click.echo(f"{c['id']}  {c['kind']:<9} {c['field'] or '-':<17} {c['dossier_id'][-24:]:<24} "
                   f"{c['winner_value']!s:<22} beats {c['loser_value']!s:<22} {c['status']}")
    click.echo(f"{len(rows)} conflict(s)")


@conflicts.command("show")
@click.argument("conflict_id")
@click.pass_context
def conflicts_show(ctx: click.Context, conflict_id: str) -> None:
    """Both versions side by side, with who made them, where and when."""
    from node.domain.errors import DomainError
    from node.reports import format_ms

    node = _open(ctx.parent)
    try:
        c = node.get_conflict(conflict_id)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"conflict {c['id']} ({c['kind']} {c['field']}) on dossier {c['dossier_id']}: {c['status']}")
    for label, ref in (("winner", c["winner"]), ("loser ", c["loser"])):
        v = c["versions"].get(ref) or {}
        click.echo(f"  {label} {ref}\n         by {v.get('author', '?')} of {v.get('office') or '?'} "
                   f"at {format_ms(v.get('at'))}: {json.dumps(v.get('body', {}), ensure_ascii=False)}")
    if c["status"] == "resolved":
        click.echo(f"  resolved by {c['resolved_by']} keeping {c['chosen']}: {c['reason']}")


@conflicts.command("resolve")
@click.argument("conflict_id")
@click.option("--keep", type=click.Choice(["winner", "loser"]), required=True, help="Which version stands.")
@click.option("--reason", required=True, help="Why (recorded in the resolution event).")
@click.option("--author", default=lambda: os.environ.get("USER", "admin"), help="Staff account making the decision.")
@click.pass_context
def conflicts_resolve(ctx: click.Context, conflict_id: str, keep: str, reason: str, author: str) -> None:
    """Close a conflict with a signed resolution event that replicates everywhere."""
    from node.domain.errors import DomainError

    node = _open(ctx.parent)
    try:
        c = node.get_conflict(conflict_id)
        done = node.resolve_conflict(author, conflict_id, c[keep], reason)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"conflict {conflict_id} resolved: kept the {keep} ({done['chosen']})")


@main.group("ca")
def ca_group() -> None:
    """The district certificate authority (on the district node): init, pair, revoke."""


@ca_group.command("init")
@click.pass_context
def ca_init(ctx: click.Context) -> None:
    """Create the district CA under <data dir>/ca and certify this district node."""
    from node.domain.errors import DomainError
    from node.enrollment import init_ca

    node = _open(ctx.parent)
    try:
        fingerprint = init_ca(node)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"district CA created; fingerprint {fingerprint}")
    click.echo("restart motcua serve: it now serves https and accepts only certified nodes")


@ca_group.command("pair")
@click.option("--role", type=click.Choice(["commune", "mobile", "district"]), required=True)
@click.option("--unit", required=True, help="Unit code the enrolled node will serve.")
@click.option("--name", required=True, help="Name the certificate will carry.")
@click.option("--valid-hours", type=click.IntRange(1, 720), default=72, show_default=True)
@click.pass_context
def ca_pair(ctx: click.Context, role: str, unit: str, name: str, valid_hours: int) -> None:
    """Print a one-time pairing code to type on the node being enrolled."""
    from node.domain.errors import DomainError
    from node.enrollment import new_pairing_code

    node = _open(ctx.parent)
    try:
        code, expires = new_pairing_code(node, role, unit, name, valid_hours)
    except (DomainError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"pairing code: {code}\nfor {name} ({role}, unit {unit}); valid until {expires}; works once")


@ca_group.command("revoke")
@click.argument("node_id")
@click.option("--after-seq", type=int, default=None, help="Last valid seq (default: what the district holds).")
@click.option("--unit", default=None, help="Unit of the feed (default: the node's unit).")
@click.option("--reason", type=click.Choice(["unspecified", "key_compromise", "superseded",
                                            "cessation_of_operation"]), default="unspecified")
@click.option("--author", default=lambda: os.environ.get("USER", "admin"))
@click.pass_context
def ca_revoke(ctx: click.Context, node_id: str, after_seq: int | None, unit: str | None, reason: str,
              author: str) -> None:
    """Revoke a node: its work up to the given seq stays valid, anything later is refused everywhere."""
    from node.domain.errors import DomainError
    from node.enrollment import revoke

    node = _open(ctx.parent)
    try:
        done = revoke(node, node_id, author, reason, after_seq, unit)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"revoked {node_id} after seq {done['after_seq']} of unit {done['unit']} (event {done['event']})")


@main.command()
@click.option("--district", "district_url", required=True, help="URL of the district node.")
@click.option("--code", required=True, help="The one-time pairing code shown by the district.")
@click.option("--name", "extra_names", multiple=True,
              help="Another host name or LAN address for the https certificate (repeatable).")
@click.pass_context
def enroll(ctx: click.Context, district_url: str, code: str, extra_names: tuple[str, ...]) -> None:
    """Enroll this node with the district CA using a one-time pairing code."""
    from node.enrollment import EnrollmentFailed
    from node.enrollment import enroll as do_enroll
    from node.https import default_names

    settings = _settings(ctx)
    names = [*default_names(settings), *extra_names]
    try:
        done = do_enroll(settings.data_dir, district_url, code, settings.HTTP_TIMEOUT_SECONDS, names)
    except EnrollmentFailed as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"enrolled as {done.name} ({done.role}, unit {done.unit}), node {done.node_id}")
    if done.tls_names:
        click.echo(f"https certificate (ECDSA P-256) for {', '.join(done.tls_names)}")
    else:
        click.echo(f"warning: no https certificate for browsers: {done.tls_error}; sync works; later run "
                   "motcua tls request --district URL", err=True)
    click.echo(f"district CA fingerprint {done.fingerprint}; restart motcua serve to serve https")


@main.group("tls")
def tls_group() -> None:
    """The https certificate browsers accept (ECDSA P-256, from the district TLS CA)."""


@tls_group.command("request")
@click.option("--district", "district_url", default=None,
              help="URL of the district node (default: PARENT_URL). Not needed on the district itself.")
@click.option("--name", "extra_names", multiple=True,
              help="Another host name or LAN address staff type for this node (repeatable).")
@click.option("--only", is_flag=True, help="Certify only the --name values, not the names found automatically.")
@click.pass_context
def tls_request(ctx: click.Context, district_url: str | None, extra_names: tuple[str, ...], only: bool) -> None:
    """Get (or renew) this node's https certificate; restart motcua serve afterwards."""
    from certs.errors import CertsError
    from node.domain.errors import DomainError
    from node.enrollment import ca_layout
    from node.https import TlsRequestFailed, default_names, issue_locally, request_from_district

    settings = _settings(ctx.parent)
    names = list(dict.fromkeys([*([] if only else default_names(settings)), *extra_names]))
    node = _open(ctx.parent)
    try:
        if settings.ROLE == "district" and ca_layout(node).certificate.exists():
            certified = issue_locally(node, names)
        else:
            url = district_url or settings.PARENT_URL
            if not url:
                raise click.ClickException("give --district URL (the district node that holds the CA)")
            certified = request_from_district(settings.data_dir, url, names, settings.HTTP_TIMEOUT_SECONDS)
    except (TlsRequestFailed, DomainError) as e:
        raise click.ClickException(str(e)) from e
    except CertsError as e:
        raise click.ClickException(f"{e} (is MOTCUA_CA_PASSPHRASE set?)") from e
    click.echo(f"https certificate (ECDSA P-256) for {', '.join(certified)}")
    click.echo(f"staff browsers must trust {node.trust.layout.tls_ca_certificate}; restart motcua serve")


@tls_group.command("show")
@click.pass_context
def tls_show(ctx: click.Context) -> None:
    """Say which certificate https uses, for which names, until when."""
    from node.https import report

    node = _open(ctx.parent)
    lines = report(node.trust) or ["no district CA here: motcua serve speaks plain http"]
    for line in lines:
        click.echo(line)


@main.command("unblock-writes")
@click.option("--reason", required=True, help="Why (kept in the node's log output and audit).")
@click.pass_context
def unblock_writes(ctx: click.Context, reason: str) -> None:
    """Lift the write gate of a restored, moved or forked node (an administrator's decision)."""
    node = _open(ctx)
    before = node.gate.reason()
    if not before:
        click.echo("writes are not blocked")
        return
    node.gate.lift()
    click.echo(f"write gate lifted (was: {before}); reason given: {reason}")


@main.group()
def user() -> None:
    """Staff accounts of this node: personal, one role each, Argon2id-hashed passwords."""


@user.command("add")
@click.option("--username", required=True, help="Sign-in name: lower-case letters without accents, digits, . _ -")
@click.option("--role", type=click.Choice(["clerk", "head", "mobile", "district_admin"]), required=True,
              help="clerk (one-stop desk), head (head of office), mobile (outreach team), district_admin.")
@click.option("--name", "full_name", required=True, help="Full name, as printed on forms (e.g. 'Nguyễn Thị Lan').")
@click.password_option(help="Password (at least 12 characters); prompted, never on the command line in scripts.",
                       prompt="Mật khẩu / password")
@click.pass_context
def user_add(ctx: click.Context, username: str, role: str, full_name: str, password: str) -> None:
    """Create a staff account (prompts for the password twice)."""
    from web.accounts import AccountError, create_account

    node = _open(ctx.parent)
    try:
        row = create_account(username, full_name, role, password, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"created {row.role} account {row.username} ({row.full_name})")


@user.command("list")
@click.pass_context
def user_list(ctx: click.Context) -> None:
    """One line per account: user name, role, active, last sign-in, full name."""
    from node.reports import format_ms
    from web.accounts import list_accounts

    _open(ctx.parent)
    rows = list_accounts()
    for r in rows:
        click.echo(f"{r.username:<20} {r.role:<15} {'active' if r.active else 'disabled':<8} "
                   f"{format_ms(r.last_login_at):<19} {r.full_name}")
    click.echo(f"{len(rows)} account(s)")


@user.command("disable")
@click.argument("username")
@click.pass_context
def user_disable(ctx: click.Context, username: str) -> None:
    """Disable an account and end its sessions at once (a person who left, a lost laptop)."""
    from web.accounts import AccountError, set_active

    _open(ctx.parent)
    try:
        set_active(username, False)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"account {username} disabled; its sessions are ended")


@user.command("set-password")
@click.argument("username")
@click.password_option(prompt="Mật khẩu mới / new password")
@click.pass_context
def user_set_password(ctx: click.Context, username: str, password: str) -> None:
    """Set a new password (prompted twice); ends the account's sessions."""
    from web.accounts import AccountError, set_password

    node = _open(ctx.parent)
    try:
        set_password(username, password, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"password of {username} changed; its sessions are ended")


# -- motcua token: personal API tokens (issue 10) -------------------------------------------------


@main.group()
def token() -> None:
    """Personal API tokens: each acts as its staff account; shown once, only a hash is kept."""


@token.command("create")
@click.option("--user", "username", required=True, help="The staff account the token acts as.")
@click.option("--scope", type=click.Choice(["read", "write"]), required=True,
              help="read: reads only; write: also the changes the account's role allows.")
@click.option("--expires", "expires_days", type=click.IntRange(1, 3650), default=None,
              help="Days until the token stops working (default: until revoked).")
@click.pass_context
def token_create(ctx: click.Context, username: str, scope: str, expires_days: int | None) -> None:
    """Create a token and print it once (send it as 'Authorization: Bearer <token>')."""
    from node.reports import format_ms
    from web.accounts import AccountError
    from web.tokens import create_token

    node = _open(ctx.parent)
    try:
        secret, row = create_token(username, scope, now=node.wall_ms(), expires_days=expires_days)
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    expires = format_ms(row.expires_at) if row.expires_at else "never (until revoked)"
    click.echo(f"token {row.id} for {row.account.username} ({row.account.role}), scope {scope}, expires {expires}")
    click.echo(secret)
    click.echo("Copy it now: it is not shown again (only its SHA-256 is stored).", err=True)


@token.command("list")
@click.option("--user", "username", default="", help="Only this account's tokens.")
@click.pass_context
def token_list(ctx: click.Context, username: str) -> None:
    """One line per token, newest first: id, account, scope, state, created, expires, last used."""
    from node.reports import format_ms
    from web.tokens import list_tokens

    node = _open(ctx.parent)
    rows = list_tokens(username, now=node.wall_ms())
    for t in rows:
        click.echo(f"{t['id']:>4} {t['username']:<20} {t['scope']:<5} {t['state']:<16} "
                   f"created {format_ms(t['created_at'])}"
                   f"  expires {format_ms(t['expires_at']) if t['expires_at'] else 'never':<19}"
                   f"  last used {format_ms(t['last_used_at'])}  {t['prefix']}…")
    click.echo(f"{len(rows)} token(s)")


@token.command("revoke")
@click.argument("token_id", type=int)
@click.pass_context
def token_revoke(ctx: click.Context, token_id: int) -> None:
    """Revoke a token at once (a leaked script, a person who left); it never works again."""
    from web.accounts import AccountError
    from web.tokens import revoke_token

    node = _open(ctx.parent)
    try:
        row = revoke_token(token_id, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"token {row.id} of {row.account.username} revoked")


@main.group()
def reference() -> None:
    """Reference data synced down from the district: catalogue, calendar, status mapping."""


@reference.command("show")
@click.pass_context
def reference_show(ctx: click.Context) -> None:
    """The version of each kind in force here, and whether it is a publication or the seed."""
    node = _open(ctx.parent)
    for r in node.reference_status():
        revision = f"revision {r['revision']}, " if r.get("revision") else ""
        click.echo(f"{r['kind']:<15} {r['version']:<50} {revision}{r['source']}")


def _years(text: str) -> list[int] | None:
    if not text:
        return None
    first, _, last = text.partition("-")
    try:
        return list(range(int(first), int(last or first) + 1))
    except ValueError:
        raise click.BadParameter("years look like 2025-2028 or 2026", param_hint="--years") from None


def _json_file(path: Path | None) -> dict | None:
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise click.ClickException(f"cannot read {path}: {e}") from e


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

    node = _open(ctx.parent)
    try:
        done = node.publish_reference(author, catalogue=_json_file(catalogue_file), calendar=_json_file(calendar_file),
                                      status_mapping=_json_file(mapping_file), years=_years(years),
                                      kinds=kinds or KINDS)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    for d in done:
        what = f"published revision {d['revision']}" if d["published"] else "unchanged"
        click.echo(f"{d['kind']:<15} {d['version']:<50} {what}")


@main.group()
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

    node = _open(ctx.parent)
    try:
        b = node.lease_codes(author, node_id, days=days, size=size, agency_id=agency_id, unit=unit,
                             first_day=first_day.date() if first_day else None)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"leased block {b['block_id']} to {node_id} (unit {b['unit']}): {agency_id} numbers "
               f"{b['first_seq']:04d}-{b['last_seq']:04d} each day {b['first_day']} to {b['last_day']}")


@codes.command("status")
@click.pass_context
def codes_status(ctx: click.Context) -> None:
    """Blocks held, numbers issued from each, dossiers still waiting for a final code."""
    node = _open(ctx.parent)
    s = node.codes_status()
    click.echo(f"agency id: {s['agency_id'] or '(AGENCY_ID not set: provisional codes only)'}")
    for b in s["blocks"]:
        flag = "usable" if b["usable"] else ("other agency id" if b["mine"] else f"node {b['node_id']}")
        click.echo(f"  {b['agency_id']} {b['first_day']}..{b['last_day']} {b['first_seq']:04d}-{b['last_seq']:04d}"
                   f"  issued {b['issued']}  {flag}")
    if not s["blocks"]:
        click.echo("  no number block held yet")
    click.echo(f"{s['provisional_waiting']} dossier(s) carry a provisional code waiting for a block")


@codes.command("assign")
@click.option("--author", default="motcua", help="Account recorded on the assignment events.")
@click.pass_context
def codes_assign(ctx: click.Context, author: str) -> None:
    """Give provisional dossiers their final codes from the blocks now held (sync does this too)."""
    node = _open(ctx.parent)
    done = node.assign_final_codes(author)
    for d in done:
        click.echo(f"{d['provisional']} -> {d['code']}")
    click.echo(f"{len(done)} final code(s) assigned; {node.codes_status()['provisional_waiting']} still provisional")


@main.command()
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

    node = _open(ctx)
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


# -- backup and restore (node/backup.py) ------------------------------------------------------


@main.command()
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder that receives the backup folder (an external disk, a share).")
@click.pass_context
def backup(ctx: click.Context, dest: Path) -> None:
    """Write a checked backup of this node (SQLite online backup, or pg_dump) while it serves."""
    from node.backup import BackupError, create_backup
    from node.services import system_wall_ms

    settings = _settings(ctx)
    try:
        done = create_backup(settings, dest, system_wall_ms(), lambda msg: click.echo(f"  {msg}", err=True))
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    checked = f", {done.feeds} feeds / {done.events} events verified" if done.database == "sqlite" else ""
    click.echo(f"backup written: {done.path} ({done.database}, {done.size / 1e6:.1f} MB{checked})")


@main.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.pass_context
def restore(ctx: click.Context, source: Path) -> None:
    """Restore a backup folder into the (empty) data directory; writes wait for a sync."""
    from node.backup import BackupError, restore_backup

    settings = _settings(ctx)
    try:
        manifest = restore_backup(source, settings.data_dir, None, lambda msg: click.echo(f"  {msg}", err=True))
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"restored {manifest['role']} node {manifest['node_id']} (unit {manifest['unit']}) "
               f"into {settings.data_dir}")
    click.echo("writes stay blocked until motcua sync with the parent has brought back this node's later "
               "events (motcua doctor shows the state; see docs/operations.md)")


@main.command("seed-demo")
@click.option("--count", type=int, default=5, show_default=True, help="Dossiers to create.")
@click.pass_context
def seed_demo(ctx: click.Context, count: int) -> None:
    """Create a few realistic demo dossiers through the normal use cases."""
    from node.demo_data import seed
    from node.domain.errors import DomainError

    node = _open(ctx)
    try:
        created = seed(node, count)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"created {len(created)} demo dossiers: " + ", ".join(d.code for d in created))


if __name__ == "__main__":  # pragma: no cover
    main()
