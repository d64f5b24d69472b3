"""Who may take part in sync, and what of theirs is still valid (revocation).

:class:`Trust` is the seam between the generic engine and the certificates of a district CA
(``node/trust.py`` implements it with ``certs``). The engine asks it to *admit* every profile it
is shown (a caller, a relayed origin, a peer answering), and how far an origin's feed is still
valid. The sync endpoint also asks it, before the body is read, whose key must have signed a
request (:meth:`Trust.identify`: from what the headers and this node's ledger say, never from
the body) and, once that signature holds, whether the signer may sync (:meth:`Trust.vouch`).

:class:`OpenTrust` is the mode of a node that holds no CA certificate. It is *closed* by
default: it admits only nodes it already knows (a profile in its ledger, as first recorded:
whatever a profile now claims, its role and unit stay what they were), so a fresh district
never trusts a stranger calling itself a district. Only the development switch
(``DEV_OPEN_TRUST``) opens it: then any self-signed profile is admitted and remembered on
first use, on each end that has the switch (``motcua doctor`` and the web UI say so loudly).

Revocation is data: a district's ``trust.node_revoked`` event ("node X revoked after its seq N
in unit U") replicates like any event and is kept in the store's revocations by :func:`apply_revocations`.
Every node enforces what it holds, connected or not: later events of X are refused at ingest,
never forwarded, ignored by derived state, and X's requests are refused; X's work up to N stays.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from sync.chain import SignatureVerifier
from sync.eventstore import Ledger
from sync.ledger import KnownIds
from sync.protocol import Code, Profile, ProtocolError
from sync.wire import SHARED_SCOPE, Event, node_id_from_public_key

REVOKED = "trust.node_revoked"


class Trust(Protocol):
    enforced: bool

    def admit(self, profile: Profile) -> Profile:
        """The profile as this node trusts it (role/unit from a certificate), or raise."""

    def revoked_after(self, origin: str, scope: str) -> int | None:
        """Last valid seq of a revoked origin's feed, or None if it is not revoked."""

    def check_caller(self, profile: Profile) -> Profile:
        """Admit a caller of the sync endpoint: a valid, unrevoked identity."""

    def identify(self, node_id: str, cert: bytes, key: bytes) -> Profile:
        """Whose key must have signed a request from ``node_id``, from the ledger or the
        introduction headers (``cert``: DER certificate, ``key``: raw public key); cheap, never
        reads the body. Raises ``unknown_node`` when an introduction would help, ``untrusted``
        when nothing would."""

    def vouch(self, identified: Profile) -> Profile:
        """After the request signature verified with ``identified``'s key: may it sync?"""

    def known(self, node_id: str) -> Profile | None:
        """The profile this node holds of ``node_id``, if any (cheap for unknown ids)."""

    def is_known(self, node_id: str) -> bool:
        """Whether this node holds a profile of ``node_id``, from memory (no database query)."""


STRANGER_HINT = ("enroll both nodes with the district CA (motcua ca init / ca pair / enroll); for development "
                 "only, set DEV_OPEN_TRUST on both")


class OpenTrust:
    """No CA: known profiles only, or (development switch) self-signed profiles on first use."""

    enforced = False

    def __init__(self, verify_signature: SignatureVerifier, store: Ledger, open_to_strangers: bool = False) -> None:
        self.verify_signature = verify_signature
        self.store = store
        self.open_to_strangers = open_to_strangers
        self.known_ids = KnownIds(store)

    def is_known(self, node_id: str) -> bool:
        return node_id in self.known_ids

    def known(self, node_id: str) -> Profile | None:
        """The profile held of ``node_id``; no database query for an id nobody here knows."""
        if node_id not in self.known_ids:
            return None
        return self.store.load_profiles([node_id]).get(node_id)

    def self_signed(self, profile: Profile) -> Profile:
        try:
            self.verify_signature(profile.public_key, profile.statement(), profile.signature)
        except Exception as e:
            raise ProtocolError(Code.BAD_PROFILE, f"profile of {profile.node_id} is not signed by its key") from e
        return profile

    def admit(self, profile: Profile) -> Profile:
        self.self_signed(profile)
        if self.open_to_strangers:
            return profile
        known = self.known(profile.node_id)
        if known is None:
            raise ProtocolError(Code.UNTRUSTED, f"node {profile.node_id} is not known here and this node has no "
                                f"district CA: {STRANGER_HINT}")
        return known  # what we knew it as, not what it claims today

    def revoked_after(self, origin: str, scope: str) -> int | None:
        return revoked_after(self.store, origin, scope)

    def check_caller(self, profile: Profile) -> Profile:
        admitted = self.admit(profile)
        refuse_if_revoked(self.store, admitted.node_id)
        return admitted

    def identify(self, node_id: str, cert: bytes, key: bytes) -> Profile:
        known = self.known(node_id)
        if known is not None:
            return known
        if not self.open_to_strangers:
            raise ProtocolError(Code.UNTRUSTED, f"node {node_id} is not known here and this node has no district "
                                f"CA: {STRANGER_HINT}")
        if not key:
            raise ProtocolError(Code.UNKNOWN_NODE, f"node {node_id} is not known here; introduce yourself "
                                "(X-Motcua-Key and your profile)")
        if node_id_from_public_key(key) != node_id:
            raise ProtocolError(Code.UNAUTHENTICATED, "X-Motcua-Key does not hash to X-Motcua-Node")
        # Provisional: trusted on first use once the body's self-signed profile checks out.
        return Profile(node_id, key, "", "", "")

    def vouch(self, identified: Profile) -> Profile:
        refuse_if_revoked(self.store, identified.node_id)
        return identified


def revoked_after(store: Ledger, origin: str, scope: str) -> int | None:
    after = store.revocation(origin)
    if after is None:
        return None
    return int(after.get(scope, 0))


def refuse_if_revoked(store: Ledger, node_id: str) -> None:
    if store.revocation(node_id) is not None:
        raise ProtocolError(Code.REVOKED, f"node {node_id} has been revoked by the district")


def apply_revocations(store: Ledger, events: Iterable[Event], role_of: dict[str, str]) -> list[str]:
    """Record the revocations among ``events`` made by district origins; return revoked ids.

    ``role_of`` maps origin -> role as admitted (certified when a CA is in force). A revocation
    from anyone else is ignored: only a district may revoke.
    """
    revoked = []
    for e in events:
        if e.type != REVOKED or e.scope != SHARED_SCOPE or role_of.get(e.origin) != "district":
            continue
        node_id, after = e.body.get("node_id"), e.body.get("after")
        if not isinstance(node_id, str) or not isinstance(after, dict):
            continue
        if not all(isinstance(k, str) and type(v) is int and v >= 0 for k, v in after.items()):
            continue
        old = store.revocation(node_id)
        if old is not None:
            # a later notice can only tighten: the smallest valid seq per unit wins
            after = {k: min(v, old.get(k, v)) for k, v in {**old, **after}.items()}
        store.put_revocation(node_id, after, str(e.body.get("reason", ""))[:60], e.at, e.ref)
        revoked.append(node_id)
    return revoked
