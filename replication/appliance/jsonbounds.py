"""JSON from agents, decoded within bounds: nesting deeper than MAX_DEPTH is refused before the decoder
sees it (its recursion would fail the request with no answer). The hub applies the same rule to what it
receives (hub/arm/parsers.py); the appliance imports nothing of the hub, so it keeps its own."""

from __future__ import annotations

import json
import re

MAX_DEPTH = 64
INT64_MAX = 2**63 - 1
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_A_BRACKET = re.compile(rb"[^\[\]{}]+")


def too_deep(data: bytes) -> bool:
    depth = 0
    for byte in _NOT_A_BRACKET.sub(b"", _STRING.sub(b"", data)):
        depth += 1 if byte in b"[{" else -1
        if depth > MAX_DEPTH:
            return True
    return False


def _not_json(constant: str):
    raise ValueError(f"{constant} is not a JSON number")


def loads(data: bytes):
    """The decoded JSON; ValueError for malformed or too deeply nested text, NaN or Infinity (not JSON),
    and strings with an unpaired surrogate (\\ud800 decodes, but is no text: hashing it would fail)."""
    if too_deep(data):
        raise ValueError(f"JSON nested more than {MAX_DEPTH} levels deep")
    try:
        value = json.loads(data, parse_constant=_not_json)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
    if b"\\u" in data:
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("a string holds an unpaired UTF-16 surrogate") from None
    return value
