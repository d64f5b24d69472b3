"""The ``motcua`` command: create, run, check and repair a node. Each command is a thin call
into :mod:`node.services`; the data directory comes from ``--data-dir`` or ``MOTCUA_DATA_DIR``.
"""

from __future__ import annotations

import functools
import json
import os
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
    from node.atrest import AtRestError
    from node.services import NodeNotInitialised, open_node

    try:
        return open_node(_settings(ctx))
    except NodeNotInitialised as e:
        raise click.ClickException(str(e)) from e
    except AtRestError as e:
        raise click.ClickException(f"{e} (motcua unlock --user NAME)") from e


def _password_option(prompt: str = "Mật khẩu / password", confirm: bool = False):  # -> decorator
    """``--password-stdin`` (scripts: one line of standard input), else a hidden prompt; the
    command receives ``password``. ``--password VALUE`` is kept for old scripts and tests (it
    shows in the process list: avoid it)."""

    def deco(f):
        @functools.wraps(f)
        def wrapped(*args: Any, password: str | None, password_stdin: bool, **kwargs: Any) -> Any:
            if password is None:
                if password_stdin:
                    password = sys.stdin.readline().rstrip("\r\n")
                else:
                    password = click.prompt(prompt, hide_input=True, confirmation_prompt=confirm)
            return f(*args, password=password, **kwargs)

        wrapped = click.option("--password-stdin", is_flag=True,
                               help="Read the password from one line of standard input (else prompted).")(wrapped)
        return click.option("--password", default=None, hidden=True)(wrapped)

    return deco


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
    from node.unlocking import create_node_keys

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
    if key_path.exists():
        raise click.ClickException(f"{key_path} exists without a node.json; move it away to start over")
    key = NodeKey.generate()
    # The database, the key file and the session secret are encrypted with a new data key; the
    # keyring holds it in a setup slot until the first staff account (motcua user add).
    data_key = create_node_keys(data_dir, key)
    node_file: dict[str, Any] = {
        "role": role,
        "unit": unit,
        "name": name,
        "node_id": key.node_id,
    }
    if parent_url:
        node_file["parent_url"] = parent_url
    if port:
        node_file["port"] = port
    if dev_open_trust:
        node_file["dev_open_trust"] = True
    tmp = settings.node_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(node_file, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, settings.node_file)
    db = open_database(load_settings(data_dir), data_key=data_key)
    db.close()
    where = describe_unit(unit) or "unit not in the 2025 national list (kept as given)"
    click.echo(f"initialised {role} node {key.node_id}\n  unit {unit}: {where}\n  data  {data_dir} (encrypted)")
    click.echo("add the first staff account now (motcua user add): until then the data key sits unprotected "
               "in keys.json", err=True)
    if dev_open_trust:
        click.echo(DEV_OPEN_WARNING, err=True)


@main.command()
@click.option("--host", default=None, help="Listen address (default: HOST setting).")
@click.option("--port", type=int, default=None, help="Listen port (default: PORT setting).")
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of gunicorn.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, dev: bool) -> None:
    """Run the node's web server (gunicorn, one process, threads)."""
    from certs.layout import NodeLayout
    from node.app import create_app
    from node.unlocking import serving_lock

    settings = _settings(ctx)
    try:
        node = _open(ctx)
    except click.ClickException:
        node = None  # locked: the app serves its sign-in page; a staff sign-in unlocks it
    app = create_app(settings, node=node) if node is not None else create_app(settings, locked=True)
    host = host or settings.HOST
    port = port or settings.PORT
    layout = NodeLayout(settings.data_dir)
    tls = (str(layout.certificate), str(layout.key)) if layout.certificate.exists() else None
    scheme = "https" if tls else "http"
    node_id = app.extensions["motcua.node"].node_id
    state = "LOCKED until a staff member signs in" if node is None else "unlocked"
    click.echo(f"motcua {settings.ROLE} node {node_id} on {scheme}://{host}:{port}/ ({state})", err=True)
    if node is not None and node.trust.open_to_strangers:
        click.echo(DEV_OPEN_WARNING, err=True)
    from node.lockstate import idle_lock_ms
    from web.locked import IdleWatcher, Together

    watcher = IdleWatcher(app.extensions["motcua.atrest"]) if idle_lock_ms(settings) else None
    sync_scheduler = make_scheduler(app)
    scheduler = Together(sync_scheduler, watcher) if watcher or sync_scheduler else None
    stack = serving_lock(settings.data_dir)
    stack.__enter__()  # held until the process ends: rekey and encrypt refuse meanwhile
    if dev:
        advertiser = make_advertiser(node, host, port, scheme)
        if scheduler:
            scheduler.start()
        try:
            from node.wsgi import TlsContexts

            # the development server takes one context: the node's own, or the throwaway one
            # of a locked node until it restarts
            app.run(host=host, port=port, threaded=True, ssl_context=TlsContexts(app, *tls)() if tls else None)
        finally:
            if scheduler:
                scheduler.stop()
            if advertiser is not None:
                advertiser.close()
        return
    from node.wsgi import serve_with_gunicorn

    serve_with_gunicorn(app, host, port, threads=settings.WORKERS, scheduler=scheduler, tls=tls,
                        advertise=lambda: make_advertiser(node, host, port, scheme))


def make_advertiser(node, host: str, port: int, scheme: str):  # -> Advertiser | None
    """Commune and district nodes announce themselves on the LAN (mDNS), mobiles do not."""
    if node is None or node.settings.ROLE == "mobile" or not node.settings.ADVERTISE:
        return None
    from sync.discovery import Advertiser, ServiceRecord

    try:
        return Advertiser(ServiceRecord.for_node(node, host, port, scheme))
    except OSError as e:  # no multicast on this machine: serving matters more than announcing
        click.echo(f"warning: cannot advertise on the LAN: {e}", err=True)
        return None


def make_scheduler(app):  # -> SyncScheduler | None
    """The background sync of ``serve``: only for nodes with a parent to sync with. It pauses
    while the node is locked (no key, no database), and checks the idle lock of a mobile node."""
    import logging

    from sync.scheduler import SyncScheduler

    settings = app.extensions["motcua.atrest"].settings
    if not settings.PARENT_URL:
        return None
    logger = logging.getLogger("motcua.sync")

    def run() -> bool:
        gate = app.extensions["motcua.atrest"]
        gate.check()
        node = app.extensions["motcua.node"]
        if getattr(node, "locked", False):
            logger.info("sync skipped: the node is locked")
            return False
        summary = node.sync_with(node.settings.PARENT_URL)
        logger.info("sync %s: %s up, %s down, %s", summary.outcome, summary.events_out, summary.events_in,
                    summary.error or "")
        return summary.ok

    scheduler = SyncScheduler(run, settings.SYNC_INTERVAL_SECONDS)
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
    lines, bad, node = at_rest_report(ctx, settings)
    problems += bad
    for line in lines:
        click.echo(line)
    if node is None:
        click.echo(f"FAIL {problems} problem(s) found before the database, which stays closed while locked")
        sys.exit(1)
    click.echo(f"ok   database {backend_name(node.db)}; pending migrations: {pending_migrations(node.db) or 'none'}")
    status = node.status()
    click.echo(f"ok   node {status['node_id']}: {status['events']} events, {status['dossiers']} dossiers")
    for line in trust_report(node):
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


def _keyring(node):  # -> Keyring
    from node.atrest import Keyring

    return Keyring.load(node.settings.data_dir)


def at_rest_report(ctx: click.Context, settings: Settings) -> tuple[list[str], int, Any]:
    """``motcua doctor``'s lines on encryption at rest and the lock; the node if it opens."""
    from node.atrest import AtRestError
    from node.lockstate import idle_lock_ms
    from node.unlocking import state

    st = state(settings)
    if not st["encrypted"]:
        node = _open(ctx)
        return [f"FAIL at rest: {st['summary']}"], 1, node
    lines, bad = [], 0
    escrow = (f"escrow {str(st['escrow'])[:16]}…" if st["escrow"]
              else "no district escrow (enroll, or motcua escrow --public FILE)")
    lines.append(f"ok   at rest: SQLCipher database, encrypted node key and CA key, key generation "
                 f"{st['generation']}; {st['account_slots']} account slot(s), {escrow}")
    if st["plaintext_db"]:
        bad += 1
        lines.append("FAIL at rest: the SQLite file is plaintext although a keyring exists (an interrupted "
                     "motcua encrypt?): restore the backup it made")
    if st["setup_slot"]:
        lines.append("warn at rest: no staff account yet: the data key sits unprotected in keys.json; "
                     "run motcua user add")
    district_escrow = settings.data_dir / "ca" / "escrow.pub"
    if district_escrow.exists():
        from node.atrest import escrow_fingerprint, load_escrow_public

        fingerprint = escrow_fingerprint(load_escrow_public(district_escrow.read_bytes()))
        lines.append(f"ok   escrow key of this district: {fingerprint} (private part: ca/escrow.key, "
                     "passphrase-encrypted; keep a copy offline)")
    idle = idle_lock_ms(settings)
    locked_note = ("while locked: the web server serves only its sign-in page and /healthz; no background "
                   "sync, no relay, no API; motcua commands need motcua unlock")
    try:
        node = _open(ctx)
    except click.ClickException:
        lines.append(f"ok   lock: LOCKED ({locked_note})")
        return lines, bad, None
    how = "setup slot" if st["setup_slot"] else "unlock cache (motcua lock empties it)"
    idle_text = f"; locks itself after {idle // 60000} min idle" if idle else ""
    lines.append(f"ok   lock: unlocked here by the {how}{idle_text}; {locked_note}")
    try:
        _keyring(node)
    except AtRestError as e:
        bad += 1
        lines.append(f"FAIL at rest: {e}")
    return lines, bad, node


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


ESCROW_PASSPHRASE_ENV = "MOTCUA_ESCROW_PASSPHRASE"


def _escrow_passphrase(confirm: bool) -> bytes:
    value = os.environ.get(ESCROW_PASSPHRASE_ENV) or click.prompt(
        "Escrow key passphrase (keep it with the exported key, offline)", hide_input=True,
        confirmation_prompt=confirm)
    if len(value) < 12:
        raise click.ClickException("the escrow passphrase needs at least 12 characters")
    return value.encode("utf-8")


@ca_group.command("init")
@click.pass_context
def ca_init(ctx: click.Context) -> None:
    """Create the district CA under <data dir>/ca, certify this district node, and make the
    district escrow key pair (passphrase from MOTCUA_ESCROW_PASSPHRASE, else prompted)."""
    from node.domain.errors import DomainError
    from node.enrollment import init_ca

    node = _open(ctx.parent)
    passphrase = _escrow_passphrase(confirm=True)
    try:
        fingerprint = init_ca(node, escrow_passphrase=passphrase)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(f"district CA created; fingerprint {fingerprint}")
    click.echo("escrow key pair created in ca/escrow.key (passphrase-encrypted) and ca/escrow.pub; enrolling "
               "nodes wrap their data key to it. Copy it offline: motcua ca escrow-export --to DIR")
    click.echo("restart motcua serve: it now serves https and accepts only certified nodes")


@ca_group.command("escrow-export")
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder (a USB key kept in the district's safe) receiving escrow.key and escrow.pub.")
@click.pass_context
def ca_escrow_export(ctx: click.Context, dest: Path) -> None:
    """Copy the escrow key pair (private part still passphrase-encrypted) for offline keeping."""
    import shutil

    from node.atrest import ESCROW_KEY_FILE, ESCROW_PUBLIC_FILE

    root = _settings(ctx.parent).data_dir / "ca"
    if not (root / ESCROW_KEY_FILE).exists():
        raise click.ClickException(f"no escrow key in {root}: run motcua ca init")
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in (ESCROW_KEY_FILE, ESCROW_PUBLIC_FILE):
        shutil.copy2(root / name, dest / name)
    click.echo(f"escrow key exported to {dest}; it opens with its passphrase only (motcua recover --escrow-key)")


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
@click.pass_context
def enroll(ctx: click.Context, district_url: str, code: str) -> None:
    """Enroll this node with the district CA using a one-time pairing code."""
    from node.atrest import AtRestError
    from node.enrollment import EnrollmentFailed
    from node.enrollment import enroll as do_enroll
    from node.lockstate import resolve_data_key
    from node.unlocking import escrow_to, node_key_password

    settings = _settings(ctx)
    try:
        data_key = resolve_data_key(settings)
        done = do_enroll(settings.data_dir, district_url, code, settings.HTTP_TIMEOUT_SECONDS,
                         node_key_password=node_key_password(data_key))
    except AtRestError as e:
        raise click.ClickException(f"{e} (motcua unlock --user NAME)") from e
    except EnrollmentFailed as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"enrolled as {done.name} ({done.role}, unit {done.unit}), node {done.node_id}")
    if done.escrow_pem and data_key is not None:
        node = _open(ctx)
        fingerprint = escrow_to(node, done.escrow_pem)
        node.close()
        click.echo(f"data key escrowed to the district escrow key {fingerprint[:16]}… (motcua recover)")
    click.echo(f"district CA fingerprint {done.fingerprint}; restart motcua serve to serve https")


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
@_password_option("Mật khẩu / password", confirm=True)
@click.pass_context
def user_add(ctx: click.Context, username: str, role: str, full_name: str, password: str) -> None:
    """Create a staff account (prompts for the password twice)."""
    from node.unlocking import set_account_slot
    from web.accounts import AccountError, create_account

    node = _open(ctx.parent)
    try:
        row = create_account(username, full_name, role, password, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    first = node.data_key is not None and not _keyring(node).account_slots
    set_account_slot(node, row.username, password)
    click.echo(f"created {row.role} account {row.username} ({row.full_name})")
    if first:
        # The setup slot is gone: the one who set the node up keeps it unlocked for the next
        # steps (serve, enroll, seed) as motcua unlock would, until motcua lock.
        from node.unlocking import unlock_cache_for

        unlock_cache_for(node.settings, node.data_key)
        click.echo("the node's data key is now protected by this account's password (key slot); it stays "
                   "unlocked on this machine until motcua lock (or a restart); then a sign-in unlocks it")


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
    from node.atrest import AtRestError
    from node.unlocking import check_slot_can_go, remove_account_slot
    from web.accounts import AccountError, set_active

    node = _open(ctx.parent)
    try:
        check_slot_can_go(node.settings, username)
        set_active(username, False)
    except (AccountError, AtRestError) as e:
        raise click.ClickException(str(e)) from e
    slot = remove_account_slot(node.settings, username)
    click.echo(f"account {username} disabled; its sessions are ended" + ("; its key slot is removed" if slot else ""))


@user.command("set-password")
@click.argument("username")
@_password_option("Mật khẩu mới / new password", confirm=True)
@click.pass_context
def user_set_password(ctx: click.Context, username: str, password: str) -> None:
    """Set a new password (prompted twice); ends the account's sessions."""
    from node.unlocking import set_account_slot
    from web.accounts import AccountError, set_password

    node = _open(ctx.parent)
    try:
        set_password(username, password, now=node.wall_ms())
    except AccountError as e:
        raise click.ClickException(str(e)) from e
    set_account_slot(node, username, password)
    click.echo(f"password of {username} changed; its sessions are ended; its key slot is rewrapped")


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
@click.option("--user", "username", default="", help="A staff account of the backed-up node (an encrypted "
              "backup opens with its password, prompted).")
@click.pass_context
def restore(ctx: click.Context, source: Path, username: str) -> None:
    """Restore a backup folder into the (empty) data directory; writes wait for a sync."""
    from node.backup import BackupError, backup_data_key, restore_backup

    settings = _settings(ctx)
    try:
        password = click.prompt("Mật khẩu / password", hide_input=True) if username else ""
        data_key = backup_data_key(source, username, password)
        manifest = restore_backup(source, settings.data_dir, None, lambda msg: click.echo(f"  {msg}", err=True),
                                  data_key)
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


# -- encryption at rest: unlock, lock, recover, rekey, encrypt (issue 16; node/unlocking.py) -----


@main.command()
@click.option("--user", "username", required=True, help="A staff account of this node.")
@_password_option()
@click.pass_context
def unlock(ctx: click.Context, username: str, password: str) -> None:
    """Unlock this node for command-line work: the data key goes to the unlock cache (in RAM)."""
    from node.atrest import AtRestError
    from node.unlocking import unlock_cache_for, unlock_with_password

    settings = _settings(ctx)
    try:
        data_key = unlock_with_password(settings, username, password)
    except AtRestError as e:
        raise click.ClickException(str(e)) from e
    path = unlock_cache_for(settings, data_key)
    click.echo(f"unlocked (cache {path}); motcua lock locks again")


@main.command()
@click.pass_context
def lock(ctx: click.Context) -> None:
    """Lock this node: empty the unlock cache and make a running server lock itself."""
    from node.config import read_node_file
    from node.lockstate import request_lock

    settings = _settings(ctx)
    node_id = str(read_node_file(settings.data_dir).get("node_id", ""))
    request_lock(settings, node_id)
    click.echo("locked: the server serves only its sign-in page until a staff member signs in")


@main.command()
@click.option("--escrow-key", "escrow_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The district's escrow.key (motcua ca escrow-export); its passphrase from "
                   "MOTCUA_ESCROW_PASSPHRASE or prompted.")
@click.option("--user", "username", required=True, help="The staff account whose password is set anew.")
@_password_option("Mật khẩu mới / new password", confirm=True)
@click.pass_context
def recover(ctx: click.Context, escrow_file: Path, username: str, password: str) -> None:
    """Open a node whose passwords are all lost with the district escrow key; set a new password
    for one account and rotate the data key."""
    from node.atrest import AtRestError
    from node.services import system_wall_ms
    from node.unlocking import recover as do_recover
    from web.accounts import AccountError, check_password_policy

    settings = _settings(ctx)
    try:
        check_password_policy(password, username)
        ring = do_recover(settings, escrow_file.read_bytes(), _escrow_passphrase(confirm=False), username, password,
                          system_wall_ms())
    except (AtRestError, AccountError, OSError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"recovered: {username} has a new password and the only account slot; data key rotated "
               f"(generation {ring.generation}); other staff get their slot back at their next sign-in")


@main.command()
@click.option("--user", "username", required=True, help="Your staff account (its slot is rewrapped at once).")
@_password_option()
@click.pass_context
def rekey(ctx: click.Context, username: str, password: str) -> None:
    """Rotate the data key: re-encrypt the database and key files (stop motcua serve first)."""
    from node.atrest import AtRestError
    from node.unlocking import rekey as do_rekey
    from node.unlocking import unlock_with_password

    settings = _settings(ctx)
    try:
        old = unlock_with_password(settings, username, password)
        ring = do_rekey(settings, old, username, password)
    except AtRestError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"rekeyed: generation {ring.generation}; slots now: {', '.join(ring.kinds())}; the other staff "
               "get their slot back at their next sign-in while the node is unlocked")


@main.command()
@click.option("--public", "public_file", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The district's escrow.pub (its CA folder, or motcua ca escrow-export).")
@click.pass_context
def escrow(ctx: click.Context, public_file: Path) -> None:
    """Wrap the data key to the district escrow key too (enrolling does it; this is for nodes
    enrolled before the district had one). Check the fingerprint with the district."""
    from node.atrest import AtRestError
    from node.unlocking import escrow_to

    node = _open(ctx)
    try:
        fingerprint = escrow_to(node, public_file.read_bytes())
    except (AtRestError, OSError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"data key escrowed to {fingerprint} (compare with the district's motcua doctor)")


@main.command()
@click.option("--backup-to", "backup_to", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Where the checked backup taken first goes (an external disk).")
@click.pass_context
def encrypt(ctx: click.Context, backup_to: Path) -> None:
    """Encrypt a plaintext node in place (stop motcua serve first): backup, SQLCipher copy,
    node key rewrapped; the digest is compared before and after."""
    from node.atrest import AtRestError
    from node.backup import BackupError
    from node.services import system_wall_ms
    from node.unlocking import encrypt_plaintext_node

    settings = _settings(ctx)
    try:
        _key, before, after = encrypt_plaintext_node(settings, backup_to, lambda m: click.echo(f"  {m}", err=True),
                                                     system_wall_ms())
    except (AtRestError, BackupError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"encrypted; digest before {before}\n           digest after  {after}")
    if before != after:
        raise click.ClickException("the digest changed: restore the backup and report this")
    click.echo("add a staff account slot now (motcua user add, or a sign-in): until then the key is in a setup slot")


if __name__ == "__main__":  # pragma: no cover
    main()
