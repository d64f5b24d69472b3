"""The language ``motcua`` speaks: the node's, Vietnamese by default, English on request.

The CLI's messages are marked like the web UI's: the source string *is* the Vietnamese text
(``_("Đã tạo tài khoản %(user)s", user=name)``) and English comes from the same gettext
catalogue, ``web/translations/en/LC_MESSAGES/messages.po``, compiled by
:func:`web.catalogue.compiled_dir` and read with the standard library's gettext. ``python -m
web.i18n_extract`` extracts ``node/cli`` too, and the catalogue test keeps every string
translated. No table of words lives in the code.

Language, first match wins: ``--lang`` (``motcua --lang en doctor``), then ``MOTCUA_LANG``, then
the node's ``LANGUAGE`` setting (the web UI's default language, from ``node.json`` or
``MOTCUA_LANGUAGE``), then ``vi``. Status tags a script may read (``ok``, ``warn``, ``FAIL`` at
the start of ``doctor``'s lines), identifiers, codes and numbers are the same in both languages.

The language is a process-wide choice made once per command by the group (a CLI process runs one
command; in tests each ``CliRunner`` invocation chooses again).
"""

from __future__ import annotations

import functools
import gettext as stdlib_gettext
import os
from pathlib import Path
from typing import Any

LANGUAGES = ("vi", "en")
ENV = "MOTCUA_LANG"
_chosen = ["vi"]


def choose(option: str | None, data_dir: Path | None) -> str:
    """Pick and remember the language of this command (see the module docstring for the order)."""
    lang = option or os.environ.get(ENV, "").strip().lower() or _node_language(data_dir)
    _chosen[0] = lang if lang in LANGUAGES else "vi"
    return _chosen[0]


def _node_language(data_dir: Path | None) -> str:
    from node.config import ConfigError, load_settings

    try:
        return str(load_settings(data_dir).LANGUAGE)
    except (ConfigError, OSError, ValueError):
        return "vi"  # a broken configuration is reported by the command itself, in Vietnamese


def language() -> str:
    return _chosen[0]


@functools.cache
def _translations(lang: str) -> stdlib_gettext.NullTranslations:
    if lang == "vi":
        return stdlib_gettext.NullTranslations()  # the source language
    # the catalogue without the web framework: a command starts in a few hundred ms on an old PC
    from web.catalogue import DOMAIN, compiled_dir

    return stdlib_gettext.translation(DOMAIN, compiled_dir(), [lang], fallback=True)


def _(message: str, **variables: Any) -> str:
    """``message`` in the command's language; ``%(name)s`` placeholders are filled."""
    text = _translations(_chosen[0]).gettext(message)
    return text % variables if variables else text


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue where it is defined (at import); :func:`_` translates
    it where it is shown, once the language is chosen."""
    return message
