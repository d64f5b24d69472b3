"""The tracking ledger's numbers (Sổ theo dõi hồ sơ): continuous per year (Circular 01/2018/TT-VPCP
art. 10(2)).

A dossier's number is its place among the dossiers its unit received in the same Vietnamese
calendar year, ordered by reception time then id: the first of 1 January is number 1, and a
printout of any range of days carries the numbers the whole year gives them, not 1, 2, 3 from
the first row printed. Dossiers a mobile laptop received offline take their place by reception
time once synced, so numbers after theirs move up: print the ledger after the day's syncs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from node.domain.vietnam_time import day_start_ms, to_vn
from node.models import DossierRow


def year_numbers(scope: str, rows: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """``{dossier id: number in its year}`` for ``rows``: every dossier of ``scope`` received in a
    range of days, in (received_at, id) order, none left out (what the ledger prints)."""
    numbers: dict[str, int] = {}
    year, number = None, 0
    for item in rows:
        received = item["received_at"]
        if to_vn(received).year != year:  # the first row of a year: count what came before it
            year = to_vn(received).year
            start = day_start_ms(date(year, 1, 1))
            number = DossierRow.select().where(
                (DossierRow.scope == scope) & (DossierRow.received_at >= start) & (
                    (DossierRow.received_at < received)
                    | ((DossierRow.received_at == received) & (DossierRow.id < item["id"])))
            ).count()
        number += 1
        numbers[item["id"]] = number
    return numbers
