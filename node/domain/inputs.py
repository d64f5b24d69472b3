"""Bounds on values a client sends, before they are signed into an event (pure core).

An event is signed for ever and replicated to every node, and its fields land in SQLite and
PostgreSQL columns; a value that cannot be stored or encoded must be refused at the door with
a :class:`~node.domain.errors.DomainError` naming the field (a 4xx), never fail deep inside a
write (a 500 after the work is half done).

- :func:`check_instant`: an instant is a positive integer of epoch milliseconds before
  :data:`MAX_INSTANT_MS` (1 January 2100): no appointment of a one-stop office lies beyond it,
  ``10**30`` would overflow a SQLite integer, and a year past 9999 cannot even be printed or
  moved by a day (``datetime`` overflows).
- :func:`check_json`: a JSON-shaped value (what a request body parses to) is at most
  :data:`MAX_DEPTH` levels deep, holds only whole numbers within JavaScript's exact range
  (``|n| <= 2**53``; the canonical event encoding refuses floats and ``NaN``), string keys, and
  texts that pass :func:`node.domain.text.check_text`. The walk is iterative, so depth itself
  cannot exhaust the interpreter's stack.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from node.domain.errors import DomainError
from node.domain.text import check_text

MIN_INSTANT_MS = 1
MAX_INSTANT_MS = 4_102_444_800_000  # 2100-01-01T00:00:00Z
MAX_SAFE_INTEGER = 2**53
MAX_DEPTH = 16


def check_instant(value: Any, field: str) -> int:
    """``value`` if it is epoch milliseconds in the supported range, else raise."""
    if type(value) is not int:
        raise DomainError(f"{field} must be epoch milliseconds", field)
    if not MIN_INSTANT_MS <= value < MAX_INSTANT_MS:
        raise DomainError(f"{field} must be epoch milliseconds before the year 2100", field)
    return value


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def check_json(value: Any, field: str = "", max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`DomainError` (naming the path, e.g. ``details.fees[0].amount``) unless
    ``value`` is a JSON value within the bounds of the module docstring."""
    stack: list[tuple[Any, str, int]] = [(value, field, 0)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, str):
            check_text(item, path or "body")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if abs(item) > MAX_SAFE_INTEGER:
                raise DomainError(f"{path or 'body'}: number out of range (at most 2**53)", path or None)
        elif isinstance(item, float):
            raise DomainError(f"{path or 'body'}: numbers must be whole (no decimals, no NaN)", path or None)
        elif isinstance(item, Mapping | list | tuple):
            if depth >= max_depth:
                raise DomainError(f"{path or 'body'}: nested deeper than {max_depth} levels", path or None)
            if isinstance(item, Mapping):
                for k, v in item.items():
                    if not isinstance(k, str):
                        raise DomainError(f"{path or 'body'}: object keys must be text", path or None)
                    check_text(k, path or "body")  # the key is checked before it names a path
                    stack.append((v, _join(path, k), depth + 1))
            else:
                stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in enumerate(item))
        else:
            raise DomainError(f"{path or 'body'}: unsupported value", path or None)
