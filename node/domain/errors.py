"""Domain errors: the staff member (or the API caller) can fix the input and try again."""

from __future__ import annotations


class DomainError(ValueError):
    """A domain rule refused the request; ``field`` names the input at fault when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidTransition(DomainError):
    """Raised when a status change is not allowed from the dossier's current status."""


class DossierNotFound(DomainError):
    """Raised when no dossier has the given id or code on this node."""
