"""Cursor pagination of the API's lists: ``?limit=`` (default 100, at most 1,000) and
``?cursor=`` (opaque: the base64 of the last id of the page before); the answer is
``{"data": [...], "next_cursor": "..."}``, ``next_cursor`` null on the last page.

A route declares ``params=[*PAGE_PARAMS, ...]``, asks its service for ``limit + 1``
items after ``page.after`` (ordered by id), and answers ``page_body(items, page, ...)``:
the extra item only says that there is a next page.

    page = page_of(call)
    contacts = await call.services.contacts.page(call.owner_id, after=page.after,
                                                 limit=page.limit + 1)
    return ApiResponse(page_body(contacts, page, id_of=lambda c: c.id, render=contact_json))
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from bot.web.api.problems import ApiProblem
from bot.web.api.routing import ApiCall, Param, Schema

T = TypeVar("T")

LIMIT_DEFAULT = 100
LIMIT_MAX = 1000

PAGE_PARAMS = (
    Param("limit", {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX,
                    "default": LIMIT_DEFAULT}, "Items on a page (default 100, at most 1,000)."),
    Param("cursor", {"type": "string", "minLength": 1, "maxLength": 64},
          "The `next_cursor` of the page before (absent: the first page)."),
)


@dataclass(frozen=True, slots=True)
class Page:
    after: int | None  # the last id of the page before (None: the first page)
    limit: int


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(str(last_id).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        value = int(text)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        value = -1
    if value < 0 or not text.isdigit():
        raise ApiProblem(400, "invalid-parameter", "This cursor is not one we gave.",
                         field="cursor")
    return value


def page_of(call: ApiCall) -> Page:
    cursor = call.query.get("cursor")
    return Page(after=decode_cursor(cursor) if cursor is not None else None,
                limit=int(call.query.get("limit", LIMIT_DEFAULT)))


def page_body(items: Sequence[T], page: Page, *, id_of: Callable[[T], int],
              render: Callable[[T], Any]) -> dict[str, Any]:
    """``{"data": ..., "next_cursor": ...}`` of up to ``page.limit + 1`` items."""
    shown = items[:page.limit]
    more = len(items) > page.limit and bool(shown)
    return {"data": [render(item) for item in shown],
            "next_cursor": encode_cursor(id_of(shown[-1])) if more else None}


def page_schema(item: Schema) -> Schema:
    return {"type": "object", "additionalProperties": False,
            "required": ["data", "next_cursor"],
            "properties": {"data": {"type": "array", "items": item},
                           "next_cursor": {"type": ["string", "null"],
                                           "description": "null on the last page"}}}
