"""Reception on a running node: the procedure must be in the catalogue in force, a given ID number
must be well formed (the error names the precise reason), the appointment is computed on the
working calendar (periods in days from the day after receipt to the close of office hours, Civil
Code arts. 147-148; hours from the receipt; the 15:00 cut-off of same-day civil-status work; Tết
2026 and the 2026 swapped days), and the
dossier records the reference versions it was received under."""

from __future__ import annotations

from datetime import datetime

import pytest

from node.domain.errors import DomainError
from node.domain.vietnam_time import VIETNAM
from node.reference import units_version
from tests.factories import sample_dossier


def vn(y: int, m: int, d: int, hh: int, mm: int = 0) -> int:
    return int(datetime(y, m, d, hh, mm, tzinfo=VIETNAM).timestamp() * 1000)


# (received, procedure, processing time in the seed catalogue, expected appointment)
APPOINTMENTS = [
    # 16:00 on Friday 13 Feb 2026, the last working day before Tết (16-20 Feb off): the birth
    # registration is after its 15:00 cut-off (Luật Hộ tịch), so it is done Monday 23 Feb
    (vn(2026, 2, 13, 16), "1.001193", "same day", vn(2026, 2, 23, 17)),
    # periods in days: day 1 is the next working day, whatever the hour (Civil Code art. 147(2))
    (vn(2026, 2, 13, 16), "1.001022", "3 working days", vn(2026, 2, 25, 17)),
    (vn(2026, 2, 13, 16), "2.000200", "7 working days", vn(2026, 3, 3, 17)),
    # hours count from the receipt (art. 147(1)); residence work has no cut-off: 1 h Friday, 3 h Monday
    (vn(2026, 2, 13, 16), "cu-tru.xac-nhan-thong-tin-cu-tru", "4 working hours", vn(2026, 2, 23, 10, 30)),
    # the same Friday at 14:00, before the cut-off: the afternoon counts
    (vn(2026, 2, 13, 14), "1.001193", "same day", vn(2026, 2, 13, 17)),
    (vn(2026, 2, 13, 14), "1.001022", "3 working days", vn(2026, 2, 25, 17)),
    # exactly 15:00 is not after the cut-off
    (vn(2026, 2, 13, 15), "1.001193", "same day", vn(2026, 2, 13, 17)),
    # Friday 21 Aug 2026 after the cut-off: Saturday 22 Aug is a swapped working day
    (vn(2026, 8, 21, 16), "1.001193", "same day", vn(2026, 8, 22, 17)),
    # Friday 28 Aug 2026 after the cut-off: 31 Aug (swapped off), 1-2 Sep (National Day) are off
    (vn(2026, 8, 28, 16), "1.001022", "3 working days", vn(2026, 9, 7, 17)),
    # the 2026 New Year (Công văn 12729/VPCP-KGVX, a recorded decision: 1-4 Jan off, Friday 2 Jan
    # worked on Saturday 10 Jan): received Wed 31 Dec 2025, the working days are 5, 6, 7 Jan
    (vn(2025, 12, 31, 16), "1.001193", "same day", vn(2026, 1, 5, 17)),
    (vn(2025, 12, 31, 10), "1.001022", "3 working days", vn(2026, 1, 7, 17)),
    (vn(2026, 1, 9, 10), "2.000911", "2 working days", vn(2026, 1, 12, 17)),  # Sat 10 Jan is day 1
    # a Saturday morning reception (not a working day) counts from Monday's opening
    (vn(2026, 5, 16, 9), "1.001022", "3 working days", vn(2026, 5, 20, 17)),
    # lunch break: counting starts at 13:00; the 4 hours are that afternoon (8 hours to a day)
    (vn(2026, 5, 18, 12), "cu-tru.xac-nhan-thong-tin-cu-tru", "4 working hours", vn(2026, 5, 18, 17)),
]


@pytest.mark.parametrize(("received", "code", "duration", "expected"), APPOINTMENTS)
def test_the_appointment_is_computed_on_the_working_calendar(node, clock, received, code, duration, expected):
    clock.now = received
    state = node.create_dossier("canbo", sample_dossier(procedure={"code": code}))
    assert (state.received_at, state.due_at) == (received, expected), duration


def test_received_at_16h_on_the_friday_before_tet_2026(node, clock):
    """The issue's case, read through the API answer: due on Monday 23 Feb, after Tết."""
    clock.now = vn(2026, 2, 13, 16)
    state = node.create_dossier("canbo", sample_dossier())
    assert datetime.fromtimestamp(state.due_at / 1000, VIETNAM) == datetime(2026, 2, 23, 17, tzinfo=VIETNAM)
    (created,) = node.timeline(state.id)
    assert created["body"]["reference"]["calendar"].startswith("VN-2025-2028-holidays")


@pytest.mark.parametrize(
    ("id_number", "reason"),
    [
        ("04009000123", "12"),  # length
        ("04009000123a", "0-9"),  # not digits
        ("0400 9000 1234", "12"),  # spaces inside are a typo to show, not to strip
        ("999090001234", "999"),  # unknown birth-registration code
        ("040299001234", "2099"),  # born in 2099: a future year
    ],
)
def test_an_id_number_is_checked_with_the_precise_reason(node, id_number, reason):
    with pytest.raises(DomainError) as e:
        node.create_dossier("canbo", sample_dossier(id_number=id_number))
    assert e.value.field == "applicant.id_number" and reason in e.value.message
    assert node.list_dossiers()[1] == 0


@pytest.mark.parametrize("id_number", ["040090001234", "  040090001234 ", "", "101195004567"])
def test_valid_or_absent_id_numbers_are_accepted(node, id_number):
    state = node.create_dossier("canbo", sample_dossier(id_number=id_number))
    assert state.id_number == id_number.strip()


@pytest.mark.parametrize(
    ("given", "stored_code", "key"),
    [
        ("1.001193", "1.001193", "ho-tich.khai-sinh"),
        ("1.001193.000.00.00.H56", "1.001193", "ho-tich.khai-sinh"),  # the province's local code
        ("ho-tich.ket-hon", "1.000894", "ho-tich.ket-hon"),  # the catalogue key
        ("cu-tru.xac-nhan-thong-tin-cu-tru", "cu-tru.xac-nhan-thong-tin-cu-tru", "cu-tru.xac-nhan-thong-tin-cu-tru"),
    ],
)
def test_the_procedure_is_found_by_national_code_local_code_or_key(node, given, stored_code, key):
    state = node.create_dossier("canbo", sample_dossier(procedure={"code": given}))
    assert (state.procedure_code, state.procedure_key) == (stored_code, key)
    assert state.procedure_name  # the catalogue's name when the desk sends none
    assert state.catalogue_version == "seed-2026.1" and state.units_version == units_version()


@pytest.mark.parametrize("code", ["9.999999", "1.00119", "khai-sinh", "BIRTH-REG-01"])
def test_a_procedure_not_in_the_catalogue_is_refused(node, code):
    with pytest.raises(DomainError) as e:
        node.create_dossier("canbo", sample_dossier(procedure={"code": code, "name": "?"}))
    assert e.value.field == "procedure.code" and "seed-2026.1" in e.value.message


def test_reception_records_what_it_was_received_under(node, clock):
    clock.now = vn(2026, 5, 18, 9)
    override = vn(2026, 5, 25, 17)
    state = node.create_dossier("canbo", sample_dossier(due_at=override, components=[
        {"name": "Tờ khai đăng ký khai sinh", "kind": "ban_chinh", "quantity": 1}]))
    (created,) = node.timeline(state.id)
    body = created["body"]
    assert body["procedure"] == {"code": "1.001193", "name": "Đăng ký khai sinh", "key": "ho-tich.khai-sinh",
                                 "version": body["procedure"]["version"], "sector": "Hộ tịch"}
    assert set(body["reference"]) == {"catalogue", "calendar", "status_mapping", "units"}
    assert state.due_at == override and body["computed_due_at"] == vn(2026, 5, 18, 17)
    assert body["details"]["components"][0]["name"] == "Tờ khai đăng ký khai sinh"
    assert state.sector == "Hộ tịch" and state.history == (("received", state.received_at),)


def test_the_api_refuses_an_unknown_procedure_with_a_json_error(client):
    r = client.post("/api/v1/dossiers", json=sample_dossier(procedure={"code": "9.999999"}))
    assert r.status_code == 422 and r.get_json()["error"]["field"] == "procedure.code"
    r = client.post("/api/v1/dossiers", json=sample_dossier(id_number="999090001234"))
    assert r.status_code == 422 and "999" in r.get_json()["error"]["message"]
