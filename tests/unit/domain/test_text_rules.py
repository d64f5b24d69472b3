"""The one rule on typed and sent texts (node.domain.text): bidirectional, invisible and control
characters and lone surrogates are refused with the field and the character named; everything a
Vietnamese text needs passes untouched."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from node.domain.errors import DomainError
from node.domain.text import BIDI_CONTROLS, INVISIBLE, ForbiddenCharacter, check_text, clean_line, forbidden_char

REQUIRED = [chr(c) for c in (*range(0x202A, 0x202F), *range(0x2066, 0x206A), *range(0x200B, 0x2010))]
CONTROLS = ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9f"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff"]
FORBIDDEN = REQUIRED + CONTROLS + SURROGATES + ["\u061c", "\u2060", "\ufeff"]


def test_the_ranges_the_issue_names_are_all_forbidden():
    assert set(REQUIRED) <= BIDI_CONTROLS | INVISIBLE
    for c in FORBIDDEN:
        assert forbidden_char(f"Nguyễn{c}Văn") == f"U+{ord(c):04X}"


@pytest.mark.parametrize("text", [
    "Nguyễn Thị Ánh", "Đặng Hữu Phước", "Xóm 3, thôn Đông\nxã Tân Phú", "tab\tok", "0912 345 678",
    "Hồ sơ – bản sao “có chứng thực”", "家", "🙂", "\u00ad",
])
def test_what_vietnamese_texts_need_passes_unchanged(text):
    assert forbidden_char(text) is None
    assert check_text(text, "x") is text


def test_the_refusal_names_the_field_and_the_character_in_both_languages():
    with pytest.raises(ForbiddenCharacter) as e:
        check_text("Lê\u202eVăn", "applicant.name")
    assert e.value.field == "applicant.name" and e.value.codepoint == "U+202E"
    assert "applicant.name" in e.value.message and "U+202E" in e.value.message
    assert "ký tự" in e.value.message  # Vietnamese for the desk
    assert isinstance(e.value, DomainError)  # so every caller answers it as a 4xx


def test_clean_line_collapses_space_refuses_non_text_and_forbidden_characters():
    assert clean_line("  Chuyển   bộ phận\nchuyên môn ", "reason", 2000) == "Chuyển bộ phận chuyên môn"
    assert clean_line(None, "reason", 10) == ""
    assert clean_line("x" * 50, "reason", 10) == "x" * 10
    with pytest.raises(DomainError):
        clean_line({"a": 1}, "reason", 10)
    with pytest.raises(ForbiddenCharacter):
        clean_line("a\u2066b", "reason", 10)


@given(st.text(), st.sampled_from(FORBIDDEN), st.data())
def test_a_forbidden_character_anywhere_is_found(text, bad, data):
    where = data.draw(st.integers(0, len(text)))
    assert forbidden_char(text[:where] + bad + text[where:]) is not None


@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Cf"))))
def test_text_without_controls_or_format_characters_passes(text):
    assert forbidden_char(text) is None
