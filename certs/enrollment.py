"""One-time pairing: how a node gets its certificate without anyone copying files around.

Flow
----
1. District operator: ``motcua ca pair --role commune --unit 26734 --name "…"`` creates a
   pairing code such as ``7KQ4-M2XD`` (8 characters of Crockford base32: no I, L, O or U, and
   typing ``O``/``I``/``L`` is read as ``0``/``1``/``1``; 40 bits), bound to that role, unit and
   name, valid for :data:`DEFAULT_VALIDITY`. The code is read to the commune by phone or on paper.
2. Node: :func:`build_enrollment_request` derives ``code_key = scrypt(code)`` and sends its
   public key, its node id, ``proof = HMAC-SHA256(code_key, public key ‖ node id)`` and an
   Ed25519 signature over the proof (possession of the private key). The code never travels.
3. District: :meth:`PairingStore.redeem` finds the pending code whose key reproduces the proof,
   checks it is unexpired and unused, issues the certificate with the role/unit/name *the
   district bound to the code* (the node cannot choose them), records it, and marks the code
   used — all under the ledger lock, so a second redeem fails with "code already used".

Invariants
----------
* ``pairing.json`` holds ``code_key`` (scrypt output), never the code. Scrypt makes each guess
  cost ~16 MiB and tens of milliseconds, so neither an eavesdropped request nor a copied
  ledger lets anyone enumerate the 2^40 codes. (It is not a PAKE: send requests over TLS
  pinned to the CA fingerprint, and rate-limit the endpoint.)
* A code is redeemed at most once, and only before its expiry (``now`` passed in).
* The certificate is recorded in the :class:`~certs.registry.Registry` before the code is
  marked used: a crash in between leaves a harmless spare certificate, never a used code with
  no record of what it produced.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certs.ca import DistrictCA, issue_node_certificate
from certs.errors import EnrollmentFailure, EnrollmentRefused, PkiError
from certs.identity import Role, check_binding, require_utc
from certs.keys import raw_public_key
from certs.registry import Registry
from certs.storage import exclusive_lock, lock_path_for, read_json, write_json
from sync.wire import node_id_from_public_key

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base32
CODE_LENGTH = 8
DEFAULT_VALIDITY = timedelta(hours=72)
LEDGER_FORMAT = 1
_KDF_SALT = b"motcua/pairing-code/v1"
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
_PROOF_PREFIX = b"motcua/enroll/v1\x00"
_POSSESSION_PREFIX = b"motcua/enroll-possession/v1\x00"
_TYPO_MAP = str.maketrans({"O": "0", "I": "1", "L": "1", "-": None, " ": None})


def new_pairing_code(randbelow: Callable[[int], int] = secrets.randbelow) -> str:
    """A fresh code in display form ``XXXX-XXXX``."""
    chars = "".join(ALPHABET[randbelow(len(ALPHABET))] for _ in range(CODE_LENGTH))
    return f"{chars[:4]}-{chars[4:]}"


def normalise_code(text: str) -> str:
    """Canonical form of a typed code (upper case, no separators, O→0, I/L→1); ``ValueError`` if invalid."""
    code = text.strip().upper().translate(_TYPO_MAP)
    if len(code) != CODE_LENGTH or any(c not in ALPHABET for c in code):
        raise ValueError(f"a pairing code is {CODE_LENGTH} characters like 7KQ4-M2XD")
    return code


def code_key(code: str) -> bytes:
    """The key both sides derive from a code (scrypt; the ledger stores this, not the code)."""
    return hashlib.scrypt(
        normalise_code(code).encode("ascii"), salt=_KDF_SALT, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32
    )


def _proof(key: bytes, public_key: bytes, node_id: str) -> bytes:
    return hmac.new(key, _PROOF_PREFIX + public_key + node_id.encode("ascii"), hashlib.sha256).digest()


@dataclass(frozen=True)
class EnrollmentRequest:
    """What a node sends to redeem a pairing code (see the module docstring)."""

    public_key: bytes
    node_id: str
    proof: bytes
    signature: bytes

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "public_key": self.public_key.hex(),
            "node_id": self.node_id,
            "proof": self.proof.hex(),
            "signature": self.signature.hex(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> EnrollmentRequest:
        """Parse the wire form; raise ``EnrollmentRefused(BAD_REQUEST)`` if malformed."""
        try:
            if d["v"] != 1 or set(d) != {"v", "public_key", "node_id", "proof", "signature"}:
                raise ValueError("unexpected fields or version")
            return cls(
                bytes.fromhex(d["public_key"]),
                str(d["node_id"]),
                bytes.fromhex(d["proof"]),
                bytes.fromhex(d["signature"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise EnrollmentRefused(EnrollmentFailure.BAD_REQUEST, f"malformed enrollment request: {e}") from e


def build_enrollment_request(key: Ed25519PrivateKey, code: str) -> EnrollmentRequest:
    """Node side: prove knowledge of ``code`` for ``key`` without sending the code."""
    public_key = raw_public_key(key)
    node_id = node_id_from_public_key(public_key)
    proof = _proof(code_key(code), public_key, node_id)
    return EnrollmentRequest(public_key, node_id, proof, key.sign(_POSSESSION_PREFIX + public_key + proof))


def check_request(request: EnrollmentRequest) -> None:
    """Raise ``EnrollmentRefused(BAD_REQUEST)`` unless id, key and possession signature agree."""
    if len(request.public_key) != 32 or node_id_from_public_key(request.public_key) != request.node_id:
        raise EnrollmentRefused(EnrollmentFailure.BAD_REQUEST, "node id is not the id of the public key")
    try:
        Ed25519PublicKey.from_public_bytes(request.public_key).verify(
            request.signature, _POSSESSION_PREFIX + request.public_key + request.proof
        )
    except (InvalidSignature, ValueError) as e:
        raise EnrollmentRefused(EnrollmentFailure.BAD_REQUEST, "request is not signed by its key") from e


@dataclass(frozen=True)
class PairingCode:
    """A ledger entry (never the code itself)."""

    id: str
    role: Role
    unit: str
    name: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None = None
    node_id: str | None = None
    serial: int | None = None

    @classmethod
    def from_entry(cls, e: Mapping[str, Any]) -> PairingCode:
        parse = datetime.fromisoformat
        return cls(
            e["id"],
            Role(e["role"]),
            e["unit"],
            e["name"],
            parse(e["created_at"]),
            parse(e["expires_at"]),
            parse(e["used_at"]) if e["used_at"] else None,
            e["node_id"],
            int(e["serial"], 16) if e["serial"] else None,
        )


def _matching_entry(entries: list[dict[str, Any]], request: EnrollmentRequest) -> dict[str, Any] | None:
    """The ledger entry whose code key reproduces the request's proof (constant-time compare)."""
    for entry in entries:
        expected = _proof(bytes.fromhex(entry["key"]), request.public_key, request.node_id)
        if hmac.compare_digest(expected, request.proof):
            return entry
    return None


class PairingStore:
    """The pairing-code ledger at ``path`` (``pairing.json`` of a CA directory)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = lock_path_for(path)

    def _read(self) -> dict[str, Any]:
        doc = read_json(self.path, {"v": LEDGER_FORMAT, "codes": []})
        if not isinstance(doc, dict) or doc.get("v") != LEDGER_FORMAT:
            raise PkiError(f"{self.path} has an unknown format")
        return doc

    def codes(self) -> list[PairingCode]:
        return [PairingCode.from_entry(e) for e in self._read()["codes"]]

    def create(
        self,
        *,
        role: Role | str,
        unit: str,
        name: str,
        now: datetime,
        valid_for: timedelta = DEFAULT_VALIDITY,
        randbelow: Callable[[int], int] = secrets.randbelow,
    ) -> tuple[str, PairingCode]:
        """Create a code bound to role/unit/name; return it (shown once) and its ledger entry."""
        now = require_utc(now)
        role, name = check_binding(role, unit, name)
        code = new_pairing_code(randbelow)
        entry = {
            "id": secrets.token_hex(4),
            "key": code_key(code).hex(),
            "role": role.value,
            "unit": unit,
            "name": name,
            "created_at": now.isoformat(),
            "expires_at": (now + valid_for).isoformat(),
            "used_at": None,
            "node_id": None,
            "serial": None,
        }
        with exclusive_lock(self._lock):
            doc = self._read()
            doc["codes"].append(entry)
            write_json(self.path, doc)
        return code, PairingCode.from_entry(entry)

    def redeem(
        self, request: EnrollmentRequest, *, ca: DistrictCA, registry: Registry, now: datetime, lifetime: timedelta
    ) -> x509.Certificate:
        """Check the proof against the ledger, issue and record the certificate, burn the code.

        :raises EnrollmentRefused: ``BAD_REQUEST``, ``WRONG_CODE``, ``ALREADY_USED`` or ``EXPIRED``.
        """
        now = require_utc(now)
        check_request(request)
        with exclusive_lock(self._lock):
            doc = self._read()
            entry = _matching_entry(doc["codes"], request)
            if entry is None:
                raise EnrollmentRefused(EnrollmentFailure.WRONG_CODE, "unknown or mistyped pairing code")
            if entry["used_at"] is not None:
                raise EnrollmentRefused(EnrollmentFailure.ALREADY_USED, "code already used")
            if now > datetime.fromisoformat(entry["expires_at"]):
                raise EnrollmentRefused(EnrollmentFailure.EXPIRED, "pairing code expired; ask for a new one")
            cert = issue_node_certificate(
                request.public_key,
                node_id=request.node_id,
                role=entry["role"],
                unit=entry["unit"],
                name=entry["name"],
                ca=ca,
                now=now,
                lifetime=lifetime,
            )
            registry.record_issued(cert)
            entry.update(used_at=now.isoformat(), node_id=request.node_id, serial=f"{cert.serial_number:X}")
            write_json(self.path, doc)
        return cert


_RESPONSE_PREFIX = b"motcua/enroll-response/v1\x00"


def response_mac(key: bytes, ca_pem: bytes, cert_pem: bytes) -> bytes:
    """MAC of an enrollment answer, keyed by the pairing code's key.

    The node has no trust anchor yet when it enrolls; only the district and the person who
    typed the code know the code, so an answer carrying this MAC comes from the district.
    """
    return hmac.new(key, _RESPONSE_PREFIX + ca_pem + b"\x00" + cert_pem, hashlib.sha256).digest()


def key_used_by(store: PairingStore, node_id: str) -> bytes:
    """The code key that enrolled ``node_id`` (district side, to MAC the answer)."""
    for entry in store._read()["codes"]:
        if entry.get("node_id") == node_id and entry.get("used_at"):
            return bytes.fromhex(entry["key"])
    raise EnrollmentRefused(EnrollmentFailure.WRONG_CODE, "no code was used by this node")
