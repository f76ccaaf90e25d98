"""Narrowing and paging ARM lists: OData `$filter` clauses, and skipToken pages with a nextLink."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote, urlencode

from rest_framework.response import Response

from hub.arm.errors import ArmError

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
CLAUSE = re.compile(r"^\s*([A-Za-z]+)\s+(eq|ne|ge|gt|le|lt)\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)


def filter_clauses(text: str | None) -> list[tuple[str, str, str]]:
    """(lower-cased name, operator, value) of each `name op 'value'` joined by `and`. Clauses of any
    other shape are ignored: a filter narrows a list, it never makes the request fail."""
    clauses = []
    for part in re.split(r"\s+and\s+", text or "", flags=re.IGNORECASE):
        match = CLAUSE.match(part)
        if match:
            clauses.append((match.group(1).lower(), match.group(2).lower(), match.group(3).replace("''", "'")))
    return clauses


def narrowed(rows, text: str | None, conditions: dict):
    """`rows` narrowed by each clause of `text` whose name `conditions` knows: `conditions[name](value)`
    is the condition (a Q), which `ne` excludes and every other operator keeps."""
    for name, operator, value in filter_clauses(text):
        if name in conditions:
            condition = conditions[name](value)
            rows = rows.exclude(condition) if operator == "ne" else rows.filter(condition)
    return rows


def filter_time(value: str) -> datetime:
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ArmError(
            400, "InvalidParameter", f"'{value}' in $filter is not an ISO 8601 date and time.", "$filter"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page_token(request, name: str, default: int) -> int:
    value = request.query_params.get(name)
    if value is None or value == "":
        return default
    if not value.isdecimal() or len(value) > 9:
        raise ArmError(400, "InvalidParameter", f"{name} '{value}' is not a token this hub issued.", name)
    return int(value)


def paged_list(request, rows, shape_page) -> Response:
    """One page of `rows` (skipToken: where it starts, takeToken: its size), shaped by
    `shape_page(rows) -> bodies`, and an absolute nextLink that carries the query on, as ARM lists do."""
    skip = _page_token(request, "skipToken", 0)
    take = min(max(_page_token(request, "takeToken", DEFAULT_PAGE_SIZE), 1), MAX_PAGE_SIZE)
    chunk = list(rows[skip : skip + take + 1])
    body = {"value": shape_page(chunk[:take])}
    if len(chunk) > take:
        query = {"api-version": request.query_params.get("api-version", ""), "skipToken": str(skip + take)}
        if request.query_params.get("takeToken"):
            query["takeToken"] = str(take)
        if request.query_params.get("$filter"):
            query["$filter"] = request.query_params["$filter"]
        body["nextLink"] = request.build_absolute_uri(f"{request.path}?{urlencode(query, quote_via=quote)}")
    return Response(body)
