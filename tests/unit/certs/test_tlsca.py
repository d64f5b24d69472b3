"""certs/tlsca.py: the district's ECDSA P-256 TLS CA, its tie to the Ed25519 district CA, the
names a node may be certified for, and a real TLS handshake on loopback that verifies the
chain *and the host name* the way a browser does (``check_hostname=True``)."""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import replace
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, SignatureAlgorithmOID

from certs.errors import CertificateRejected, KeyFileError, PkiError, Reason
from certs.identity import certificate_pem, identity_from_certificate
from certs.keys import generate_private_key, generate_tls_key, load_private_key, load_tls_key, save_private_key
from certs.layout import CaLayout
from certs.tlsca import (
    check_endorsement,
    check_names,
    check_tls_certificate,
    create_tls_ca,
    endorse,
    ensure_tls_ca,
    issue_tls_certificate,
    load_tls_ca,
    names_of,
    read_endorsement,
)
from certs.tlsrequest import TlsRequest, build_tls_request, check_tls_request
from tests.unit.certs.pki import CA_LIFETIME, NOW, make_node

TIMEOUT = 10


@pytest.fixture(scope="module")
def tls_ca():
    return create_tls_ca("760", now=NOW, lifetime=CA_LIFETIME)


def leaf(tls_ca, node, names=("localhost", "127.0.0.1", "may-1.local"), now=NOW):
    key = generate_tls_key()
    cert = issue_tls_certificate(key.public_key(), identity=identity_from_certificate(node.cert), names=list(names),
                                 tls_ca=tls_ca, now=now)
    return key, cert


def test_the_tls_ca_is_a_self_signed_p256_ca_signed_with_ecdsa_sha256(tls_ca):
    cert = tls_ca.certificate
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    cert.verify_directly_issued_by(cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca and constraints.value.path_length == 0
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert "TLS CA 760" in cert.subject.rfc4514_string()


def test_the_district_ca_endorses_its_tls_ca_and_nobody_else_can(district_ca, foreign_ca, tls_ca):
    signature = endorse(tls_ca.certificate, district_ca)
    check_endorsement(tls_ca.certificate, signature, district_ca.certificate)
    with pytest.raises(CertificateRejected) as e:
        check_endorsement(tls_ca.certificate, signature, foreign_ca.certificate)
    assert e.value.reason == Reason.UNTRUSTED
    other = create_tls_ca("760", now=NOW, lifetime=CA_LIFETIME)  # same name, another key
    with pytest.raises(CertificateRejected):
        check_endorsement(other.certificate, signature, district_ca.certificate)
    # an Ed25519 CA certificate, even endorsed, is no TLS CA a browser could use
    with pytest.raises(CertificateRejected) as e:
        check_endorsement(foreign_ca.certificate, endorse(foreign_ca.certificate, district_ca),
                          district_ca.certificate)
    assert e.value.reason == Reason.WRONG_USAGE


def test_a_tls_certificate_names_hosts_and_serves_only(tls_ca, node):
    key, cert = leaf(tls_ca, node)
    assert names_of(cert) == ["localhost", "127.0.0.1", "may-1.local"]
    assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH]
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert node.node_id in cert.subject.rfc4514_string()
    assert cert.not_valid_after_utc <= tls_ca.certificate.not_valid_after_utc
    check_tls_certificate(cert, tls_ca.certificate, key)
    with pytest.raises(CertificateRejected):
        check_tls_certificate(cert, tls_ca.certificate, generate_tls_key())
    with pytest.raises(CertificateRejected):
        check_tls_certificate(cert, create_tls_ca("760", now=NOW, lifetime=CA_LIFETIME).certificate)


def test_only_p256_keys_get_tls_certificates(tls_ca, node):
    identity = identity_from_certificate(node.cert)
    with pytest.raises(ValueError):
        issue_tls_certificate(generate_private_key().public_key(), identity=identity, names=["localhost"],
                              tls_ca=tls_ca, now=NOW)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        issue_tls_certificate(ec.generate_private_key(ec.SECP384R1()).public_key(), identity=identity,
                              names=["localhost"], tls_ca=tls_ca, now=NOW)
    with pytest.raises(ValueError):
        issue_tls_certificate(generate_tls_key().public_key(), identity=identity, names=[], tls_ca=tls_ca, now=NOW)


@pytest.mark.parametrize("names, expected", [
    (["LOCALHOST", "127.0.0.1", "::1"], ["localhost", "127.0.0.1", "::1"]),
    (["192.168.1.20", "10.0.0.5", "172.16.3.4", "fe80::1", "fd00::7"], None),
    (["pc-motcua", "pc-motcua.local", "motcua.lan", "may1.home.arpa", "may1.internal."], None),
    (["[::1]", "::1", "localhost", "localhost"], ["::1", "localhost"]),
])
def test_lan_names_are_admitted(names, expected):
    got = check_names(names)
    assert got == (expected or [n.lower().rstrip(".") for n in names])


@pytest.mark.parametrize("name", ["8.8.8.8", "2001:4860::8888", "www.google.com", "motcua.huyen.gov.vn",
                                  "*.local", "bad_name.local", "-x.lan", "a" * 64 + ".lan", "0.0.0.0", "224.0.0.1",
                                  "", " "])
def test_names_a_node_may_not_ask_for_are_refused(name):
    with pytest.raises(ValueError):
        check_names([name])


def test_the_district_may_vouch_for_its_own_domains_and_itself():
    assert check_names(["motcua.huyen.gov.vn", "*.xa.huyen.gov.vn"], suffixes=[".huyen.gov.vn"]) == [
        "motcua.huyen.gov.vn", "*.xa.huyen.gov.vn"]
    assert check_names(["hub.example.org", "203.0.113.9"], lan_only=False) == ["hub.example.org", "203.0.113.9"]
    with pytest.raises(ValueError):
        check_names([])
    with pytest.raises(ValueError):
        check_names([f"10.0.0.{i}" for i in range(40)])


def test_a_certified_node_asks_for_a_tls_certificate(district_ca, foreign_ca, node):
    tls_key = generate_tls_key()
    request = build_tls_request(node.key, node.cert, tls_key, ["localhost", "192.168.1.20"])
    parsed = TlsRequest.from_dict(request.to_dict())
    assert parsed == request
    identity, key = check_tls_request(parsed, district_ca.certificate, now=NOW)
    assert identity.node_id == node.node_id and key == tls_key.public_key()
    # names changed on the way: the node's signature no longer covers them
    with pytest.raises(ValueError):
        check_tls_request(replace(parsed, names=("www.google.com",)), district_ca.certificate, now=NOW)
    # another TLS key slipped in
    other = build_tls_request(node.key, node.cert, generate_tls_key(), ["localhost"])
    with pytest.raises(ValueError):
        check_tls_request(replace(parsed, tls_public_key=other.tls_public_key), district_ca.certificate, now=NOW)
    # a node of another district, an expired certificate
    stranger = make_node(foreign_ca)
    with pytest.raises(CertificateRejected):
        check_tls_request(build_tls_request(stranger.key, stranger.cert, tls_key, ["localhost"]),
                          district_ca.certificate, now=NOW)
    with pytest.raises(CertificateRejected) as e:
        check_tls_request(parsed, district_ca.certificate, now=NOW + timedelta(days=4 * 365))
    assert e.value.reason == Reason.EXPIRED


@pytest.mark.parametrize("doc", [
    {}, {"v": 1}, {"v": 2, "certificate": "", "tls_public_key": "", "names": [], "signature": ""},
    {"v": 1, "certificate": "zz", "tls_public_key": "", "names": [], "signature": ""},
    {"v": 1, "certificate": "", "tls_public_key": "", "names": "localhost", "signature": ""},
    {"v": 1, "certificate": "", "tls_public_key": "", "names": [1], "signature": ""},
    {"v": 1, "certificate": 5, "tls_public_key": "", "names": [], "signature": ""},
])
def test_malformed_requests_are_value_errors(doc):
    with pytest.raises(ValueError):
        TlsRequest.from_dict(doc)


def test_an_ed25519_key_cannot_be_smuggled_in_as_the_tls_key(district_ca, node):
    from cryptography.hazmat.primitives import serialization

    request = build_tls_request(node.key, node.cert, generate_tls_key(), ["localhost"])
    ed = generate_private_key().public_key().public_bytes(serialization.Encoding.DER,
                                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    from certs.tlsrequest import _request_digest

    forged = replace(request, tls_public_key=ed, signature=node.key.sign(_request_digest(ed, request.names)))
    with pytest.raises(ValueError, match="P-256"):
        check_tls_request(forged, district_ca.certificate, now=NOW)


def test_a_ca_directory_gets_its_tls_ca_once_and_keeps_it(tmp_path, district_ca):
    layout = CaLayout(tmp_path / "ca")
    layout.create()
    first = ensure_tls_ca(layout, district_ca, now=NOW, passphrase=b"secret")
    again = ensure_tls_ca(layout, district_ca, now=NOW + timedelta(days=1), passphrase=b"secret")
    assert again.certificate == first.certificate
    assert layout.tls_key.stat().st_mode & 0o777 == 0o600
    check_endorsement(first.certificate, read_endorsement(layout.tls_endorsement), district_ca.certificate)
    assert first.certificate.not_valid_after_utc == district_ca.certificate.not_valid_after_utc
    with pytest.raises(PkiError):
        load_tls_ca(layout)  # encrypted, no passphrase
    layout.tls_key.unlink()
    save_private_key(generate_tls_key(), layout.tls_key)
    with pytest.raises(PkiError, match="not the key"):
        load_tls_ca(layout)


def test_tls_keys_and_node_keys_are_not_interchangeable(tmp_path):
    save_private_key(generate_tls_key(), tmp_path / "tls.key")
    save_private_key(generate_private_key(), tmp_path / "node.key")
    assert load_tls_key(tmp_path / "tls.key")
    with pytest.raises(KeyFileError, match="Ed25519"):
        load_private_key(tmp_path / "tls.key")
    with pytest.raises(KeyFileError, match="P-256"):
        load_tls_key(tmp_path / "node.key")


def handshake(server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, server_hostname: str) -> dict:
    """One TLS 1.3 connection on loopback; what each side saw."""
    result: dict = {}
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(TIMEOUT)

    def run() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(TIMEOUT)
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                tls.sendall(b"ok")
        except (ssl.SSLError, OSError) as e:
            result["server_error"] = e

    thread = threading.Thread(target=run)
    thread.start()
    try:
        with socket.create_connection(listener.getsockname(), timeout=TIMEOUT) as raw, \
                client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            result["data"] = tls.recv(2)
            result["version"] = tls.version()
    except (ssl.SSLError, OSError) as e:
        result["client_error"] = e
    finally:
        thread.join(TIMEOUT)
        listener.close()
    return result


def contexts(tmp_path, tls_ca, key, cert) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    save_private_key(key, tmp_path / "tls.key")
    (tmp_path / "tls.pem").write_bytes(certificate_pem(cert))
    (tmp_path / "tls-ca.pem").write_bytes(certificate_pem(tls_ca.certificate))
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.minimum_version = ssl.TLSVersion.TLSv1_3
    server.load_cert_chain(tmp_path / "tls.pem", tmp_path / "tls.key")
    client = ssl.create_default_context(cafile=str(tmp_path / "tls-ca.pem"))  # hostname checked, as browsers do
    client.verify_flags |= ssl.VERIFY_X509_STRICT
    return server, client


def test_a_client_that_checks_host_names_accepts_the_chain(tmp_path, tls_ca, node):
    """OpenSSL checks dates with the real clock here: the chain is made to cover it (NOW is fixed)."""
    key = generate_tls_key()
    cert = issue_tls_certificate(key.public_key(), identity=identity_from_certificate(node.cert),
                                 names=["localhost", "127.0.0.1"], tls_ca=tls_ca, now=NOW,
                                 lifetime=CA_LIFETIME - timedelta(days=1))
    server, client = contexts(tmp_path, tls_ca, key, cert)
    for host in ("localhost", "127.0.0.1"):
        seen = handshake(server, client, host)
        assert seen.get("data") == b"ok", seen
        assert seen["version"] == "TLSv1.3"
    refused = handshake(server, client, "evil.example")
    assert isinstance(refused.get("client_error"), ssl.SSLCertVerificationError)
