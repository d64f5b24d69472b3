"""certs/keys.py and certs/storage.py: key files are 0600, exclusive, and refused when exposed."""

from __future__ import annotations

import os

import pytest

from certs.errors import KeyFileError
from certs.keys import generate_private_key, load_private_key, node_id_of, raw_public_key, save_private_key
from certs.storage import replace_file, write_new_file
from node.signing import NodeKey


def test_saved_key_is_0600_and_loads_back(tmp_path):
    key = generate_private_key()
    path = tmp_path / "node.key"
    save_private_key(key, path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert raw_public_key(load_private_key(path)) == raw_public_key(key)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_key_readable_by_others_is_refused(tmp_path):
    path = tmp_path / "node.key"
    save_private_key(generate_private_key(), path)
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="readable by other users"):
        load_private_key(path)


def test_existing_key_is_never_overwritten(tmp_path):
    path = tmp_path / "node.key"
    first = generate_private_key()
    save_private_key(first, path)
    with pytest.raises(KeyFileError, match="overwrite"):
        save_private_key(generate_private_key(), path)
    assert raw_public_key(load_private_key(path)) == raw_public_key(first)


def test_passphrase_protects_the_ca_key(tmp_path):
    path = tmp_path / "ca.key"
    key = generate_private_key()
    save_private_key(key, path, passphrase=b"correct horse")
    assert b"ENCRYPTED" in path.read_bytes()
    assert raw_public_key(load_private_key(path, passphrase=b"correct horse")) == raw_public_key(key)
    with pytest.raises(KeyFileError):
        load_private_key(path)
    with pytest.raises(KeyFileError):
        load_private_key(path, passphrase=b"wrong")


def test_missing_and_garbage_key_files_are_refused(tmp_path):
    with pytest.raises(KeyFileError, match="cannot read"):
        load_private_key(tmp_path / "absent.key")
    path = tmp_path / "junk.key"
    write_new_file(path, b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n", mode=0o600)
    with pytest.raises(KeyFileError, match="not a readable PEM"):
        load_private_key(path)


def test_node_signing_key_file_is_the_same_format(tmp_path):
    """node/signing.py writes node.key; certs reads it as the key to certify (and back)."""
    node_key = NodeKey.generate()
    node_key.save(tmp_path / "node.key")
    assert node_id_of(load_private_key(tmp_path / "node.key")) == node_key.node_id
    save_private_key(generate_private_key(), tmp_path / "other.key")
    assert NodeKey.load(tmp_path / "other.key").node_id == node_id_of(load_private_key(tmp_path / "other.key"))


def test_replace_file_is_atomic_and_keeps_no_temporaries(tmp_path):
    path = tmp_path / "crl.pem"
    replace_file(path, b"one")
    replace_file(path, b"two")
    assert path.read_bytes() == b"two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crl.pem"]
