"""``motcua init``, ``serve``, ``backup``, ``restore``, ``unblock-writes`` and ``seed-demo``: create a node,
run it, keep it safe and bring it back. ``serve`` alone starts threads (the sync scheduler, the mDNS
advertiser), and stops them in ``finally``.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from node.cli.context import node_of, settings_of
from node.cli.i18n import _
from node.config import ROLES, load_settings
from node.signing import KEY_FILE, NodeKey

if TYPE_CHECKING:  # annotations only: the CLI opens a node only when a command runs
    from flask import Flask

    from node.services import Node
    from sync.discovery import Advertiser
    from sync.scheduler import SyncScheduler


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


@click.command()
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

    settings = settings_of(ctx)
    data_dir = settings.data_dir
    if not is_unit_code(unit):
        raise click.BadParameter(_("mã đơn vị gồm 2 đến 5 chữ số, ví dụ 17272 cho một xã"), param_hint="--unit")
    if parent_url:
        from node.cli.peering import check_peer_url

        parent_url = check_peer_url(parent_url, "--parent-url")
    if settings.node_file.exists():
        existing = json.loads(settings.node_file.read_text(encoding="utf-8"))
        if exist_ok and existing.get("role") == role and existing.get("unit") == unit:
            click.echo(_("máy đã được khởi tạo trong %(dir)s (%(node)s)", dir=data_dir, node=existing["node_id"]))
            return
        raise click.ClickException(_("%(dir)s đã chứa máy %(node)s; không thay thế", dir=data_dir,
                                     node=existing.get("node_id")))
    if _inside_unignored_git_tree(data_dir):
        raise click.ClickException(_("%(dir)s nằm trong một bản git và không bị bỏ qua (.gitignore); khoá và dữ liệu "
                                     "không được đưa vào git", dir=data_dir))
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key_path = data_dir / KEY_FILE
    if key_path.exists():
        raise click.ClickException(_("%(path)s có sẵn mà không có node.json; hãy chuyển nó đi nơi khác rồi làm lại",
                                     path=key_path))
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
    where = describe_unit(unit) or _("đơn vị không có trong danh mục quốc gia 2025 (giữ nguyên như đã nhập)")
    click.echo(_("đã khởi tạo máy %(role)s %(node)s", role=role, node=key.node_id))
    click.echo("  " + _("đơn vị %(unit)s: %(name)s", unit=unit, name=where))
    click.echo("  " + _("dữ liệu  %(dir)s (đã mã hoá)", dir=data_dir))
    click.echo(_("hãy thêm tài khoản cán bộ đầu tiên ngay (motcua user add): trước đó khoá dữ liệu nằm trong keys.json "
                 "mà không được bảo vệ"), err=True)
    if dev_open_trust:
        click.echo(dev_open_warning(), err=True)


@click.command()
@click.option("--host", default=None, help="Listen address (default: HOST setting).")
@click.option("--port", type=int, default=None, help="Listen port (default: PORT setting).")
@click.option("--dev", is_flag=True, help="Use Flask's development server instead of gunicorn.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, dev: bool) -> None:
    """Run the node's web server (gunicorn with threads; several processes on PostgreSQL)."""
    from node.app import create_app
    from node.unlocking import serving_lock

    settings = settings_of(ctx)
    try:
        node = node_of(ctx)
    except click.ClickException:
        node = None  # locked: the app serves its sign-in page; a staff sign-in unlocks it
    app = create_app(settings, node=node) if node is not None else create_app(settings, locked=True)
    host = host or settings.HOST
    port = port or settings.PORT
    from node.https import report, serving_files

    if node is not None:
        trust = node.trust
    else:  # locked: the certificate files are read as they are (no database behind them)
        from node.services import system_wall_ms
        from node.signing import verify_signature
        from node.trust import NodeTrust

        trust = NodeTrust(settings.data_dir, verify_signature, system_wall_ms, None, settings.DEV_OPEN_TRUST)
    tls = serving_files(trust)  # the P-256 certificate browsers accept, else the Ed25519 one
    scheme = "https" if tls else "http"
    node_id = app.extensions["motcua.node"].node_id
    state = _("ĐANG KHOÁ cho đến khi một cán bộ đăng nhập") if node is None else _("đã mở khoá")
    click.echo(_("máy motcua %(role)s %(node)s tại %(url)s (%(state)s)", role=settings.ROLE, node=node_id,
                 url=f"{scheme}://{host}:{port}/", state=state), err=True)
    for line in report(trust):
        if not line.startswith("ok"):
            click.echo(line, err=True)
    if node is not None and node.trust.open_to_strangers:
        click.echo(dev_open_warning(), err=True)
    from node.lockstate import IdleWatcher, Together, idle_lock_ms

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

    workers = worker_processes(settings, unlocked=node is not None)
    if node is not None:
        # every worker opens its own connection; one made here would be shared by all after the fork
        node.db.close()
    # The announcement starts in gunicorn's worker, after the fork (see serve_with_gunicorn).
    serve_with_gunicorn(app, host, port, threads=settings.WORKERS, scheduler=scheduler, tls=tls,
                        advertise=lambda: make_advertiser(node, host, port, scheme), workers=workers)


def worker_processes(settings: Any, unlocked: bool) -> int:
    """How many gunicorn workers ``serve`` runs (see :mod:`node.wsgi`): several only on PostgreSQL,
    and only for a node unlocked at start. A staff sign-in unlocks the one process that served it,
    so a node started locked stays one process (``motcua unlock`` before ``serve`` on a hub)."""
    if not settings.DATABASE_URL or not unlocked:
        return 1
    return settings.PROCESSES if settings.PROCESSES > 0 else max(2, os.cpu_count() or 1)


def make_advertiser(node: Node | None, host: str, port: int, scheme: str) -> Advertiser | None:
    """Commune and district nodes announce themselves on the LAN (mDNS), mobiles do not."""
    if node is None or node.settings.ROLE == "mobile" or not node.settings.ADVERTISE:
        return None
    from sync.discovery import Advertiser, ServiceRecord

    try:
        return Advertiser(ServiceRecord.for_node(node, host, port, scheme))
    except OSError as e:  # no multicast on this machine: serving matters more than announcing
        click.echo(_("cảnh báo: không thông báo được sự có mặt của máy trên mạng LAN: %(error)s", error=e), err=True)
        return None


def make_scheduler(app: Flask) -> SyncScheduler | None:
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


def dev_open_warning() -> str:
    return _("CẢNH BÁO: DEV_OPEN_TRUST đang bật: máy này tin MỌI máy đồng bộ với nó (chỉ để phát triển; không bao giờ "
             "dùng trên mạng của cơ quan)")


@click.command("unblock-writes")
@click.option("--reason", required=True, help="Why (kept in the node's log output and audit).")
@click.pass_context
def unblock_writes(ctx: click.Context, reason: str) -> None:
    """Lift the write gate of a restored, moved or forked node (an administrator's decision)."""
    node = node_of(ctx)
    before = node.gate.reason()
    if not before:
        click.echo(_("việc ghi không bị chặn"))
        return
    node.gate.lift()
    click.echo(_("đã bỏ chặn ghi (trước đó: %(before)s); lý do: %(reason)s", before=before, reason=reason))


# -- backup and restore (node/backup.py) ------------------------------------------------------


@click.command()
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder that receives the backup folder (an external disk, a share).")
@click.pass_context
def backup(ctx: click.Context, dest: Path) -> None:
    """Write a checked backup of this node (SQLite online backup, or pg_dump) while it serves."""
    from node.backup import BackupError, create_backup
    from node.services import system_wall_ms

    settings = settings_of(ctx)
    try:
        done = create_backup(settings, dest, system_wall_ms(), lambda msg: click.echo(f"  {msg}", err=True))
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    checked = _(", đã kiểm tra %(feeds)s nguồn / %(events)s sự kiện", feeds=done.feeds, events=done.events) \
        if done.database == "sqlite" else ""
    click.echo(_("đã ghi bản sao lưu: %(path)s (%(db)s, %(mb)s MB%(checked)s)", path=done.path, db=done.database,
                 mb=f"{done.size / 1e6:.1f}", checked=checked))


@click.command()
@click.argument("source", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--user", "username", default="", help="A staff account of the backed-up node (an encrypted "
              "backup opens with its password, prompted).")
@click.pass_context
def restore(ctx: click.Context, source: Path, username: str) -> None:
    """Restore a backup folder into the (empty) data directory; writes wait for a sync."""
    from node.backup import BackupError, backup_data_key, restore_backup

    settings = settings_of(ctx)
    try:
        password = click.prompt(_("Mật khẩu"), hide_input=True) if username else ""
        data_key = backup_data_key(source, username, password)
        manifest = restore_backup(source, settings.data_dir, None, lambda msg: click.echo(f"  {msg}", err=True),
                                  data_key)
    except BackupError as e:
        raise click.ClickException(str(e)) from e
    click.echo(_("đã khôi phục máy %(role)s %(node)s (đơn vị %(unit)s) vào %(dir)s", role=manifest["role"],
                 node=manifest["node_id"], unit=manifest["unit"], dir=settings.data_dir))
    click.echo(_("việc ghi bị chặn cho đến khi motcua sync với máy cấp trên đã lấy lại các sự kiện sau này của máy "
                 "(motcua doctor cho biết tình trạng; xem docs/operations.md)"))


@click.command("seed-demo")
@click.option("--count", type=int, default=5, show_default=True, help="Dossiers to create.")
@click.pass_context
def seed_demo(ctx: click.Context, count: int) -> None:
    """Create a few realistic demo dossiers through the normal use cases."""
    from node.demo_data import seed
    from node.domain.errors import DomainError

    node = node_of(ctx)
    try:
        created = seed(node, count)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(_("đã tạo %(n)s hồ sơ mẫu: %(codes)s", n=len(created), codes=", ".join(d.code for d in created)))
