"""An in-process link for file exchanges: the caller's frames reach the peer's
:func:`node.filesync.serve` directly (authentication is the HTTP route's, tested through it), with
answers signed like the route signs them, a simulated bandwidth and cuts where the test says."""

from __future__ import annotations

import hashlib
import random

from node import fileserve
from sync.exchange import Reply
from sync.transport import TransportError
from tests.multinode import use


class SimClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CuttingLink:
    """``cuts`` random cuts: half before the peer sees the request, half after it applied it (the
    answer is lost). ``bytes_per_s`` advances ``clock`` as a slow link would."""

    def __init__(self, caller, peer, *, cuts: int = 0, seed: int = 17, every: float = 0.3,
                 bytes_per_s: float = 12_500.0) -> None:
        self.caller, self.peer = caller, peer
        self.rnd = random.Random(seed)
        self.cuts_left, self.every, self.bytes_per_s = cuts, every, bytes_per_s
        self.cuts = 0
        self.clock = SimClock()
        self.bytes_out = self.bytes_in = self.calls = 0

    def call(self, path: str, body: bytes, content_type: str) -> Reply:
        self.calls += 1
        self.bytes_out += len(body)
        self.clock.now += 0.3 + len(body) / self.bytes_per_s
        cut = self.cuts_left > 0 and self.rnd.random() < self.every
        if cut:
            self.cuts_left -= 1
            self.cuts += 1
            if self.rnd.random() < 0.5:
                use(self.caller)
                raise TransportError("cut before the peer read the request")
        use(self.peer)
        try:
            answer = fileserve.serve(self.peer, self.caller.profile, body)
            nonce = f"n{self.calls:020d}"
            signature = fileserve.sign_answer(self.peer, nonce, answer)
        finally:
            use(self.caller)
        if cut:
            raise TransportError("cut after the peer applied the request")
        self.bytes_in += len(answer)
        self.clock.now += len(answer) / self.bytes_per_s
        return Reply({}, len(body), len(answer), 200, nonce, self.peer.node_id, signature,
                     hashlib.sha256(answer).digest(), answer)
