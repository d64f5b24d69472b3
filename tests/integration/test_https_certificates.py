"""The https certificates of enrolled nodes (node/https.py, web/enroll.py): the district makes its
TLS CA and certifies itself at ``ca init``; a certified node gets a P-256 certificate for LAN
names at ``/sync/v1/tls-cert`` and nothing else; a CA directory and nodes from before the TLS CA
keep working (fallback to the Ed25519 certificate, the TLS CA made on first use, fetched by
sync clients, kept only if the district CA signed it); ``motcua doctor`` says what to run."""

from __future__ import annotations

import json
import re
import socket
import ssl
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from certs import create_ca, issue_node_certificate
from certs.ca import save_ca
from certs.identity import certificate_pem, identity_from_certificate, parse_certificate
from certs.keys import generate_tls_key, load_private_key, save_private_key
from certs.layout import CaLayout, NodeLayout
from certs.tlsca import (
    check_endorsement,
    create_tls_ca,
    endorse,
    issue_tls_certificate,
    load_tls_ca,
    names_of,
    read_endorsement,
)
from certs.tlsrequest import build_tls_request
from node import https
from node.app import create_app
from node.atrest import node_key_password
from node.db import open_database
from node.enrollment import ca_layout, init_ca, load_district_ca, revoke
from node.services import Node
from tests.factories import init_node_dir, make_settings, node_data_key

UNIT = "17272"
JSON = "application/json"


def make_node(tmp_path, clock, name, role, unit, **settings) -> Node:
    data_dir = tmp_path / name
    key = init_node_dir(data_dir, role=role, unit=unit)
    s = make_settings(data_dir, role=role, unit=unit, **settings)
    return Node(s, open_database(s), key, clock)


@pytest.fixture
def district(tmp_path, clock):
    node = make_node(tmp_path, clock, "district", "district", "40", TRUSTED_HOSTS=".huyen.gov.vn")
    init_ca(node)
    yield node
    node.close()


@pytest.fixture
def server(district):
    return create_app(district.settings, node=district).test_client()


def certified_commune(tmp_path, clock, authority, name="commune") -> Node:
    """A commune holding node.pem and ca.pem as an enrollment from before the TLS CA leaves it."""
    node = make_node(tmp_path, clock, name, "commune", UNIT)
    cert = issue_node_certificate(node.key.public_key, node_id=node.node_id, role="commune", unit=UNIT,
                                  name="Xã Tân Phú", ca=authority, now=datetime.fromtimestamp(clock() / 1000, UTC),
                                  lifetime=timedelta(days=365))
    layout = NodeLayout(node.settings.data_dir)
    layout.certificate.write_bytes(certificate_pem(cert))
    layout.ca_certificate.write_bytes(certificate_pem(authority.certificate))
    node.trust.reload()
    return node


def district_tls_ca(district: Node):  # -> TlsCA
    """The district's TLS CA, its key opened as the district opens it (encrypted, issue 16)."""
    from node.enrollment import _passphrase

    return load_tls_ca(ca_layout(district), passphrase=_passphrase(district))


def tls_request_body(node: Node, names, key=None) -> bytes:
    layout = NodeLayout(node.settings.data_dir)
    request = build_tls_request(load_private_key(layout.key, passphrase=node_key_password(node.data_key)),
                                parse_certificate(layout.certificate.read_bytes()),
                                key or generate_tls_key(), names)
    return json.dumps(request.to_dict()).encode()


def post(server, body: bytes, addr="10.0.0.5"):
    return server.post("/sync/v1/tls-cert", data=body, content_type=JSON, environ_base={"REMOTE_ADDR": addr})


def test_ca_init_makes_the_tls_ca_and_certifies_the_district_itself(district):
    layout = ca_layout(district)
    tls_ca = parse_certificate(layout.tls_certificate.read_bytes())
    check_endorsement(tls_ca, read_endorsement(layout.tls_endorsement), district.trust.ca)
    assert district.trust.tls_ca == tls_ca
    assert https.serving_files(district.trust) == (str(district.trust.layout.tls_certificate),
                                                   str(district.trust.layout.tls_key))
    names = names_of(parse_certificate(district.trust.layout.tls_certificate.read_bytes()))
    assert {"localhost", "127.0.0.1", "::1"} <= set(names)
    assert district.trust.pinned_ca_files == [str(district.trust.layout.ca_certificate),
                                              str(district.trust.layout.tls_ca_certificate)]
    [line] = https.report(district.trust)
    assert line.startswith("ok   https: ECDSA P-256") and "tls-ca.pem" in line


def test_a_certified_node_gets_a_lan_certificate(tmp_path, clock, server, district):
    commune = certified_commune(tmp_path, clock, load_district_ca(district))
    key = generate_tls_key()
    r = post(server, tls_request_body(commune, ["localhost", "192.168.1.20", "may-1.local", "xa.huyen.gov.vn"], key))
    assert r.status_code == 200, r.get_json()
    cert, tls_ca, endorsement = https._checked_answer(r.get_json(), commune.trust.ca, key)
    assert names_of(cert) == ["localhost", "192.168.1.20", "may-1.local", "xa.huyen.gov.vn"]
    https.install(commune.settings.data_dir, key, cert, tls_ca, endorsement)
    commune.trust.reload()
    assert commune.trust.tls_ca == district.trust.tls_ca
    assert https.serving_files(commune.trust)[0].endswith("tls.pem")
    assert https.report(commune.trust)[0].startswith("ok   https")


def test_public_names_a_stranger_and_a_revoked_node_get_nothing(tmp_path, clock, server, district):
    authority = load_district_ca(district)
    commune = certified_commune(tmp_path, clock, authority)
    r = post(server, tls_request_body(commune, ["www.google.com"]))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "names"
    assert post(server, tls_request_body(commune, ["8.8.8.8"])).status_code == 422
    stranger = certified_commune(tmp_path, clock, create_ca("41", now=datetime.fromtimestamp(clock() / 1000, UTC),
                                                           lifetime=timedelta(days=3650)), "stranger")
    r = post(server, tls_request_body(stranger, ["localhost"]))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "untrusted"
    revoke(district, commune.node_id, "admin", "key_compromise", after_seq=0, unit=UNIT)
    r = post(server, tls_request_body(commune, ["localhost"]))
    assert r.status_code == 403 and r.get_json()["error"]["code"] == "revoked"


def test_tampered_requests_and_garbage_are_4xx(tmp_path, clock, server, district):
    commune = certified_commune(tmp_path, clock, load_district_ca(district))
    doc = json.loads(tls_request_body(commune, ["localhost"]))
    doc["names"] = ["192.168.1.99"]  # not what the node signed
    assert post(server, json.dumps(doc).encode()).status_code == 400
    for body, status in ((b"[" * 5000, 400), (b"{}", 400), (b"x" * (17 * 1024), 413), (b"\xff", 400)):
        r = post(server, body, addr="10.0.0.6")
        assert r.status_code == status and set(r.get_json()["error"]) == {"code", "message", "field"}


def test_the_tls_ca_is_offered_to_sync_clients_on_every_node_that_pins_one(tmp_path, clock, server, district):
    offer = server.get("/sync/v1/tls-ca").get_json()
    assert parse_certificate(offer["tls_ca"].encode()) == district.trust.tls_ca
    commune = certified_commune(tmp_path, clock, load_district_ca(district))
    r = create_app(commune.settings, node=commune).test_client().get("/sync/v1/tls-ca")
    assert r.status_code == 404 and r.get_json()["error"]["code"] == "no_tls_ca"


def test_a_node_enrolled_before_the_tls_ca_fetches_it_and_keeps_it_only_if_signed(tmp_path, clock, district,
                                                                                  monkeypatch, server):
    commune = certified_commune(tmp_path, clock, load_district_ca(district))
    assert commune.trust.tls_ca is None and commune.trust.pinned_ca_files == [str(commune.trust.layout.ca_certificate)]
    assert https.serving_files(commune.trust)[0].endswith("node.pem")  # Ed25519: sync works, browsers do not
    [line] = https.report(commune.trust)
    assert line.startswith("warn https: served with the Ed25519 node certificate") and "motcua tls request" in line

    forged_ca = create_tls_ca("40", now=datetime.fromtimestamp(clock() / 1000, UTC), lifetime=timedelta(days=99))
    other = create_ca("40", now=datetime.fromtimestamp(clock() / 1000, UTC), lifetime=timedelta(days=99))
    forged = {"tls_ca": certificate_pem(forged_ca.certificate).decode(),
              "endorsement": endorse(forged_ca.certificate, other).hex()}
    monkeypatch.setattr("sync.transport.get_unverified_json", lambda url, timeout: (200, forged))
    assert not https.fetch_tls_ca(commune.trust, "https://hub.example:8750")
    assert commune.trust.tls_ca is None

    genuine = server.get("/sync/v1/tls-ca").get_json()
    monkeypatch.setattr("sync.transport.get_unverified_json", lambda url, timeout: (200, genuine))
    assert https.fetch_tls_ca(commune.trust, "https://hub.example:8750")
    assert commune.trust.tls_ca == district.trust.tls_ca
    assert len(commune.trust.pinned_ca_files) == 2


def test_sync_asks_a_peer_for_the_tls_ca_once(tmp_path, clock, district, monkeypatch):
    from node.replication import fetch_tls_ca_once

    commune = certified_commune(tmp_path, clock, load_district_ca(district))
    asked = []
    monkeypatch.setattr("node.https.fetch_tls_ca", lambda trust, url, timeout: asked.append(url) or False)
    for _ in range(2):
        fetch_tls_ca_once(commune, "https://hub.example:8750")
    fetch_tls_ca_once(commune, "http://dev.example:8750")
    assert asked == ["https://hub.example:8750"]


def test_a_ca_directory_from_before_gets_its_tls_ca_on_first_use(tmp_path, clock):
    """A district whose CA was made before the TLS CA existed (as ``ca init`` did then)."""
    node = make_node(tmp_path, clock, "old-district", "district", "40")
    now = datetime.fromtimestamp(clock() / 1000, UTC)
    authority = create_ca("40", now=now, lifetime=timedelta(days=3650))
    layout = ca_layout(node)
    save_ca(authority, layout)
    cert = issue_node_certificate(node.key.public_key, node_id=node.node_id, role="district", unit="40",
                                  name="district", ca=authority, now=now, lifetime=timedelta(days=365))
    NodeLayout(node.settings.data_dir).certificate.write_bytes(certificate_pem(cert))
    NodeLayout(node.settings.data_dir).ca_certificate.write_bytes(certificate_pem(authority.certificate))
    node.trust.reload()
    assert not CaLayout(layout.root).tls_certificate.exists()
    assert https.report(node.trust)[0].startswith("warn https: served with the Ed25519")
    names = https.issue_locally(node, ["localhost", "127.0.0.1", "motcua.huyen.gov.vn"])
    assert names == ["localhost", "127.0.0.1", "motcua.huyen.gov.vn"]  # its own: the operator's choice
    assert layout.tls_certificate.exists() and node.trust.tls_ca is not None
    assert https.report(node.trust)[0].startswith("ok   https")
    node.close()


def test_a_stale_tls_ca_after_enrolling_elsewhere_is_not_served(tmp_path, clock, district):
    commune = certified_commune(tmp_path, clock, load_district_ca(district))
    key = generate_tls_key()
    authority = load_district_ca(district)
    tls_ca = district_tls_ca(district)
    cert = issue_tls_certificate(key.public_key(), identity=identity_from_certificate(commune.trust.own),
                                 names=["localhost"], tls_ca=tls_ca, now=datetime.fromtimestamp(clock() / 1000, UTC))
    https.install(commune.settings.data_dir, key, cert, tls_ca.certificate, endorse(tls_ca.certificate, authority))
    commune.trust.reload()
    assert https.serving_files(commune.trust)[0].endswith("tls.pem")
    # re-enrolled with another district: ca.pem changes, the old TLS CA is no longer signed by it
    other = create_ca("41", now=datetime.fromtimestamp(clock() / 1000, UTC), lifetime=timedelta(days=3650))
    NodeLayout(commune.settings.data_dir).ca_certificate.write_bytes(certificate_pem(other.certificate))
    commune.trust.reload()
    assert commune.trust.tls_ca is None
    assert https.serving_files(commune.trust)[0].endswith("node.pem")
    assert https.report(commune.trust)[0].startswith("FAIL https")


def test_default_names_are_lan_names_plus_what_the_administrator_configured(tmp_path):
    settings = make_settings(tmp_path / "n", HOST="0.0.0.0", TRUSTED_HOSTS="motcua.tanphu.lan, .huyen.gov.vn, *")
    names = https.default_names(settings, machine="pc-motcua", addresses=["192.168.1.20", "8.8.4.4",
                                                                          "fe80::1"])
    assert names == ["localhost", "127.0.0.1", "::1", "pc-motcua", "pc-motcua.local", "192.168.1.20", "fe80::1",
                     "motcua.tanphu.lan", "*.huyen.gov.vn"]
    assert "192.168.1.7" in https.default_names(make_settings(tmp_path / "m", HOST="192.168.1.7"), machine="x",
                                                addresses=[])


def serve_tls_once(port: int, cert_file: Path, key_file: Path) -> threading.Thread:
    """A TLS server on 127.0.0.1:``port`` that answers one request with a non-sync 200."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert_file, key_file)
    listener = socket.create_server(("127.0.0.1", port))
    listener.settimeout(10)

    def run() -> None:
        try:
            conn, _ = listener.accept()
            conn.settimeout(10)
            with ctx.wrap_socket(conn, server_side=True) as tls:
                request = b""
                while b"\r\n\r\n" not in request:
                    request += tls.recv(65536)
                head, _, body = request.partition(b"\r\n\r\n")
                length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))
                while len(body) < length:
                    body += tls.recv(65536)
                tls.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
        except (ssl.SSLError, OSError):
            pass  # the client refused the handshake: what one of the tests wants
        finally:
            listener.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("whose, port", [("district's", 29311), ("foreign", 29312)])
def test_sync_verifies_a_p256_peer_against_the_endorsed_tls_ca_only(tmp_path, clock, district, whose, port):
    """The client pins ca.pem and the TLS CA the district CA signed: a P-256 server of that TLS
    CA completes the handshake (the sync then fails on the non-sync answer), one of another TLS
    CA with the same name does not."""
    from sync.transport import HttpTransport, TransportError
    from tests.sync_helpers import make_client

    commune = certified_commune(tmp_path, clock, load_district_ca(district))
    layout = NodeLayout(commune.settings.data_dir)
    # the commune pins the district's TLS CA, as an enrollment or a fetch from a peer leaves it
    layout.tls_ca_certificate.write_bytes(certificate_pem(district.trust.tls_ca))
    layout.tls_endorsement.write_text(district.trust.tls_endorsement.hex())
    commune.trust.reload()
    assert len(commune.trust.pinned_ca_files) == 2
    now = datetime.fromtimestamp(clock() / 1000, UTC)
    tls_ca = district_tls_ca(district) if whose == "district's" else create_tls_ca(
        "40", now=now, lifetime=timedelta(days=3650))
    key = generate_tls_key()
    cert = issue_tls_certificate(key.public_key(), identity=identity_from_certificate(district.trust.own),
                                 names=["127.0.0.1"], tls_ca=tls_ca, now=datetime.now(UTC))
    (tmp_path / "peer.pem").write_bytes(certificate_pem(cert))
    save_private_key(key, tmp_path / "peer.key")
    thread = serve_tls_once(port, tmp_path / "peer.pem", tmp_path / "peer.key")
    client = make_client("commune", UNIT)
    transport = HttpTransport(f"https://127.0.0.1:{port}", client.key, clock, connect_timeout=5, read_timeout=5,
                              ca_file=commune.trust.pinned_ca_files)
    try:
        with pytest.raises(TransportError) as e:
            transport.exchange({"v": 1})
    finally:
        transport.close()
        thread.join(15)
    if whose == "district's":
        assert "is not a sync answer" in str(e.value)  # TLS verified; the peer is just no node
    else:
        assert "CERTIFICATE_VERIFY_FAILED" in str(e.value)


def test_enrollment_keeps_the_lan_names_when_the_district_refuses_a_configured_one(tmp_path, clock, district,
                                                                                  monkeypatch):
    """``motcua enroll`` asks with TRUSTED_HOSTS names too; a district that does not vouch for one
    answers 422, and the node asks again with its LAN names (and says which were refused)."""
    from node import enrollment

    calls = []

    def fake_request(data_dir, url, names, timeout, _node_key_password=None):
        calls.append(list(names))
        if "motcua.tanphu.vn" in names:
            raise https.TlsRequestFailed("the district refused (HTTP 422): 'motcua.tanphu.vn'", 422)
        return list(names)

    code, _ = enrollment.new_pairing_code(district, "commune", UNIT, "Xã Tân Phú")
    monkeypatch.setattr(enrollment, "post_unverified_json",
                        lambda url, payload, timeout: (200, enrollment.redeem(district, payload)))
    monkeypatch.setattr("node.https.request_from_district", fake_request)
    data_dir = tmp_path / "new-commune"
    init_node_dir(data_dir, role="commune", unit=UNIT)
    names = ["localhost", "127.0.0.1", "motcua.tanphu.vn"]
    done = enrollment.enroll(data_dir, "https://district.example", code, 5, names,
                             node_key_password=node_key_password(node_data_key(data_dir)))
    assert calls == [names, ["localhost", "127.0.0.1"]]
    assert done.tls_names == ["localhost", "127.0.0.1"] and "422" in done.tls_error
    assert (data_dir / "node.pem").exists()
    assert https.default_names(make_settings(tmp_path / "n", TRUSTED_HOSTS="motcua_pc, ok.lan"), machine="x",
                               addresses=[])[-1] == "ok.lan"  # a configured non-name is left out


def test_a_host_with_many_addresses_still_asks_for_a_certificate_it_can_get(tmp_path):
    settings = make_settings(tmp_path / "n", TRUSTED_HOSTS="motcua.tanphu.lan")
    names = https.default_names(settings, machine="x", addresses=[f"10.0.{i}.1" for i in range(60)])
    assert len(names) == 32 and names[0] == "localhost" and names[-1] == "motcua.tanphu.lan"
