"""``motcua ca …``: the district operator's commands for the CA (thin calls into ``certs``).

Attach with ``main.add_command(ca)``. Every command takes the CA directory as ``--dir`` (or
``MOTCUA_CA_DIR``). The CA key passphrase, if any, is read from ``MOTCUA_CA_PASSPHRASE`` so it
never appears in the process list or the shell history.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from certs.ca import DistrictCA, create_ca, issue_node_certificate, load_ca, load_ca_certificate, save_ca
from certs.csr import parse_request, subject_public_key
from certs.enrollment import DEFAULT_VALIDITY, PairingStore
from certs.errors import CertificateRejected, CertsError
from certs.identity import Role, certificate_pem, format_node_id, identity_from_certificate, parse_certificate
from certs.keys import node_id_of
from certs.layout import CaLayout
from certs.registry import Registry
from certs.revocation import RevocationReason, crl_number, parse_crl
from certs.tlsca import ensure_tls_ca
from certs.verify import ca_fingerprint, verify_node_certificate

PASSPHRASE_ENV = "MOTCUA_CA_PASSPHRASE"
DEFAULT_CA_YEARS = 20
DEFAULT_NODE_DAYS = 3 * 365
DEFAULT_CRL_DAYS = 7


def _now() -> datetime:
    """The operator's clock (the CLI is the one place that reads it; tests patch this)."""
    return datetime.now(UTC)


dir_option = click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="MOTCUA_CA_DIR",
    required=True,
    help="CA directory (or MOTCUA_CA_DIR).",
)
role_option = click.option("--role", type=click.Choice([r.value for r in Role]), required=True)


def _passphrase() -> bytes | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def _load(directory: Path) -> tuple[CaLayout, DistrictCA]:
    layout = CaLayout(directory)
    try:
        return layout, load_ca(layout, passphrase=_passphrase())
    except CertsError as e:
        raise click.ClickException(f"{e} (is MOTCUA_CA_PASSPHRASE set?)") from e


def _write_crl(layout: CaLayout, ca: DistrictCA, days: int) -> None:
    revocations = Registry(layout).write_crl(ca, now=_now(), next_update_in=timedelta(days=days))
    click.echo(
        f"CRL #{crl_number(revocations)} with {len(list(revocations))} revoked serial(s) written to {layout.crl}"
    )


@click.group()
def ca() -> None:
    """District certificate authority: create, pair, issue, revoke."""


@ca.command()
@dir_option
@click.option("--unit", required=True, help="Unit code of the district (e.g. 760).")
@click.option("--years", type=click.IntRange(1, 50), default=DEFAULT_CA_YEARS, show_default=True)
def init(directory: Path, unit: str, years: int) -> None:
    """Create a new CA (key + self-signed certificate) in DIR."""
    try:
        authority = create_ca(unit, now=_now(), lifetime=timedelta(days=365 * years))
        save_ca(authority, CaLayout(directory), passphrase=_passphrase())
        # Its ECDSA P-256 TLS CA, for the https certificates browsers accept (certs/tlsca.py).
        ensure_tls_ca(CaLayout(directory), authority, now=_now(), passphrase=_passphrase())
    except (CertsError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"CA created in {directory}, with its TLS CA (tls-ca.pem) for https")
    click.echo(f"fingerprint (SHA-256): {authority.fingerprint}")


@ca.command()
@dir_option
@role_option
@click.option("--unit", required=True, help="Unit code the node will serve.")
@click.option("--name", required=True, help="Human label of the node.")
@click.option("--valid-hours", type=click.IntRange(1, 24 * 30), default=int(DEFAULT_VALIDITY.total_seconds() // 3600))
def pair(directory: Path, role: str, unit: str, name: str, valid_hours: int) -> None:
    """Create a one-time pairing code bound to role, unit and name; print it once."""
    layout = CaLayout(directory)
    try:
        load_ca_certificate(layout)
        code, entry = PairingStore(layout.pairing).create(
            role=role, unit=unit, name=name, now=_now(), valid_for=timedelta(hours=valid_hours)
        )
    except (CertsError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"pairing code: {code}")
    click.echo(f"for {entry.name} ({entry.role.value}, {entry.unit}); expires {entry.expires_at.isoformat()}")


@ca.command()
@dir_option
@click.argument("request_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@role_option
@click.option("--unit", required=True)
@click.option("--name", required=True)
@click.option("--days", type=click.IntRange(1, 36500), default=DEFAULT_NODE_DAYS, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write the certificate here.")
def issue(directory: Path, request_file: Path, role: str, unit: str, name: str, days: int, out: Path | None) -> None:
    """Issue a node certificate from a CSR or an Ed25519 public key (PEM)."""
    layout, authority = _load(directory)
    try:
        key = subject_public_key(parse_request(request_file.read_bytes()))
        cert = issue_node_certificate(
            key,
            node_id=node_id_of(key),
            role=role,
            unit=unit,
            name=name,
            ca=authority,
            now=_now(),
            lifetime=timedelta(days=days),
        )
        Registry(layout).record_issued(cert)
    except (CertsError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    if out:
        out.write_bytes(certificate_pem(cert))
        click.echo(f"issued {identity_from_certificate(cert).display}, serial {cert.serial_number:X} -> {out}")
    else:
        click.echo(certificate_pem(cert).decode("ascii"), nl=False)


@ca.command()
@dir_option
@click.option("--serial", help="Serial (hex) of one certificate to revoke.")
@click.option("--node", "node_id", help="Node id: revoke every certificate issued to it.")
@click.option("--after-seq", type=click.IntRange(0), required=True, help="Its events up to this seq stay valid.")
@click.option("--reason", type=click.Choice([r.value for r in RevocationReason]), default="unspecified")
@click.option("--crl-days", type=click.IntRange(1, 365), default=DEFAULT_CRL_DAYS, show_default=True)
def revoke(
    directory: Path, serial: str | None, node_id: str | None, after_seq: int, reason: str, crl_days: int
) -> None:
    """Revoke a node (or one certificate), rewrite the CRL and print the notice for the event log."""
    if (serial is None) == (node_id is None):
        raise click.UsageError("give exactly one of --serial or --node")
    layout, authority = _load(directory)
    registry, why = Registry(layout), RevocationReason(reason)
    try:
        if serial is not None:
            notice = registry.revoke_serial(int(serial, 16), after_seq=after_seq, reason=why, now=_now())
        else:
            notice = registry.revoke_node(str(node_id), after_seq=after_seq, reason=why, now=_now())
        _write_crl(layout, authority, crl_days)
    except (CertsError, ValueError) as e:
        raise click.ClickException(str(e)) from e
    click.echo(json.dumps(notice.to_dict(), sort_keys=True))


@ca.command()
@dir_option
@click.option("--days", type=click.IntRange(1, 365), default=DEFAULT_CRL_DAYS, show_default=True)
def crl(directory: Path, days: int) -> None:
    """Write a fresh CRL (crl.pem in DIR) from the revocation ledger."""
    layout, authority = _load(directory)
    try:
        _write_crl(layout, authority, days)
    except CertsError as e:
        raise click.ClickException(str(e)) from e


@ca.command()
@click.argument("cert_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--ca", "ca_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="CA to verify with."
)
@click.option("--crl", "crl_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), help="CRL to apply.")
def show(cert_file: Path, ca_file: Path | None, crl_file: Path | None) -> None:
    """Print a node certificate's identity; with --ca, verify it (exit 1 if refused)."""
    try:
        cert = parse_certificate(cert_file.read_bytes())
        identity = identity_from_certificate(cert)
    except CertsError as e:
        raise click.ClickException(str(e)) from e
    click.echo(f"node id:   {identity.node_id} ({format_node_id(identity.node_id)})")
    click.echo(f"role:      {identity.role.value}\nunit:      {identity.unit}\nname:      {identity.name}")
    click.echo(f"serial:    {identity.serial:X}\nnot after: {identity.not_after.isoformat()}")
    if ca_file is None:
        return
    try:
        ca_cert = parse_certificate(ca_file.read_bytes())
        click.echo(f"CA:        {ca_fingerprint(ca_cert)}")
        revocations = parse_crl(crl_file.read_bytes()) if crl_file else None
        verify_node_certificate(cert, ca_cert, crl=revocations, now=_now())
    except CertificateRejected as e:
        raise click.ClickException(f"REFUSED ({e.reason.value}): {e.detail}") from e
    click.echo("status:    valid")
