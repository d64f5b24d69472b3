"""Dossier codes, provisional codes, block leasing and collision-free offline issuance."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from node.domain.dossier_code import (
    DossierCode,
    InvalidBlock,
    InvalidDossierCode,
    IssuedLedger,
    NoFreeRange,
    NumberBlock,
    ProvisionalCode,
    final_code_for,
    find_overlaps,
    is_provisional,
    lease_block,
    next_code,
    next_final_code,
    parse_code,
    parse_dossier_code,
    parse_provisional_code,
)

AGENCY = "000.17.22.H56"
DAY = date(2026, 3, 4)


@pytest.mark.parametrize(
    ("text", "agency", "day", "seq"),
    [
        ("000.17.22.H56-210531-0001", "000.17.22.H56", date(2021, 5, 31), 1),
        ("000.00.04.H40-230414-0002", "000.00.04.H40", date(2023, 4, 14), 2),
        ("000.00.53.H48-220921-0099", "000.00.53.H48", date(2022, 9, 21), 99),
        ("000.713.18.G12-260304-9999", "000.713.18.G12", date(2026, 3, 4), 9999),
        ("  000.17.22.H56-280229-0001 ", "000.17.22.H56", date(2028, 2, 29), 1),  # leap day, spaces
    ],
)
def test_parse_and_format_round_trip(text: str, agency: str, day: date, seq: int) -> None:
    code = parse_dossier_code(text)
    assert code == DossierCode(agency, day, seq)
    assert str(code) == text.strip()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "000.17.22.H56-210531-1",  # seq not padded
        "000.17.22.H56-210531-00001",  # five digits
        "000.17.22.H56-210531-0000",  # seq 0
        "000.17.22.H56-20210531-0001",  # yyyyMMdd variant is not this format
        "000.17.22.H56-210532-0001",  # 32 May
        "000.17.22.H56-260229-0001",  # 2026 is not a leap year
        "17.22.H56-210531-0001",  # three levels
        "000.17.22.h56-210531-0001",  # lower-case level-1 code
        "000.17.22-210531-0001",
        "TAM-N07-260304-0001",  # a provisional code is not a final one
    ],
)
def test_bad_final_codes_are_rejected(text: str) -> None:
    with pytest.raises(InvalidDossierCode):
        parse_dossier_code(text)


def test_provisional_codes_are_distinguishable() -> None:
    code = ProvisionalCode("N07", DAY, 3)
    assert str(code) == "TAM-N07-260304-0003"
    assert parse_code(str(code)) == code == parse_provisional_code("TAM-N07-260304-0003")
    assert is_provisional("TAM-N07-260304-0003")
    assert not is_provisional("000.17.22.H56-260304-0003")
    assert not is_provisional("TAM-n07-260304-0003")
    assert isinstance(parse_code("000.17.22.H56-260304-0003"), DossierCode)


@pytest.mark.parametrize("node", ["", "A", "N-07", "n07", "TOOLONGID"])
def test_bad_provisional_node_ids(node: str) -> None:
    with pytest.raises(InvalidDossierCode):
        ProvisionalCode(node, DAY, 1)


def block(block_id: str, node: str, first: int, last: int, days: int = 1, start: date = DAY) -> NumberBlock:
    return NumberBlock(block_id, AGENCY, node, start, start + timedelta(days=days - 1), first, last)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("B1", AGENCY, "n", DAY, DAY - timedelta(days=1), 1, 10), "first_day"),
        (("B1", AGENCY, "n", DAY, DAY, 0, 10), "first_seq"),
        (("B1", AGENCY, "n", DAY, DAY, 10, 9), "first_seq"),
        (("B1", AGENCY, "n", DAY, DAY, 1, 10000), "first_seq"),
        (("", AGENCY, "n", DAY, DAY, 1, 10), "required"),
    ],
)
def test_bad_blocks_are_rejected(args: tuple[object, ...], message: str) -> None:
    with pytest.raises(InvalidBlock, match=message):
        NumberBlock(*args)  # type: ignore[arg-type]


def test_issue_from_blocks_then_fall_back_to_provisional() -> None:
    blocks = [block("B2", "A", 11, 12), block("B1", "A", 1, 2), block("BX", "B", 3, 10)]
    issued = IssuedLedger()
    got = []
    for _ in range(6):
        code = next_code(blocks, issued, agency_id=AGENCY, node_id="A", node_short_id="NA", day=DAY)
        issued = issued.plus(code)
        got.append(str(code))
    assert got == [
        "000.17.22.H56-260304-0001",
        "000.17.22.H56-260304-0002",
        "000.17.22.H56-260304-0011",  # next block of this node; node B's block is never used
        "000.17.22.H56-260304-0012",
        "TAM-NA-260304-0001",
        "TAM-NA-260304-0002",
    ]
    # A day no block covers: provisional from the start.
    other_day = DAY + timedelta(days=1)
    assert next_code(blocks, issued, agency_id=AGENCY, node_id="A", node_short_id="NA", day=other_day) == (
        ProvisionalCode("NA", other_day, 1)
    )


def test_a_gap_below_the_high_water_mark_is_never_reused() -> None:
    blocks = [block("B1", "A", 1, 100)]
    issued = IssuedLedger.from_codes(["000.17.22.H56-260304-0001", "000.17.22.H56-260304-0005"])
    assert next_final_code(blocks, issued, agency_id=AGENCY, node_id="A", day=DAY) == DossierCode(AGENCY, DAY, 6)


def test_issuing_is_a_pure_function_of_blocks_and_issued_codes() -> None:
    blocks = [block("B1", "A", 1, 100)]
    codes = ["000.17.22.H56-260304-0001", "TAM-NA-260304-0004"]
    first = next_code(blocks, codes, agency_id=AGENCY, node_id="A", node_short_id="NA", day=DAY)
    again = next_code(
        blocks, IssuedLedger.from_codes(codes), agency_id=AGENCY, node_id="A", node_short_id="NA", day=DAY
    )
    assert first == again == DossierCode(AGENCY, DAY, 2)


def test_recording_a_code_twice_is_refused() -> None:
    ledger = IssuedLedger.from_codes(["000.17.22.H56-260304-0001", "TAM-NA-260304-0003"])
    assert len(ledger) == 2
    for code in ("000.17.22.H56-260304-0001", "TAM-NA-260304-0002"):
        with pytest.raises(InvalidDossierCode, match="already"):
            ledger.plus(code)


def test_final_code_for_a_provisional_keeps_the_reception_day() -> None:
    provisional = ProvisionalCode("NA", DAY, 1)
    later_block = block("B9", "A", 50, 60, days=1, start=DAY + timedelta(days=3))
    assert final_code_for(provisional, [later_block], [provisional], agency_id=AGENCY, node_id="A") is None
    backdated = block("B10", "A", 50, 60, days=1, start=DAY)
    assert final_code_for(provisional, [later_block, backdated], [provisional], agency_id=AGENCY, node_id="A") == (
        DossierCode(AGENCY, DAY, 50)
    )


def test_lease_block_allocates_the_lowest_free_range_and_never_overlaps() -> None:
    leases: list[NumberBlock] = []
    for i, (node, size, days) in enumerate([("A", 500, 30), ("B", 500, 30), ("C", 100, 1), ("A", 500, 30)]):
        last_day = DAY + timedelta(days=days - 1)
        leases.append(
            lease_block(
                leases, block_id=f"L{i}", agency_id=AGENCY, node_id=node, first_day=DAY, last_day=last_day, size=size
            )
        )
    assert [(b.first_seq, b.last_seq) for b in leases] == [(1, 500), (501, 1000), (1001, 1100), (1101, 1600)]
    assert find_overlaps(leases) == []
    # A later month reuses the same numbers: the daily counter resets, so days must differ.
    next_month = lease_block(
        leases, block_id="L9", agency_id=AGENCY, node_id="C", first_day=DAY + timedelta(days=30),
        last_day=DAY + timedelta(days=59), size=500,
    )  # fmt: skip
    assert (next_month.first_seq, next_month.last_seq) == (1, 500)
    with pytest.raises(NoFreeRange):
        lease_block(leases, block_id="L10", agency_id=AGENCY, node_id="D", first_day=DAY, last_day=DAY, size=9000)


def test_find_overlaps_reports_conflicting_leases() -> None:
    a, b, c = block("B1", "A", 1, 100), block("B2", "B", 100, 200), block("B3", "C", 201, 300)
    other_agency = NumberBlock("B4", "000.00.04.H40", "D", DAY, DAY, 1, 100)
    assert find_overlaps([a, b, c, other_agency]) == [(a, b)]


def test_two_offline_nodes_issue_ten_thousand_codes_each_without_collision() -> None:
    """Disjoint leases ⇒ disjoint codes, including the provisional fallback when leases run out."""
    days = 3
    node_a_blocks = [block("A1", "A", 1, 4000, days=2)]  # A's leases cover only two of the three days
    node_b_blocks = [block("B1", "B", 4001, 8000, days=days)]
    assert find_overlaps(node_a_blocks + node_b_blocks) == []

    def run(node: str, short: str, blocks: list[NumberBlock]) -> list[str]:
        issued = IssuedLedger()
        out = []
        for i in range(10_000):
            day = DAY + timedelta(days=i * days // 10_000)
            code = next_code(blocks, issued, agency_id=AGENCY, node_id=node, node_short_id=short, day=day)
            issued = issued.plus(code)
            out.append(str(code))
        return out

    codes_a, codes_b = run("A", "NA", node_a_blocks), run("B", "NB", node_b_blocks)
    everything = codes_a + codes_b
    assert len(everything) == len(set(everything)) == 20_000
    assert sum(is_provisional(c) for c in codes_a) > 0
    assert not any(is_provisional(c) for c in codes_b)
    finals = [parse_dossier_code(c) for c in everything if not is_provisional(c)]
    assert all(any(b.contains(f) for b in node_a_blocks + node_b_blocks) for f in finals)


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=2, max_size=4),
    order=st.lists(st.integers(min_value=0, max_value=3), max_size=120),
)
def test_any_interleaving_of_nodes_with_leased_blocks_never_collides(sizes: list[int], order: list[int]) -> None:
    leases: list[NumberBlock] = []
    for i, size in enumerate(sizes):
        leases.append(
            lease_block(
                leases, block_id=f"L{i}", agency_id=AGENCY, node_id=f"N{i}", first_day=DAY, last_day=DAY, size=size
            )
        )
    ledgers = {f"N{i}": IssuedLedger() for i in range(len(sizes))}
    issued: list[str] = []
    for pick in order:
        node = f"N{pick % len(sizes)}"
        code = next_code(leases, ledgers[node], agency_id=AGENCY, node_id=node, node_short_id=node, day=DAY)
        ledgers[node] = ledgers[node].plus(code)
        issued.append(str(code))
    assert len(issued) == len(set(issued))
