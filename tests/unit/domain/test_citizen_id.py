"""12-digit personal identification numbers: shape validation and decoding (domain.md §6.3)."""

from __future__ import annotations

from datetime import date

import pytest

from node.domain.citizen_id import (
    ABROAD_COUNTRIES,
    BIRTH_PROVINCES,
    CURRENT_PROVINCE,
    BirthPlaceKind,
    InvalidCitizenId,
    Sex,
    is_citizen_id_shape,
    parse_citizen_id,
)

TODAY = date(2026, 11, 22)


@pytest.mark.parametrize(
    ("number", "place", "kind", "sex", "year", "current"),
    [
        ("001099012345", "Hà Nội", BirthPlaceKind.PROVINCE, Sex.MALE, 1999, "01"),
        ("001199012345", "Hà Nội", BirthPlaceKind.PROVINCE, Sex.FEMALE, 1999, "01"),
        ("079203012345", "TP Hồ Chí Minh", BirthPlaceKind.PROVINCE, Sex.MALE, 2003, "79"),
        ("079312000001", "TP Hồ Chí Minh", BirthPlaceKind.PROVINCE, Sex.FEMALE, 2012, "79"),
        # 024 is old Bắc Giang; since 2025 it belongs to Bắc Ninh, whose new code is also 24.
        ("024301000001", "Bắc Giang", BirthPlaceKind.PROVINCE, Sex.FEMALE, 2001, "24"),
        ("027090000001", "Bắc Ninh", BirthPlaceKind.PROVINCE, Sex.MALE, 1990, "24"),
        ("038185000123", "Thanh Hóa", BirthPlaceKind.PROVINCE, Sex.FEMALE, 1985, "38"),
        ("096000999999", "Cà Mau", BirthPlaceKind.PROVINCE, Sex.MALE, 1900, "96"),
        ("002226000000", "Hà Giang", BirthPlaceKind.PROVINCE, Sex.MALE, 2026, "08"),
        # Born abroad: country codes 101-295.
        ("101090123456", "Afghanistan", BirthPlaceKind.ABROAD, Sex.MALE, 1990, None),
        ("175090123456", "Hoa Kỳ", BirthPlaceKind.ABROAD, Sex.MALE, 1990, None),
        ("232205000001", "Nhật Bản", BirthPlaceKind.ABROAD, Sex.MALE, 2005, None),
        ("139188000001", "Campuchia", BirthPlaceKind.ABROAD, Sex.FEMALE, 1988, None),
        ("193310000001", "Lào", BirthPlaceKind.ABROAD, Sex.FEMALE, 2010, None),
        ("240201000001", "Pháp", BirthPlaceKind.ABROAD, Sex.MALE, 2001, None),
        ("295199000001", "Zimbabwe", BirthPlaceKind.ABROAD, Sex.FEMALE, 1999, None),
    ],
)
def test_decoding(number: str, place: str, kind: BirthPlaceKind, sex: Sex, year: int, current: str | None) -> None:
    cid = parse_citizen_id(number, today=TODAY)
    assert (cid.place_name, cid.place_kind, cid.sex, cid.birth_year) == (place, kind, sex, year)
    assert cid.place_code == number[:3] and cid.random_part == number[6:] and str(cid) == number
    assert cid.born_abroad is (kind is BirthPlaceKind.ABROAD)
    assert cid.current_province_code == current


@pytest.mark.parametrize(
    ("digit", "century_start", "sex"),
    [(0, 1900, Sex.MALE), (1, 1900, Sex.FEMALE), (2, 2000, Sex.MALE), (3, 2000, Sex.FEMALE),
     (4, 2100, Sex.MALE), (5, 2100, Sex.FEMALE), (6, 2200, Sex.MALE), (7, 2200, Sex.FEMALE),
     (8, 2300, Sex.MALE), (9, 2300, Sex.FEMALE)],
)  # fmt: skip
def test_century_and_sex_digit(digit: int, century_start: int, sex: Sex) -> None:
    cid = parse_citizen_id(f"001{digit}07123456")
    assert (cid.birth_year, cid.sex, cid.century_sex_digit) == (century_start + 7, sex, digit)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "length"),
        ("00109901234", "length"),
        ("0010990123456", "length"),
        ("00109901234a", "not_digits"),
        ("001 99012345", "not_digits"),  # an inner space is a typo to show, not to fix
        ("001.99012345", "not_digits"),
        ("０01099012345", "not_digits"),  # full-width digit
        ("٠01099012345", "not_digits"),  # Arabic-Indic digit passes str.isdigit() but not here
        ("000099012345", "unknown_place"),
        ("003099012345", "unknown_place"),  # gap in the province numbering
        ("028099012345", "unknown_place"),  # Hà Tây, merged into Hà Nội in 2008
        ("097099012345", "unknown_place"),
        ("100099012345", "unknown_place"),
        ("296099012345", "unknown_place"),
        ("999099012345", "unknown_place"),
        ("001427012345", "future_birth_year"),  # 2127 with today = 2026
        ("001227012345", "future_birth_year"),  # 2027
    ],
)
def test_invalid_numbers(text: str, reason: str) -> None:
    with pytest.raises(InvalidCitizenId) as excinfo:
        parse_citizen_id(text, today=TODAY)
    assert excinfo.value.reason == reason
    assert " / " in str(excinfo.value)  # Vietnamese, then the English reason
    assert not is_citizen_id_shape(text, today=TODAY)


def test_non_text_is_rejected() -> None:
    with pytest.raises(InvalidCitizenId) as excinfo:
        parse_citizen_id(1099012345)  # type: ignore[arg-type]
    assert excinfo.value.reason == "not_text"


def test_surrounding_whitespace_is_ignored_and_future_years_need_today() -> None:
    assert parse_citizen_id("  001099012345\n").number == "001099012345"
    assert parse_citizen_id("001427012345").birth_year == 2127  # shape only, without a reference date
    assert is_citizen_id_shape("001099012345")


def test_code_tables() -> None:
    assert len(BIRTH_PROVINCES) == 63
    assert all(code.startswith("0") and 1 <= int(code) <= 96 for code in BIRTH_PROVINCES)
    assert set(ABROAD_COUNTRIES) == {f"{n:03d}" for n in range(101, 296)}
    assert set(CURRENT_PROVINCE) == set(BIRTH_PROVINCES)


def test_current_province_codes_match_the_2025_catalogue() -> None:
    """Every successor is one of the 34 provinces of QĐ 19/2025 (data from vietnam-provinces)."""
    provinces = pytest.importorskip("vietnam_provinces")
    current = {f"{int(p.code):02d}" for p in provinces.Province.iter_all()}
    assert len(current) == 34
    assert set(CURRENT_PROVINCE.values()) == current
    # Provinces that were not merged keep their code and map to themselves.
    unchanged = {"001", "004", "011", "012", "014", "020", "022", "038", "040", "042", "046"}
    assert all(CURRENT_PROVINCE[c] == c[1:] for c in unchanged)
