"""``motcua doctor``, ``verify``, ``rebuild`` and ``digest``: check a node and repair its derived state.
They only read, except ``rebuild``, which recomputes the derived tables from the events.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from node import __version__
from node.cli.context import ca_fingerprint_of, node_of, settings_of
from node.cli.i18n import _
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
    click.echo(_("thiết lập:"))
    for s in SETTINGS:
        value = settings.values[s.name]
        if s.name == "SECRET_KEY":
            value = _("(đã đặt)") if value else _("(thiếu)")
        elif s.name == "DATABASE_URL" and value:
            value = value.split("@")[-1]  # never print a password
        click.echo(f"  {s.name:<24} {value!s:<34} {s.help}")
    if not settings.node_file.exists():
        click.echo("FAIL " + _("chưa có máy nào trong %(dir)s: hãy chạy motcua init", dir=settings.data_dir))
        sys.exit(1)
    key_path = settings.data_dir / KEY_FILE
    mode = key_path.stat().st_mode & 0o777 if key_path.exists() else None
    ok_key = mode is not None and not mode & 0o077
    problems += not ok_key
    click.echo(f"{'ok  ' if ok_key else 'FAIL'} " + _("tệp khoá %(path)s quyền %(mode)s", path=key_path,
                                                       mode=mode and oct(mode)))
    click.echo("ok   " + _("đơn vị %(unit)s: %(name)s", unit=settings.UNIT,
                           name=describe_unit(settings.UNIT) or _("không có trong danh mục 2025")))
    from node.cli.atrest import at_rest_report

    lines, bad, node = at_rest_report(ctx, settings)
    problems += bad
    warnings = sum(line.startswith("warn") for line in lines)
    for line in lines:
        click.echo(line)
    if node is None:  # locked: a normal state, but the database could not be checked
        click.echo(f"{'ok  ' if not problems else 'FAIL'} " + _(
            "%(problems)s lỗi, %(warnings)s cảnh báo; chưa kiểm tra cơ sở dữ liệu, các nguồn sự kiện và bản sao lưu: "
            "máy đang khoá (motcua unlock --user TÊN, rồi chạy lại doctor)", problems=problems, warnings=warnings))
        sys.exit(1 if problems else 0)
    click.echo("ok   " + _("cơ sở dữ liệu %(backend)s; bản nâng cấp chưa áp dụng: %(pending)s",
                           backend=backend_name(node.db), pending=pending_migrations(node.db) or _("không có")))
    status = node.status()
    click.echo("ok   " + _("máy %(node)s: %(events)s sự kiện, %(dossiers)s hồ sơ", node=status["node_id"],
                           events=status["events"], dossiers=status["dossiers"]))
    from node.backup import doctor_line
    from node.https import report as https_report

    lines = [*trust_report(node), *https_report(node.trust), doctor_line(node.wall_ms())]
    from node.storage import free_mb, space_warning

    low = space_warning(settings.data_dir, settings.MIN_FREE_MB)
    lines.append("warn " + _("ổ đĩa: %(warning)s", warning=low) if low else
                 "ok   " + _("ổ đĩa: còn trống %(mb)s MiB", mb=free_mb(settings.data_dir)))
    from node import clockcheck

    skew_ms = settings.MAX_CLOCK_SKEW_SECONDS * 1000
    wrong = clockcheck.problem(node.wall_ms(), node.trust.trusted_floor_ms(), skew_ms)
    lines.append("FAIL " + _("đồng hồ: %(problem)s", problem=wrong) if wrong else
                 "ok   " + _("đồng hồ: khớp thời gian tin cậy và lần đồng bộ gần nhất"))
    odd = clockcheck.implausible_events(node.store, node.wall_ms(), skew_ms)
    lines += ["warn " + _("đồng hồ của %(origin)s: sự kiện %(ref)s lúc %(at)s %(clock)s thời điểm HLC %(hlc)s của nó",
                          origin=e["origin"], ref=e["ref"], at=e["at"], clock=e["clock"], hlc=e["hlc_ms"])
              for e in odd[:10]]
    if status["write_block"]:
        lines.append("FAIL " + _("đang chặn ghi (%(block)s): hãy đồng bộ với máy cấp trên, hoặc xem unblock-writes",
                                 block=status["write_block"]))
    # one integrity line per feed, as `motcua verify` prints them (the README promises both)
    for r in node.verify():
        feed = f"{r.origin}:{r.scope}"
        lines.append("ok   " + _("nguồn %(feed)s  %(events)s sự kiện", feed=feed, events=r.events) if r.ok else
                     "FAIL " + _("nguồn %(feed)s: %(reason)s tại %(ref)s: %(detail)s", feed=feed, reason=r.reason,
                                 ref=r.ref, detail=r.detail))
    lines += ["FAIL " + _("%(problem)s: motcua rebuild tạo lại chỉ mục", problem=p)
              for p in node.search_index_problems()] or ["ok   " + _("chỉ mục tìm theo tên: mỗi hồ sơ một mục")]
    for line in lines:
        problems += line.startswith("FAIL")
        warnings += line.startswith("warn")
        click.echo(line)
    summary = _("%(problems)s lỗi, %(warnings)s cảnh báo", problems=problems, warnings=warnings)
    click.echo(f"{'ok  ' if not problems else 'FAIL'} {summary}")
    sys.exit(1 if problems else 0)


def trust_report(node: Node) -> list[str]:
    """What ``motcua doctor`` says of the trust mode (the development switch included)."""
    if node.trust.enforced:
        lines = ["ok   " + _("tin cậy: CA cấp trên %(ca)s…; chỉ các máy được CA này cấp chứng thư mới được đồng bộ",
                               ca=ca_fingerprint_of(node)[:16])]
        if node.settings.DEV_OPEN_TRUST:
            lines.append("warn " + _("tin cậy: DEV_OPEN_TRUST được đặt nhưng bị bỏ qua vì đã có CA cấp trên"))
        return lines
    from sync.ledger import ProfileRow

    known = ProfileRow.select().where(ProfileRow.node_id != node.node_id).count()
    if node.trust.open_to_strangers:
        return ["warn " + _("tin cậy: CHẾ ĐỘ PHÁT TRIỂN (DEV_OPEN_TRUST): không có CA cấp trên; máy tự ký nào đồng bộ "
                            "lần đầu cũng được tin (đã biết %(known)s máy); không bao giờ dùng trên mạng của cơ quan",
                            known=known)]
    return ["warn " + _("tin cậy: máy này chưa có CA cấp trên: chỉ đồng bộ với %(known)s máy đã biết, máy lạ bị từ "
                        "chối; hãy đăng ký bằng motcua enroll, hoặc trên máy cấp trên chạy motcua ca init",
                        known=known)]


@click.command()
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Verify every feed (hash chain, order, completeness, origin signature), every attached file,
    and the name search index (a line only when it is wrong)."""
    node = node_of(ctx)
    bad = 0
    for r in node.verify():
        if r.ok:
            click.echo(f"ok    {r.origin}:{r.scope}  " + _("%(events)s sự kiện", events=r.events))
        else:
            bad += 1
            click.echo(f"FAIL  {r.origin}:{r.scope}  " + _("%(reason)s tại %(ref)s: %(detail)s", reason=r.reason,
                                                           ref=r.ref, detail=r.detail))
    for problem in node.search_index_problems():
        bad += 1
        click.echo("FAIL  " + _("%(problem)s: motcua rebuild tạo lại chỉ mục", problem=problem))
    from node import files

    held = files.verify(node)  # attached files: every chunk and the whole hash of each complete file
    # not an "ok" line: doctor and the README count those per feed
    click.echo(("FAIL  " if held["damaged"] else "") + _(
        "tệp: %(ok)s đầy đủ và đã kiểm tra, %(damaged)s hỏng (tải lại ở lần đồng bộ tới)",
        ok=held["ok"], damaged=held["damaged"]))
    sys.exit(1 if bad or held["damaged"] else 0)


@click.command()
@click.pass_context
def rebuild(ctx: click.Context) -> None:
    """Drop and recompute the derived tables from the events; print digests before and after."""
    node = node_of(ctx)
    before = node.digest()
    with click.progressbar(length=1, label=_("đang dựng lại"), file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        count = node.rebuild(progress)
    after = node.digest()
    click.echo(_("đã dựng lại %(count)s hồ sơ", count=count))
    click.echo(_("mã băm trước %(digest)s", digest=before))
    click.echo(_("mã băm sau   %(digest)s", digest=after))
    if before != after:
        click.echo(_("CẢNH BÁO: dữ liệu suy ra đã lệch khỏi các sự kiện; bản vừa dựng lại đã được dùng thay"))


@click.command()
@click.pass_context
def digest(ctx: click.Context) -> None:
    """Print the digest of the derived state (equal on replicas holding the same events)."""
    click.echo(node_of(ctx).digest())
