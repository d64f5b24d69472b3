"""The procedure catalogue (danh mục thủ tục hành chính) and its strict loader.

Responsibility: model a published administrative procedure as the node needs it at the desk
(codes, Vietnamese name, sector, legal processing time and its unit, fees, required components,
competent level, online level, publication version) and validate catalogue data, which arrives as
JSON (the seed ``node/data/procedures.json`` or a province's catalogue synced down). Reading the
file is the caller's job; this module parses text or plain data only.

Invariants
----------
- Every procedure has a unique ``key`` (a stable local slug). ``national_code`` (``d.dddddd``,
  domain.md §3.2) is unique when present; it may be null when no trustworthy code is known, and
  ``code_confidence`` says whether a code was cross-checked ("verified") or not ("unverified").
- ``local_code``, when present, is the national code followed by a province suffix.
- Text is Unicode NFC (Vietnamese has two encodings of most accented letters; mixing them breaks
  search and equality). Non-NFC text is rejected, not silently rewritten.
- Unknown keys are rejected, so a typo in hand-edited data fails loudly.
- A dossier stores the catalogue ``version`` and the procedure ``version`` in force on its
  reception day (§1.1 "a dossier carries the legal regime in force on its reception date").
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import time
from enum import StrEnum
from typing import Any, TypeVar

from node.domain.calendar import TimeUnit
from node.domain.deadline import Duration, InvalidTiming

CATALOGUE_FORMAT = 1
E = TypeVar("E", bound=StrEnum)
_NATIONAL_CODE = re.compile(r"[0-9]\.[0-9]{6}")
_KEY = re.compile(r"[a-z0-9]+(?:[.-][a-z0-9]+)*")


class InvalidCatalogue(ValueError):
    """Raised when catalogue data is malformed; the message starts with the JSON path at fault."""


class CodeConfidence(StrEnum):
    VERIFIED = "verified"
    UNVERIFIED = "unverified"


class OnlineLevel(StrEnum):
    """Decree 42/2022 levels (domain.md §4.1)."""

    FULL = "toan_trinh"
    PARTIAL = "mot_phan"
    NONE = "khong"


class CompetentLevel(StrEnum):
    COMMUNE = "xa"
    PROVINCE = "tinh"
    CENTRAL = "trung_uong"


class CopyKind(StrEnum):
    """How a component is supplied (Mẫu 01 column "copy type")."""

    ORIGINAL = "ban_chinh"
    CERTIFIED_COPY = "ban_sao_chung_thuc"
    COPY = "ban_sao"
    PRESENT = "xuat_trinh"  # shown to the officer, not kept in the file


@dataclass(frozen=True)
class Fee:
    """A fee or charge line; ``amount_vnd`` is None when set locally (e.g. by the province)."""

    name: str
    amount_vnd: int | None
    unit: str | None = None
    note: str = ""


@dataclass(frozen=True)
class Component:
    name: str
    kind: CopyKind
    quantity: int = 1
    required: bool = True


@dataclass(frozen=True)
class Procedure:
    key: str
    national_code: str | None
    code_confidence: CodeConfidence
    local_code: str | None
    name: str
    sector: str
    duration: Duration
    duration_note: str
    fees: tuple[Fee, ...]
    components: tuple[Component, ...]
    competent_level: CompetentLevel
    competent_agency: str
    online_level: OnlineLevel | None
    mobile: bool
    legal_basis: tuple[str, ...]
    version: str
    notes: str
    applicant_min_age: int | None = None  # who may apply: e.g. 14 for the ID card (Luật Căn cước 2023 art. 19)

    def local_code_for(self, province_agency_id: str) -> str | None:
        """National code + province People's Committee electronic ID, e.g. ``….000.00.00.H29``."""
        return build_local_code(self.national_code, province_agency_id) if self.national_code else None


def build_local_code(national_code: str, province_agency_id: str) -> str:
    """The provincial variant of a procedure code (domain.md §3.2)."""
    if not _NATIONAL_CODE.fullmatch(national_code):
        raise InvalidCatalogue(f"national code must look like 1.001193, got {national_code!r}")
    return f"{national_code}.{province_agency_id}"


@dataclass(frozen=True)
class Catalogue:
    version: str
    procedures: tuple[Procedure, ...]

    def __iter__(self) -> Iterator[Procedure]:
        return iter(self.procedures)

    def __len__(self) -> int:
        return len(self.procedures)

    def by_key(self, key: str) -> Procedure:
        for procedure in self.procedures:
            if procedure.key == key:
                return procedure
        raise KeyError(key)

    def by_code(self, national_code: str) -> Procedure:
        for procedure in self.procedures:
            if procedure.national_code == national_code:
                return procedure
        raise KeyError(national_code)


class _Obj:
    """A JSON object with its path, for error messages that say where the data is wrong."""

    def __init__(
        self, value: object, path: str, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
    ) -> None:
        if not isinstance(value, dict):
            raise InvalidCatalogue(f"{path}: expected an object")
        unknown = set(value) - required - optional
        missing = required - set(value)
        if unknown:
            raise InvalidCatalogue(f"{path}: unknown keys {sorted(unknown)}")
        if missing:
            raise InvalidCatalogue(f"{path}: missing keys {sorted(missing)}")
        self.value: dict[str, Any] = value
        self.path = path

    def text(self, key: str, *, empty: bool = False) -> str:
        raw = self.value.get(key)
        if not isinstance(raw, str) or (not empty and not raw.strip()):
            raise InvalidCatalogue(f"{self.path}.{key}: expected {'text' if empty else 'non-empty text'}")
        if unicodedata.normalize("NFC", raw) != raw:
            raise InvalidCatalogue(f"{self.path}.{key}: text is not Unicode NFC")
        return raw

    def maybe_text(self, key: str) -> str | None:
        """Null (or an absent key) is allowed; anything else must be non-empty NFC text."""
        return None if self.value.get(key) is None else self.text(key)

    def note(self, key: str) -> str:
        """An optional free-text field; absent means empty."""
        return self.text(key, empty=True) if key in self.value else ""

    def enum(self, key: str, kind: type[E]) -> E:
        raw = self.value.get(key)
        if isinstance(raw, str) and raw in {m.value for m in kind}:
            return kind(raw)
        allowed = ", ".join(m.value for m in kind)
        raise InvalidCatalogue(f"{self.path}.{key}: {raw!r} is not one of {allowed}")

    def maybe_enum(self, key: str, kind: type[E]) -> E | None:
        return None if self.value.get(key) is None else self.enum(key, kind)

    def items(self, key: str) -> list[Any]:
        raw = self.value.get(key)
        if not isinstance(raw, list):
            raise InvalidCatalogue(f"{self.path}.{key}: expected a list")
        return raw

    def integer(self, key: str, *, minimum: int = 0) -> int:
        raw = self.value.get(key)
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
            raise InvalidCatalogue(f"{self.path}.{key}: expected an integer >= {minimum}")
        return raw

    def maybe_integer(self, key: str) -> int | None:
        return None if self.value.get(key) is None else self.integer(key)

    def flag(self, key: str, default: bool) -> bool:
        raw = self.value.get(key, default)
        if not isinstance(raw, bool):
            raise InvalidCatalogue(f"{self.path}.{key}: expected true or false")
        return raw


def _parse_procedure(raw: object, path: str) -> Procedure:
    obj = _Obj(
        raw,
        path,
        {"key", "national_code", "code_confidence", "name", "sector", "processing_time", "fees", "components",
         "competent_level", "competent_agency", "version"},
        {"local_code", "online_level", "mobile", "legal_basis", "notes", "applicant_min_age"},
    )  # fmt: skip
    key = obj.text("key")
    if not _KEY.fullmatch(key):
        raise InvalidCatalogue(f"{path}.key: use lower-case ascii words joined by '.' or '-', got {key!r}")
    code = obj.maybe_text("national_code")
    if code is not None and not _NATIONAL_CODE.fullmatch(code):
        raise InvalidCatalogue(f"{path}.national_code: expected d.dddddd, got {code!r}")
    confidence = obj.enum("code_confidence", CodeConfidence)
    if code is None and confidence is CodeConfidence.VERIFIED:
        raise InvalidCatalogue(f"{path}.code_confidence: a missing code cannot be verified")
    local = obj.maybe_text("local_code")
    if local is not None and (code is None or not local.startswith(code + ".")):
        raise InvalidCatalogue(f"{path}.local_code: must start with the national code and a dot")
    timing = _Obj(obj.value["processing_time"], f"{path}.processing_time", {"amount", "unit"}, {"note", "cutoff"})
    amount = timing.value["amount"]
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        raise InvalidCatalogue(f"{path}.processing_time.amount: expected a number")
    cutoff = timing.maybe_text("cutoff")
    try:
        # "HH:MM": received after it, same-day work counts from the next working day (Rule 1 of
        # node.domain.deadline); absent for procedures without that rule.
        at = time.fromisoformat(cutoff) if cutoff is not None else None
    except ValueError:
        raise InvalidCatalogue(f"{path}.processing_time.cutoff: expected HH:MM, got {cutoff!r}") from None
    try:
        duration = Duration(amount, timing.enum("unit", TimeUnit), at)
    except InvalidTiming as e:
        raise InvalidCatalogue(f"{path}.processing_time: {e}") from None
    fees = []
    for i, item in enumerate(obj.items("fees")):
        f = _Obj(item, f"{path}.fees[{i}]", {"name", "amount_vnd"}, {"unit", "note"})
        fees.append(Fee(f.text("name"), f.maybe_integer("amount_vnd"), f.maybe_text("unit"), f.note("note")))
    components = []
    for i, item in enumerate(obj.items("components")):
        c = _Obj(item, f"{path}.components[{i}]", {"name", "kind"}, {"quantity", "required"})
        quantity = c.integer("quantity", minimum=1) if "quantity" in c.value else 1
        components.append(Component(c.text("name"), c.enum("kind", CopyKind), quantity, c.flag("required", True)))
    basis = obj.value.get("legal_basis", [])
    if not isinstance(basis, list) or not all(isinstance(b, str) and b.strip() for b in basis):
        raise InvalidCatalogue(f"{path}.legal_basis: expected a list of non-empty texts")
    return Procedure(
        key=key,
        national_code=code,
        code_confidence=confidence,
        local_code=local,
        name=obj.text("name"),
        sector=obj.text("sector"),
        duration=duration,
        duration_note=timing.note("note"),
        fees=tuple(fees),
        components=tuple(components),
        competent_level=obj.enum("competent_level", CompetentLevel),
        competent_agency=obj.text("competent_agency"),
        online_level=obj.maybe_enum("online_level", OnlineLevel),
        mobile=obj.flag("mobile", False),
        legal_basis=tuple(basis),
        version=obj.text("version"),
        notes=obj.note("notes"),
        applicant_min_age=obj.maybe_integer("applicant_min_age"),
    )


def parse_catalogue(data: Mapping[str, object]) -> Catalogue:
    """Validate plain catalogue data and build a :class:`Catalogue`; raises :class:`InvalidCatalogue`."""
    top = _Obj(dict(data) if isinstance(data, Mapping) else data, "$", {"format", "version", "procedures"}, {"note"})
    if top.value["format"] != CATALOGUE_FORMAT:
        raise InvalidCatalogue(f"$.format: this node reads format {CATALOGUE_FORMAT}, got {top.value['format']!r}")
    version = top.text("version")
    procedures = tuple(_parse_procedure(p, f"$.procedures[{i}]") for i, p in enumerate(top.items("procedures")))
    seen_keys: set[str] = set()
    seen_codes: set[str] = set()
    for i, p in enumerate(procedures):
        if p.key in seen_keys:
            raise InvalidCatalogue(f"$.procedures[{i}].key: duplicate key {p.key!r}")
        if p.national_code is not None and p.national_code in seen_codes:
            raise InvalidCatalogue(f"$.procedures[{i}].national_code: duplicate code {p.national_code!r}")
        seen_keys.add(p.key)
        if p.national_code is not None:
            seen_codes.add(p.national_code)
    return Catalogue(version=version, procedures=procedures)


def parse_catalogue_json(text: str) -> Catalogue:
    """Parse catalogue JSON text (e.g. the seed file's content)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidCatalogue(f"$: not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(data, dict):
        raise InvalidCatalogue("$: expected an object at the top level")
    return parse_catalogue(data)
