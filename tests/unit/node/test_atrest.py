"""Key slots and escrow of the data key (node/atrest.py): what opens it, what does not."""

from __future__ import annotations

import json
import stat

import pytest

from node.atrest import (
    AtRestError,
    Keyring,
    WrongPassword,
    derive,
    escrow_private_pem,
    escrow_public_pem,
    generate_escrow_key,
    load_escrow_private,
    new_data_key,
    new_keyring,
)
from node.lockstate import read_unlock_cache, resolve_data_key, write_unlock_cache
from tests.factories import make_settings

PASSWORD = "một cụm mật khẩu dài 2026"


def test_an_account_slot_opens_with_its_password_only_and_replaces_the_setup_slot(tmp_path):
    key = new_data_key()
    ring = new_keyring("n1", key)
    assert ring.setup_key == key
    ring.set_account_slot("lan", PASSWORD, key)
    assert ring.setup_key is None and ring.kinds() == ["account"]
    assert ring.unwrap_with_password("lan", PASSWORD) == key
    for user, password in (("lan", PASSWORD + "x"), ("hoa", PASSWORD)):
        with pytest.raises(WrongPassword):
            ring.unwrap_with_password(user, password)


def test_the_file_names_nobody_and_is_0600(tmp_path):
    key = new_data_key()
    ring = new_keyring("n1", key)
    ring.set_account_slot("nguyenthilan", PASSWORD, key)
    ring.save(tmp_path)
    text = (tmp_path / "keys.json").read_text()
    assert "nguyenthilan" not in text and key.hex() not in text
    assert stat.S_IMODE((tmp_path / "keys.json").stat().st_mode) == 0o600
    assert Keyring.load(tmp_path).unwrap_with_password("nguyenthilan", PASSWORD) == key


def test_a_slot_is_bound_to_its_node_and_key_generation(tmp_path):
    key = new_data_key()
    ring = Keyring("n1")
    ring.set_account_slot("lan", PASSWORD, key)
    for other in (Keyring("n2", 1, ring.slots), Keyring("n1", 2, ring.slots)):
        with pytest.raises(WrongPassword):
            other.unwrap_with_password("lan", PASSWORD)


def test_only_active_accounts_keep_a_slot():
    key = new_data_key()
    ring = Keyring("n1")
    for user in ("lan", "hoa", "binh"):
        ring.set_account_slot(user, PASSWORD, key)
    assert ring.keep_only_accounts({"lan", "binh"}) == 1
    assert not ring.has_slot_for("hoa") and ring.has_slot_for("lan") and ring.account_slots == 2


def test_escrow_opens_with_the_district_key_only():
    key = new_data_key()
    district = generate_escrow_key()
    ring = Keyring("n1")
    ring.set_escrow_slot(district.public_key(), key)
    pem = escrow_private_pem(district, b"escrow passphrase")
    assert ring.unwrap_with_escrow(load_escrow_private(pem, b"escrow passphrase")) == key
    with pytest.raises(WrongPassword):
        load_escrow_private(pem, b"wrong passphrase")
    with pytest.raises(WrongPassword):
        ring.unwrap_with_escrow(generate_escrow_key())
    assert b"PUBLIC KEY" in escrow_public_pem(district)
    with pytest.raises(AtRestError):
        escrow_private_pem(district, b"")


def test_derived_secrets_differ_by_purpose_and_key():
    a, b = new_data_key(), new_data_key()
    assert derive(a, "node-key") != derive(a, "ca-key") != derive(b, "node-key")
    assert len(derive(a, "flask-session")) == 32


def test_the_unlock_cache_holds_one_generation_and_idles_out_on_a_mobile(tmp_path):
    data_dir = tmp_path / "node"
    data_dir.mkdir()
    key = new_data_key()
    ring = Keyring("n1")
    ring.set_account_slot("lan", PASSWORD, key)
    ring.save(data_dir)
    mobile = make_settings(data_dir, role="mobile")
    from node.atrest import NodeLocked

    with pytest.raises(NodeLocked):
        resolve_data_key(mobile)
    path = write_unlock_cache(mobile, ring, key)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert resolve_data_key(mobile) == key
    assert read_unlock_cache(mobile, ring, now_s=path.stat().st_mtime + 16 * 60) is None  # 15 min idle
    assert not path.exists()
    write_unlock_cache(mobile, ring, key)
    stale = json.loads(path.read_text())
    path.write_text(json.dumps({**stale, "generation": 7}))
    assert read_unlock_cache(mobile, ring) is None  # a rekey happened since
