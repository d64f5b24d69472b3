"""certs/enrollment.py: one-time pairing codes work once, before expiry, with the right code."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest

from certs.ca import save_ca
from certs.enrollment import (
    EnrollmentRequest,
    PairingStore,
    build_enrollment_request,
    new_pairing_code,
    normalise_code,
)
from certs.errors import EnrollmentFailure, EnrollmentRefused
from certs.identity import Role
from certs.keys import generate_private_key, node_id_of
from certs.layout import CaLayout
from certs.registry import Registry
from certs.verify import verify_node_certificate
from tests.unit.certs.pki import NODE_LIFETIME, NOW

HOUR = timedelta(hours=1)


@pytest.fixture
def district(tmp_path, district_ca):
    layout = CaLayout(tmp_path / "ca")
    save_ca(district_ca, layout)
    return layout, PairingStore(layout.pairing), Registry(layout)


def redeem(district, request, ca, now=NOW):
    _, store, registry = district
    return store.redeem(request, ca=ca, registry=registry, now=now, lifetime=NODE_LIFETIME)


def refusal(district, request, ca, now=NOW) -> EnrollmentFailure:
    with pytest.raises(EnrollmentRefused) as e:
        redeem(district, request, ca, now)
    return e.value.failure


def test_code_shape_and_typo_tolerance():
    code = new_pairing_code()
    assert len(code) == 9 and code[4] == "-"
    assert normalise_code(code.lower()) == code.replace("-", "")
    assert normalise_code(" ol1i-ABCD ") == "0111ABCD"
    for bad in ("ABC", "ABCD-EFGH-J", "ABCD-EFGU", "ABCD-EF!H"):
        with pytest.raises(ValueError):
            normalise_code(bad)


def test_pairing_code_works_once(district, district_ca):
    _, store, registry = district
    code, entry = store.create(role="mobile", unit="26734", name="Laptop Tân Lập", now=NOW, valid_for=HOUR)
    key = generate_private_key()
    cert = redeem(district, build_enrollment_request(key, code.lower()), district_ca, NOW + timedelta(minutes=5))

    identity = verify_node_certificate(cert, district_ca.certificate, now=NOW + timedelta(minutes=5))
    assert (identity.node_id, identity.role, identity.unit, identity.name) == (
        node_id_of(key),
        Role.MOBILE,
        "26734",
        "Laptop Tân Lập",
    )
    assert [c.serial_number for c in registry.issued_to(node_id_of(key))] == [cert.serial_number]
    (used,) = store.codes()
    assert used.id == entry.id and used.node_id == node_id_of(key) and used.serial == cert.serial_number

    again = build_enrollment_request(key, code)
    with pytest.raises(EnrollmentRefused, match="code already used") as e:
        redeem(district, again, district_ca)
    assert e.value.failure is EnrollmentFailure.ALREADY_USED
    other_node = build_enrollment_request(generate_private_key(), code)
    assert refusal(district, other_node, district_ca) is EnrollmentFailure.ALREADY_USED


def test_expired_code_is_refused(district, district_ca):
    _, store, _ = district
    code, _ = store.create(role="commune", unit="26734", name="PC 1", now=NOW, valid_for=HOUR)
    request = build_enrollment_request(generate_private_key(), code)
    assert refusal(district, request, district_ca, NOW + HOUR + timedelta(seconds=1)) is EnrollmentFailure.EXPIRED
    assert store.codes()[0].used_at is None
    redeem(district, request, district_ca, NOW + HOUR)  # the last valid instant


def test_wrong_code_is_refused(district, district_ca):
    _, store, _ = district
    code, _ = store.create(role="commune", unit="26734", name="PC 1", now=NOW)
    wrong = "ZZZZ-ZZZZ" if code != "ZZZZ-ZZZZ" else "2222-2222"
    assert refusal(district, build_enrollment_request(generate_private_key(), wrong), district_ca) is (
        EnrollmentFailure.WRONG_CODE
    )
    assert store.codes()[0].used_at is None


def test_ledger_never_holds_the_code(district):
    layout, store, _ = district
    code, _ = store.create(role="commune", unit="26734", name="PC 1", now=NOW)
    text = layout.pairing.read_text()
    assert code not in text and code.replace("-", "") not in text
    assert layout.pairing.stat().st_mode & 0o777 == 0o600


def test_request_carries_no_code_and_round_trips(district):
    _, store, _ = district
    code, _ = store.create(role="commune", unit="26734", name="PC 1", now=NOW)
    request = build_enrollment_request(generate_private_key(), code)
    wire = json.dumps(request.to_dict())
    assert code.replace("-", "") not in wire.upper()
    assert EnrollmentRequest.from_dict(json.loads(wire)) == request


def test_tampered_requests_are_refused(district, district_ca):
    _, store, _ = district
    code, _ = store.create(role="commune", unit="26734", name="PC 1", now=NOW)
    good = build_enrollment_request(generate_private_key(), code)
    intruder_key = build_enrollment_request(generate_private_key(), "2222-2222").public_key
    swapped_key = EnrollmentRequest(intruder_key, good.node_id, good.proof, good.signature)
    assert refusal(district, swapped_key, district_ca) is EnrollmentFailure.BAD_REQUEST
    bad_signature = EnrollmentRequest(good.public_key, good.node_id, good.proof, bytes(64))
    assert refusal(district, bad_signature, district_ca) is EnrollmentFailure.BAD_REQUEST
    with pytest.raises(EnrollmentRefused) as e:
        EnrollmentRequest.from_dict({"v": 1, "public_key": "zz"})
    assert e.value.failure is EnrollmentFailure.BAD_REQUEST
    assert store.codes()[0].used_at is None


def test_concurrent_redeems_of_one_code_issue_one_certificate(district, district_ca):
    _, store, _ = district
    code, _ = store.create(role="commune", unit="26734", name="PC 1", now=NOW)
    requests = [build_enrollment_request(generate_private_key(), code) for _ in range(4)]
    outcomes: list[object] = []

    def attempt(request: EnrollmentRequest) -> None:
        try:
            outcomes.append(redeem(district, request, district_ca))
        except EnrollmentRefused as e:
            outcomes.append(e.failure)

    threads = [threading.Thread(target=attempt, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(outcomes) == 4
    assert outcomes.count(EnrollmentFailure.ALREADY_USED) == 3
