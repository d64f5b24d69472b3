"""Administrative units from ``vietnam-provinces`` (34 provinces, 3,321 communes since 1 July 2025).

Codes are stored as text exactly as the national list writes them: 2 digits for a province,
5 for a commune. Codes the current list does not know (pre-2025 districts and merged communes)
stay valid as data, so old dossiers remain readable; :func:`describe_unit` then says so.

:func:`serves` is which units a district hub has authority over (Rule A5 of
:mod:`node.domain.authority`): its own, the communes the list places in its province, and codes
the list places nowhere. The fold agrees across replicas only if they read the same list: a
district's nodes should run the same ``vietnam-provinces`` release (a commune moved to another
province between releases would be judged differently).
"""

from __future__ import annotations

import functools
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


@functools.cache
def _province_of_commune() -> dict[str, str]:
    return {f"{int(w.code):05d}": f"{int(w.province_code):02d}" for w in Ward.iter_all()}


@functools.cache
def _provinces() -> frozenset[str]:
    return frozenset(f"{int(p.code):02d}" for p in Province.iter_all())


def province_of(code: str) -> str | None:
    """The province code of a commune code in the national list, else None."""
    return _province_of_commune().get(code) if len(code) == 5 else None


def serves(hub_unit: str, unit: str) -> bool:
    """Rule A5: does a district hub of ``hub_unit`` have authority over dossiers of ``unit``?"""
    if hub_unit == unit:
        return True
    province = province_of(unit)
    if province is not None:
        return province == hub_unit
    return unit not in _provinces()  # a code no province claims (pre-2025, merged, tests)


@functools.cache
def _names() -> dict[str, str]:
    provinces = {f"{int(p.code):02d}": p.name for p in Province.iter_all()}
    names = dict(provinces)
    for w in Ward.iter_all():
        province = provinces.get(f"{int(w.province_code):02d}")
        names[f"{int(w.code):05d}"] = f"{w.name}, {province}" if province else w.name
    return names


def is_listed(code: str) -> bool:
    """Is ``code`` a province or commune of the current national list (a transfer's target)?"""
    return code in _names()


def transfer_choices(own_unit: str) -> list[tuple[str, str]]:
    """Where a dossier can be transferred (liên thông), as (code, name) from the national list:
    the communes of this unit's province, then every province (its departments). Never free
    text: the receiving office is always a unit of the list."""
    province = province_of(own_unit) or (own_unit if own_unit in _provinces() else None)
    communes = sorted(((c, n) for c, n in _names().items() if len(c) == 5 and c != own_unit
                       and province is not None and province_of(c) == province), key=lambda cn: cn[1])
    provinces = sorted(((c, n) for c, n in _names().items() if len(c) == 2), key=lambda cn: cn[1])
    return communes + provinces


_UNIT_KINDS = ("Đặc khu ", "Phường ", "Xã ", "Thành phố ", "Tỉnh ")


def place_name(code: str) -> str:
    """The place name (địa danh) a commune's documents print before the date, "Tân Phú, ngày …"
    (Nghị định 30/2020/NĐ-CP, Phụ lục I): the unit's own name without its kind; "" for a code the
    list does not know."""
    name = _names().get(code, "").split(",")[0]
    for kind in _UNIT_KINDS:
        if name.startswith(kind):
            return name[len(kind):]
    return name
