"""The chunk store on its own: put/get/has/missing by hash, tampering, and a rekey's rewrap."""

from __future__ import annotations

import hashlib

import pytest

from node.atrest import AtRestError
from node.chunkstore import BadChunk, ChunkStore, rewrap_key


def h(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_get_has_missing_and_a_wrong_hash(tmp_path):
    store = ChunkStore(tmp_path, b"k" * 32)
    assert store.put(h(b"trang 1"), b"trang 1") and not store.put(h(b"trang 1"), b"trang 1")  # stored once
    assert store.has(h(b"trang 1")) and store.get(h(b"trang 1")) == b"trang 1"
    assert store.missing([h(b"trang 1"), h(b"trang 2")]) == [h(b"trang 2")]
    with pytest.raises(BadChunk):
        store.put(h(b"trang 2"), b"trang 2 sua")
    with pytest.raises(KeyError):
        store.get(h(b"trang 2"))


def test_a_rekey_rewraps_the_store_key_and_the_old_key_opens_nothing(tmp_path):
    old, new = b"a" * 32, b"b" * 32
    ChunkStore(tmp_path, old).put(h(b"scan"), b"scan")
    rewrap_key(tmp_path, old, new)
    assert ChunkStore(tmp_path, new).get(h(b"scan")) == b"scan"
    with pytest.raises(AtRestError):
        ChunkStore(tmp_path, old)
    with pytest.raises(AtRestError):
        ChunkStore(tmp_path, None)  # a locked node cannot read its files either
    rewrap_key(tmp_path, new, None)  # back to plaintext (a test node's path), then encrypted again
    rewrap_key(tmp_path, None, old)
    assert ChunkStore(tmp_path, old).get(h(b"scan")) == b"scan"
