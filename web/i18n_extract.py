"""``python -m web.i18n_extract [OUT.pot]``: the message template a translator updates from.

The views, the templates and the ``motcua`` command (:mod:`node.cli.i18n`: one catalogue for the
web UI and the CLI). ``pybabel extract`` alone finds the ``_()`` and ``N_()`` calls but not
the label tables of :mod:`web.labels` (status names come from the pure core, which cannot mark
them), so ``pybabel update`` would drop those entries as obsolete. This adds them, then
``pybabel update -i OUT.pot -d web/translations`` keeps every entry the UI shows.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import write_po

ROOT = Path(__file__).resolve().parents[1]
METHODS = [("web/**.py", "python"), ("web/templates/**.html", "jinja2"), ("node/cli/**.py", "python")]
KEYWORDS = {"_": None, "gettext": None, "N_": None}


def template() -> Catalog:
    from web.labels import translatable

    catalog = Catalog(project="motcua", charset="utf-8")
    for filename, lineno, message, comments, _context in extract_from_dir(
        str(ROOT), METHODS, keywords=KEYWORDS, comment_tags=(), strip_comment_tags=True
    ):
        if isinstance(message, str) and message:
            catalog.add(message, locations=[(filename, lineno)], auto_comments=comments)
    for label in translatable():
        catalog.add(label, locations=[("web/labels.py", 0)])
    return catalog


def main(argv: list[str]) -> int:
    out = Path(argv[0] if argv else "messages.pot")
    with out.open("wb") as f:
        write_po(f, template(), width=100, sort_output=True)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
