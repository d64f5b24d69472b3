"""Exceptions of the ``certs`` package: one small tree, organised by what the caller can do.

* :class:`CertificateRejected` — a peer's certificate (or a CRL) must be refused; log the
  :class:`Reason` and close the connection. Never retried with the same input.
* :class:`EnrollmentRefused` — a pairing request cannot be honoured; tell the operator why
  (the pairing code is wrong, expired or already used).
* :class:`KeyFileError` — a key file is missing, unreadable, encrypted without a passphrase,
  or readable by other local users; the operator fixes the file.
* :class:`PkiError` — a CA directory or its ledgers are missing or inconsistent.

All derive from :class:`CertsError`, so the CLI can report every one of them the same way.
"""

from __future__ import annotations

import enum


class CertsError(Exception):
    """Base of every error raised on purpose by ``certs``."""


class Reason(enum.Enum):
    """Why a certificate was refused (stable values: they are logged and counted)."""

    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    UNTRUSTED = "untrusted"
    WRONG_USAGE = "wrong_usage"
    MALFORMED = "malformed"
    ID_MISMATCH = "id_mismatch"


class CertificateRejected(CertsError):
    """Raised when a certificate or CRL fails verification; ``reason`` says which rule failed."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class EnrollmentFailure(enum.Enum):
    """Why a pairing request was refused."""

    WRONG_CODE = "wrong_code"  # no pending code matches the proof (unknown or mistyped)
    EXPIRED = "expired"
    ALREADY_USED = "already_used"
    BAD_REQUEST = "bad_request"  # malformed request, or node id / key / signature inconsistent


class EnrollmentRefused(CertsError):
    """Raised when a pairing code cannot be redeemed; ``failure`` says why."""

    def __init__(self, failure: EnrollmentFailure, detail: str) -> None:
        super().__init__(detail)
        self.failure = failure
        self.detail = detail


class KeyFileError(CertsError):
    """Raised when a private key file cannot be written or loaded safely."""


class PkiError(CertsError):
    """Raised when a CA directory or one of its ledgers is missing, malformed or inconsistent."""
