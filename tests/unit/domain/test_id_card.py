"""ID-card pre-registration for the police's mobile session (Luật Căn cước 2023; domain.md errata):
date checks of the list (Rule C2 of node.domain.id_card), the fold (Rule C3) and the police's CSV."""

from __future__ import annotations

from datetime import date

import pytest

from node.domain import id_card as c
from sync.wire import build_event

TODAY = date(2026, 5, 17)
# 040 = Nghệ An, digit 0 = born in the 1900s (male), 90 = 1990; 2 = 2000s male, 12 = 2012
ADULT, CHILD = "040090001234", "040212001234"


def body(**kw):
    data = {"procedure": "can-cuoc.cap-the-can-cuoc-luu-dong", "name": "Nguyễn Văn An", "id_number": ADULT,
            "birth_date": "15/03/1990", "request": "cap_moi", "session_date": "20/05/2026"}
    data.update(kw)
    return data


@pytest.mark.parametrize(("change", "reason"), [
    ({"birth_date": "31/02/1990"}, "not_a_date"),        # not a calendar date
    ({"birth_date": "29/02/1990"}, "not_a_date"),        # 1990 was not a leap year
    ({"birth_date": "15/13/1990"}, "not_a_date"),
    ({"birth_date": "1990"}, "not_a_date"),
    ({"birth_date": ""}, "not_a_date"),
    ({"birth_date": "18/05/2026", "id_number": "040226001234"}, "future"),  # tomorrow
    ({"birth_date": "15/03/1991"}, "year_mismatch"),     # the ID number says 1990
    ({"birth_date": "21/05/2012", "id_number": CHILD}, "too_young"),  # 14 the day after the session
    ({"session_date": "16/05/2026"}, "session_past"),
    ({"session_date": "31/04/2026"}, "not_a_date"),
    ({"session_date": "01/01/2027"}, "session_far"),
    ({"request": "cap_the_tam"}, "request"),
    ({"slot": "25:00"}, "slot"),
    ({"id_number": "040990001234"}, "id_number"),        # birth year 2390: in the future
])  # fmt: skip
def test_luat_can_cuoc_2023_registration_dates_are_checked(change, reason):
    """Real calendar dates, not in the future, the birth year the 12-digit number encodes, and the
    procedure's age rule (from 14, Luật Căn cước 2023 art. 19) on the session day."""
    with pytest.raises(c.RegistrationError) as e:
        c.validate_registration(body(**change), TODAY, 14)
    assert e.value.reason == reason


def test_luat_can_cuoc_2023_art_19_age_counted_on_the_session_day():
    ok = c.validate_registration(body(id_number=CHILD, birth_date="20/05/2012"), TODAY, 14)  # 14 that day
    assert ok["birth_date"] == "2012-05-20" and ok["sex"] == "nam"
    assert c.age_on(date(2012, 2, 29), date(2026, 2, 28)) == 13 and c.age_on(date(2012, 2, 29), date(2026, 3, 1)) == 14


def test_a_registration_is_no_dossier_it_has_no_code_receipt_or_biometrics():
    ok = c.validate_registration(body(slot="08:30", birth_date="1990-03-15"), TODAY, 14)
    assert not {"code", "due_at", "received_at", "photo", "fingerprints", "iris", "biometrics"} & set(ok)
    assert ok["session_date"] == "2026-05-20" and ok["slot"] == "08:30"


def _event(origin, seq, hlc, data):
    return build_event(origin=origin, scope="17272", seq=seq, prev="" if seq == 1 else "0" * 64, hlc=hlc, at=hlc,
                       author="u", entity="idcard/X", type=c.REGISTERED, body=data)


def test_fold_takes_the_earliest_authorised_registration_and_ignores_malformed_ones():
    good = c.validate_registration(body(), TODAY, 14)
    a, b = _event("a" * 32, 1, 5, good), _event("b" * 32, 1, 4, {**good, "name": "Khác"})
    crafted = _event("c" * 32, 1, 1, {"name": 5})
    assert c.fold_registration("X", [a, b, crafted], lambda e: "").name == "Khác"
    assert c.fold_registration("X", [a, b], lambda e: "no" if e.origin == "b" * 32 else "").name == "Nguyễn Văn An"
    assert c.fold_registration("X", [crafted], lambda e: "") is None


def test_police_csv_is_ordered_by_session_and_slot_and_defuses_formulas():
    regs = [c.fold_registration(str(i), [_event(str(i) * 32, 1, 1, c.validate_registration(b, TODAY, 14))],
                                lambda e: "")
            for i, b in enumerate([body(session_date="21/05/2026", name="Bình"), body(slot="09:00", name="=cmd()"),
                                   body(slot="08:00", name="An")], 1)]
    rows = c.csv_rows(regs)
    assert rows[0] == c.CSV_HEADER
    assert [r[1] for r in rows[1:]] == ["An", "'=cmd()", "Bình"]
    assert rows[1][3:5] == ("15/03/1990", "Nam") and rows[1][8] == "20/05/2026"
