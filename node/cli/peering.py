"""``motcua sync``, ``peers`` and ``sync-log``: exchange events with a peer once, list LAN peers, and show
the sessions already held. The background sync of ``serve`` lives in :mod:`node.cli.lifecycle`.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from node.cli.context import ca_fingerprint_of, node_of
from node.cli.i18n import _

if TYPE_CHECKING:  # annotations only: the CLI opens a node only when a command runs
    from node.services import Node


def check_peer_url(url: str, option: str = "--peer") -> str:
    """The peer's base URL, checked before any connection: http(s), a host, an optional port, no
    credentials, query or fragment (a typo would otherwise surface as a raw connection error)."""
    import urllib.parse

    example = _("cần dạng http(s)://máy[:cổng], ví dụ https://192.168.1.10:8750")
    try:
        u = urllib.parse.urlsplit(url.strip())
        port = u.port  # raises ValueError on a port that is not a number 0-65535
    except ValueError as e:
        raise click.BadParameter(_("%(url)s không phải là địa chỉ URL (%(error)s); %(example)s", url=repr(url), error=e,
                                   example=example), param_hint=option) from None
    if u.scheme not in ("http", "https") or not u.hostname:
        raise click.BadParameter(_("%(url)s không phải là địa chỉ của một máy; %(example)s", url=repr(url),
                                   example=example), param_hint=option)
    if u.username or u.password or u.query or u.fragment or port == 0:
        raise click.BadParameter(_("%(url)s: địa chỉ của một máy không có tên người dùng, truy vấn, phân đoạn hay "
                                   "cổng 0; %(example)s", url=repr(url), example=example), param_hint=option)
    return url.strip().rstrip("/")


@click.command()
@click.option("--peer", "peer_url", default=None, help="Peer base URL (default: PARENT_URL setting).")
@click.option("--discover", "discover_lan", is_flag=True, help="Find the commune node on the LAN by mDNS.")
@click.option("--interface", default="", help="With --discover: listen on this address only.")
@click.pass_context
def sync(ctx: click.Context, peer_url: str | None, discover_lan: bool, interface: str) -> None:
    """Sync once with the parent (or --peer, or a peer found with --discover); exit 1 on failure."""
    if peer_url is not None:
        peer_url = check_peer_url(peer_url)
    node = node_of(ctx)
    url = peer_url or (discover_parent(node, 3.0, interface) if discover_lan else node.settings.PARENT_URL)
    if not url:
        raise click.ClickException(_("chưa có máy để đồng bộ: dùng --peer URL hoặc đặt PARENT_URL (motcua init "
                                     "--parent-url)"))
    bar, pulling = None, False

    def progress(summary, remaining: int) -> None:
        # One bar for the bigger direction: sending for a commune that worked offline, receiving
        # for a node pulling its unit's history (a new PC after a restore); a cut session leaves
        # what it applied, and the next run starts its bar there.
        nonlocal bar, pulling
        from node.replication import pull_remaining

        down = pull_remaining(node, summary.peer)
        if bar is None and max(remaining, down) > 1000:
            pulling = down > remaining
            total = summary.events_in + down if pulling else summary.events_out + remaining
            bar = click.progressbar(length=total, label=_("đang nhận") if pulling else _("đang gửi"), file=sys.stderr,
                                    show_pos=True, show_eta=True)
            bar.__enter__()
        if bar is not None:
            bar.update((summary.events_in if pulling else summary.events_out) - bar.pos)

    try:
        summary = node.sync_with(url, progress=progress)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    click.echo(_(
        "%(outcome)s: phiên %(session)s với %(peer)s: đã gửi %(sent)s sự kiện, đã nhận %(received)s, "
        "%(exchanges)s lượt trao đổi, %(up)s B gửi đi / %(down)s B nhận về",
        outcome=summary.outcome, session=summary.session, peer=summary.peer or url, sent=summary.events_out,
        received=summary.events_in, exchanges=summary.exchanges, up=summary.bytes_out, down=summary.bytes_in,
    ))
    f = summary.files
    if f is not None and f.requests:
        click.echo(_(
            "tệp: đã gửi %(sent)s mảnh, %(delivered)s tệp đầy đủ ở máy kia; đã nhận %(received)s mảnh, "
            "%(completed)s tệp đầy đủ ở máy này; %(requests)s lượt trao đổi, %(up)s B gửi đi / %(down)s B nhận về",
            sent=f.chunks_sent, delivered=f.files_delivered, received=f.chunks_received, completed=f.files_completed,
            requests=f.requests, up=f.bytes_out, down=f.bytes_in)
            + (_(", %(n)s lần đứt được nối lại", n=f.failures) if f.failures else "")
            + (_("; dừng: %(error)s (lần đồng bộ sau sẽ tiếp tục)", error=f.error) if f.error else ""))
    if not summary.ok:
        if summary.error_code == "transport":
            click.echo(_("không kết nối được với %(url)s — dữ liệu vẫn được lưu trên máy này; hãy kiểm tra đường "
                         "truyền rồi đồng bộ lại", url=url), err=True)
        click.echo(_("lỗi %(code)s: %(error)s", code=summary.error_code, error=summary.error), err=True)
        sys.exit(1)


@click.command()
@click.option("--seconds", type=float, default=3.0, show_default=True, help="How long to listen.")
@click.option("--interface", default="", help="Listen on this address only (e.g. 127.0.0.1).")
@click.pass_context
def peers(ctx: click.Context, seconds: float, interface: str) -> None:
    """List motcua nodes advertised on the LAN (mDNS); trust is checked when syncing."""
    from sync.discovery import discover

    node = node_of(ctx)
    mine = ca_fingerprint_of(node)
    found = discover(seconds, interface)
    for r in found:
        same = _("cùng CA") if mine and r.ca_fingerprint == mine else (
            _("không có CA") if not r.ca_fingerprint else _("CA KHÁC"))
        click.echo(f"{r.url:<32} {r.role:<9} {r.unit:<6} {r.name[:30]:<30} {r.node_id}  {same}")
    click.echo(_("nghe thấy %(n)s máy trong %(seconds)s giây", n=len(found), seconds=f"{seconds:g}"))


def discover_parent(node: Node, seconds: float, interface: str) -> str:
    """A LAN peer this node may sync with: its unit's commune (or a district), same CA."""
    from sync.discovery import discover

    mine = ca_fingerprint_of(node)
    for r in sorted(discover(seconds, interface), key=lambda r: (r.role != "commune", r.node_id)):
        if r.node_id == node.node_id or (mine and r.ca_fingerprint != mine):
            continue
        if r.role == "district" or (r.role == "commune" and r.unit == node.settings.UNIT):
            return r.url
    raise click.ClickException(_("không nghe thấy trên mạng LAN máy xã nào của đơn vị này, hay máy cấp trên nào, "
                                 "cùng CA với máy này"))


@click.command("sync-log")
@click.option("--limit", type=int, default=20, show_default=True, help="Sessions to show, newest first.")
@click.option("--peer", default="", help="Only sessions with this node id (prefix).")
@click.option("--outcome", default=None,
              type=click.Choice(["ok", "partial", "failed", "running", "interrupted", "sent"]))
@click.pass_context
def sync_log(ctx: click.Context, limit: int, peer: str, outcome: str | None) -> None:
    """Show the sync log: session, link (network or usb), peer, times, events and bytes each way,
    outcome, error."""
    from node.reports import format_ms, sync_sessions

    node = node_of(ctx)
    rows = sync_sessions(limit=limit, peer=peer, outcome=outcome)
    h = [_("bắt đầu"), _("phía"), _("đường"), _("máy kia"), _("sk nhận"), _("sk gửi"), _("B nhận"), _("B gửi"),
         _("lượt"), _("xđ"), _("kết quả"), _("lỗi")]
    click.echo(f"{h[0]:<19} {h[1]:<6} {h[2]:<7} {h[3]:<20} {h[4]:>7} {h[5]:>7} {h[6]:>9} {h[7]:>9} {h[8]:>4} "
               f"{h[9]:>3} {h[10]:<8} {h[11]}")
    for r in rows:
        click.echo(
            f"{format_ms(r['started_at']):<19} {r['side']:<6} {r.get('link', 'network'):<7} "
            f"{(r['peer_name'] or r['peer'])[:20]:<20} "
            f"{r['events_in']:>7} {r['events_out']:>7} {r['bytes_in']:>9} {r['bytes_out']:>9} "
            f"{r['exchanges']:>4} {r['conflicts']:>3} {r['outcome']:<8} {r['error_code']} {r['error'][:60]}"
        )
    if not rows:
        filters = [_("máy %(peer)s", peer=peer) if peer else "",
                   _("kết quả %(outcome)s", outcome=outcome) if outcome else ""]
        named = _(" và ").join(f for f in filters if f)
        click.echo(_("(không có phiên nào khớp %(filters)s)", filters=named) if named else _("(chưa có phiên nào)"))
    node.close()
