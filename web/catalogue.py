"""The gettext catalogues of ``web/translations`` and their compiled form, without Flask.

Shared by the web UI (:mod:`web.i18n`, through Flask-Babel) and the ``motcua`` command
(:mod:`node.cli.i18n`, through the standard library's gettext), so that one catalogue holds both
and a command pays for no web framework to find its words.

Invariant: no compiled ``.mo`` file is kept in git or needed in a checkout. :func:`compiled_dir`
compiles the ``.po`` files once per content (a hash names the directory under the system's
temporary folder), so a plain checkout, an installed wheel and a read-only image all work
offline without a build step; Babel is imported only when something must be compiled.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from importlib import resources
from pathlib import Path

DOMAIN = "messages"


def source_dir() -> Path:
    return Path(str(resources.files("web") / "translations"))


def po_files() -> dict[str, Path]:
    """language -> its ``messages.po``."""
    return {p.parent.parent.name: p for p in sorted(source_dir().glob(f"*/LC_MESSAGES/{DOMAIN}.po"))}


@functools.cache
def compiled_dir() -> str:
    """A directory of ``.mo`` files compiled from the ``.po`` files as they are now."""
    sources = po_files()
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources.values())).hexdigest()[:16]
    out = Path(tempfile.gettempdir()) / f"motcua-translations-{os.getuid()}-{digest}"
    for lang, po in sources.items():
        target = out / lang / "LC_MESSAGES" / f"{DOMAIN}.mo"
        if target.exists():
            continue
        from babel.messages.mofile import write_mo
        from babel.messages.pofile import read_po

        target.parent.mkdir(parents=True, exist_ok=True)
        with po.open("rb") as f:
            catalog = read_po(f, locale=lang)
        tmp = target.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        os.replace(tmp, target)  # atomic: two workers compiling at once both end with a whole file
    return str(out)
