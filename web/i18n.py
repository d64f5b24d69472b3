"""Vietnamese by default, English on request: Flask-Babel with gettext catalogues.

Responsibility: pick the language of a request and translate UI text. The source strings in
templates and views *are* the Vietnamese text (with its diacritics), so the Vietnamese UI needs
no catalogue and can never show a missing-translation key; English comes from
``web/translations/en/LC_MESSAGES/messages.po``, a gettext catalogue a translator edits with
any .po editor. ``babel.cfg`` at the repository root drives ``pybabel extract`` / ``update``;
tests keep the catalogue complete (every ``_()`` string of the templates and views has an English
entry, no stale entry) and every word of a template marked.

Invariant: no compiled ``.mo`` file is kept in git or needed in a checkout
(:func:`web.catalogue.compiled_dir` compiles the ``.po`` files, for the UI and the CLI alike).

Language choice, first match wins: the ``motcua_lang`` cookie (set by ``/ngon-ngu/<code>``),
then the ``LANGUAGE`` setting (default ``vi``). Dates stay ``dd/MM/yyyy`` in both languages
(:mod:`web.formatting`): they are legal facts on Vietnamese paperwork.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import flask_babel
from flask import Flask, current_app, g, has_request_context, request

from web.catalogue import DOMAIN, compiled_dir, po_files

LANGUAGES: Mapping[str, str] = {"vi": "Tiếng Việt", "en": "English"}
COOKIE = "motcua_lang"


@functools.cache
def catalogue(lang: str) -> Mapping[str, str]:
    """The translations of ``lang`` as a map (empty for Vietnamese, the source language)."""
    from babel.messages.pofile import read_po

    path = po_files().get(lang)
    if lang == "vi" or path is None:
        return {}
    with path.open("rb") as f:
        return {m.id: m.string for m in read_po(f, locale=lang) if m.id and isinstance(m.id, str)}


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
    if not has_request_context():
        return message % variables if variables else message
    return str(flask_babel.gettext(message, **variables))


_ = gettext


def N_(message: str) -> str:
    """Mark a string for translation where it is defined; it is translated where it is shown."""
    return message


def ngettext(singular: str, plural: str, n: int, **variables: Any) -> str:
    # Vietnamese has no plural forms; English picks by n.
    message = singular if n == 1 or current_language() == "vi" else plural
    text = gettext(message)
    return text % {"num": n, **variables}


def init_app(app: Flask) -> None:
    """Flask-Babel with this module's language choice; ``_`` in Jinja (``{{ _("Đăng nhập") }}``)."""
    flask_babel.Babel(app, default_locale="vi", default_domain=DOMAIN,
                      default_translation_directories=compiled_dir(), locale_selector=current_language)
    app.jinja_env.globals["current_language"] = current_language
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES
