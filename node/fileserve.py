"""The serving side of ``POST /sync/v1/files`` (frames of :mod:`sync.chunkwire`, issue 17).

:func:`serve` answers one request the route authenticated (``web/files_sync.py``). A chunk is
stored only if its bytes hash to the chunk hash that a signed attach event this node holds lists
at that place (a tampered chunk is refused and nothing of it is kept); a file becomes complete
here only when the SHA-256 of all of it checks (:func:`node.files.complete_if_whole`). Chunks are
given, and questions about files answered, only for files in units the caller may hold (partial
replication, :func:`sync.protocol.may_hold`). The calling side is :mod:`node.filesync`.
"""

from __future__ import annotations

import hashlib
from typing import Any

from node import files
from node.chunkstore import BadChunk
from node.domain.attachment import chunk_length
from node.filerows import FileStateRow
from sync import chunkwire
from sync.exchange import response_signing_bytes
from sync.protocol import PROTOCOL_VERSION, Code, Profile, ProtocolError, may_hold

MAX_BATCH = 1024 * 1024  # the most a get answer carries, whatever the caller's budget


def _spec(file_hash: str, caller: Profile) -> dict[str, Any] | None:
    spec = files.spec_of(file_hash)
    return spec if spec is not None and may_hold(caller, spec["scope"]) else None


def serve(node, caller: Profile, body: bytes) -> bytes:
    """Answer one authenticated file exchange (see :mod:`sync.chunkwire`); unsigned bytes."""
    header, blobs = chunkwire.decode(body)
    op = header.get("op")
    if op == "ask":
        hashes = header.get("files", [])
        if not (isinstance(hashes, list) and len(hashes) <= chunkwire.MAX_ITEMS
                and all(isinstance(h, str) for h in hashes)):
            raise ProtocolError(Code.BAD_REQUEST, "files must be a list of file hashes")
        return chunkwire.encode({"protocol": PROTOCOL_VERSION, "op": op, "files": {h: _held(node, h, caller)
                                                                                   for h in hashes}})
    items = chunkwire.items_of(header)
    if op == "put":
        if len(items) != len(blobs):
            raise ProtocolError(Code.BAD_REQUEST, "a put carries one blob per item")
        return chunkwire.encode(_put(node, caller, items, blobs))
    if op == "get":
        budget = header.get("budget", MAX_BATCH)
        budget = min(max(budget, 1), MAX_BATCH) if type(budget) is int else MAX_BATCH
        answer, out = _get(node, caller, items, budget)
        return chunkwire.encode(answer, out)
    raise ProtocolError(Code.BAD_REQUEST, f"unknown file exchange operation {op!r}")


def _held(node, file_hash: str, caller: Profile) -> dict[str, Any]:
    spec = _spec(file_hash, caller)
    if spec is None:
        return {"state": "unknown"}
    state = FileStateRow.get_or_none(FileStateRow.file_hash == file_hash)
    if state is not None and state.complete:
        return {"state": "complete"}
    need = [i for i, h in enumerate(spec["chunks"]) if not node.chunks.has(h)]
    if not need and files.complete_if_whole(node, spec):
        return {"state": "complete"}
    return {"state": "missing", "need": need or list(range(len(spec["chunks"])))}


def _put(node, caller: Profile, items: list[tuple[str, int]], blobs: list[bytes]) -> dict[str, Any]:
    stored, refused, touched = 0, [], {}
    for (file_hash, index), blob in zip(items, blobs, strict=True):
        spec = touched.get(file_hash) or _spec(file_hash, caller)
        if spec is None or not 0 <= index < len(spec["chunks"]):
            refused.append([file_hash, index])
            continue
        try:
            stored += node.chunks.put(spec["chunks"][index], blob)
        except BadChunk:
            refused.append([file_hash, index])  # tampered or damaged on the way: nothing kept
            continue
        touched[file_hash] = spec
    complete = [h for h, spec in touched.items() if files.complete_if_whole(node, spec)]
    return {"protocol": PROTOCOL_VERSION, "op": "put", "stored": stored, "refused": refused, "complete": complete}


def _get(node, caller: Profile, items: list[tuple[str, int]], budget: int) -> tuple[dict[str, Any], list[bytes]]:
    sent, missing, out, size = [], [], [], 0
    for file_hash, index in items:
        spec = _spec(file_hash, caller)
        if spec is None or not 0 <= index < len(spec["chunks"]) or not node.chunks.has(spec["chunks"][index]):
            missing.append([file_hash, index])
            continue
        length = chunk_length(spec, index)
        if out and size + length > budget:
            break  # the caller asks again for the rest
        try:
            out.append(node.chunks.get(spec["chunks"][index]))
        except BadChunk:
            missing.append([file_hash, index])
            continue
        sent.append([file_hash, index])
        size += length
    return {"protocol": PROTOCOL_VERSION, "op": "get", "items": sent, "missing": missing}, out


def sign_answer(node, request_nonce: str, body: bytes) -> bytes:
    """The answer's signature, bound to the request's nonce (as ``sync/server.py`` signs)."""
    return node.key.sign(response_signing_bytes(node.node_id, request_nonce, hashlib.sha256(body).digest()))
