"""certs/cli.py: the operator's path end to end (init, pair, issue, show, revoke, crl)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import certs.cli
from certs.ca import load_ca
from certs.csr import build_csr, csr_pem
from certs.enrollment import PairingStore
from certs.keys import generate_private_key, node_id_of
from certs.layout import CaLayout
from certs.tlsca import load_tls_ca
from tests.unit.certs.pki import NOW


@pytest.fixture
def run(monkeypatch, tmp_path):
    monkeypatch.setattr(certs.cli, "_now", lambda: NOW)
    monkeypatch.setenv("MOTCUA_CA_DIR", str(tmp_path / "ca"))
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(certs.cli.ca, list(args), catch_exceptions=False)
        assert (result.exit_code == 0) is ok, result.output
        return result

    return invoke


def test_operator_path(run, tmp_path):
    out = run("init", "--unit", "760").output
    layout = CaLayout(tmp_path / "ca")
    assert load_ca(layout).fingerprint in out
    assert load_tls_ca(layout).certificate.public_key().curve.name == "secp256r1"  # the https chain's CA
    run("init", "--unit", "760", ok=False)  # never replaces an existing CA

    pairing = run("pair", "--role", "commune", "--unit", "26734", "--name", "PC 1").output
    assert "pairing code: " in pairing and len(PairingStore(layout.pairing).codes()) == 1

    key = generate_private_key()
    (tmp_path / "node.csr").write_bytes(csr_pem(build_csr(key)))
    cert_path = tmp_path / "node.pem"
    run(
        "issue",
        str(tmp_path / "node.csr"),
        "--role",
        "commune",
        "--unit",
        "26734",
        "--name",
        "PC 1",
        "--out",
        str(cert_path),
    )
    shown = run("show", str(cert_path), "--ca", str(layout.certificate)).output
    assert node_id_of(key) in shown and "status:    valid" in shown

    notice = json.loads(
        run("revoke", "--node", node_id_of(key), "--after-seq", "17", "--reason", "key_compromise").output.splitlines()[
            -1
        ]
    )
    assert notice == {
        "v": 1,
        "node_id": node_id_of(key),
        "after_seq": 17,
        "reason": "key_compromise",
        "revoked_at": int(NOW.timestamp() * 1000),
    }
    refused = run("show", str(cert_path), "--ca", str(layout.certificate), "--crl", str(layout.crl), ok=False)
    assert "REFUSED (revoked)" in refused.output
    assert "CRL #2" in run("crl", "--days", "1").output


def test_revoke_needs_exactly_one_target(run):
    run("init", "--unit", "760")
    run("revoke", "--after-seq", "1", ok=False)
    run("revoke", "--serial", "AB", "--node", "0" * 32, "--after-seq", "1", ok=False)
    assert "no certificate" in run("revoke", "--serial", "AB", "--after-seq", "1", ok=False).output


def test_passphrase_comes_from_the_environment(run, monkeypatch, tmp_path):
    monkeypatch.setenv("MOTCUA_CA_PASSPHRASE", "s3cret")
    run("init", "--unit", "760")
    assert b"ENCRYPTED" in CaLayout(tmp_path / "ca").key.read_bytes()
    run("crl")
    monkeypatch.delenv("MOTCUA_CA_PASSPHRASE")
    assert "Error:" in run("crl", ok=False).output
