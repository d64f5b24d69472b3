"""The check code printed on a receipt for the public status lookup, and the node's provisional
code name; both derived from a node secret (pure core: stdlib only, the secret is passed in).

Why a check code
----------------
Dossier codes are sequential by design (``<agency>-<yyMMdd>-<nnnn>``, domain.md §3.1), so
anyone can list every code of a day. The public lookup (``/tra-cuu``) therefore also asks for
the check code printed on the citizen's receipt: :data:`LENGTH` characters of
:data:`ALPHABET`, 30 bits. A guess finds a dossier with probability 2**-30 whatever code it
names, so with the lookup's per-address limit (:mod:`web.public`: one miss a minute after a
burst) one address needs on the order of two thousand years, and ten thousand addresses
months, for a single hit, which reveals one dossier's status and appointment, nothing personal.

Where it is derived, and why it verifies on every replica
---------------------------------------------------------
A citizen may look up at any node serving ``/tra-cuu``: the commune desk, another commune's
kiosk after a transfer, or the district hub. The code is computed once, at reception, by the
node that receives the dossier: ``HMAC-SHA256(node secret, dossier id)`` (:func:`check_code`),
and recorded in the signed ``dossier.received`` event (``lookup_check``). Every replica that
holds the dossier holds that event, so it verifies by comparison, with no secret of its own.
The alternative, a secret every replica shares, would have to be distributed to every commune
PC and laptop, and one stolen laptop would then let a thief compute the codes of the whole
district; here a thief learns only the codes of dossiers already on the laptop, whose events
carry them anyway. The secret stays on its node (derived from the node key, never stored).
It is derived, not drawn at random, so the receiving node can print it again for a dossier
received before the code was recorded.

Provisional codes
-----------------
``TAM-<node>-<yyMMdd>-<n>`` used to name the node by the first characters of its id, which is
public (``/healthz``, every synced event): :func:`provisional_node_name` derives the name from
the node secret instead, so neither the name nor a node's codes follow from its id.
"""

from __future__ import annotations

import hashlib
import hmac

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32: no I, L, O, U to misread
LENGTH = 6
PROVISIONAL_NAME_LENGTH = 8
_CHECK_LABEL = b"motcua/lookup-check/v1\x00"
_PROVISIONAL_LABEL = b"motcua/provisional-node/v1\x00"
_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def _base32(digest: bytes, length: int) -> str:
    number = int.from_bytes(digest[:8], "big")
    out = []
    for _ in range(length):
        number, r = divmod(number, 32)
        out.append(ALPHABET[r])
    return "".join(out)


def check_code(secret: bytes, dossier_id: str) -> str:
    """The check code of ``dossier_id`` under ``secret`` (:data:`LENGTH` characters)."""
    digest = hmac.new(secret, _CHECK_LABEL + dossier_id.encode("utf-8"), hashlib.sha256).digest()
    return _base32(digest, LENGTH)


def normalise(text: str) -> str:
    """What a citizen typed, as a code: upper case, no spaces or dashes, misread letters fixed."""
    return "".join(c for c in text.upper() if c not in " -\t").translate(_READ_AS)[: LENGTH * 2]


def matches(expected: str, given: str) -> bool:
    """True when ``given`` is the check code ``expected`` (constant time; empty never matches)."""
    if not expected or not given:
        return False
    return hmac.compare_digest(normalise(expected).encode(), normalise(given).encode())


def display(code: str) -> str:
    """The printed form, in two groups of three (``K7Q-M2X``)."""
    half = len(code) // 2
    return f"{code[:half]}-{code[half:]}" if code else ""


def provisional_node_name(secret: bytes) -> str:
    """The node's name inside its provisional codes (upper-case letters and digits)."""
    digest = hmac.new(secret, _PROVISIONAL_LABEL, hashlib.sha256).digest()
    return _base32(digest, PROVISIONAL_NAME_LENGTH)
