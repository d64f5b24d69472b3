"""certs/ca.py and certs/csr.py: creating the district CA and issuing node certificates."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certs.ca import CLOCK_SKEW_ALLOWANCE, create_ca, issue_node_certificate, load_ca, save_ca
from certs.csr import build_csr, csr_pem, parse_request, subject_public_key
from certs.errors import CertificateRejected, PkiError, Reason
from certs.identity import Role, identity_from_certificate
from certs.keys import generate_private_key, node_id_of, raw_public_key
from certs.layout import CaLayout
from certs.verify import verify_node_certificate
from node.signing import NodeKey
from sync.wire import node_id_from_public_key
from tests.unit.certs.pki import NODE_LIFETIME, NOW, make_node


def test_ca_certificate_is_a_self_signed_ca(district_ca):
    cert = district_ca.certificate
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "motcua district CA 760"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign and usage.crl_sign and not usage.digital_signature
    cert.verify_directly_issued_by(cert)
    assert cert.not_valid_before_utc == NOW - CLOCK_SKEW_ALLOWANCE
    assert district_ca.unit == "760"


def test_node_certificate_round_trip(district_ca, node):
    """Issue, then verify: the identity read back is the one bound at issue time."""
    identity = verify_node_certificate(node.cert, district_ca.certificate, now=NOW)
    assert identity.node_id == node.node_id == node_id_from_public_key(raw_public_key(node.key))
    assert identity.role is Role.COMMUNE
    assert identity.unit == "26734"
    assert identity.name == "UBND xã Tân Lập – quầy 1"
    assert identity.not_after == NOW + NODE_LIFETIME
    assert identity.serial == node.cert.serial_number
    assert identity_from_certificate(node.cert) == identity


def test_node_certificate_usage_extensions(node):
    exts = node.cert.extensions
    assert not exts.get_extension_for_class(x509.BasicConstraints).value.ca
    assert exts.get_extension_for_class(x509.KeyUsage).value.digital_signature
    eku = set(exts.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert eku == {ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH}


def test_certificate_certifies_the_event_signing_key(district_ca):
    """A node/signing.py key gets a certificate whose node id is NodeKey.node_id."""
    node_key = NodeKey.generate()
    cert = issue_node_certificate(
        node_key.public_key,
        node_id=node_key.node_id,
        role="mobile",
        unit="26734",
        name="Laptop 1",
        ca=district_ca,
        now=NOW,
        lifetime=NODE_LIFETIME,
    )
    assert verify_node_certificate(cert, district_ca.certificate, now=NOW).node_id == node_key.node_id


def test_issue_refuses_a_node_id_that_is_not_the_hash_of_the_key(district_ca):
    key, other = generate_private_key(), generate_private_key()
    with pytest.raises(CertificateRejected) as e:
        issue_node_certificate(
            key.public_key(),
            node_id=node_id_of(other),
            role="commune",
            unit="26734",
            name="x",
            ca=district_ca,
            now=NOW,
            lifetime=NODE_LIFETIME,
        )
    assert e.value.reason is Reason.ID_MISMATCH


@pytest.mark.parametrize(
    ("field", "value"),
    [("role", "admin"), ("unit", "*"), ("unit", "26 734"), ("name", ""), ("name", "x" * 65)],
)
def test_issue_refuses_bad_fields(district_ca, field, value):
    kwargs = {"role": "commune", "unit": "26734", "name": "Quầy 1", field: value}
    with pytest.raises(ValueError):
        make_node(district_ca, **kwargs)


def test_node_certificate_may_not_outlive_the_ca(district_ca):
    with pytest.raises(ValueError, match="outlive"):
        make_node(district_ca, lifetime=timedelta(days=30 * 365))


def test_naive_time_is_refused(district_ca):
    with pytest.raises(ValueError, match="timezone-aware"):
        make_node(district_ca, now=NOW.replace(tzinfo=None))


def test_issue_from_csr(district_ca):
    key = generate_private_key()
    request = parse_request(csr_pem(build_csr(key)))
    cert = issue_node_certificate(
        request,
        node_id=node_id_of(key),
        role="district",
        unit="760",
        name="Server",
        ca=district_ca,
        now=NOW,
        lifetime=NODE_LIFETIME,
    )
    assert verify_node_certificate(cert, district_ca.certificate, now=NOW).role is Role.DISTRICT


def test_csr_naming_another_node_is_refused():
    key, other = generate_private_key(), generate_private_key()
    forged = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, node_id_of(other))]))
        .sign(key, None)
    )
    with pytest.raises(CertificateRejected) as e:
        subject_public_key(forged)
    assert e.value.reason is Reason.ID_MISMATCH


def test_garbage_request_is_malformed():
    with pytest.raises(CertificateRejected) as e:
        parse_request(b"not a key")
    assert e.value.reason is Reason.MALFORMED


def test_save_and_load_ca_with_passphrase(tmp_path):
    authority = create_ca("760", now=NOW, lifetime=timedelta(days=365))
    layout = CaLayout(tmp_path / "ca")
    save_ca(authority, layout, passphrase=b"s3cret")
    assert layout.root.stat().st_mode & 0o777 == 0o700
    loaded = load_ca(layout, passphrase=b"s3cret")
    assert loaded.certificate == authority.certificate
    assert loaded.fingerprint == authority.fingerprint
    with pytest.raises(PkiError):
        load_ca(layout, passphrase=b"wrong")
    with pytest.raises(PkiError):
        load_ca(layout)
    with pytest.raises(PkiError, match="already holds a CA"):
        save_ca(create_ca("760", now=NOW, lifetime=timedelta(days=365)), layout)
