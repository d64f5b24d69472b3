"""Every word a person reads in a web template is marked for translation (issue 13.9).

Text outside ``{{ _("…") }}`` would show in Vietnamese in the English UI with no catalogue entry
to catch it, so a template is scanned: after dropping Jinja expressions, statements, comments,
scripts and tags, no word may remain but the few that are the same in every language (the
product's name, file formats, key names). The same holds for the attributes people read
(title, placeholder, alt, aria-label). The paper forms under ``print/`` are exempt: they are
legal Vietnamese forms printed in Vietnamese whatever the UI language.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[3] / "web" / "templates"
SAME_IN_EVERY_LANGUAGE = {"motcua", "CSV", "Excel", "(XLSX)", "XLSX", "Alt+N", "Enter", "dd/mm/yyyy"}
WORD = re.compile(r"[^\s<>]*[A-Za-zÀ-ỹđĐ]{2,}[^\s<>]*")


def unmarked(source: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}", " ", source, flags=re.S)
    text = re.sub(r"\{\{.*?\}\}", " ", text, flags=re.S)
    text = re.sub(r"\{%.*?%\}", " ", text, flags=re.S)
    text = re.sub(r"<(script|style)\b.*?</\1>", " ", text, flags=re.S)
    found = [m.group(2) for m in re.finditer(r'\b(?:title|placeholder|alt|aria-label)=(["\'])(.*?)\1', text)
             if WORD.search(m.group(2))]
    found += WORD.findall(re.sub(r"<[^>]*>", " ", text))
    return [w for w in found if w not in SAME_IN_EVERY_LANGUAGE]


def screens() -> list[Path]:
    return sorted(p for p in TEMPLATES.rglob("*.html") if p.relative_to(TEMPLATES).parts[0] != "print")


@pytest.mark.parametrize("template", screens(), ids=lambda p: p.relative_to(TEMPLATES).as_posix())
def test_every_word_on_screen_is_marked_for_translation(template):
    assert unmarked(template.read_text(encoding="utf-8")) == []


def test_the_scan_finds_unmarked_text_and_attributes():
    assert unmarked('<p>{{ _("Đã lưu") }}</p><p>Chưa dịch</p>') == ["Chưa", "dịch"]
    assert unmarked('<input placeholder="Ví dụ">') == ["Ví dụ"]
    assert unmarked('{# ghi chú #}<b>{% if x %}{{ y }}{% endif %}</b> motcua') == []
