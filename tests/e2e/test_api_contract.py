"""The OpenAPI document is the API: every declared route's examples are sent for real over
HTTP (``tests/e2e/api_world.py``: the whole app on uvicorn, a seeded world), and each real
request and answer is checked against ``/api/v1/openapi.json`` with openapi-core.

It covers every route of ``bot.web.api.routers()`` as it is declared, those added later
too: a route without an example of success fails here, and so does an answer that the
document does not describe (a status it does not list, a field it does not know, a
wrong type). A POST example is sent with an ``Idempotency-Key``, then sent again: the
repeat must get the very same answer.
"""

from __future__ import annotations

import functools
import json
import uuid
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from jsonschema import Draft202012Validator
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_spec_validator import validate
from werkzeug.datastructures import Headers, ImmutableMultiDict

from bot.web.api import routers
from bot.web.api.openapi import document
from bot.web.api.routing import NO_BODY, ApiRoute, Example
from tests.e2e.api_world import api_world

ROUTES = [route for router in routers() for route in router.routes]
# an example expected to be refused for its request may not fit the document's request
INVALID_REQUESTS = {400, 413, 415, 422}


class OpenApiRequest:
    """An httpx request as openapi-core reads one."""

    def __init__(self, request: httpx.Request) -> None:
        self.host_url = f"{request.url.scheme}://{request.url.netloc.decode()}"
        self.path = request.url.path
        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(request.url.query.decode(),
                                               keep_blank_values=True)),
            header=Headers(list(request.headers.items())), cookie=ImmutableMultiDict())


class OpenApiResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.data = response.content
        self.status_code = response.status_code
        self.content_type = response.headers.get("content-type", "")
        self.headers = Headers(list(response.headers.items()))


@functools.cache
def openapi() -> OpenAPI:
    """The document as openapi-core reads it (checking it takes a second: once)."""
    return OpenAPI.from_dict(document(routers()), config=Config(
        extra_media_type_deserializers={"application/problem+json": json.loads}))


def route_id(route: ApiRoute) -> str:
    return f"{route.method} {route.path}"


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document(routers())
    validate(doc)
    assert doc["openapi"] == "3.1.0"
    declared = {(r.method.lower(), r.path) for r in ROUTES}
    assert {(m, p) for p, ops in doc["paths"].items() for m in ops} == declared


def test_every_answer_in_the_document_has_an_example_that_fits_its_schema() -> None:
    doc = document(routers())
    schemas = doc["components"]["schemas"]
    checked = 0
    for path, operations in doc["paths"].items():
        for method, op in operations.items():
            for status, response in op["responses"].items():
                for media, content in response.get("content", {}).items():
                    schema = content["schema"]
                    if "$ref" in schema:
                        schema = schemas[schema["$ref"].rsplit("/", 1)[1]]
                    assert "example" in content, (method, path, status)
                    errors = list(Draft202012Validator(schema).iter_errors(content["example"]))
                    assert errors == [], (method, path, status, media, errors[0].message)
                    checked += 1
    assert checked >= 6 * len(ROUTES)  # each route: its answer and 5 problems at least


def test_every_route_has_an_example_of_success() -> None:
    missing = [route_id(r) for r in ROUTES
               if not any(200 <= ex.status < 300 for ex in r.examples)]
    assert missing == [], "declare an Example (bot/web/api/routing.py) for each"


async def _send(world: Any, route: ApiRoute, example: Example, http: httpx.AsyncClient,
                key: str | None) -> tuple[httpx.Request, httpx.Response]:
    headers = {"Idempotency-Key": key} if key else {}
    request = http.build_request(
        route.method, route.path.format(**example.path), params=dict(example.query),
        headers=headers, **({} if example.body is NO_BODY else {"json": example.body}))
    return request, await http.send(request)


@pytest.mark.parametrize("route", ROUTES, ids=route_id)
async def test_the_route_answers_its_examples_as_the_document_says(harness, route) -> None:
    assert route.examples, f"{route_id(route)} declares no Example"
    async with api_world(harness) as world:
        async with world.client(None) as http:  # the document served is the one checked
            assert (await http.get("/openapi.json")).json() == document(routers())
        spec = openapi()
        for example in route.examples:
            secret = (world.key_a if example.scopes is None
                      else await world.key(world.a, example.scopes))
            idempotency = str(uuid.uuid4()) if route.method == "POST" else None
            async with world.client(secret) as http:
                request, response = await _send(world, route, example, http, idempotency)
                what = f"{route_id(route)} '{example.summary}': {response.text[:500]}"
                assert response.status_code == example.status, what
                if example.status not in INVALID_REQUESTS:
                    spec.validate_request(OpenApiRequest(request))
                spec.validate_response(OpenApiRequest(request), OpenApiResponse(response))
                if idempotency and 200 <= example.status < 300:
                    _, again = await _send(world, route, example, http, idempotency)
                    assert (again.status_code, again.content) == (
                        response.status_code, response.content), what
                    assert again.headers["idempotent-replayed"] == "true"


OWNED = [route for route in ROUTES if route.path_names]  # names one of the owner's things


@pytest.mark.parametrize("route", OWNED, ids=route_id)
async def test_another_owners_key_finds_none_of_the_things_the_examples_name(
        harness, route) -> None:
    """Owner B sends each of the route's examples of success, which name A's things:
    nothing of A's in the answer, and for an id in the path 404, as for something that does
    not exist (a phone in the path may be B's own to act on: opting a number out needs no
    contact of it)."""
    by_id = any(p.where == "path" and p.schema.get("type") == "integer"
                for p in route.params)
    async with api_world(harness) as world:
        spec = openapi()
        async with world.client(world.key_b) as http:
            for example in route.examples:
                if not 200 <= example.status < 300:
                    continue
                request, response = await _send(world, route, example, http, None)
                what = f"{route_id(route)} '{example.summary}' by B: {response.text[:300]}"
                if by_id:
                    assert response.status_code == 404, what
                    assert response.json()["type"].endswith("/not-found"), what
                for mine in ("Promo", "Spring", "Customers", "Customer 1"):  # A's names
                    assert mine not in response.text, what
                spec.validate_response(OpenApiRequest(request), OpenApiResponse(response))
