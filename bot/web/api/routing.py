"""Routes of ``/api/v1``, declared once: what the server does and what the document says.

A route module makes an ``ApiRouter`` and declares each route on it with its OpenAPI
metadata; its handler takes an ``ApiCall`` (who asks, the validated body, the path and
query parameters, the services) and answers an ``ApiResponse``. The server
(``bot/web/api/server.py``) matches, authenticates, limits, validates and renders from
these declarations, and ``bot/web/api/openapi.py`` writes the document from the same ones:

    router = ApiRouter("Templates", "The owner's message templates.")

    @router.route("GET", "/templates/{id}", scope=Scope.MESSAGES_READ,
                  summary="One template", params=[path_id("The template's id.")],
                  responses={200: TEMPLATE}, examples=[Example("A template", 200, path={"id": 1})])
    async def get_template(call: ApiCall) -> ApiResponse:
        template = await call.services.templates.get(call.owner_id, call.path_params["id"])
        return ApiResponse(render_template(template))

A handler raises ``ApiProblem`` or a domain error (``bot/errors.py``, mapped in
``problems.py``). Every declared ``Example`` appears in the document and is sent by the
contract test (``tests/e2e/test_api_contract.py``), which fails for a route without one.

Idempotency (``POST``): the server answers a repeat from what it stored. A handler whose
work must not be done twice even across a crash hands ``call.idempotent(status, render)``
to its service, which runs it inside the transaction of the work: the stored answer then
commits with the work, in the same write (``bot/services/idempotency.py``).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from jsonschema import Draft202012Validator

from bot.domain import ApiPrincipal, Scope
from bot.services.idempotency import InTransaction

if TYPE_CHECKING:
    from bot.web.api.server import IdempotentCall
    from bot.web.api.services import ApiServices

Schema = dict[str, Any]
Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
T = TypeVar("T")

NO_BODY: Any = object()  # an example request without a body


@dataclass(frozen=True, slots=True)
class Param:
    """A query or path parameter: its JSON Schema (``integer``, ``boolean``, ``string``,
    ``number``, with their keywords) checks the value after conversion from text."""

    name: str
    schema: Schema
    description: str = ""
    required: bool = False
    where: Literal["query", "path"] = "query"


def path_id(description: str, name: str = "id") -> Param:
    """An integer id in the path (``/templates/{id}``)."""
    return Param(name, {"type": "integer", "minimum": 1}, description, True, "path")


@dataclass(frozen=True, slots=True)
class Reply:
    """A declared answer: what it means and the JSON Schema of its body (None: no body);
    ``example``, else one generated from the schema, is shown in the document."""

    description: str = ""
    schema: Schema | None = None
    example: Any = None


@dataclass(frozen=True, slots=True)
class Example:
    """A request the route answers with ``status``: shown in the document, and sent for
    real by the contract test (against its seeded world, ``tests/e2e/api_world.py``)."""

    summary: str
    status: int
    path: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Any = NO_BODY
    scopes: frozenset[Scope] | None = None  # the key's (None: every scope)


@dataclass(frozen=True, slots=True)
class ApiResponse:
    """What a handler answers: a JSON body (None: none) with its status and headers."""

    body: Any
    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class ApiCall:
    """One request to a route, as its handler sees it: ``principal`` (whose key),
    ``body`` (already valid against the route's schema; None for none), ``path_params``
    and ``query`` (converted and checked by their ``Param`` schemas; absent optional
    ones are missing), ``headers`` (lowercase names), ``services``."""

    principal: ApiPrincipal
    services: ApiServices
    body: Any
    path_params: dict[str, Any]
    query: dict[str, Any]
    headers: Mapping[str, str]
    route: ApiRoute
    idempotency: IdempotentCall | None = None  # a POST with an Idempotency-Key

    @property
    def owner_id(self) -> int:
        return self.principal.owner_id

    def idempotent(self, status: int,
                   render: Callable[[T], Any]) -> InTransaction[T] | None:
        """For a service that takes ``on_commit``: stores the answer (``status`` and
        ``render(result)``, which the handler must answer too) inside the service's
        transaction, so that the work and its stored answer commit together. None when
        the request has no Idempotency-Key (nothing to store)."""
        if self.idempotency is None:
            return None
        return self.idempotency.in_transaction(status, render)


Handler = Callable[[ApiCall], Awaitable[ApiResponse]]

_PARAM = re.compile(r"\{([a-z_][a-z0-9_]*)\}")


@dataclass(slots=True)
class ApiRoute:
    """A declared route (see ``ApiRouter.route``)."""

    method: Method
    path: str  # under /api/v1, e.g. /templates/{id}
    handler: Handler
    scopes: tuple[Scope, ...]  # any one of them lets the key in
    summary: str
    description: str
    tag: str
    body: Schema | None
    responses: dict[int, Reply]
    params: tuple[Param, ...]
    examples: tuple[Example, ...]
    operation_id: str
    pattern: re.Pattern[str] | None = None  # None: a path without parameters
    validator: Draft202012Validator | None = None
    param_validators: dict[str, Draft202012Validator] = field(default_factory=dict)

    @property
    def success(self) -> int:
        return min(status for status in self.responses if status < 400)

    @property
    def path_names(self) -> list[str]:
        return _PARAM.findall(self.path)


class ApiRouter:
    """The routes of one area of the API (one tag of the document)."""

    def __init__(self, tag: str, description: str = "") -> None:
        self.tag = tag
        self.description = description
        self.routes: list[ApiRoute] = []

    def route(
        self, method: Method, path: str, *, scope: Scope | Sequence[Scope], summary: str,
        description: str = "", body: Schema | None = None,
        responses: Mapping[int, Reply | Schema | None], params: Sequence[Param] = (),
        examples: Sequence[Example] = (), operation_id: str | None = None,
        check_body: Schema | None = None,
    ) -> Callable[[Handler], Handler]:
        """Declare a route. ``scope``: the one the key needs (several: any of them);
        ``body``: the JSON Schema of the request body (required when given);
        ``responses``: status -> ``Reply`` (or just the body's schema; None: no body):
        the successful ones only, the problems every route may answer are added by the
        document; ``params``: query and path parameters (a path parameter not declared
        is a string); ``check_body``: what the server checks instead of ``body`` when that
        is too slow to check item by item (10,000 contacts: the handler checks the items,
        ``bot/web/api/contacts.py``); the document shows ``body``."""
        scopes = (scope,) if isinstance(scope, Scope) else tuple(scope)
        declared = {p.name for p in params if p.where == "path"}
        names = _PARAM.findall(path)
        params = tuple(params) + tuple(
            Param(name, {"type": "string"}, "", True, "path") for name in names
            if name not in declared)
        replies = {status: (reply if isinstance(reply, Reply) else
                            Reply(HTTPStatus(status).phrase, reply))
                   for status, reply in responses.items()}
        if not any(status < 400 for status in replies):
            raise ValueError(f"{method} {path} declares no successful response")

        def declare(handler: Handler) -> Handler:
            route = ApiRoute(
                method=method, path=path, handler=handler, scopes=scopes, summary=summary,
                description=description or (handler.__doc__ or "").strip(), tag=self.tag,
                body=body, responses=replies, params=params, examples=tuple(examples),
                operation_id=operation_id or handler.__name__,
                pattern=_compile(path) if names else None,
                validator=(_validator(check_body if check_body is not None else body)
                           if body is not None else None),
                param_validators={p.name: _validator(p.schema) for p in params},
            )
            self.routes.append(route)
            return handler

        return declare


def _compile(path: str) -> re.Pattern[str]:
    parts = _PARAM.split(path)  # literal, name, literal, name, ...
    regex = "".join(re.escape(part) if i % 2 == 0 else f"(?P<{part}>[^/]+)"
                    for i, part in enumerate(parts))
    return re.compile(regex + r"\Z")


def _validator(schema: Schema) -> Draft202012Validator:
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


# --- schemas the routes share ------------------------------------------------------------

def nullable(schema: Schema) -> Schema:
    """``schema`` or null (OpenAPI 3.1: a type list)."""
    kind = schema.get("type")
    if isinstance(kind, str):
        widened = {**schema, "type": [kind, "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: Mapping[str, Schema], *, optional: Sequence[str] = (),
        description: str = "") -> Schema:
    """A JSON object with exactly these properties, all required but ``optional``."""
    schema: Schema = {"type": "object", "properties": dict(properties),
                      "required": [name for name in properties if name not in optional],
                      "additionalProperties": False}
    if description:
        schema["description"] = description
    return schema


DATETIME: Schema = {"type": "string", "format": "date-time",
                    "examples": ["2026-12-03T10:00:00Z"]}
