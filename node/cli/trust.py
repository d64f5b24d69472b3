"""``motcua ca`` (the district certificate authority) and ``motcua enroll`` (a node joining it)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from node.cli.atrest import _escrow_passphrase
from node.cli.context import node_of, settings_of
from node.cli.i18n import _


@click.group("ca")
def ca_group() -> None:
    """The district certificate authority (on the district node): init, pair, revoke."""


@ca_group.command("init")
@click.pass_context
def ca_init(ctx: click.Context) -> None:
    """Create the district CA under <data dir>/ca, certify this district node, and make the
    district escrow key pair (passphrase from MOTCUA_ESCROW_PASSPHRASE, else prompted)."""
    from node.domain.errors import DomainError
    from node.enrollment import init_ca

    node = node_of(ctx.parent)
    passphrase = _escrow_passphrase(confirm=True, required=False)
    try:
        fingerprint = init_ca(node, escrow_passphrase=passphrase or b"")
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(_("đã tạo CA cấp trên; dấu vân tay %(fingerprint)s", fingerprint=fingerprint))
    if passphrase:
        click.echo(_("đã tạo cặp khoá ký gửi trong ca/escrow.key (mã hoá bằng cụm mật khẩu) và ca/escrow.pub; các "
                     "máy đăng ký sẽ bọc khoá dữ liệu của mình cho nó. Hãy sao một bản ngoại tuyến: motcua ca "
                     "escrow-export --to THƯ_MỤC"))
    else:
        click.echo(_("CẢNH BÁO: không có khoá ký gửi (không có MOTCUA_ESCROW_PASSPHRASE và không chạy trong cửa "
                     "sổ lệnh): xã nào mất hết mật khẩu sẽ không khôi phục được; hãy chạy motcua ca escrow-init"),
                   err=True)
    click.echo(_("hãy khởi động lại motcua serve: từ giờ máy phục vụ https và chỉ nhận các máy có chứng thư"))


@ca_group.command("escrow-init")
@click.pass_context
def ca_escrow_init(ctx: click.Context) -> None:
    """Make the district escrow key pair if the CA was made without it (passphrase from
    MOTCUA_ESCROW_PASSPHRASE, else prompted); nodes enrolling from now on escrow to it."""
    from node.atrest import ESCROW_PUBLIC_FILE
    from node.enrollment import ca_layout, make_escrow_key
    from node.unlocking import escrow_to

    node = node_of(ctx.parent)
    layout = ca_layout(node)
    if not layout.certificate.exists():
        raise click.ClickException(_("máy này chưa có CA: hãy chạy motcua ca init"))
    if (layout.root / ESCROW_PUBLIC_FILE).exists():
        raise click.ClickException(_("%(path)s đã có", path=layout.root / ESCROW_PUBLIC_FILE))
    make_escrow_key(layout, _escrow_passphrase(confirm=True))
    fingerprint = escrow_to(node, (layout.root / ESCROW_PUBLIC_FILE).read_bytes()) if node.data_key else ""
    click.echo(_("đã tạo cặp khoá ký gửi trong %(dir)s; máy này đã ký gửi cho nó %(fingerprint)s… Các máy đã đăng ký "
                 "trước đó: chạy motcua escrow --public escrow.pub trên từng máy", dir=layout.root,
                 fingerprint=fingerprint[:16]))


@ca_group.command("escrow-export")
@click.option("--to", "dest", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder (a USB key kept in the district's safe) receiving escrow.key and escrow.pub.")
@click.pass_context
def ca_escrow_export(ctx: click.Context, dest: Path) -> None:
    """Copy the escrow key pair (private part still passphrase-encrypted) for offline keeping."""
    import shutil

    from node.atrest import ESCROW_KEY_FILE, ESCROW_PUBLIC_FILE

    root = settings_of(ctx.parent).data_dir / "ca"
    if not (root / ESCROW_KEY_FILE).exists():
        raise click.ClickException(_("không có khoá ký gửi trong %(dir)s: hãy chạy motcua ca init", dir=root))
    dest.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in (ESCROW_KEY_FILE, ESCROW_PUBLIC_FILE):
        shutil.copy2(root / name, dest / name)
    click.echo(_("đã xuất khoá ký gửi ra %(dir)s; chỉ mở được bằng cụm mật khẩu của nó (motcua recover --escrow-key)",
                 dir=dest))


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

    node = node_of(ctx.parent)
    try:
        code, expires = new_pairing_code(node, role, unit, name, valid_hours)
    except (DomainError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(_("mã ghép nối: %(code)s", code=code))
    click.echo(_("cho %(name)s (%(role)s, đơn vị %(unit)s); có hiệu lực đến %(expires)s; chỉ dùng được một lần",
                 name=name, role=role, unit=unit, expires=expires))


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

    node = node_of(ctx.parent)
    try:
        done = revoke(node, node_id, author, reason, after_seq, unit)
    except DomainError as e:
        raise click.ClickException(e.message) from e
    click.echo(_("đã thu hồi %(node)s sau seq %(seq)s của đơn vị %(unit)s (sự kiện %(event)s)", node=node_id,
                 seq=done["after_seq"], unit=done["unit"], event=done["event"]))


@click.command()
@click.option("--district", "district_url", required=True, help="URL of the district node.")
@click.option("--code", required=True, help="The one-time pairing code shown by the district.")
@click.option("--name", "extra_names", multiple=True,
              help="Another host name or LAN address for the https certificate (repeatable).")
@click.pass_context
def enroll(ctx: click.Context, district_url: str, code: str, extra_names: tuple[str, ...]) -> None:
    """Enroll this node with the district CA using a one-time pairing code."""
    from node.atrest import AtRestError, node_key_password
    from node.enrollment import EnrollmentFailed
    from node.enrollment import enroll as do_enroll
    from node.https import default_names
    from node.lockstate import resolve_data_key
    from node.unlocking import escrow_to

    settings = settings_of(ctx)
    names = list(dict.fromkeys([*default_names(settings), *extra_names]))
    try:
        data_key = resolve_data_key(settings)
        done = do_enroll(settings.data_dir, district_url, code, settings.HTTP_TIMEOUT_SECONDS, names,
                         node_key_password=node_key_password(data_key))
    except AtRestError as e:
        raise click.ClickException(_("%(error)s (mở khoá: motcua unlock --user TÊN)", error=e)) from e
    except EnrollmentFailed as e:
        raise click.ClickException(str(e)) from e
    click.echo(_("đã đăng ký là %(name)s (%(role)s, đơn vị %(unit)s), máy %(node)s", name=done.name, role=done.role,
                 unit=done.unit, node=done.node_id))
    if done.tls_names:
        click.echo(_("chứng thư https (ECDSA P-256) cho %(names)s", names=", ".join(done.tls_names)))
        if done.tls_error:
            click.echo(_("cảnh báo: cấp trên từ chối một số tên (%(error)s); chứng thư chỉ ghi các tên trong mạng LAN",
                         error=done.tls_error), err=True)
    else:
        click.echo(_("cảnh báo: chưa có chứng thư https cho trình duyệt: %(error)s; đồng bộ vẫn chạy; sau này hãy chạy "
                     "motcua tls request --district URL", error=done.tls_error), err=True)
    if done.escrow_pem and data_key is not None:
        node = node_of(ctx)
        fingerprint = escrow_to(node, done.escrow_pem)
        node.close()
        click.echo(_("đã ký gửi khoá dữ liệu cho khoá ký gửi của cấp trên %(fingerprint)s… (motcua recover)",
                     fingerprint=fingerprint[:16]))
    click.echo(_("dấu vân tay CA cấp trên %(fingerprint)s; hãy khởi động lại motcua serve để phục vụ https",
                 fingerprint=done.fingerprint))


@click.group("tls")
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

    settings = settings_of(ctx.parent)
    names = list(dict.fromkeys([*([] if only else default_names(settings)), *extra_names]))
    node = node_of(ctx.parent)
    try:
        if settings.ROLE == "district" and ca_layout(node).certificate.exists():
            certified = issue_locally(node, names)
        else:
            url = district_url or settings.PARENT_URL
            if not url:
                raise click.ClickException(_("hãy cho --district URL (máy cấp trên giữ CA)"))
            from node.atrest import node_key_password

            certified = request_from_district(settings.data_dir, url, names, settings.HTTP_TIMEOUT_SECONDS,
                                              node_key_password(node.data_key))
    except (TlsRequestFailed, DomainError) as e:
        raise click.ClickException(str(e)) from e
    except CertsError as e:
        raise click.ClickException(_("%(error)s (đã đặt MOTCUA_CA_PASSPHRASE chưa?)", error=e)) from e
    click.echo(_("chứng thư https (ECDSA P-256) cho %(names)s", names=", ".join(certified)))
    click.echo(_("trình duyệt của cán bộ phải tin %(path)s; hãy khởi động lại motcua serve",
                 path=node.trust.layout.tls_ca_certificate))


@tls_group.command("show")
@click.pass_context
def tls_show(ctx: click.Context) -> None:
    """Say which certificate https uses, for which names, until when."""
    from node.https import report

    node = node_of(ctx.parent)
    for line in report(node.trust) or [_("máy này chưa có CA cấp trên: motcua serve dùng http thường")]:
        click.echo(line)
