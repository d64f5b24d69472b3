"""Fixtures for the certs tests: a district CA, a second (foreign) CA, and one enrolled node."""

from __future__ import annotations

import pytest

from certs.ca import DistrictCA, create_ca
from tests.unit.certs.pki import CA_LIFETIME, NOW, Node, make_node


@pytest.fixture(scope="session")
def district_ca() -> DistrictCA:
    return create_ca("760", now=NOW, lifetime=CA_LIFETIME)


@pytest.fixture(scope="session")
def foreign_ca() -> DistrictCA:
    return create_ca("761", now=NOW, lifetime=CA_LIFETIME)


@pytest.fixture(scope="session")
def node(district_ca: DistrictCA) -> Node:
    return make_node(district_ca)
