"""Text folding for search: Vietnamese without diacritics, lower case (pure core).

Clerks type names without accents on keyboards that lack a Vietnamese input method, so
"Nguyễn Thị Ánh" must be found by "nguyen thi anh". ``đ``/``Đ`` is a separate letter, not a
letter with a combining mark, so Unicode decomposition alone does not fold it.
"""

from __future__ import annotations

import unicodedata

_EXTRA = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str) -> str:
    """Lower-case, strip diacritics, collapse white space."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA))
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(stripped.lower().split())
