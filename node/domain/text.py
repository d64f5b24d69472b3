"""Text rules of the pure core: folding for search, and the characters no stored text may hold.

Folding: clerks type names without accents on keyboards that lack a Vietnamese input method, so
"Nguyễn Thị Ánh" must be found by "nguyen thi anh". ``đ``/``Đ`` is a separate letter, not a
letter with a combining mark, so Unicode decomposition alone does not fold it.

Forbidden characters (:func:`forbidden_char`, :func:`check_text`): every text a person types or
a client sends, before it is signed into an event, passes this one rule, whoever calls
(reception, updates, status and conflict reasons, apology letters, the web forms, the JSON API):

- bidirectional embeddings, overrides and isolates (U+202A–U+202E, U+2066–U+2069) and the
  invisible marks (U+200B–U+200F zero-width space, joiners, LRM/RLM; U+061C, U+2060, U+FEFF).
  An override can make a printed name or an ID number read differently from what is stored
  ("Trojan Source"), and an invisible character makes two names that look identical differ,
  which defeats duplicate detection and search. Vietnamese needs none of them;
- control characters other than tab and line breaks (C0, DEL, C1): NUL cannot be stored by
  PostgreSQL at all, and the others only garble printed forms and logs;
- lone surrogates (U+D800–U+DFFF), which JSON's ``\\udXXX`` escapes can produce: they are not
  characters and cannot be encoded as UTF-8, so no event could carry them.

Refused, never silently stripped: what is signed must be what the person meant, and they are
told which character to remove.
"""

from __future__ import annotations

import unicodedata

from node.domain.errors import DomainError

_EXTRA = str.maketrans({"đ": "d", "Đ": "d"})

BIDI_CONTROLS = frozenset(chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), 0x061C))
INVISIBLE = frozenset(chr(c) for c in (*range(0x200B, 0x2010), 0x2060, 0xFEFF))
_ALLOWED_CONTROLS = frozenset("\t\n\r")


def fold(text: str) -> str:
    """Lower-case, strip diacritics, collapse white space."""
    decomposed = unicodedata.normalize("NFD", text.translate(_EXTRA))
    stripped = "".join(c for c in decomposed if unicodedata.category(c) != "Mn")
    return " ".join(stripped.lower().split())


def _forbidden(c: str) -> bool:
    o = ord(c)
    if o < 0x20 or 0x7F <= o <= 0x9F:
        return c not in _ALLOWED_CONTROLS
    return c in BIDI_CONTROLS or c in INVISIBLE or 0xD800 <= o <= 0xDFFF


def forbidden_char(text: str) -> str | None:
    """The first forbidden character of ``text`` as ``U+XXXX``, or None when the text is clean."""
    for c in text:
        if _forbidden(c):
            return f"U+{ord(c):04X}"
    return None


class ForbiddenCharacter(DomainError):
    """A text holds a bidirectional, invisible or control character (``codepoint`` names it)."""

    def __init__(self, field: str, codepoint: str) -> None:
        super().__init__(
            f"{field} contains {codepoint}, an invisible, control or text-direction character; remove it "
            f"and send again / {field} có ký tự ẩn, ký tự điều khiển hoặc ký tự đổi hướng chữ ({codepoint}); "
            "hãy xóa ký tự đó rồi gửi lại",
            field,
        )
        self.codepoint = codepoint


def check_text(text: str, field: str) -> str:
    """Return ``text`` unchanged if it holds no forbidden character, else raise
    :class:`ForbiddenCharacter` naming ``field`` and the character."""
    found = forbidden_char(text)
    if found is not None:
        raise ForbiddenCharacter(field, found)
    return text


def clean_line(value: object, field: str, limit: int) -> str:
    """A one-line free text (a status or conflict reason): text or nothing, checked, white space
    collapsed, cut at ``limit`` characters."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise DomainError(f"{field} must be text", field)
    return " ".join(check_text(value, field).split())[:limit]
