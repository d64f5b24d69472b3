"""Dossier codes (mã hồ sơ) and offline issuance from leased number blocks.

Responsibility: format, parse and validate ``<agency id>-<yyMMdd>-<seq:4>`` (domain.md §3.1), and
decide the next code a node may issue while offline. A node cannot ask the provincial counter,
so the district leases it *blocks*: for one agency id, a day or a range of days, and a range of
daily sequence numbers (the counter resets every day, so a block grants its range on each of its
days). When no block covers the day, the node issues a provisional code ``TAM-<node>-<yyMMdd>-<n>``
and the final code is assigned later from a block covering the reception day.

Rules
-----
Rule 1. Allocation is a pure function of (blocks leased to the node, codes already issued): the
        node folds its event log into an :class:`IssuedLedger` and asks :func:`next_code`.
Rule 2. Within a block and day the next number is one above the highest already issued in that
        block, never a gap below it: a code once issued is never issued again, even if the
        ledger later shows a hole (a voided dossier keeps its number).
Rule 3. Blocks of the same agency whose day ranges intersect must have disjoint sequence ranges
        (the district checks with :func:`find_overlaps` and allocates with :func:`lease_block`).
        Two nodes issuing only from their own disjoint blocks therefore never collide.
Rule 4. Provisional codes are numbered per (node short id, day) and are unique as long as the
        district gives each node a distinct short id; they never look like a final code.

The agency id is the electronic identifier of QĐ 20/2020/QĐ-TTg, four dot-separated levels read
right to left (``000.17.22.H56``). ``yyMMdd`` is read as 20yy. The seq range of a day is
1..9999; the province must keep the ranges it leases apart from those its own counter uses.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from types import MappingProxyType
from typing import Protocol, runtime_checkable

MAX_SEQ = 9999
PROVISIONAL_PREFIX = "TAM"
_AGENCY_RE = re.compile(r"(?:[0-9]{2,3}\.){3}[A-Z][0-9]{2}")
_CODE_RE = re.compile(r"(?P<agency>[0-9A-Z.]+)-(?P<day>[0-9]{6})-(?P<seq>[0-9]{4})")
_NODE_RE = re.compile(r"[A-Z0-9]{2,8}")
_PROVISIONAL_RE = re.compile(rf"{PROVISIONAL_PREFIX}-(?P<node>[A-Z0-9]+)-(?P<day>[0-9]{{6}})-(?P<n>[0-9]{{4,}})")


class InvalidDossierCode(ValueError):
    """Raised when a dossier code, agency id or provisional code is malformed."""


class InvalidBlock(ValueError):
    """Raised when a number block is malformed or blocks overlap."""


class NoFreeRange(ValueError):
    """Raised when the district has no free sequence range left to lease for the days asked."""


def _parse_day(text: str, whole: str) -> date:
    try:
        return datetime.strptime("20" + text, "%Y%m%d").date()
    except ValueError:
        raise InvalidDossierCode(f"Ngày trong mã không hợp lệ / bad yyMMdd {text!r} in {whole!r}") from None


def check_agency_id(agency_id: str) -> str:
    """Return ``agency_id`` if it has the four-level electronic-ID shape, else raise."""
    if not isinstance(agency_id, str) or not _AGENCY_RE.fullmatch(agency_id):
        raise InvalidDossierCode(
            f"Mã định danh cơ quan không hợp lệ / agency id must look like 000.17.22.H56, got {agency_id!r}"
        )
    return agency_id


@dataclass(frozen=True, order=True)
class DossierCode:
    """A final national dossier code."""

    agency_id: str
    day: date
    seq: int

    def __post_init__(self) -> None:
        check_agency_id(self.agency_id)
        if not 2000 <= self.day.year <= 2099:
            raise InvalidDossierCode(f"yyMMdd covers 2000-2099 only, got {self.day}")
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or not 1 <= self.seq <= MAX_SEQ:
            raise InvalidDossierCode(f"Số thứ tự phải từ 1 đến {MAX_SEQ} / seq out of range: {self.seq!r}")

    def __str__(self) -> str:
        return f"{self.agency_id}-{self.day:%y%m%d}-{self.seq:04d}"


@dataclass(frozen=True, order=True)
class ProvisionalCode:
    """A node-local placeholder code, replaced by a final code later (Rule 4)."""

    node: str
    day: date
    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.node, str) or not _NODE_RE.fullmatch(self.node):
            raise InvalidDossierCode(f"node short id must be 2-8 of A-Z0-9, got {self.node!r}")
        if isinstance(self.n, bool) or not isinstance(self.n, int) or self.n < 1:
            raise InvalidDossierCode(f"provisional number must be >= 1, got {self.n!r}")

    def __str__(self) -> str:
        return f"{PROVISIONAL_PREFIX}-{self.node}-{self.day:%y%m%d}-{self.n:04d}"


IssuedCode = DossierCode | ProvisionalCode


def parse_dossier_code(text: str) -> DossierCode:
    """Parse a final code such as ``000.17.22.H56-210531-0001``."""
    match = _CODE_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidDossierCode(f"Mã hồ sơ không đúng dạng / expected <agency>-<yyMMdd>-<nnnn>, got {text!r}")
    return DossierCode(check_agency_id(match["agency"]), _parse_day(match["day"], text), int(match["seq"]))


def parse_provisional_code(text: str) -> ProvisionalCode:
    """Parse a provisional code such as ``TAM-N07-260304-0003``."""
    match = _PROVISIONAL_RE.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise InvalidDossierCode(f"Mã tạm không đúng dạng / expected TAM-<node>-<yyMMdd>-<n>, got {text!r}")
    return ProvisionalCode(match["node"], _parse_day(match["day"], text), int(match["n"]))


def parse_code(text: str) -> IssuedCode:
    """Parse either kind of code."""
    if isinstance(text, str) and text.strip().startswith(PROVISIONAL_PREFIX + "-"):
        return parse_provisional_code(text)
    return parse_dossier_code(text)


def is_provisional(text: str) -> bool:
    """True for a well-formed provisional code."""
    try:
        return isinstance(parse_code(text), ProvisionalCode)
    except InvalidDossierCode:
        return False


@dataclass(frozen=True)
class NumberBlock:
    """Sequence numbers ``first_seq..last_seq`` of ``agency_id`` on each day of the day range."""

    block_id: str
    agency_id: str
    node_id: str
    first_day: date
    last_day: date
    first_seq: int
    last_seq: int

    def __post_init__(self) -> None:
        if not self.block_id or not self.node_id:
            raise InvalidBlock("block_id and node_id are required")
        check_agency_id(self.agency_id)
        if self.first_day > self.last_day:
            raise InvalidBlock(f"block {self.block_id}: first_day after last_day")
        if not 1 <= self.first_seq <= self.last_seq <= MAX_SEQ:
            raise InvalidBlock(f"block {self.block_id}: need 1 <= first_seq <= last_seq <= {MAX_SEQ}")

    @property
    def size(self) -> int:
        return self.last_seq - self.first_seq + 1

    def covers(self, agency_id: str, day: date) -> bool:
        return agency_id == self.agency_id and self.first_day <= day <= self.last_day

    def contains(self, code: DossierCode) -> bool:
        return self.covers(code.agency_id, code.day) and self.first_seq <= code.seq <= self.last_seq

    def overlaps(self, other: NumberBlock) -> bool:
        """Rule 3: same agency, intersecting days and intersecting sequence ranges."""
        return (
            self.agency_id == other.agency_id
            and self.first_day <= other.last_day
            and other.first_day <= self.last_day
            and self.first_seq <= other.last_seq
            and other.first_seq <= self.last_seq
        )


def find_overlaps(blocks: Iterable[NumberBlock]) -> list[tuple[NumberBlock, NumberBlock]]:
    """Every overlapping pair (Rule 3); an empty list means the lease table is safe."""
    items = sorted(blocks, key=lambda b: (b.agency_id, b.first_seq, b.block_id))
    return [(a, b) for i, a in enumerate(items) for b in items[i + 1 :] if a.overlaps(b)]


def lease_block(
    existing: Iterable[NumberBlock],
    *,
    block_id: str,
    agency_id: str,
    node_id: str,
    first_day: date,
    last_day: date,
    size: int,
) -> NumberBlock:
    """District side: the lowest free sequence range of ``size`` numbers for the days asked."""
    if size < 1 or size > MAX_SEQ:
        raise InvalidBlock(f"block size must be 1..{MAX_SEQ}")
    probe = NumberBlock(block_id, agency_id, node_id, first_day, last_day, 1, MAX_SEQ)
    taken = sorted((b.first_seq, b.last_seq) for b in existing if b.overlaps(probe))
    candidate = 1
    for lo, hi in taken:
        if candidate + size - 1 < lo:
            break
        candidate = max(candidate, hi + 1)
    if candidate + size - 1 > MAX_SEQ:
        raise NoFreeRange(f"Hết dải số trống / no free range of {size} for {agency_id} {first_day}..{last_day}")
    return NumberBlock(block_id, agency_id, node_id, first_day, last_day, candidate, candidate + size - 1)


class IssuedLedger:
    """An immutable summary of the codes issued so far (a fold of the node's event log)."""

    __slots__ = ("_count", "_provisional", "_seqs")

    def __init__(
        self,
        seqs: Mapping[tuple[str, date], tuple[int, ...]] | None = None,
        provisional: Mapping[tuple[str, date], int] | None = None,
        count: int = 0,
    ) -> None:
        self._seqs: Mapping[tuple[str, date], tuple[int, ...]] = MappingProxyType(dict(seqs or {}))
        self._provisional: Mapping[tuple[str, date], int] = MappingProxyType(dict(provisional or {}))
        self._count = count

    @classmethod
    def from_codes(cls, codes: Iterable[IssuedCode | str]) -> IssuedLedger:
        ledger = cls()
        for code in codes:
            ledger = ledger.plus(code)
        return ledger

    def plus(self, code: IssuedCode | str) -> IssuedLedger:
        """A new ledger that also holds ``code``; recording a code twice is an error."""
        if isinstance(code, str):
            code = parse_code(code)
        if code in self:
            raise InvalidDossierCode(f"Mã đã được cấp / code already issued: {code}")
        seqs, provisional = dict(self._seqs), dict(self._provisional)
        if isinstance(code, DossierCode):
            current = list(seqs.get((code.agency_id, code.day), ()))
            bisect.insort(current, code.seq)
            seqs[(code.agency_id, code.day)] = tuple(current)
        else:
            key = (code.node, code.day)
            provisional[key] = max(provisional.get(key, 0), code.n)
        return IssuedLedger(seqs, provisional, self._count + 1)

    def __contains__(self, code: object) -> bool:
        if isinstance(code, DossierCode):
            seqs = self._seqs.get((code.agency_id, code.day), ())
            i = bisect.bisect_left(seqs, code.seq)
            return i < len(seqs) and seqs[i] == code.seq
        if isinstance(code, ProvisionalCode):
            # Numbers below the high-water mark are treated as used: Rule 2 applies here too.
            return code.n <= self._provisional.get((code.node, code.day), 0)
        return False

    def __len__(self) -> int:
        return self._count

    def highest_in(self, agency_id: str, day: date, lo: int, hi: int) -> int | None:
        """The highest issued seq within ``lo..hi`` for the agency and day, if any."""
        seqs = self._seqs.get((agency_id, day), ())
        i = bisect.bisect_right(seqs, hi)
        return seqs[i - 1] if i and seqs[i - 1] >= lo else None

    def last_provisional(self, node: str, day: date) -> int:
        return self._provisional.get((node, day), 0)


@runtime_checkable
class IssuedNumbers(Protocol):
    """What choosing the next code reads of the codes issued: an :class:`IssuedLedger`, or a
    view that answers from an index without holding the day's codes (``node.codes``)."""

    def highest_in(self, agency_id: str, day: date, lo: int, hi: int) -> int | None: ...

    def last_provisional(self, node: str, day: date) -> int: ...


def _as_ledger(issued: IssuedNumbers | Iterable[IssuedCode | str]) -> IssuedNumbers:
    return issued if isinstance(issued, IssuedNumbers) else IssuedLedger.from_codes(issued)


def next_final_code(
    blocks: Iterable[NumberBlock],
    issued: IssuedNumbers | Iterable[IssuedCode | str],
    *,
    agency_id: str,
    node_id: str,
    day: date,
) -> DossierCode | None:
    """The next final code from this node's blocks for ``day`` (Rules 1-2), or None."""
    ledger = _as_ledger(issued)
    mine = sorted(
        (b for b in blocks if b.node_id == node_id and b.covers(agency_id, day)),
        key=lambda b: (b.first_seq, b.block_id),
    )
    for block in mine:
        highest = ledger.highest_in(agency_id, day, block.first_seq, block.last_seq)
        candidate = block.first_seq if highest is None else highest + 1
        if candidate <= block.last_seq:
            return DossierCode(agency_id, day, candidate)
    return None


def next_code(
    blocks: Iterable[NumberBlock],
    issued: IssuedNumbers | Iterable[IssuedCode | str],
    *,
    agency_id: str,
    node_id: str,
    node_short_id: str,
    day: date,
) -> IssuedCode:
    """The next code to issue: final when a leased block has room, provisional otherwise."""
    ledger = _as_ledger(issued)
    final = next_final_code(blocks, ledger, agency_id=agency_id, node_id=node_id, day=day)
    if final is not None:
        return final
    return ProvisionalCode(node_short_id, day, ledger.last_provisional(node_short_id, day) + 1)


def final_code_for(
    provisional: ProvisionalCode,
    blocks: Iterable[NumberBlock],
    issued: IssuedNumbers | Iterable[IssuedCode | str],
    *,
    agency_id: str,
    node_id: str,
) -> DossierCode | None:
    """The final code to assign to a provisional one: it keeps the *reception* day."""
    return next_final_code(blocks, issued, agency_id=agency_id, node_id=node_id, day=provisional.day)
