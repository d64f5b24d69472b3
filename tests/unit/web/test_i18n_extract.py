"""The message template (``python -m web.i18n_extract``) holds exactly the English catalogue's
entries, so ``pybabel update`` from it neither drops a label nor leaves a stale entry."""

from __future__ import annotations

from web.i18n import catalogue
from web.i18n_extract import template


def test_the_template_and_the_english_catalogue_hold_the_same_messages():
    ids = {m.id for m in template() if m.id}
    catalogue.cache_clear()
    assert ids == set(catalogue("en"))
