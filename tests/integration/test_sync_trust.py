"""Certificates at the sync endpoint of a district that holds a CA: only its certified nodes
read or write; roles and units come from certificates; revoked nodes are refused; certificate
checks survive a PC clock that is years behind (trusted-time floor)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from certs import create_ca, issue_node_certificate
from certs.identity import certificate_der
from node.app import create_app
from node.db import open_database
from node.enrollment import init_ca, load_district_ca, revoke
from node.services import Node
from sync.store import EventRow
from tests.factories import init_node_dir, make_settings
from tests.sync_helpers import (
    encode_wire,
    make_client,
    make_request,
    make_run,
    post_body,
    post_exchange,
    server_now,
    signed_headers,
    stored_state,
)

UNIT = "17272"


@pytest.fixture
def district(tmp_path, clock):
    data_dir = tmp_path / "district"
    key = init_node_dir(data_dir, role="district", unit="40")
    settings = make_settings(data_dir, role="district", unit="40")
    node = Node(settings, open_database(settings), key, clock)
    init_ca(node)
    yield node
    node.close()


@pytest.fixture
def server(district):
    return create_app(district.settings, node=district).test_client()


def certify(client, authority, clock, role="commune", unit=UNIT, days=365):
    now = datetime.fromtimestamp(clock() / 1000, UTC)
    cert = issue_node_certificate(client.key.public_key, node_id=client.node_id, role=role, unit=unit,
                                  name=f"{role} {unit}", ca=authority, now=now, lifetime=timedelta(days=days))
    return replace(client, profile=replace(client.profile, cert=certificate_der(cert)))


def test_a_certified_commune_writes_and_reads(server, district, clock):
    commune = certify(make_client("commune", UNIT), load_district_ca(district), clock)
    status, answer = post_exchange(server, commune, make_request(commune, [make_run(commune, UNIT, 1, 2)]))
    assert status == 200 and "error" not in answer, answer
    assert answer["vector"][f"{commune.node_id}:{UNIT}"] == 2


def test_a_stored_certified_profile_is_admitted_again_when_relayed(server, district, clock):
    """Name, role and unit stored are the certificate's, not what the node signed of itself (here
    its name differs): relaying or reloading that profile must still admit it."""
    commune = certify(make_client("commune", UNIT, name="tên tự đặt"), load_district_ca(district), clock)
    assert post_exchange(server, commune, make_request(commune, [make_run(commune, UNIT, 1, 1)]))[0] == 200
    stored = district.store.load_profiles([commune.node_id])[commune.node_id]
    assert stored.name == f"commune {UNIT}"  # from the certificate
    assert district.trust.admit(stored).name == f"commune {UNIT}"
    body = encode_wire(make_request(commune, [], profiles=[stored], vector={f"{commune.node_id}:{UNIT}": 1}).to_wire())
    status, answer = post_body(server, body, signed_headers(commune, body, server_now(server), introduce=False))
    assert status == 200 and "error" not in answer, answer


@pytest.mark.parametrize("how", ["no certificate", "another CA", "expired"])
def test_uncertified_callers_can_neither_write_nor_read(server, district, clock, how):
    commune = make_client("commune", UNIT)
    if how == "another CA":
        now = datetime.fromtimestamp(clock() / 1000, UTC)
        commune = certify(commune, create_ca("41", now=now, lifetime=timedelta(days=3650)), clock)
    elif how == "expired":
        commune = certify(commune, load_district_ca(district), clock, days=30)
        clock.advance(60 * 24 * 3600 * 1000)
    # something to read, written by the district itself in the commune's unit
    district.create_dossier("hub", {"procedure": {"code": "1.001193"}, "applicant": {"name": "Bí Mật"}})
    before = stored_state()
    status, answer = post_exchange(server, commune, make_request(commune, [make_run(commune, UNIT, 1, 2)]))
    assert status == 403 and answer["error"]["code"] == "untrusted", answer
    assert "pull" not in answer and stored_state() == before


def test_role_and_unit_come_from_the_certificate_not_the_profile(server, district, clock):
    liar = make_client("district", "40")  # claims to be a district, which may write any unit
    liar = certify(liar, load_district_ca(district), clock, role="commune", unit=UNIT)
    status, answer = post_exchange(server, liar, make_request(liar, [make_run(liar, "17275", 1, 1)]))
    assert status == 200 and answer["error"]["code"] == "scope_denied", answer


def test_a_revoked_node_is_refused_and_its_earlier_events_stay(server, district, clock):
    mobile = certify(make_client("mobile", UNIT), load_district_ca(district), clock, role="mobile")
    status, _ = post_exchange(server, mobile, make_request(mobile, [make_run(mobile, UNIT, 1, 3)]))
    assert status == 200
    revoke(district, mobile.node_id, "admin", "key_compromise")
    from tests.sync_helpers import run_last_hash

    first = make_run(mobile, UNIT, 1, 3)
    later = make_run(mobile, UNIT, 4, 2, run_last_hash(first))
    status, answer = post_exchange(server, mobile, make_request(mobile, [later]))
    assert status == 403 and answer["error"]["code"] == "revoked", answer
    assert EventRow.select().where(EventRow.origin == mobile.node_id).count() == 3


def test_certificates_check_out_on_a_pc_whose_clock_is_ten_years_behind(district, clock):
    commune = certify(make_client("commune", UNIT), load_district_ca(district), clock)
    district.create_dossier("hub", {"procedure": {"code": "1.001193"}, "applicant": {"name": "A"}})
    clock.advance(-10 * 365 * 24 * 3600 * 1000)  # the CMOS battery died
    assert district.trust.admit(commune.profile).role == "commune"  # the floor says "not before today"
    from sync.store import EventRow as Rows

    Rows.delete().execute()  # without any district-stamped time held, the same check fails
    from sync.protocol import ProtocolError

    with pytest.raises(ProtocolError, match=r"not yet valid|untrusted|refused"):
        district.trust.admit(commune.profile)
