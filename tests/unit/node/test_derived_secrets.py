"""Secrets derived from the node key (node.signing.NodeKey.derive_secret): one per purpose,
stable for the node's life, different for every node, and none of them the key itself."""

from __future__ import annotations

from cryptography.hazmat.primitives import serialization

from node.signing import NodeKey


def test_one_secret_per_purpose_stable_per_key_and_unrelated_across_nodes(tmp_path):
    key = NodeKey.generate()
    key.save(tmp_path / "node.key")
    again = NodeKey.load(tmp_path / "node.key")
    lookup, provisional = key.derive_secret("lookup-check"), key.derive_secret("provisional-code")
    assert len(lookup) == 32 and lookup != provisional
    assert again.derive_secret("lookup-check") == lookup  # survives a restart: receipts stay valid
    assert NodeKey.generate().derive_secret("lookup-check") != lookup
    seed = key._private.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                      serialization.NoEncryption())
    assert seed not in (lookup, provisional)
