"""Files between nodes: chunk exchanges after the events, resumable after any cut (issue 17).

The calling side of ``POST /sync/v1/files`` (frames of :mod:`sync.chunkwire`):

* :func:`node.fileserve.serve` answers one authenticated request (the serving side).
* :func:`sync_files` is the caller's session: **push** (ask the peer which chunks of the files it
  should hold it lacks, then put them), then **pull** (get the chunks of the files this node wants:
  all of them, or on a node that fetches on demand the thumbnails and the files someone opened).

Invariants
----------
* Events first: a file travels only once the peer holds the event that names it (else ``unknown``).
* Resumable at chunk granularity: progress is what the chunk stores hold, nothing else; after a
  cut the next request asks again, so at most the request in flight is sent twice. Its size
  follows the measured link (:class:`Budget`): one 32 KiB chunk at 2G speeds, up to 1 MiB on a LAN.
* Order: small files first (thumbnails, one-page papers: every dossier shows something soon),
  then newer dossiers' files before older ones, smaller before larger.
* Every answer is signed by the peer over the request's nonce; one that does not verify ends the
  session like a cut, and nothing from it is stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from node import files
from node.binding import database
from node.chunkstore import BadChunk
from node.domain.attachment import CHUNK_SIZE, chunk_length
from node.filerows import FilePeerRow, FileStateRow
from node.models import AttachmentRow
from sync import chunkwire
from sync.exchange import Reply, response_signing_bytes
from sync.protocol import Profile, may_hold
from sync.transport import TransportError

ASK_PAGE = 200
MAX_BATCH = 1024 * 1024  # the most one put carries or one get asks for
TARGET_SECONDS = 4.0  # an exchange of about this long: short enough that a cut loses little
MAX_FAILURES = 100  # cuts in a row before a session gives up (the next sync resumes)


class FrameTransport(Protocol):
    def call(self, path: str, body: bytes, content_type: str) -> Reply: ...


# -- the calling side -----------------------------------------------------------------------------


@dataclass
class Budget:
    """Bytes per exchange from the measured link: about :data:`TARGET_SECONDS` of transfer, at
    least one chunk. A cut halves the ceiling and starts again from one chunk; every exchange that
    goes through lifts the ceiling by a chunk (additive increase, multiplicative decrease), so a
    link that dies every few hundred KB settles on requests that lose little when it does."""

    size: int = CHUNK_SIZE
    ceiling: int = MAX_BATCH
    rate: float = 0.0  # bytes/s, smoothed

    def observe(self, sent: int, seconds: float) -> None:
        self.ceiling = min(MAX_BATCH, self.ceiling + CHUNK_SIZE)
        if sent < 4096 or seconds <= 0:
            return  # a small answer measures the round trip, not the bandwidth
        rate = sent / seconds
        self.rate = rate if not self.rate else 0.5 * self.rate + 0.5 * rate
        self.size = int(max(CHUNK_SIZE, min(self.rate * TARGET_SECONDS, self.ceiling, 2 * self.size)))

    def cut(self) -> None:
        self.ceiling = max(CHUNK_SIZE, self.size // 2)
        self.size = CHUNK_SIZE


@dataclass
class FileSyncSummary:
    requests: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    chunks_sent: int = 0
    chunks_received: int = 0
    chunk_bytes_sent: int = 0
    chunk_bytes_received: int = 0
    files_delivered: int = 0  # the peer said complete
    files_completed: int = 0  # complete here after a pull
    refused: int = 0
    failures: int = 0
    error: str = ""
    sent_items: list[tuple[str, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


class _Session:
    def __init__(self, node, transport: FrameTransport, peer: Profile, monotonic: Callable[[], float]) -> None:
        self.node, self.transport, self.peer, self.monotonic = node, transport, peer, monotonic
        self.summary = FileSyncSummary()
        self.budget = Budget()

    def call(self, header: dict[str, Any], blobs: list[bytes] = ()) -> tuple[dict[str, Any], list[bytes]]:
        body = chunkwire.encode(header, list(blobs))
        started = self.monotonic()
        self.summary.requests += 1
        reply = self.transport.call(chunkwire.FILES_PATH, body, chunkwire.CONTENT_TYPE)
        self.summary.bytes_out += reply.bytes_out
        self.summary.bytes_in += reply.bytes_in
        from node.signing import verify_signature

        try:
            verify_signature(self.peer.public_key, response_signing_bytes(self.peer.node_id, reply.nonce, reply.digest),
                             reply.signature)
        except Exception as e:
            raise TransportError("the file exchange answer is not signed by the peer") from e
        answer, out = chunkwire.decode(reply.content)
        if reply.status != 200 or "error" in answer:
            raise TransportError(f"file exchange refused: {answer.get('error', reply.status)}")
        self.budget.observe(max(reply.bytes_out, reply.bytes_in), self.monotonic() - started)
        return answer, out

    def retrying(self, step: Callable[[], bool]) -> None:
        """Run ``step`` until it says it is done; a cut costs the request in flight only."""
        failures = 0
        while True:
            try:
                if step():
                    return
                failures = 0
            except TransportError as e:
                self.summary.failures += 1
                failures += 1
                self.budget.cut()
                if failures >= MAX_FAILURES:
                    self.summary.error = str(e)
                    return


def _priority(row: AttachmentRow, size: int) -> tuple:
    return (size > CHUNK_SIZE, -row.received_at, size, row.ref)


def _candidates(rows: list[AttachmentRow]) -> list[dict[str, Any]]:
    """File and thumbnail descriptions of ``rows``, deduplicated, in the order they travel."""
    seen: dict[str, tuple[tuple, dict[str, Any]]] = {}
    for r in rows:
        specs = [{"hash": r.file_hash, "size": r.size, "chunk_size": r.chunk_size, "chunks": json.loads(r.chunks),
                  "thumb": False}]
        if r.thumb:
            specs.append({**json.loads(r.thumb), "thumb": True})
        for spec in specs:
            key = _priority(r, spec["size"])
            if spec["hash"] not in seen or key < seen[spec["hash"]][0]:
                seen[spec["hash"]] = (key, spec)
    return [spec for _, spec in sorted(seen.values(), key=lambda kv: kv[0])]


def _complete_here(hashes: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(hashes), 500):
        found |= {r.file_hash for r in FileStateRow.select(FileStateRow.file_hash).where(
            FileStateRow.file_hash.in_(hashes[start : start + 500]) & FileStateRow.complete)}
    return found


def push(session: _Session) -> None:
    peer = session.peer
    rows = [r for r in AttachmentRow.select() if may_hold(peer, r.scope)]
    confirmed = {r.file_hash for r in FilePeerRow.select(FilePeerRow.file_hash).where(FilePeerRow.peer == peer.node_id)}
    specs = [s for s in _candidates(rows) if s["hash"] not in confirmed]
    held = _complete_here([s["hash"] for s in specs])
    specs = [s for s in specs if s["hash"] in held]
    for start in range(0, len(specs), ASK_PAGE):
        page = specs[start : start + ASK_PAGE]
        _push_page(session, page)
        if session.summary.error:
            return


def _push_page(session: _Session, page: list[dict[str, Any]]) -> None:
    by_hash = {s["hash"]: s for s in page}
    queue: list[tuple[str, int]] = []

    def ask() -> bool:
        answer, _ = session.call({"op": "ask", "files": list(by_hash)})
        queue.clear()
        for spec in page:
            state = answer.get("files", {}).get(spec["hash"], {})
            if state.get("state") == "complete":
                _confirm(session, spec["hash"])
            elif state.get("state") == "missing":
                queue.extend((spec["hash"], i) for i in state.get("need", []) if isinstance(i, int)
                             and 0 <= i < len(spec["chunks"]))
        return True

    session.retrying(ask)

    def put() -> bool:
        if not queue:
            return True
        batch, size = [], 0
        for item in queue:
            length = chunk_length(by_hash[item[0]], item[1])
            if batch and size + length > session.budget.size:
                break
            batch.append(item)
            size += length
        blobs = [session.node.chunks.get(by_hash[f]["chunks"][i]) for f, i in batch]
        session.summary.sent_items.extend(batch)
        answer, _ = session.call({"op": "put", "items": [list(i) for i in batch]}, blobs)
        session.summary.chunks_sent += len(batch)
        session.summary.chunk_bytes_sent += size
        session.summary.refused += len(answer.get("refused", []))
        for file_hash in answer.get("complete", []):
            if file_hash in by_hash:
                _confirm(session, file_hash)
        del queue[: len(batch)]
        return not queue

    def put_or_resume() -> bool:
        try:
            return put()
        except TransportError:
            session.retrying(ask)  # after a cut: what did the peer keep? (no chunk is sent twice blindly)
            raise

    session.retrying(put_or_resume)


def _confirm(session: _Session, file_hash: str) -> None:
    peer = session.peer.node_id
    with database.atomic():
        FilePeerRow.insert(id=f"{peer} {file_hash}", peer=peer, file_hash=file_hash,
                           at=session.node.wall_ms()).on_conflict_ignore().execute()
    session.summary.files_delivered += 1


def pull(session: _Session) -> None:
    node = session.node
    rule = files.fetch_rule(node)
    specs = _candidates(list(AttachmentRow.select()))
    held = _complete_here([s["hash"] for s in specs])
    states = {r.file_hash: r for r in FileStateRow.select().where(FileStateRow.file_hash.in_(
        [s["hash"] for s in specs if s["hash"] not in held]))} if specs else {}
    wanted = []
    for s in specs:
        state = states.get(s["hash"])
        if s["hash"] in held or (state is not None and state.purged_at):
            continue
        if rule == "all" or s["thumb"] or (state is not None and state.wanted):
            wanted.append(s)
    by_hash = {s["hash"]: s for s in wanted}
    queue = [(s["hash"], i) for s in wanted for i, h in enumerate(s["chunks"]) if not node.chunks.has(h)]
    for s in wanted:
        if not any(f == s["hash"] for f, _ in queue) and files.complete_if_whole(node, s):
            session.summary.files_completed += 1

    def get() -> bool:
        if not queue:
            return True
        batch = queue[: max(1, session.budget.size // CHUNK_SIZE) + 8]
        answer, blobs = session.call({"op": "get", "items": [list(i) for i in batch],
                                      "budget": session.budget.size})
        got = [tuple(i) for i in answer.get("items", [])]
        if len(got) != len(blobs):
            raise TransportError("a get answer carries one blob per item")
        done: set[tuple[str, int]] = {tuple(i) for i in answer.get("missing", [])}  # not on the peer either
        touched = set()
        for (file_hash, index), blob in zip(got, blobs, strict=True):
            spec = by_hash.get(file_hash)
            if spec is None or not 0 <= index < len(spec["chunks"]):
                continue
            try:
                node.chunks.put(spec["chunks"][index], blob)
                session.summary.chunks_received += 1
                session.summary.chunk_bytes_received += len(blob)
                touched.add(file_hash)
            except BadChunk:
                session.summary.refused += 1
            done.add((file_hash, index))
        for file_hash in touched:
            if files.complete_if_whole(node, by_hash[file_hash]):
                session.summary.files_completed += 1
        if not done:
            return True  # the peer gave nothing it was asked for: try again at the next sync
        queue[:] = [i for i in queue if i not in done]
        return not queue

    session.retrying(get)


def sync_files(node, transport: FrameTransport, peer: Profile, *, direction: str = "both",
               monotonic: Callable[[], float] = time.monotonic) -> FileSyncSummary:
    """One file session with ``peer`` after an events session (see the module docstring)."""
    session = _Session(node, transport, peer, monotonic)
    if direction in ("both", "push"):
        push(session)
    if direction in ("both", "pull") and not session.summary.error:
        pull(session)
    return session.summary
