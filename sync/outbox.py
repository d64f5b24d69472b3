"""Choosing what a peer lacks and cutting it into runs under a byte budget.

Invariants
----------
* A run always ends at a seq the origin signed. For this node's own feeds any seq will do (we
  sign the head on demand); for relayed feeds the cut falls on a head signature we received,
  so a relay never needs the origin's key. If the first signed seq lies past the budget, the run
  runs over the budget to it rather than stall: progress beats a strict bound.
* Feeds are visited in a fixed order (own feeds first, then by key), so two builds from the same
  state produce the same batches: a retried exchange resends the same bytes.
* The budget counts the stored canonical bytes, an upper bound of the compact wire form.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sync.eventstore import FeedHead, Store
from sync.protocol import Profile, Run, StoredCompact, Vector, feed_key


@dataclass
class Outgoing:
    runs: list[Run]
    profiles: list[Profile]
    more: bool
    events: int


def local_vector(store: Store, holdable: Callable[[str], bool] | None = None) -> Vector:
    return {
        feed_key(h.origin, h.scope): h.seq
        for h in store.feeds()
        if holdable is None or holdable(h.scope)
    }


def build_outgoing(
    store: Store,
    peer_vector: Vector,
    holdable: Callable[[str], bool],
    budget: int,
    own_origin: str,
    sign_own_head: Callable[[FeedHead], bytes],
    peer_knows: Callable[[str], bool],
    revoked_after: Callable[[str, str], int | None] = lambda origin, scope: None,
    revocations: Callable[[set[str]], dict[str, dict[str, int]]] | None = None,
) -> Outgoing:
    """Runs of the events ``peer_vector`` lacks, in scopes the peer may hold, within ``budget``.

    ``revocations`` (origins -> their cut-offs, one read) replaces ``revoked_after`` (one read
    per feed) when given: a relay of many feeds asks once.
    """
    heads = [h for h in store.feeds() if holdable(h.scope) and h.seq > peer_vector.get(feed_key(h.origin, h.scope), 0)]
    heads.sort(key=lambda h: (h.origin != own_origin, h.origin, h.scope))
    if revocations is not None:
        cutoffs = revocations({h.origin for h in heads})

        def revoked_after(origin: str, scope: str) -> int | None:
            after = cutoffs.get(origin)
            return None if after is None else int(after.get(scope, 0))

    runs: list[Run] = []
    used, more, count = 0, False, 0
    for head in heads:
        if used >= budget:
            more = True
            break
        start = peer_vector.get(feed_key(head.origin, head.scope), 0) + 1
        own = head.origin == own_origin
        signed = [] if own else store.signed_seqs(head.origin, head.scope, start - 1)
        limit = revoked_after(head.origin, head.scope)
        if limit is not None:
            # a revoked origin's events after its cut-off are never forwarded
            signed = [s for s in signed if s <= limit]
            if start > limit:
                continue
        if not own and not signed:
            continue  # nothing signed to forward (a revoked feed may have no signature at its cut-off)
        events, hashes = [], []
        last_allowed = head.seq if own else signed[-1]
        if limit is not None:
            last_allowed = min(last_allowed, limit)
        for row in store.stored_feed(head.origin, head.scope, start):
            if row.seq > last_allowed:
                break
            raw = row.raw
            events.append(StoredCompact(raw))  # sent as stored: never parsed and encoded again
            hashes.append(row.hash)
            used += len(raw)
            if used >= budget and (own or row.seq in signed):
                break
        if not events:
            continue
        end = start + len(events) - 1
        if not own:
            # cut back to the last signed seq inside what we took (overshoot only if none)
            inside = [s for s in signed if s <= end]
            cut = inside[-1] if inside else signed[0]
            if cut < end:
                events, hashes = events[: cut - start + 1], hashes[: cut - start + 1]
                end = cut
        if own:
            signature = sign_own_head(FeedHead(head.origin, head.scope, end, hashes[-1]))
        else:
            kept = store.head_signature(head.origin, head.scope, end)
            if kept is None:  # cannot happen: ``end`` was chosen among the kept signatures
                raise LookupError(f"no signature kept for {head.origin}:{head.scope} at seq {end}")
            signature = kept
        runs.append(Run(head.origin, head.scope, start, store.hash_at(head.origin, head.scope, start - 1),
                        tuple(events), signature))
        count += len(events)
        if end < min(head.seq, limit if limit is not None else head.seq):
            more = True
    origins = {r.origin for r in runs if not peer_knows(r.origin)}
    return Outgoing(runs, list(store.load_profiles(origins).values()), more, count)
