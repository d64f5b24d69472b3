"""certs/verify.py: every refusal has its reason; the trusted-time floor handles wrong clocks."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.ca import create_ca
from certs.errors import CertificateRejected, Reason
from certs.identity import Role, build_node_subject, ca_fingerprint
from certs.keys import generate_private_key, node_id_of
from certs.revocation import RevokedSerial, build_crl
from certs.verify import effective_time, verify_node_certificate
from tests.unit.certs.pki import NODE_LIFETIME, NOW, make_node

TEN_YEARS = timedelta(days=3652)


def rejected(cert, ca_cert, **kw) -> Reason:
    kw.setdefault("now", NOW)
    with pytest.raises(CertificateRejected) as e:
        verify_node_certificate(cert, ca_cert, **kw)
    return e.value.reason


def forge(
    ca,
    *,
    subject=None,
    key=None,
    eku=(ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH),
    is_ca=False,
    digital_signature=True,
):
    """A certificate signed by ``ca`` but shaped as a test wants (bypassing issue checks)."""
    key = key or generate_private_key()
    subject = subject or build_node_subject(node_id_of(key), Role.COMMUNE, "26734", "forged")
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - timedelta(days=1))
        .not_valid_after(NOW + NODE_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=is_ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(digital_signature, False, False, False, False, is_ca, False, False, False), critical=True
        )
    )
    if eku:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(eku)), critical=False)
    return builder.sign(ca.key, None)


def test_certificate_from_another_ca_is_untrusted(district_ca, foreign_ca):
    stranger = make_node(foreign_ca)
    assert rejected(stranger.cert, district_ca.certificate) is Reason.UNTRUSTED


def test_certificate_claiming_our_issuer_but_signed_by_another_key_is_untrusted(district_ca):
    impostor_ca = create_ca("760", now=NOW, lifetime=TEN_YEARS)  # same subject name, other key
    assert impostor_ca.certificate.subject == district_ca.certificate.subject
    assert rejected(make_node(impostor_ca).cert, district_ca.certificate) is Reason.UNTRUSTED


def test_leaf_used_as_trust_anchor_is_untrusted(district_ca, node):
    assert rejected(node.cert, node.cert) is Reason.UNTRUSTED


def test_expired_certificate(district_ca, node):
    assert rejected(node.cert, district_ca.certificate, now=NOW + NODE_LIFETIME + timedelta(seconds=1)) is (
        Reason.EXPIRED
    )
    verify_node_certificate(node.cert, district_ca.certificate, now=NOW + NODE_LIFETIME)  # last valid instant


def test_not_yet_valid_certificate(district_ca):
    later = make_node(district_ca, now=NOW + timedelta(days=30))
    assert rejected(later.cert, district_ca.certificate, now=NOW) is Reason.NOT_YET_VALID


def test_small_clock_skew_is_tolerated(district_ca, node):
    verify_node_certificate(node.cert, district_ca.certificate, now=NOW - timedelta(minutes=4))


def test_trusted_time_floor_rescues_a_clock_ten_years_behind(district_ca, node):
    """reliability.md §0.5: a PC whose clock says 2016 must still accept a 2026 certificate."""
    behind = NOW - TEN_YEARS
    assert rejected(node.cert, district_ca.certificate, now=behind) is Reason.NOT_YET_VALID
    identity = verify_node_certificate(node.cert, district_ca.certificate, now=behind, trusted_time_floor=NOW)
    assert identity.node_id == node.node_id


def test_trusted_time_floor_still_refuses_an_expired_certificate(district_ca):
    """The wrong clock (2016) cannot resurrect a certificate that expired before the floor."""
    old = make_node(district_ca, lifetime=timedelta(days=30))
    floor = NOW + timedelta(days=365)
    behind = floor - TEN_YEARS
    assert rejected(old.cert, district_ca.certificate, now=behind, trusted_time_floor=floor) is Reason.EXPIRED


def test_floor_never_moves_time_backwards(district_ca, node):
    ahead = NOW + NODE_LIFETIME + timedelta(days=1)
    assert effective_time(ahead, NOW) == ahead
    assert rejected(node.cert, district_ca.certificate, now=ahead, trusted_time_floor=NOW) is Reason.EXPIRED


def test_expired_ca_certificate_is_refused(node, district_ca):
    far = district_ca.certificate.not_valid_after_utc + timedelta(days=1)
    with pytest.raises(CertificateRejected, match="the CA certificate") as e:
        verify_node_certificate(node.cert, district_ca.certificate, now=far)
    assert e.value.reason is Reason.EXPIRED


def test_revoked_certificate_is_refused(district_ca, node):
    other = make_node(district_ca)
    crl = build_crl(
        district_ca,
        [RevokedSerial(node.cert.serial_number, NOW)],
        now=NOW,
        next_update_in=timedelta(days=7),
        crl_number=1,
    )
    assert rejected(node.cert, district_ca.certificate, crl=crl) is Reason.REVOKED
    verify_node_certificate(other.cert, district_ca.certificate, crl=crl, now=NOW)


def test_crl_signed_by_another_ca_is_refused(district_ca, foreign_ca, node):
    foreign_crl = build_crl(foreign_ca, [], now=NOW, next_update_in=timedelta(days=7), crl_number=1)
    assert rejected(node.cert, district_ca.certificate, crl=foreign_crl) is Reason.UNTRUSTED


def test_node_id_mismatch_is_refused(district_ca):
    key, other = generate_private_key(), generate_private_key()
    cert = forge(district_ca, key=key, subject=build_node_subject(node_id_of(other), Role.COMMUNE, "26734", "x"))
    assert rejected(cert, district_ca.certificate) is Reason.ID_MISMATCH


@pytest.mark.parametrize(
    "shape",
    [
        {"eku": ()},
        {"eku": (ExtendedKeyUsageOID.CLIENT_AUTH,)},
        {"eku": (ExtendedKeyUsageOID.CODE_SIGNING,)},
        {"digital_signature": False},
        {"is_ca": True},
    ],
)
def test_wrong_usage_is_refused(district_ca, shape):
    assert rejected(forge(district_ca, **shape), district_ca.certificate) is Reason.WRONG_USAGE


@pytest.mark.parametrize(
    "subject",
    [
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "0" * 32)]),  # no role, unit, name
        x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "0" * 32),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "superuser"),
                x509.NameAttribute(NameOID.LOCALITY_NAME, "26734"),
                x509.NameAttribute(x509.ObjectIdentifier("2.5.4.13"), "x"),
            ]
        ),
    ],
)
def test_malformed_subject_is_refused(district_ca, subject):
    assert rejected(forge(district_ca, subject=subject), district_ca.certificate) is Reason.MALFORMED


def test_ca_fingerprint_is_sha256_of_der(district_ca):
    der = district_ca.certificate.public_bytes(serialization.Encoding.DER)
    assert ca_fingerprint(district_ca.certificate) == hashlib.sha256(der).hexdigest()
    assert len(ca_fingerprint(district_ca.certificate)) == 64
