"""The JSON API's request body: read bounded, parsed safely, checked before any use case sees it.

:func:`read_object` is the only way a JSON API view gets its body. Every refusal is a
:class:`BadJson` (400 ``bad_json``, 413 ``too_large``) or a
:class:`~node.domain.errors.DomainError` naming the field (422 ``invalid_input``), answered in
the API's error shape by :mod:`web.api`; nothing reaches the event log half-checked:

- at most :data:`MAX_BODY_BYTES` (or the caller's smaller ``limit``) are read (a dossier is about
  1 KB; ``details`` are bounded at 16,000 characters), whatever ``Content-Length`` claims;
- nesting deep enough to exhaust the parser's stack, a 5,000-digit integer (Python refuses to
  parse more than 4,300 digits) and invalid UTF-8 are malformed JSON, not server errors;
- the parsed value must then pass :func:`node.domain.inputs.check_json`: floats, ``NaN``, integers
  beyond 2**53, lone surrogates and bidirectional or invisible characters are refused with the
  path of the field that holds them.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Request
from werkzeug.exceptions import RequestEntityTooLarge

from node.domain.errors import DomainError
from node.domain.inputs import check_json

MAX_BODY_BYTES = 1024 * 1024


class BadJson(DomainError):
    """The request body is not a JSON object this API can read (``status`` and ``code`` say why)."""

    status = 400
    code = "bad_json"


class BodyTooLarge(BadJson):
    status = 413
    code = "too_large"


def read_object(request: Request, limit: int = MAX_BODY_BYTES) -> dict[str, Any]:
    """The request's JSON object, checked; raise :class:`BadJson` or :class:`DomainError`.

    ``limit`` is the most bytes read (a smaller one for endpoints whose requests are small, such
    as enrollment's few hundred bytes): a ``Content-Length`` above it is refused before any byte
    is read, and a body without one stops being read there.
    """
    if not request.is_json:
        raise BadJson("the request body must be a JSON object (Content-Type: application/json)", None)
    request.max_content_length = limit
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge:
        raise BodyTooLarge(f"the request body is larger than {limit} bytes", None) from None
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError):  # UnicodeDecodeError and the int-digit limit are ValueErrors
        raise BadJson("the request body must be a JSON object", None) from None
    if not isinstance(data, dict):
        raise BadJson("the request body must be a JSON object", None)
    check_json(data)
    return data
