"""The 12-digit personal identification number (số định danh cá nhân): shape check and decoding.

Responsibility: tell whether a string has the *shape* of a personal identification number and
decode what the number itself states (domain.md §6.3)::

    PPP G YY RRRRRR
    PPP  001-096: birth-registration province (the pre-2025, 63-province numbering);
         101-295: country code, for births registered abroad
    G    century and sex: 0/1 = 1900s male/female, 2/3 = 2000s, ..., 8/9 = 2300s
    YY   last two digits of the birth year
    R    six random digits; there is no check digit

Invariants: decoding never claims that a number *exists* or belongs to anyone; only the national
population database can say that. A shape-valid number is merely plausible. Staff-facing messages
are Vietnamese with the English reason after a slash.

Data and its uncertainty
------------------------
- Province prefixes are ``0`` + the two-digit statistical code of the 63 provinces of QĐ 124/2004
  (as they stood when 12-digit numbers were introduced in 2016): 001 Hà Nội, 024 Bắc Giang and
  079 TP Hồ Chí Minh are confirmed by domain.md; the full list matches the pre-2025 statistical
  list and a public decoder (hongquan/vietnam-personal-id). ``vietnam-provinces`` only carries the
  34 post-2025 provinces, so it cannot supply this table. The 2025 merger renumbered no one, so
  the old names are what the prefix means. The new codes reuse old numbers for different areas
  (024 is Bắc Ninh since 2025 but means old Bắc Giang in an ID number), hence
  :data:`CURRENT_PROVINCE` for cross-checks against a current address. Codes of units dissolved
  before 2016 (e.g. 028 Hà Tây) are not listed and are rejected; if a real number with such a
  prefix turns up, add it here.
- Country codes 101-295 come from a public transcription of the appendix to Thông tư
  07/2016/TT-BCA (names shortened to the part before any transliteration in brackets). The
  transcription has oddities kept as found (107 is the United Kingdom out of alphabetical order;
  113/114 and 147/148 name Azerbaijan and Croatia twice). Not checked against the official PDF.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from types import MappingProxyType


class InvalidCitizenId(ValueError):
    """Raised when a string does not have the shape of a 12-digit personal identification number.

    ``reason`` is a stable machine code: ``not_text``, ``length``, ``not_digits``,
    ``unknown_place`` or ``future_birth_year``.
    """

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class Sex(StrEnum):
    MALE = "nam"
    FEMALE = "nu"


class BirthPlaceKind(StrEnum):
    PROVINCE = "province"
    ABROAD = "abroad"


# fmt: off
BIRTH_PROVINCES: Mapping[str, str] = MappingProxyType(
    {
        "001": "Hà Nội", "002": "Hà Giang", "004": "Cao Bằng", "006": "Bắc Kạn", "008": "Tuyên Quang",
        "010": "Lào Cai", "011": "Điện Biên", "012": "Lai Châu", "014": "Sơn La", "015": "Yên Bái",
        "017": "Hòa Bình", "019": "Thái Nguyên", "020": "Lạng Sơn", "022": "Quảng Ninh", "024": "Bắc Giang",
        "025": "Phú Thọ", "026": "Vĩnh Phúc", "027": "Bắc Ninh", "030": "Hải Dương", "031": "Hải Phòng",
        "033": "Hưng Yên", "034": "Thái Bình", "035": "Hà Nam", "036": "Nam Định", "037": "Ninh Bình",
        "038": "Thanh Hóa", "040": "Nghệ An", "042": "Hà Tĩnh", "044": "Quảng Bình", "045": "Quảng Trị",
        "046": "Thừa Thiên Huế", "048": "Đà Nẵng", "049": "Quảng Nam", "051": "Quảng Ngãi", "052": "Bình Định",
        "054": "Phú Yên", "056": "Khánh Hòa", "058": "Ninh Thuận", "060": "Bình Thuận", "062": "Kon Tum",
        "064": "Gia Lai", "066": "Đắk Lắk", "067": "Đắk Nông", "068": "Lâm Đồng", "070": "Bình Phước",
        "072": "Tây Ninh", "074": "Bình Dương", "075": "Đồng Nai", "077": "Bà Rịa - Vũng Tàu",
        "079": "TP Hồ Chí Minh", "080": "Long An", "082": "Tiền Giang", "083": "Bến Tre", "084": "Trà Vinh",
        "086": "Vĩnh Long", "087": "Đồng Tháp", "089": "An Giang", "091": "Kiên Giang", "092": "Cần Thơ",
        "093": "Hậu Giang", "094": "Sóc Trăng", "095": "Bạc Liêu", "096": "Cà Mau",
    }
)

ABROAD_COUNTRIES: Mapping[str, str] = MappingProxyType(
    {
    "101": "Afghanistan", "102": "Ai Cập", "103": "Albania", "104": "Algérie", "105": "Andorra",
    "106": "Angola", "107": "Vương quốc Liên hiệp Anh và Bắc Ireland", "108": "Antigua và Barbuda",
    "109": "Áo", "110": "Ả Rập Saudi", "111": "Argentina", "112": "Armenia", "113": "Azerbaijan",
    "114": "Cộng hòa Azerbaijan", "115": "Cộng hòa Ấn Độ", "116": "Bahamas", "117": "Bahrain",
    "118": "Ba Lan", "119": "Bangladesh", "120": "Barbados", "121": "Belarus", "122": "Belize",
    "123": "Benin", "124": "Bhutan", "125": "Bỉ", "126": "Bolivia", "127": "Bosna và Hercegovina",
    "128": "Botswana", "129": "Bồ Đào Nha", "130": "Bờ Biển Ngà", "131": "Brasil", "132": "Brunei",
    "133": "Bulgaria", "134": "Burkina Faso", "135": "Burundi", "136": "Cabo Verde",
    "137": "Các Tiểu Vương quốc Ả Rập Thống nhất", "138": "Cameroon", "139": "Campuchia", "140": "Canada",
    "141": "Chile", "142": "Colombia", "143": "Comoros", "144": "Cộng hòa Congo",
    "145": "Cộng hòa Dân chủ Congo", "146": "Costa Rica", "147": "Croatia", "148": "Cộng hòa Croatia",
    "149": "Cuba", "150": "Djibouti", "151": "Dominica", "152": "Cộng hòa Dominicana", "153": "Đan Mạch",
    "154": "Đông Timor", "155": "Đức", "156": "Ecuador", "157": "El Salvador", "158": "Eritrea",
    "159": "Estonia", "160": "Ethiopia", "161": "Fiji", "162": "Gabon", "163": "Gambia", "164": "Ghana",
    "165": "Grenada", "166": "Gruzia", "167": "Guatemala", "168": "Guinea-Bissau", "169": "Guinea Xích Đạo",
    "170": "Guinea", "171": "Guyana", "172": "Haiti", "173": "Hà Lan", "174": "Hàn Quốc", "175": "Hoa Kỳ",
    "176": "Honduras", "177": "Hungary", "178": "Hy Lạp", "179": "Iceland", "180": "Indonesia",
    "181": "Iran", "182": "Iraq", "183": "Ireland", "184": "Israel", "185": "Jamaica", "186": "Jordan",
    "187": "Kazakhstan", "188": "Kenya", "189": "Kiribati", "190": "Kuwait", "191": "Síp",
    "192": "Kyrgyzstan", "193": "Lào", "194": "Latvia", "195": "Lesotho", "196": "Li ban", "197": "Liberia",
    "198": "Libya", "199": "Liechtenstein", "200": "Litva", "201": "Luxembourg", "202": "Macedonia",
    "203": "Madagascar", "204": "Malawi", "205": "Malaysia", "206": "Maldives", "207": "Mali",
    "208": "Malta", "209": "Maroc", "210": "Quần đảo Marshall", "211": "Mauritanie", "212": "Mauritius",
    "213": "Mexico", "214": "Micronesia", "215": "Moldova", "216": "Monaco", "217": "Mông Cổ",
    "218": "Montenegro", "219": "Mozambique", "220": "Myanma", "221": "Namibia", "222": "Nam Sudan",
    "223": "Nam Phi", "224": "Nauru", "225": "Na Uy", "226": "Nepal", "227": "New Zealand",
    "228": "Nicaragua", "229": "Niger", "230": "Nigeria", "231": "Nga", "232": "Nhật Bản", "233": "Oman",
    "234": "Pakistan", "235": "Palau", "236": "Panama", "237": "Papua New Guinea", "238": "Paraguay",
    "239": "Peru", "240": "Pháp", "241": "Phần Lan", "242": "Philippines", "243": "Qatar", "244": "Romania",
    "245": "Rwanda", "246": "Saint Kitts và Nevis", "247": "Saint Lucia",
    "248": "Saint Vincent và Grenadines", "249": "Samoa", "250": "San Marino",
    "251": "São Tomé và Príncipe", "252": "Séc", "253": "Sénégal", "254": "Serbia", "255": "Seychelles",
    "256": "Sierra Leone", "257": "Singapore", "258": "Slovakia", "259": "Slovenia", "260": "Solomon",
    "261": "Somalia", "262": "Sri Lanka", "263": "Sudan", "264": "Suriname", "265": "Swaziland",
    "266": "Syria", "267": "Tajikistan", "268": "Tanzania", "269": "Tây Ban Nha", "270": "Tchad",
    "271": "Thái Lan", "272": "Thổ Nhĩ Kỳ", "273": "Thụy Điển", "274": "Thụy Sĩ", "275": "Togo",
    "276": "Tonga", "277": "Triều Tiên", "278": "Trinidad và Tobago", "279": "Trung Quốc",
    "280": "Trung Phi", "281": "Tunisia", "282": "Turkmenistan", "283": "Tuvalu", "284": "Úc",
    "285": "Uganda", "286": "Ukraina", "287": "Uruguay", "288": "Uzbekistan", "289": "Vanuatu",
    "290": "Thành Vatican/Tòa Thánh", "291": "Venezuela", "292": "Ý", "293": "Yemen", "294": "Zambia",
    "295": "Zimbabwe",
    }
)

# Old province (ID prefix) -> the two-digit code of the province it belongs to since 1 Jul 2025
# (Nghị quyết 202/2025/QH15: provinces merged whole, none was split, so this is a function).
CURRENT_PROVINCE: Mapping[str, str] = MappingProxyType(
    {
        "001": "01", "002": "08", "004": "04", "006": "19", "008": "08", "010": "15", "011": "11",
        "012": "12", "014": "14", "015": "15", "017": "25", "019": "19", "020": "20", "022": "22",
        "024": "24", "025": "25", "026": "25", "027": "24", "030": "31", "031": "31", "033": "33",
        "034": "33", "035": "37", "036": "37", "037": "37", "038": "38", "040": "40", "042": "42",
        "044": "44", "045": "44", "046": "46", "048": "48", "049": "48", "051": "51", "052": "52",
        "054": "66", "056": "56", "058": "56", "060": "68", "062": "51", "064": "52", "066": "66",
        "067": "68", "068": "68", "070": "75", "072": "80", "074": "79", "075": "75", "077": "79",
        "079": "79", "080": "80", "082": "82", "083": "86", "084": "86", "086": "86", "087": "82",
        "089": "91", "091": "91", "092": "92", "093": "92", "094": "92", "095": "96", "096": "96",
    }
)
# fmt: on

_SHAPE = re.compile(r"[0-9]{12}")


@dataclass(frozen=True)
class CitizenId:
    """What a shape-valid number states about its holder; not proof that it exists."""

    number: str
    place_code: str
    place_kind: BirthPlaceKind
    place_name: str
    century_sex_digit: int
    sex: Sex
    birth_year: int
    random_part: str

    def __str__(self) -> str:
        return self.number

    @property
    def born_abroad(self) -> bool:
        return self.place_kind is BirthPlaceKind.ABROAD

    @property
    def current_province_code(self) -> str | None:
        """Two-digit code (QĐ 19/2025) of the province the birth province now belongs to."""
        return CURRENT_PROVINCE.get(self.place_code)


def parse_citizen_id(text: str, *, today: date | None = None) -> CitizenId:
    """Check the shape of ``text`` and decode it.

    Surrounding white space is ignored; anything else that is not an ASCII digit is rejected
    (spaces or dots inside the number are not silently removed: a clerk must see the typo).

    :param today: when given, a birth year after ``today.year`` is rejected.
    :raises InvalidCitizenId: with a ``reason`` code.
    """
    if not isinstance(text, str):
        raise InvalidCitizenId("Số định danh phải là chuỗi ký tự / ID number must be text", "not_text")
    number = text.strip()
    if len(number) != 12:
        raise InvalidCitizenId(
            f"Số định danh cá nhân phải gồm đúng 12 chữ số (đang có {len(number)}) "
            f"/ must be exactly 12 digits, got {len(number)}",
            "length",
        )
    if not _SHAPE.fullmatch(number):
        raise InvalidCitizenId("Số định danh chỉ gồm chữ số 0-9 / must contain only digits 0-9", "not_digits")
    place_code = number[:3]
    if place_code in BIRTH_PROVINCES:
        kind, place_name = BirthPlaceKind.PROVINCE, BIRTH_PROVINCES[place_code]
    elif place_code in ABROAD_COUNTRIES:
        kind, place_name = BirthPlaceKind.ABROAD, ABROAD_COUNTRIES[place_code]
    else:
        raise InvalidCitizenId(
            f"Mã nơi đăng ký khai sinh {place_code} không có trong danh mục "
            f"/ unknown birth-registration code {place_code}",
            "unknown_place",
        )
    digit = int(number[3])
    birth_year = (digit // 2 + 19) * 100 + int(number[4:6])
    if today is not None and birth_year > today.year:
        raise InvalidCitizenId(
            f"Năm sinh {birth_year} ở tương lai / birth year {birth_year} is after {today.year}",
            "future_birth_year",
        )
    return CitizenId(
        number=number,
        place_code=place_code,
        place_kind=kind,
        place_name=place_name,
        century_sex_digit=digit,
        sex=Sex.FEMALE if digit % 2 else Sex.MALE,
        birth_year=birth_year,
        random_part=number[6:],
    )


def is_citizen_id_shape(text: str, *, today: date | None = None) -> bool:
    """True when :func:`parse_citizen_id` would accept ``text``."""
    try:
        parse_citizen_id(text, today=today)
    except InvalidCitizenId:
        return False
    return True
