"""Reading JSON request bodies within bounds: a size cap (413) and a nesting cap (400), both checked
before the body is decoded, so no input reaches the decoder's recursion or the hub's memory."""

from __future__ import annotations

import json
import re

from django.conf import settings
from rest_framework.parsers import JSONParser

from hub.arm.errors import UNPARSABLE, ArmError

# Deeper than any body ARM or this hub defines (a few levels), and far from the recursion limit that a
# deeply nested body would otherwise hit inside json.loads (a RecursionError, so a 500).
MAX_JSON_DEPTH = 64
# A JSON string: the quotes and what lies between, escapes included (brackets inside do not nest).
_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")
_OPENING = frozenset(b"[{")


def json_too_deep(data: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text nests arrays and objects more than `limit` deep. Iterative: strings are
    cut out, then the brackets left are counted, stopping at the first one too deep."""
    brackets = _NOT_A_BRACKET.sub(b"", _JSON_STRING.sub(b"", data))
    depth = 0
    for byte in brackets:
        if byte in _OPENING:
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def too_deep_error() -> ArmError:
    return ArmError(
        400,
        "InvalidRequestContent",
        f"The request content nests arrays and objects more than {MAX_JSON_DEPTH} levels deep; flatten it.",
    )


def too_large_error(limit: int) -> ArmError:
    return ArmError(
        413,
        "RequestEntityTooLarge",
        f"The request content is larger than {limit} bytes, the most this endpoint accepts; send less.",
    )


def _not_json(constant: str):
    raise ValueError(f"{constant} is not a JSON number")


def _unstorable_text(value) -> str | None:
    """The first string (key or value) that no text column can hold: one with a NUL character, or a lone
    UTF-16 surrogate (not UTF-8). Both arrive only as \\u escapes, which is when this walk runs."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, str):
            if "\x00" in item:
                return "a NUL character (\\u0000)"
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return "an unpaired UTF-16 surrogate"
    return None


def decode_json(data: bytes):
    """The JSON value of `data` (UTF-8, RFC 8259: no NaN or Infinity, nothing nested deeper than
    MAX_JSON_DEPTH, no text a database cannot store); ArmError 400 otherwise."""
    if json_too_deep(data):
        raise too_deep_error()
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_not_json)
    except (ValueError, RecursionError) as error:
        raise ArmError(400, "InvalidRequestContent", f"{UNPARSABLE}: {error}") from None
    if b"\\u" in data:
        problem = _unstorable_text(value)
        if problem:
            raise ArmError(400, "InvalidRequestContent", f"The request content has {problem}, which no field accepts.")
    return value


class BoundedJSONParser(JSONParser):
    """DRF's JSON parser behind the caps: every JSON endpoint (ARM, Graph, the appliance API) uses it."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise too_large_error(limit)
        return decode_json(data)
