"""Which set of one-stop forms a dossier is printed on, chosen by its reception date (pure).

A dossier received before the 2025 frame took effect is printed on the forms of Circular
01/2018/TT-VPCP (art. 9: Mẫu 01 receipt, 02 supplement request, 03 refusal, 04 apology and new
date, 05 control slip, 06 tracking ledger); one received from then on, on those of Circular
03/2025/TT-VPCP guiding Decree 118/2025 (Phụ lục I: 01 receipt, 02 supplement request, 03
refusal, 04 apology and request to extend the time, 05 notice of stopping, 06 control slip, 07
ledger).

Not verified (domain.md marks the 2025 list [S], one source): the 2025 numbering and the title of
its Mẫu 04, and the day the 2025 forms apply from. :data:`SWITCH_DAY` is 1 July 2025, when Decree
118/2025 took effect, since Circular 03/2025 (signed 15 September 2025) was not found in full.

Paper (Circular 01/2018 art. 9(2); domain.md errata): the forms are A5, the ledger A4; the
receipt's two copies (Liên 1, Liên 2) are two A5 halves of one A4 sheet, the paper a commune
printer holds.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

SWITCH_DAY = date(2025, 7, 1)
A5 = "A5 portrait"
A4_TWO_A5 = "A4 portrait"  # two A5 landscape halves: the receipt's two copies
A4_LEDGER = "A4 landscape"
PAPER: Mapping[str, str] = {
    "bien-nhan": A4_TWO_A5, "bo-sung": A5, "tu-choi": A5, "xin-loi": A5, "thong-bao-dung": A5,
    "kiem-soat": A5, "so-theo-doi": A4_LEDGER,
}


@dataclass(frozen=True)
class FormSet:
    year: int
    basis: str  # the circular whose appendix holds the forms
    numbers: Mapping[str, str]  # form slug -> "Mẫu số" number
    titles: Mapping[str, str]  # titles that differ from the 2018 wording

    def label(self, form: str) -> str:
        """"Mẫu số 01 (Thông tư …)", or "" for a form the set does not number."""
        number = self.numbers.get(form)
        return f"Mẫu số {number} ({self.basis})" if number else ""

    def title(self, form: str, default: str) -> str:
        return self.titles.get(form, default)


SET_2018 = FormSet(
    2018, "Thông tư số 01/2018/TT-VPCP",
    {"bien-nhan": "01", "bo-sung": "02", "tu-choi": "03", "xin-loi": "04", "kiem-soat": "05", "so-theo-doi": "06"},
    {},
)
SET_2025 = FormSet(
    2025, "Thông tư số 03/2025/TT-VPCP",
    {"bien-nhan": "01", "bo-sung": "02", "tu-choi": "03", "xin-loi": "04", "thong-bao-dung": "05",
     "kiem-soat": "06", "so-theo-doi": "07"},
    {"xin-loi": "Văn bản xin lỗi và đề nghị gia hạn thời gian giải quyết"},
)


def form_set(received_on: date) -> FormSet:
    """The set of forms for a dossier received on ``received_on`` (a Vietnamese day)."""
    return SET_2025 if received_on >= SWITCH_DAY else SET_2018
