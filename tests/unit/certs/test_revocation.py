"""certs/revocation.py and certs/registry.py: CRLs, the revocation notice, the district ledger."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509

from certs.ca import issue_node_certificate, save_ca
from certs.errors import CertificateRejected, PkiError, Reason
from certs.layout import CaLayout
from certs.registry import Registry, epoch_ms
from certs.revocation import (
    RevocationNotice,
    RevocationReason,
    RevokedSerial,
    build_crl,
    check_not_revoked,
    crl_is_stale,
    crl_number,
    crl_pem,
    parse_crl,
)
from tests.unit.certs.pki import NOW, make_node

WEEK = timedelta(days=7)


def test_crl_round_trip_and_lookup(district_ca, node):
    entry = RevokedSerial(node.cert.serial_number, NOW, RevocationReason.KEY_COMPROMISE)
    crl = parse_crl(crl_pem(build_crl(district_ca, [entry], now=NOW, next_update_in=WEEK, crl_number=4)))
    assert crl_number(crl) == 4
    revoked = crl.get_revoked_certificate_by_serial_number(node.cert.serial_number)
    assert revoked is not None and revoked.revocation_date_utc == NOW
    assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    with pytest.raises(CertificateRejected) as e:
        check_not_revoked(node.cert, crl, district_ca.certificate)
    assert e.value.reason is Reason.REVOKED


def test_tampered_crl_is_refused_before_it_is_read(district_ca, foreign_ca, node):
    """A CRL with our CA's name but another key's signature is refused, not consulted."""
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(district_ca.certificate.subject)
        .last_update(NOW)
        .next_update(NOW + WEEK)
        .sign(foreign_ca.key, None)
    )
    with pytest.raises(CertificateRejected) as e:
        check_not_revoked(node.cert, forged, district_ca.certificate)
    assert e.value.reason is Reason.UNTRUSTED


def test_stale_crl_is_reported_but_still_applies(district_ca, node):
    crl = build_crl(
        district_ca, [RevokedSerial(node.cert.serial_number, NOW)], now=NOW, next_update_in=WEEK, crl_number=1
    )
    assert not crl_is_stale(crl, NOW + WEEK)
    assert crl_is_stale(crl, NOW + WEEK + timedelta(seconds=1))
    with pytest.raises(CertificateRejected):
        check_not_revoked(node.cert, crl, district_ca.certificate)


def test_garbage_crl_is_malformed():
    with pytest.raises(CertificateRejected) as e:
        parse_crl(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    assert e.value.reason is Reason.MALFORMED


def test_notice_round_trip(node):
    notice = RevocationNotice(node.node_id, 120, RevocationReason.KEY_COMPROMISE, epoch_ms(NOW))
    d = notice.to_dict()
    assert d == {
        "v": 1,
        "node_id": node.node_id,
        "after_seq": 120,
        "reason": "key_compromise",
        "revoked_at": 1_779_008_400_000,
    }
    assert RevocationNotice.from_dict(d) == notice


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},
        {"v": 2},
        {"node_id": "X"},
        {"after_seq": -1},
        {"after_seq": "5"},
        {"reason": "bored"},
        {"revoked_at": 1.5},
    ],
)
def test_notice_from_dict_refuses_bad_input(node, change):
    d = RevocationNotice(node.node_id, 1, RevocationReason.UNSPECIFIED, 0).to_dict() | change
    with pytest.raises(ValueError):
        RevocationNotice.from_dict(d)


def test_registry_revokes_every_certificate_of_a_node_and_writes_the_crl(tmp_path, district_ca):
    layout = CaLayout(tmp_path / "ca")
    save_ca(district_ca, layout)
    registry = Registry(layout)
    first, bystander = make_node(district_ca), make_node(district_ca)
    second_cert = issue_node_certificate(
        first.key.public_key(),
        node_id=first.node_id,
        role="commune",
        unit="26734",
        name="renewed",
        ca=district_ca,
        now=NOW + timedelta(days=1),
        lifetime=WEEK,
    )
    for cert in (first.cert, bystander.cert, second_cert):
        registry.record_issued(cert)
    assert [c.serial_number for c in registry.issued_to(first.node_id)] == [
        first.cert.serial_number,
        second_cert.serial_number,
    ]

    notice = registry.revoke_node(first.node_id, after_seq=50, reason=RevocationReason.SUPERSEDED, now=NOW)
    assert notice.after_seq == 50
    # revocation only tightens: a later, lower after_seq wins; a higher one changes nothing
    registry.revoke_node(first.node_id, after_seq=40, reason=RevocationReason.KEY_COMPROMISE, now=NOW + WEEK)
    registry.revoke_node(first.node_id, after_seq=99, reason=RevocationReason.KEY_COMPROMISE, now=NOW + WEEK)
    assert {n.after_seq for n in registry.notices()} == {40}
    assert {n.revoked_at for n in registry.notices()} == {epoch_ms(NOW)}

    crl = registry.write_crl(district_ca, now=NOW, next_update_in=WEEK)
    assert crl_number(crl) == 1
    assert crl_number(registry.write_crl(district_ca, now=NOW, next_update_in=WEEK)) == 2
    on_disk = parse_crl(layout.crl.read_bytes())
    for cert in (first.cert, second_cert):
        with pytest.raises(CertificateRejected):
            check_not_revoked(cert, on_disk, district_ca.certificate)
    check_not_revoked(bystander.cert, on_disk, district_ca.certificate)


def test_registry_refuses_unknown_node_and_serial(tmp_path, district_ca, node):
    registry = Registry(CaLayout(tmp_path))
    with pytest.raises(PkiError):
        registry.revoke_node(node.node_id, after_seq=0, reason=RevocationReason.UNSPECIFIED, now=NOW)
    with pytest.raises(PkiError):
        registry.revoke_serial(node.cert.serial_number, after_seq=0, reason=RevocationReason.UNSPECIFIED, now=NOW)
