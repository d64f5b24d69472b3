"""The write gate's start check run by a second process (a CLI command beside the server) while
the server commits: a write landing between its two reads is not a restore."""

from __future__ import annotations

from node.writegate import WriteGate
from tests.factories import sample_dossier


def test_a_commit_between_the_two_reads_is_not_taken_for_a_restore(sqlite_node, monkeypatch):
    node = sqlite_node
    node.create_dossier("t", sample_dossier())  # the sentinel now records seq 1
    beside = WriteGate(node.node_id, node.gate.sentinel.parent, has_parent=True)
    landed = []

    def then_the_server_commits(read):
        def wrapped():
            value = read()
            if not landed:  # right after the first read: seq 2 committed, sentinel updated
                landed.append(node.create_dossier("t", sample_dossier(name="Lê Văn Hai")))
            return value
        return wrapped

    monkeypatch.setattr(beside, "read_sentinel", then_the_server_commits(beside.read_sentinel))
    monkeypatch.setattr(beside, "own_heads", then_the_server_commits(beside.own_heads))
    assert beside.check_at_start() == ""
    assert landed and node.gate.reason() == ""
