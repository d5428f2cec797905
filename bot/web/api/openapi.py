"""The OpenAPI 3.1 document of ``/api/v1``, written from the routes' declarations.

Served at ``/api/v1/openapi.json`` and rendered at ``/api/docs`` (``docs.py``). Every
response has an example: the declared one, else one made from its schema
(``example_of``). Besides what a route declares, each operation lists the problems every
route may answer (401, 403, 429, 500, 503), those of a body (400, 413, 415, 422), of
parameters (400, and 404 for an id in the path) and of a POST's ``Idempotency-Key``
(409).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any

from bot.web.api.problems import PROBLEM_SCHEMA, PROBLEMS, TYPE_BASE
from bot.web.api.routing import NO_BODY, ApiRoute, ApiRouter, Param, Reply, Schema

TITLE = "Qasid API"
VERSION = "1.0.0"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

DESCRIPTION = """\
The integration API of Qasid: an owner's shop, CRM or booking system adds contacts, sends
messages and campaigns, and reads templates, statistics and credits, with the same rules
as the chat.

- **Keys**: create one in the chat (`/api`), with its scopes; send it as
  `Authorization: Bearer <key>`. A write scope includes the read of its area.
- **Errors** are `application/problem+json`: a stable `type`
  (`https://qasid.dev/problems/<slug>`), a `detail` for people, and `field`, the part of
  the request at fault (a JSON pointer into the body, or a parameter's or header's name).
- **Limits**: each key has a request rate and a burst (429 with `Retry-After` beyond);
  bodies are limited in size (413).
- **Idempotency**: every POST takes an `Idempotency-Key` header (1 to 255 characters, a
  UUID is best); a repeat within 24 hours gets the first answer (with
  `Idempotent-Replayed: true`); the same key with another request is 409
  `idempotency-mismatch`.
- **Pagination**: lists take `limit` (default 100, at most 1,000) and `cursor`, and
  answer `{"data": [...], "next_cursor": "..."}`; `next_cursor` is null on the last page.
"""

_COMMON = (401, 403, 404, 429, 500, 503)  # 404: any id the request names


def example_of(schema: Mapping[str, Any] | None, depth: int = 0) -> Any:
    """A value that fits ``schema``: its ``examples``/``default``/``const``/first ``enum``
    where it says one, else one made from its type."""
    if not schema or depth > 12:
        return None
    for word in ("examples",):
        if isinstance(schema.get(word), list) and schema[word]:
            return schema[word][0]
    for word in ("example", "const", "default"):
        if word in schema:
            return schema[word]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for word in ("anyOf", "oneOf", "allOf"):
        options = schema.get(word)
        if isinstance(options, list) and options:
            chosen = [o for o in options if o.get("type") != "null"] or options
            return example_of(chosen[0], depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        return {name: example_of(sub, depth + 1)
                for name, sub in schema.get("properties", {}).items()
                if name in schema.get("required", ()) or depth < 3}
    if kind == "array":
        count = max(1, int(schema.get("minItems", 1)))
        return [example_of(schema.get("items"), depth + 1) for _ in range(min(count, 2))]
    if kind == "integer":
        return int(schema.get("minimum", 1))
    if kind == "number":
        return float(schema.get("minimum", 1.5))
    if kind == "boolean":
        return True
    if kind == "string":
        if schema.get("format") == "date-time":
            return "2026-12-03T10:00:00Z"
        return "string"
    return None


def _problem_example(status: int) -> dict[str, Any]:
    slug = next(s for s, (code, _) in PROBLEMS.items() if code == status)
    return {"type": TYPE_BASE + slug, "title": PROBLEMS[slug][1], "status": status,
            "detail": PROBLEMS[slug][1] + ".", "field": None}


def _problem_response(status: int, description: str = "") -> dict[str, Any]:
    slugs = [slug for slug, (code, _) in PROBLEMS.items() if code == status]
    text = description or HTTPStatus(status).phrase
    response: dict[str, Any] = {
        "description": f"{text} (problem: {', '.join(f'`{s}`' for s in slugs)})",
        "content": {"application/problem+json": {
            "schema": PROBLEM_REF, "example": _problem_example(status)}},
    }
    if status == 401:
        response["headers"] = {"WWW-Authenticate": {
            "description": "`Bearer`", "schema": {"type": "string"}}}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {
            "description": "Seconds to wait", "schema": {"type": "string"}}}
    return response


def _parameter(param: Param) -> dict[str, Any]:
    return {"name": param.name, "in": param.where, "required": param.required,
            "description": param.description, "schema": param.schema}


def _response(reply: Reply, status: int) -> dict[str, Any]:
    if status >= 400 and reply.schema is None:
        return _problem_response(status, reply.description)
    response: dict[str, Any] = {"description": reply.description or HTTPStatus(status).phrase}
    if reply.schema is not None:
        example = reply.example if reply.example is not None else example_of(reply.schema)
        response["content"] = {"application/json": {"schema": reply.schema,
                                                     "example": example}}
    return response


def operation(route: ApiRoute) -> dict[str, Any]:
    scopes = " or ".join(f"`{scope.value}`" for scope in route.scopes)
    description = route.description + ("\n\n" if route.description else "") + \
        f"Scope: {scopes}."
    op: dict[str, Any] = {
        "operationId": route.operation_id, "summary": route.summary,
        "description": description, "tags": [route.tag],
        "security": [{"bearer": []}], "x-scopes": [scope.value for scope in route.scopes],
    }
    parameters = [_parameter(p) for p in route.params]
    if route.method == "POST":
        parameters.append({
            "name": "Idempotency-Key", "in": "header", "required": False,
            "description": "Makes a repeat of this request (within 24 hours) get the "
                           "first answer instead of being done again.",
            "schema": {"type": "string", "minLength": 1, "maxLength": 255}})
    if parameters:
        op["parameters"] = parameters
    if route.body is not None:
        examples = {f"example{n}": {"summary": ex.summary, "value": ex.body}
                    for n, ex in enumerate(route.examples, 1)
                    if ex.body is not NO_BODY and ex.status < 400}
        content: dict[str, Any] = {"schema": route.body}
        if examples:
            content["examples"] = examples
        else:
            content["example"] = example_of(route.body)
        op["requestBody"] = {"required": True, "content": {"application/json": content}}
    responses = {str(status): _response(reply, status)
                 for status, reply in sorted(route.responses.items())}
    problems = set(_COMMON)
    if route.body is not None or route.method in ("POST", "PUT", "PATCH"):
        problems |= {400, 413, 415, 422}
    if route.params:
        problems.add(400)
    if any(p.where == "path" for p in route.params):
        problems.add(404)
    if route.method == "POST":
        problems |= {400, 409}
    for status in sorted(problems):
        responses.setdefault(str(status), _problem_response(status))
    op["responses"] = responses
    return op


def document(routers: Iterable[ApiRouter]) -> dict[str, Any]:
    routers = list(routers)
    paths: dict[str, dict[str, Any]] = {}
    for router in routers:
        for route in router.routes:
            paths.setdefault(route.path, {})[route.method.lower()] = operation(route)
    schemas: dict[str, Schema] = {"Problem": PROBLEM_SCHEMA}
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "servers": [{"url": "/api/v1"}],
        "tags": [{"name": r.tag, "description": r.description} for r in routers],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {
                "type": "http", "scheme": "bearer",
                "description": "An API key made in the chat (/api): `qsd_...`."}},
        },
        "security": [{"bearer": []}],
    }
