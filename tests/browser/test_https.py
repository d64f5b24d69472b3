"""Chromium opens an enrolled node's https sign-in page, verifying the chain for real.

Real processes: a district after ``motcua ca init``, a commune after ``motcua enroll`` (both
serve the ECDSA P-256 certificate of the district TLS CA), and a commune certified the old way
(node certificate only, as nodes enrolled before the TLS CA are). Debian's chromium runs with a
throwaway ``$HOME`` whose NSS database (``~/.pki/nssdb``, made with ``certutil``) trusts the
district's ``tls-ca.pem`` and nothing else of ours, and with ``ignore_https_errors=False``: the
page loads only if the handshake succeeds *and* the chain and host name verify. Controls: the
same page in a browser that does not trust the TLS CA fails with ERR_CERT_AUTHORITY_INVALID;
the old commune's Ed25519 certificate fails the handshake itself (even ignoring certificate
errors) until ``motcua tls request`` and a restart. Sync keeps working throughout, pinned to
the district CA: the old commune, with no TLS CA yet, syncs with the district that now serves
P-256 (it fetches and checks the TLS CA on its own).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from certs.ca import load_ca
from certs.layout import CaLayout
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, shot
from tests.scenarios.harness import RealNode, certify, clean_env

UNIT = "17272"
PORTS = {"district": 29101, "commune": 29102, "old": 29103}  # this branch's range (29000-29999)


def pairing_code(district: RealNode, role: str, unit: str, name: str) -> str:
    out = district.cli("ca", "pair", "--role", role, "--unit", unit, "--name", name).stdout
    return re.search(r"pairing code: (\S+)", out).group(1)


def nss_home(root: Path, tls_ca: Path) -> Path:
    """A $HOME whose NSS database trusts ``tls_ca`` as a CA for web sites (``C,,``)."""
    certutil = shutil.which("certutil")
    if certutil is None:
        pytest.fail("certutil is missing: apt-get install libnss3-tools (./scripts/test installs it)")
    home = root / "home"
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([certutil, "-N", "-d", f"sql:{db}", "--empty-password"], check=True, timeout=30)
    subprocess.run([certutil, "-A", "-d", f"sql:{db}", "-n", "motcua district TLS CA", "-t", "C,,", "-i",
                    str(tls_ca)], check=True, timeout=30)
    return home


def district_ca(district: RealNode):  # -> certs.DistrictCA
    """The district's CA as ``motcua ca init`` left it: its key is encrypted under the node's data
    key (issue 16), which a node without staff accounts keeps in its setup slot."""
    from node.atrest import ca_passphrase
    from node.config import load_settings
    from node.lockstate import resolve_data_key

    settings = load_settings(district.data_dir, environ=clean_env(**district.env))
    return load_ca(CaLayout(district.data_dir / "ca"),
                   passphrase=ca_passphrase(district.data_dir, resolve_data_key(settings)))


@pytest.fixture(scope="module")
def net(tmp_path_factory):
    root = tmp_path_factory.mktemp("https")
    district = RealNode("Huyện Tân Phú", "district", "40", root / "district", port=PORTS["district"])
    commune = RealNode("Xã Tân Phú", "commune", UNIT, root / "commune", port=PORTS["commune"])
    old = RealNode("Xã Cũ", "commune", "17273", root / "old", port=PORTS["old"])
    try:  # every node started is stopped, whatever fails on the way
        district.init()
        district.cli("ca", "init")
        district.start()
        commune.init()
        out = commune.cli("enroll", "--district", district.url, "--code",
                          pairing_code(district, "commune", UNIT, commune.name)).stdout
        assert "https certificate (ECDSA P-256) for localhost, 127.0.0.1" in out, out
        commune.start()
        old.init()
        certify(old, district_ca(district))
        old.start()
        yield {"district": district, "commune": commune, "old": old, "root": root}
    finally:
        for node in (old, commune, district):
            node.stop()


@pytest.fixture(scope="module")
def trusting(browser, net):
    """A second chromium (same playwright) whose NSS database trusts the district TLS CA."""
    home = nss_home(net["root"], net["district"].data_dir / "tls-ca.pem")
    b = browser.browser_type.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS,
                                    env={**os.environ, "HOME": str(home)})
    yield b
    b.close()


def open_sign_in(b, url: str, ignore_https_errors: bool = False):
    context = b.new_context(locale="vi-VN", ignore_https_errors=ignore_https_errors)
    context.set_default_timeout(20_000)
    page = context.new_page()
    try:
        return context, page, page.goto(url + "/dang-nhap")
    except Exception:
        context.close()
        raise


@pytest.mark.parametrize("who", ["district", "commune"])
@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_chromium_trusting_the_district_tls_ca_opens_the_sign_in_page(trusting, net, who, host):
    node = net[who]
    context, page, response = open_sign_in(trusting, f"https://{host}:{node.port}")
    try:
        assert response.status == 200
        assert page.locator("#f-username").is_visible() and page.locator("#f-password").is_visible()
        details = response.security_details()
        assert details["protocol"] == "TLS 1.3"
        assert details["issuer"] == "motcua district TLS CA 40"
        assert response.headers["strict-transport-security"].startswith("max-age=")
        shot(page, f"https-{who}-{host.replace('.', '-')}")
    finally:
        context.close()


def test_without_the_tls_ca_chromium_refuses_the_certificate(browser, net):
    with pytest.raises(Exception, match="ERR_CERT_AUTHORITY_INVALID"):
        open_sign_in(browser, f"https://localhost:{net['commune'].port}")
    # the handshake itself works: told to ignore certificate errors, the same browser gets the page
    context, _, response = open_sign_in(browser, f"https://localhost:{net['commune'].port}", ignore_https_errors=True)
    assert response.status == 200
    context.close()


def test_a_node_enrolled_before_the_tls_ca_syncs_and_is_fixed_by_tls_request(trusting, browser, net):
    old, district = net["old"], net["district"]
    # what was broken: an Ed25519 certificate fails the handshake, even with errors ignored
    with pytest.raises(Exception, match="ERR_SSL_VERSION_OR_CIPHER_MISMATCH"):
        open_sign_in(browser, f"https://127.0.0.1:{old.port}", ignore_https_errors=True)
    doctor = old.cli("doctor", check=False).stdout
    assert "warn https: served with the Ed25519 node certificate" in doctor, doctor
    # sync is unaffected: the district now serves P-256; the old node fetches and checks its TLS CA
    assert not (old.data_dir / "tls-ca.pem").exists()
    old.cli("sync", "--peer", district.url)
    assert (old.data_dir / "tls-ca.pem").exists()
    # the migration doctor names
    out = old.cli("tls", "request", "--district", district.url).stdout
    assert "https certificate (ECDSA P-256) for localhost, 127.0.0.1" in out, out
    assert "ok   https: ECDSA P-256" in old.cli("doctor", check=False).stdout
    old.stop()
    old.start()
    context, page, response = open_sign_in(trusting, f"https://localhost:{old.port}")
    try:
        assert response.status == 200 and page.locator("#f-username").is_visible()
    finally:
        context.close()
    old.cli("sync", "--peer", district.url)
    net["commune"].cli("sync", "--peer", district.url)
