"""The procedure catalogue: the seed data and the strict loader."""

from __future__ import annotations

import copy
import json
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from node.domain.calendar import TimeUnit, WorkCalendar
from node.domain.catalogue import (
    Catalogue,
    CodeConfidence,
    CompetentLevel,
    InvalidCatalogue,
    build_local_code,
    parse_catalogue,
    parse_catalogue_json,
)
from node.domain.deadline import appointment_at

SEED_PATH = Path(__file__).resolve().parents[3] / "node" / "data" / "procedures.json"


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED_PATH.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed(seed_text: str) -> Catalogue:
    return parse_catalogue_json(seed_text)


def test_seed_has_twenty_commune_procedures_and_the_id_card(seed: Catalogue) -> None:
    commune = [p for p in seed if p.competent_level is CompetentLevel.COMMUNE]
    assert len(commune) >= 20
    card = seed.by_key("can-cuoc.cap-the-can-cuoc-luu-dong")
    assert card.mobile and "Công an" in card.competent_agency and "sinh trắc học" in card.notes


@pytest.mark.parametrize(
    ("code", "words", "unit"),
    [
        ("1.001193", "đăng ký khai sinh", TimeUnit.SAME_DAY),
        ("1.000894", "đăng ký kết hôn", TimeUnit.SAME_DAY),
        ("1.000656", "đăng ký khai tử", TimeUnit.SAME_DAY),
        ("1.004873", "xác nhận tình trạng hôn nhân", TimeUnit.WORKING_DAYS),
        ("1.004837", "giám hộ", TimeUnit.WORKING_DAYS),
        ("1.004859", "cải chính", TimeUnit.WORKING_DAYS),
        ("2.000635", "bản sao trích lục hộ tịch", TimeUnit.SAME_DAY),
        ("1.004772", "người đã có hồ sơ, giấy tờ cá nhân", TimeUnit.SAME_DAY),
        ("2.000815", "chứng thực bản sao từ bản chính", TimeUnit.SAME_DAY),
        ("2.000884", "chứng thực chữ ký", TimeUnit.SAME_DAY),
    ],
)
def test_seed_contains_the_core_procedures(seed: Catalogue, code: str, words: str, unit: TimeUnit) -> None:
    procedure = seed.by_code(code)
    assert words in procedure.name.lower()
    assert procedure.duration.unit is unit


def test_residence_confirmation_is_present_without_an_invented_code(seed: Catalogue) -> None:
    procedure = seed.by_key("cu-tru.xac-nhan-thong-tin-cu-tru")
    assert procedure.national_code is None and procedure.code_confidence is CodeConfidence.UNVERIFIED
    assert procedure.duration.unit is TimeUnit.WORKING_HOURS


def test_seed_text_is_nfc_and_unverified_entries_explain_themselves(seed_text: str, seed: Catalogue) -> None:
    assert unicodedata.normalize("NFC", seed_text) == seed_text
    for procedure in seed:
        assert procedure.version and procedure.legal_basis and procedure.components
        if procedure.code_confidence is CodeConfidence.UNVERIFIED:
            assert procedure.notes, procedure.key


def test_every_seed_duration_yields_an_appointment(seed: Catalogue) -> None:
    calendar = WorkCalendar(holidays=frozenset({date(2026, 2, 16), date(2026, 2, 17)}))
    received = datetime(2026, 2, 13, 16, 0)
    for procedure in seed:
        assert appointment_at(calendar, received, procedure.duration) > received


def test_local_code(seed: Catalogue) -> None:
    assert build_local_code("1.000494", "000.00.00.H29") == "1.000494.000.00.00.H29"
    assert seed.by_code("1.001193").local_code_for("000.00.00.H56") == "1.001193.000.00.00.H56"
    assert seed.by_key("cu-tru.xac-nhan-thong-tin-cu-tru").local_code_for("000.00.00.H56") is None
    with pytest.raises(InvalidCatalogue):
        build_local_code("1001193", "000.00.00.H56")


def test_lookups_fail_loudly(seed: Catalogue) -> None:
    with pytest.raises(KeyError):
        seed.by_code("9.999999")
    with pytest.raises(KeyError):
        seed.by_key("nope")


def _minimal() -> dict[str, Any]:
    return {
        "format": 1,
        "version": "t1",
        "procedures": [
            {
                "key": "ho-tich.khai-sinh",
                "national_code": "1.001193",
                "code_confidence": "verified",
                "name": "Thủ tục đăng ký khai sinh",
                "sector": "Hộ tịch",
                "processing_time": {"amount": 0, "unit": "same_day"},
                "fees": [{"name": "Lệ phí", "amount_vnd": 0}],
                "components": [{"name": "Tờ khai", "kind": "ban_chinh"}],
                "competent_level": "xa",
                "competent_agency": "Ủy ban nhân dân cấp xã",
                "version": "v1",
            }
        ],
    }


def _with(path: str, value: object) -> dict[str, Any]:
    data = _minimal()
    target: Any = data
    parts = path.split(".")
    for part in parts[:-1]:
        target = target[int(part)] if part.isdigit() else target[part]
    last = parts[-1]
    if value is _DELETE:
        del target[last]
    else:
        target[last] = value
    return data


_DELETE = object()
NFD_NAME = unicodedata.normalize("NFD", "Thủ tục đăng ký khai sinh")


def test_minimal_catalogue_parses() -> None:
    catalogue = parse_catalogue(_minimal())
    assert len(catalogue) == 1 and catalogue.version == "t1"


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        ("format", 2, r"\$\.format"),
        ("version", "", r"\$\.version"),
        ("procedures", {}, r"\$\.procedures: expected a list"),
        ("procedures.0.name", NFD_NAME, r"procedures\[0\]\.name: text is not Unicode NFC"),
        ("procedures.0.nmae", "x", r"procedures\[0\]: unknown keys \['nmae'\]"),
        ("procedures.0.sector", _DELETE, r"procedures\[0\]: missing keys \['sector'\]"),
        ("procedures.0.key", "Hộ tịch", r"procedures\[0\]\.key"),
        ("procedures.0.national_code", "1001193", r"national_code: expected d\.dddddd"),
        ("procedures.0.national_code", None, r"a missing code cannot be verified"),
        ("procedures.0.code_confidence", "sure", r"code_confidence: 'sure' is not one of"),
        ("procedures.0.local_code", "2.000635.000.00.00.H56", r"local_code"),
        ("procedures.0.processing_time", {"amount": 1, "unit": "same_day"}, r"processing_time: .*same-day"),
        ("procedures.0.processing_time", {"amount": "3", "unit": "working_days"}, r"amount: expected a number"),
        ("procedures.0.processing_time", {"amount": 3, "unit": "days"}, r"unit: 'days' is not one of"),
        ("procedures.0.processing_time", {"amount": 0, "unit": "same_day", "cutoff": "3pm"}, r"cutoff: expected HH:MM"),
        ("procedures.0.processing_time", {"amount": 2, "unit": "working_days", "cutoff": "15:00"},
         r"processing_time: a cut-off applies to same-day and hour periods"),
        ("procedures.0.fees.0.amount_vnd", -5, r"fees\[0\]\.amount_vnd: expected an integer"),
        ("procedures.0.fees.0.amount_vnd", 1.5, r"fees\[0\]\.amount_vnd"),
        ("procedures.0.components.0.kind", "photo", r"components\[0\]\.kind"),
        ("procedures.0.components.0.quantity", 0, r"components\[0\]\.quantity"),
        ("procedures.0.components.0.required", "yes", r"components\[0\]\.required"),
        ("procedures.0.competent_level", "huyen", r"competent_level"),
        ("procedures.0.online_level", "level4", r"online_level"),
        ("procedures.0.legal_basis", "Luật Hộ tịch", r"legal_basis"),
    ],
)
def test_bad_catalogue_data_names_the_field(path: str, value: object, message: str) -> None:
    with pytest.raises(InvalidCatalogue, match=message):
        parse_catalogue(_with(path, value))


def test_duplicates_are_rejected() -> None:
    data = _minimal()
    data["procedures"].append(copy.deepcopy(data["procedures"][0]))
    with pytest.raises(InvalidCatalogue, match="duplicate key"):
        parse_catalogue(data)
    data["procedures"][1]["key"] = "ho-tich.khai-sinh-2"
    with pytest.raises(InvalidCatalogue, match="duplicate code"):
        parse_catalogue(data)


@pytest.mark.parametrize("text", ["{", "[]", '"x"'])
def test_bad_json_text(text: str) -> None:
    with pytest.raises(InvalidCatalogue, match=r"^\$"):
        parse_catalogue_json(text)


def test_nullable_fields_accept_null() -> None:
    data = _with("procedures.0.online_level", None)
    data["procedures"][0].update(local_code=None, national_code=None, code_confidence="unverified")
    data["procedures"][0]["fees"][0]["amount_vnd"] = None
    procedure = parse_catalogue(json.loads(json.dumps(data))).procedures[0]
    assert procedure.online_level is None and procedure.fees[0].amount_vnd is None


def test_the_same_day_cutoff_is_an_attribute_of_civil_status_and_certification_work() -> None:
    """Luật Hộ tịch art. 5(3), Decree 23/2015 art. 7: received after 15:00, same-day work is done
    the next working day; the seed gives the cut-off to those procedures only."""
    from datetime import time

    from node.reference import seed_catalogue

    with_cutoff = {p.sector for p in seed_catalogue() if p.duration.cutoff is not None}
    assert with_cutoff == {"Hộ tịch", "Chứng thực"}
    assert all(p.duration.cutoff == time(15, 0) for p in seed_catalogue() if p.duration.cutoff is not None)
    assert all(p.duration.unit.value == "same_day" for p in seed_catalogue() if p.duration.cutoff is not None)
