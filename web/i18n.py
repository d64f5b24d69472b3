"""Vietnamese by default, English on request: a small dictionary-based gettext.

Responsibility: pick the language of a request and translate UI text. The source strings in
templates and views *are* the Vietnamese text (with its diacritics), so the Vietnamese UI needs
no catalogue and can never show a missing-translation key; English comes from
``web/translations/en.json``, a flat ``{"Vietnamese": "English"}`` map that a test keeps complete
(every ``_()`` string of the templates and views must have an entry).

Why not Flask-Babel's compiled catalogues: ``.mo`` files would need a compile step at build and
test time for one second language; this keeps the node installable from a plain checkout and
offline. Placeholders use ``%(name)s`` like gettext, so moving to Babel later is mechanical.

Language choice, first match wins: the ``motcua_lang`` cookie (set by ``/ngon-ngu/<code>``),
then the ``LANGUAGE`` setting (default ``vi``). Dates stay ``dd/MM/yyyy`` in both languages
(:mod:`web.formatting`): they are legal facts on Vietnamese paperwork.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from typing import Any

from flask import Flask, current_app, g, has_request_context, request

LANGUAGES: Mapping[str, str] = {"vi": "Tiếng Việt", "en": "English"}
COOKIE = "motcua_lang"


@functools.cache
def catalogue(lang: str) -> Mapping[str, str]:
    """The translations for ``lang`` (empty for Vietnamese, the source language)."""
    if lang == "vi":
        return {}
    text = (resources.files("web") / "translations" / f"{lang}.json").read_text(encoding="utf-8")
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError(f"translations/{lang}.json must hold an object")
    return data


def default_language() -> str:
    return str(current_app.config.get("MOTCUA_LANGUAGE") or "vi")


def current_language() -> str:
    if not has_request_context():
        return "vi"
    lang = g.get("lang")
    if lang is None:
        lang = request.cookies.get(COOKIE, "")
        lang = lang if lang in LANGUAGES else default_language()
        g.lang = lang
    return lang


def gettext(message: str, **variables: Any) -> str:
    """Translate ``message`` into the request's language; ``%(name)s`` placeholders are filled."""
    text = catalogue(current_language()).get(message, message)
    return text % variables if variables else text


_ = gettext


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where it is shown."""
    return message


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    # Vietnamese has no plural forms; English picks by n.
    text = gettext(singular if n == 1 or current_language() == "vi" else plural)
    return text % {"num": n, **variables}


def init_app(app: Flask) -> None:
    """Install ``_`` in the app's Jinja environment (``{{ _("Đăng nhập") }}``)."""
    app.jinja_env.add_extension("jinja2.ext.i18n")
    app.jinja_env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: catalogue(current_language()).get(s, s),
        lambda s, p, n: catalogue(current_language()).get(s if n == 1 else p, s if n == 1 else p),
        newstyle=True,
    )
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
