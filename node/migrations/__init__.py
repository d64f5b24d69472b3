"""Schema migrations, in order. Each module exposes ``apply(db)``; never edit a released one.

Migration 1 creates the tables from the models as they stand at the first release; every later
schema change is a new module using ``playhouse.migrate`` so existing nodes upgrade in place.
"""

from __future__ import annotations

from collections.abc import Callable

import peewee as pw

from node.migrations import (
    m0001_initial,
    m0002_node_state,
    m0003_conflicts,
    m0004_reference_codes,
    m0005_accounts,
    m0006_trust,
    m0007_api_tokens,
    m0008_authority,
    m0009_idempotency,
    m0010_calendar_review,
    m0012_dossier_service,
    m0016_search_and_codes,
    m0017_attachments,
    m0018_bundles,
)

MIGRATIONS: tuple[tuple[int, str, Callable[[pw.Database], None]], ...] = (
    (1, "initial", m0001_initial.apply),
    (2, "node_state", m0002_node_state.apply),
    (3, "conflicts", m0003_conflicts.apply),
    (4, "reference_codes", m0004_reference_codes.apply),
    (6, "trust", m0006_trust.apply),
    (5, "accounts", m0005_accounts.apply),
    (7, "api_tokens", m0007_api_tokens.apply),
    (8, "authority", m0008_authority.apply),
    (9, "idempotency", m0009_idempotency.apply),
    (10, "calendar_review", m0010_calendar_review.apply),
    (12, "dossier_service", m0012_dossier_service.apply),
    (16, "search_and_codes", m0016_search_and_codes.apply),
    (17, "attachments", m0017_attachments.apply),
    (18, "bundles", m0018_bundles.apply),
)
