"""Errors of the API as ``application/problem+json`` (RFC 9457), and the one table that
turns the services' domain errors (``bot/errors.py``) into them.

    {"type": "https://qasid.dev/problems/not-found", "title": "Not found", "status": 404,
     "detail": "There is no template 7.", "field": null}

``type`` is stable (its last part is the *slug*, the table below and README's
"Integrate"); ``detail`` is for a person; ``field`` names the part of the request at
fault: a JSON pointer into the body (``/recipients/3/phone``) or a parameter's or
header's name. Some problems carry more members (``needed`` and ``available`` of
``insufficient-credits``). Another owner's things are ``not-found``, exactly as things
that do not exist: never ``forbidden-scope``, never a word about whose they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from bot.errors import (
    Conflict,
    GatewayFailed,
    IdempotencyMismatch,
    InsufficientCredits,
    Interrupted,
    InvalidTransition,
    NotAllowed,
    NotFound,
    QasidError,
    StorageUnavailable,
    ValidationError,
)

TYPE_BASE = "https://qasid.dev/problems/"
CONTENT_TYPE = "application/problem+json"

# slug -> (status, title): every problem the API answers
PROBLEMS: dict[str, tuple[int, str]] = {
    "invalid-body": (422, "The body is not valid"),
    "invalid-json": (400, "The body is not JSON"),
    "invalid-parameter": (400, "A parameter is not valid"),
    "invalid-header": (400, "A header is not valid"),
    "unauthorized": (401, "Missing or invalid API key"),
    "insufficient-credits": (402, "Not enough credits"),
    "forbidden-scope": (403, "The key lacks the scope"),
    "not-found": (404, "Not found"),
    "method-not-allowed": (405, "Method not allowed"),
    "conflict": (409, "Conflict"),
    "high-risk": (409, "The campaign's risk is high"),
    "idempotency-mismatch": (409, "Idempotency-Key used for another request"),
    "payload-too-large": (413, "The body is too large"),
    "unsupported-media-type": (415, "The body must be JSON"),
    "rate-limited": (429, "Too many requests"),
    "internal": (500, "Internal error"),
    "gateway-failed": (502, "The WhatsApp gateway did not do it"),
    "unavailable": (503, "Try again shortly"),
}


class ApiProblem(Exception):
    """Raise it in a handler to answer a problem: ``ApiProblem(404, "not-found", "There is
    no template 7.")``; ``field`` names what is at fault; ``headers`` go with the answer
    (``Retry-After``); ``extra`` members go in the body (``needed=5``)."""

    def __init__(self, status: int, slug: str, detail: str, *, field: str | None = None,
                 headers: Mapping[str, str] | None = None, **extra: Any) -> None:
        if slug not in PROBLEMS:
            raise ValueError(f"unknown problem {slug!r}: add it to PROBLEMS")
        super().__init__(f"{status} {slug}: {detail}")
        self.status = status
        self.slug = slug
        self.detail = detail
        self.field = field
        self.headers = dict(headers or {})
        self.extra = extra

    def body(self) -> dict[str, Any]:
        return {"type": TYPE_BASE + self.slug, "title": PROBLEMS[self.slug][1],
                "status": self.status, "detail": self.detail, "field": self.field,
                **self.extra}

    def render(self) -> bytes:
        return json.dumps(self.body(), ensure_ascii=False, separators=(",", ":")).encode()


def _words(code: str) -> str:
    return code.replace("_", " ")


def _validation(exc: ValidationError) -> ApiProblem:
    # a service names the field with ``where``: a JSON pointer (``/phone``) or a field's
    # name (``phone``, ``name``), or a place in a file (not a pointer: no field then)
    where = exc.where
    field = (where if where.startswith("/") else
             f"/{where}" if where.isidentifier() else None)
    detail = _words(exc.reason) + (f" (limit {exc.params['limit']})"
                                   if "limit" in exc.params else "")
    return ApiProblem(422, "invalid-body", detail, field=field)


def _not_found(exc: NotFound) -> ApiProblem:
    what = _words(exc.detail) if exc.detail and exc.detail != exc.code else "thing"
    ids = [f"{value}" for key, value in exc.params.items() if key.endswith("id")]
    return ApiProblem(404, "not-found", f"There is no {what}" + (f" {ids[0]}" if ids else "")
                      + ".")


def _credits(exc: InsufficientCredits) -> ApiProblem:
    return ApiProblem(402, "insufficient-credits",
                      f"{exc.needed} credits are needed, {exc.available} are available.",
                      needed=exc.needed, available=exc.available)


def _unavailable(exc: BaseException) -> ApiProblem:
    return ApiProblem(503, "unavailable",
                      "The server cannot save just now; nothing was changed. Try again.",
                      headers={"Retry-After": "5"})


# The mapping: the first class an error is an instance of decides (subclasses first).
MAPPING: tuple[tuple[type[BaseException], Callable[[Any], ApiProblem]], ...] = (
    (IdempotencyMismatch, lambda exc: ApiProblem(
        409, "idempotency-mismatch",
        "This Idempotency-Key was used for another request in the last 24 hours.",
        field="Idempotency-Key")),
    (Conflict, lambda exc: ApiProblem(409, "conflict", _words(exc.reason) + ".")),
    (InsufficientCredits, _credits),
    (ValidationError, _validation),
    (NotFound, _not_found),
    (InvalidTransition, lambda exc: ApiProblem(
        409, "conflict", f"The {exc.entity} is {exc.current}: it cannot be {exc.wanted}.")),
    (NotAllowed, lambda exc: ApiProblem(409, "conflict", _words(exc.reason) + ".")),
    (GatewayFailed, lambda exc: ApiProblem(
        502, "gateway-failed", f"The WhatsApp gateway did not do it ({exc.reason}).")),
    (Interrupted, _unavailable),
    (StorageUnavailable, _unavailable),
)


def problem_of(exc: BaseException) -> ApiProblem | None:
    """The problem a domain error is (None: not one the table knows: a 500)."""
    if isinstance(exc, ApiProblem):
        return exc
    if isinstance(exc, QasidError | StorageUnavailable):
        for kind, make in MAPPING:
            if isinstance(exc, kind):
                return make(exc)
    return None


def internal() -> ApiProblem:
    return ApiProblem(500, "internal", "Something went wrong on our side; it is logged.")


@dataclass(frozen=True, slots=True)
class ProblemDoc:
    """A problem as the document describes it (``openapi.py``)."""

    slug: str
    status: int
    title: str


def documented() -> list[ProblemDoc]:
    return [ProblemDoc(slug, status, title) for slug, (status, title) in PROBLEMS.items()]


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A problem (RFC 9457). `type` is stable; `field` names the part of the "
                   "request at fault: a JSON pointer into the body, or a parameter's or "
                   "header's name.",
    "properties": {
        "type": {"type": "string", "format": "uri",
                 "examples": [TYPE_BASE + "not-found"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "field": {"type": ["string", "null"]},
        "needed": {"type": "integer", "description": "insufficient-credits: credits needed"},
        "available": {"type": "integer",
                      "description": "insufficient-credits: credits available"},
        "risk": {"type": "object",
                 "description": "high-risk: the pre-flight check, its level and reasons "
                                "(as a campaign's `risk`)"},
    },
    "required": ["type", "title", "status", "detail", "field"],
}
