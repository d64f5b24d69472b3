"""Administrative units from ``vietnam-provinces`` (34 provinces, 3,321 communes since 1 July 2025).

Codes are stored as text exactly as the national list writes them: 2 digits for a province,
5 for a commune. Codes the current list does not know (pre-2025 districts and merged communes)
stay valid as data, so old dossiers remain readable; :func:`describe_unit` then says so.
"""

from __future__ import annotations

import re

from vietnam_provinces import Province, Ward

UNIT_CODE_RE = re.compile(r"^[0-9]{2,5}$")


def is_unit_code(code: str) -> bool:
    return bool(UNIT_CODE_RE.match(code))


def describe_unit(code: str) -> str | None:
    """'Xã Tân Phú, Tỉnh Nghệ An' for a known code, None for one the current list lacks."""
    if not is_unit_code(code):
        return None
    provinces = {int(p.code): p for p in Province.iter_all()}
    number = int(code)
    if len(code) == 2:
        p = provinces.get(number)
        return p.name if p else None
    for ward in Ward.iter_all():
        if int(ward.code) == number and len(code) == 5:
            province = provinces.get(int(ward.province_code))
            return f"{ward.name}, {province.name}" if province else ward.name
    return None
