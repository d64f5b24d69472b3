"""Shared by the scenarios: one district CA per test session, so that real nodes sync the way
production nodes do (certificates, https) without a pairing round trip each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest


@pytest.fixture(scope="session")
def district_ca():
    from certs import create_ca

    return create_ca("40", now=datetime.now(UTC) - timedelta(minutes=5), lifetime=timedelta(days=365))
