"""Every request the WAHA adapter sends is one WAHA's published OpenAPI document allows.

The document is ``tests/contracts/specs/waha-openapi-2026.9.2.json`` as published (its SHA-256
is checked). Requests are collected by the fake WAHA: a tour through every call the
adapter makes, plus whatever ``test_waha.py`` sent in the same run (``ALL_REQUESTS``).
Each is checked three ways:

* openapi-core: the path and method exist, the query and path parameters, the
  ``X-Api-Key`` security requirement and the JSON body (the spec loaded with spec
  validation off, as the specs README says);
* required query parameters are present (openapi-core fills a missing one from its
  ``default``, so it would not notice a request without ``session``);
* jsonschema (2020-12, the spec as a registry resource): the send bodies against the
  ``MessageTextRequest`` / ``MessageImageRequest`` / ``MessageFileRequest`` components,
  and the session create body against ``SessionCreateRequest``.

The send schemas validate as published. One request correction, not (yet) in the specs
README, is the same defect as its webhook ``event`` one: ``WebhookConfig.events`` (in
the ``POST /api/sessions`` body) declares its items ``type: object``, so WAHA's own
example ``"events": ["message", "session.status"]`` fails as published;
``webhook_events_as_strings`` makes them strings from the webhooks' ``event`` enum (so a
misspelt event still fails). It is applied for the requests and for the fake's answers
(``SessionDTO.config``), and a test checks it still finds what it corrects. The README's
corrections for 3.0 keywords (``nullable: true``, boolean ``required`` on properties) are
applied only where needed: to check that the fake answers in WAHA's documented shapes.
The fake's webhook bodies are checked in ``test_waha_linking.py``.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from openapi_core.validation.request.exceptions import (
    InvalidRequestBody,
    SecurityValidationError,
)
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from werkzeug.datastructures import (  # openapi-core's own dependency; it wants these
    Headers,
    ImmutableMultiDict,
)

from bot.gateways.base import GatewayError, Media, SenderRef
from bot.gateways.waha import WahaConfig, WahaGateway
from tests.conftest import SPECS
from tests.gateways.fake_waha import ALL_REQUESTS, FakeWaha, FakeWahaServer, RecordedRequest

SPEC_FILE = SPECS / "waha-openapi-2026.9.2.json"
SPEC_SHA256 = "19c54491fad1840c260cb6ce1c87a0a45f47289a25a787bd7de30927ebdb2acf"
SPEC_URI = "urn:waha:openapi:2026.9.2"
KEY = "contract-key"
TO = "+994501234567"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

BODY_SCHEMAS = {
    "/api/sendText": "MessageTextRequest",
    "/api/sendImage": "MessageImageRequest",
    "/api/sendFile": "MessageFileRequest",
}
OPERATIONS_USED = {
    ("post", "/api/sendText"), ("post", "/api/sendImage"), ("post", "/api/sendFile"),
    ("get", "/api/contacts/check-exists"), ("get", "/api/sessions/{session}"),
    ("get", "/api/sessions/{session}/capping"), ("get", "/api/sessions/{session}/timelock"),
    # linking a number
    ("post", "/api/sessions"), ("post", "/api/sessions/{session}/start"),
    ("post", "/api/sessions/{session}/logout"), ("delete", "/api/sessions/{session}"),
    ("get", "/api/{session}/auth/qr"), ("post", "/api/{session}/auth/request-code"),
}
REQUEST_COMPONENTS = (*BODY_SCHEMAS.values(), "RemoteFile", "BinaryFile")
HOOK_URL = "https://qasid.example.az/webhooks/waha"


# -- the spec, as published and as corrected -------------------------------------------


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    return json.loads(SPEC_FILE.read_bytes())


@pytest.fixture(scope="module")
def requests_spec(published: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(published)
    assert webhook_events_as_strings(spec) == 1
    return spec


@pytest.fixture(scope="module")
def corrected(requests_spec: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(requests_spec)
    boolean_required_into_parent(spec)  # first: a nullable schema gets wrapped in anyOf
    nullable_as_null_type(spec)
    return spec


@pytest.fixture(scope="module")
def openapi(requests_spec: dict[str, Any]) -> OpenAPI:
    return OpenAPI.from_dict(requests_spec, config=Config(spec_validator_cls=None))


def webhook_events_as_strings(spec: dict[str, Any]) -> int:
    """``WebhookConfig.events`` items declared ``type: object``: strings from the
    webhooks' ``event`` enum instead. Returns how many schemas it changed (0 or 1)."""
    schemas = spec["components"]["schemas"]
    items = schemas["WebhookConfig"]["properties"]["events"]["items"]
    if items.get("type") != "object":
        return 0
    names = schemas["WAHAWebhookSessionStatus"]["properties"]["event"]["enum"]
    items.clear()
    items.update({"type": "string", "enum": [*names, "*"]})
    return 1


def nullable_as_null_type(node: Any) -> int:
    """OpenAPI 3.0's ``nullable: true`` (ignored by JSON Schema 2020-12) as ``anyOf`` the
    schema or null. Returns how many schemas it changed."""
    changed = 0
    if isinstance(node, list):
        return sum(nullable_as_null_type(item) for item in node)
    if isinstance(node, dict):
        for value in node.values():
            changed += nullable_as_null_type(value)
        if node.get("nullable") is True:
            del node["nullable"]
            schema = dict(node)
            node.clear()
            node["anyOf"] = [schema, {"type": "null"}]
            changed += 1
    return changed


def boolean_required_into_parent(node: Any) -> int:
    """``required: true`` on a property schema (a 3.0 habit; 2020-12 wants a list of names
    on the object) moved to the object's ``required``. Returns how many it moved."""
    changed = 0
    if isinstance(node, list):
        return sum(boolean_required_into_parent(item) for item in node)
    if isinstance(node, dict):
        properties = node.get("properties")
        if isinstance(properties, dict):
            for name, schema in properties.items():
                if isinstance(schema, dict) and isinstance(schema.get("required"), bool):
                    if schema.pop("required") and name not in node.setdefault("required", []):
                        node["required"].append(name)
                    changed += 1
        for value in node.values():
            changed += boolean_required_into_parent(value)
    return changed


def count_3_0_keywords(node: Any) -> tuple[int, int]:
    """(``nullable: true`` count, boolean ``required`` on property schemas count)."""
    copied = copy.deepcopy(node)
    boolean_required = boolean_required_into_parent(copied)
    return nullable_as_null_type(copied), boolean_required


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A 2020-12 validator for ``schema``, whose ``$ref``s reach into ``spec``."""
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return Draft202012Validator(schema, registry=Registry().with_resource(SPEC_URI, resource))


def component(spec: dict[str, Any], name: str) -> Draft202012Validator:
    return validator(spec, {"$ref": f"{SPEC_URI}#/components/schemas/{name}"})


def errors_of(check: Draft202012Validator, instance: Any) -> list[str]:
    return [f"{'/'.join(map(str, e.absolute_path)) or '<body>'}: {e.message}"
            for e in check.iter_errors(instance)]


# -- the requests ----------------------------------------------------------------------


async def _tour(waha: FakeWaha) -> None:
    """Every call the adapter makes, every body shape it can send."""
    waha.add_session("shop")
    waha.add_session("capped", capping_status="CAPPED")
    waha.not_on_whatsapp.add("994507654321")
    shop = SenderRef(1, "+994500000001", "shop")
    capped = SenderRef(2, "+994500000002", "capped")
    async with httpx.AsyncClient() as client:
        gateway = WahaGateway(WahaConfig(waha.url, KEY, timeout=5), client)
        await gateway.send_text(shop, TO, "Salam, Aysel! 🎉\nEndirim: 20%")
        await gateway.send_media(shop, TO, Media("image", data=PNG), caption="Yeni menyu")
        await gateway.send_media(shop, TO, Media("image", url="https://cdn.example.az/a.jpg"))
        await gateway.send_media(shop, TO, Media("document", data=b"%PDF-1.7 ...",
                                                 filename="qiymetler.pdf"), caption="Qiymət")
        await gateway.send_media(shop, TO, Media("document", url="https://cdn.example.az/x"))
        await gateway.check_number(shop, TO)
        await gateway.check_number(shop, "+994507654321")
        await gateway.sender_status(shop)
        await gateway.sender_status(capped)
        await gateway.sender_status(SenderRef(3, "+994500000003", "not-linked"))
        with suppress(GatewayError):  # 463, then the best-effort capping/timelock reads
            await gateway.send_text(capped, TO, "Salam")
        # linking a number: create (with and without a webhook), exists -> start, QR,
        # pairing code, status, delete (logout + delete)
        await gateway.start_session("new", webhook_url=HOOK_URL, webhook_key="hook-key")
        await gateway.start_session("bare")
        await gateway.start_session("new", webhook_url=HOOK_URL)
        await gateway.qr_code("new")
        await gateway.request_code("new", TO)
        waha.scan("new", TO)
        await gateway.link_status("new")
        await gateway.delete_session("new")


@pytest.fixture(scope="module")
def tour() -> Iterator[list[RecordedRequest]]:
    with FakeWahaServer(FakeWaha(api_key=KEY)) as waha:
        asyncio.run(_tour(waha))
        yield list(waha.requests)


@pytest.fixture(scope="module")
def sent(tour: list[RecordedRequest]) -> list[RecordedRequest]:
    """The tour's requests and every other one the fake saw in this test run."""
    return list({id(r): r for r in (*tour, *ALL_REQUESTS)}.values())


def operation_of(spec: dict[str, Any], method: str, path: str) -> tuple[str, dict[str, Any]]:
    """The spec's path template and operation for a concrete request path."""
    matches = []
    for template, item in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            matches.append((template.count("{"), template, item[method.lower()]))
    if not matches:
        raise LookupError(f"{method} {path} is not in the spec")
    _, template, operation = min(matches, key=lambda m: m[0])  # literal paths first
    return template, operation


@dataclass(frozen=True)
class OpenAPIRequest:
    """openapi-core's Request protocol, built from what the fake recorded."""

    record: RecordedRequest
    host_url: str = "http://127.0.0.1"

    @property
    def path(self) -> str:
        return self.record.path

    @property
    def method(self) -> str:
        return self.record.method.lower()

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path

    @property
    def body(self) -> bytes | None:
        return self.record.raw_body or None

    @property
    def content_type(self) -> str:
        return self.record.headers.get("content-type", "")

    @cached_property
    def parameters(self) -> RequestParameters:
        headers = dict(self.record.headers)
        if not self.record.key_required:  # a WAHA run without a key accepts none
            headers.setdefault("x-api-key", "(WAHA without a key)")
        return RequestParameters(
            query=ImmutableMultiDict(self.record.query), header=Headers(headers),
            cookie=ImmutableMultiDict(),
        )


# -- the contract ----------------------------------------------------------------------


def test_the_spec_is_the_published_document() -> None:
    assert hashlib.sha256(SPEC_FILE.read_bytes()).hexdigest() == SPEC_SHA256


def test_the_tour_uses_every_operation_and_body_shape(
    published: dict[str, Any], tour: list[RecordedRequest]
) -> None:
    used = {(r.method.lower(), operation_of(published, r.method, r.path)[0]) for r in tour}
    assert used == OPERATIONS_USED
    files = {(r.path, *sorted(set(r.body["file"]) & {"url", "data"})) for r in tour
             if r.path in ("/api/sendImage", "/api/sendFile")}
    assert files == {("/api/sendImage", "data"), ("/api/sendImage", "url"),
                     ("/api/sendFile", "data"), ("/api/sendFile", "url")}


def test_every_request_sent_is_a_documented_operation_with_valid_parameters_and_body(
    openapi: OpenAPI, published: dict[str, Any], sent: list[RecordedRequest]
) -> None:
    problems = []
    for record in sent:
        where = f"{record.method} {record.path}?{record.query}"
        try:
            template, operation = operation_of(published, record.method, record.path)
        except LookupError as exc:
            problems.append(str(exc))
            continue
        if (record.method.lower(), template) not in OPERATIONS_USED:
            problems.append(f"{where}: an operation the adapter is not meant to use")
        for parameter in operation.get("parameters", []):
            if (parameter["in"] == "query" and parameter.get("required")
                    and parameter["name"] not in record.query):
                problems.append(f"{where}: required query parameter {parameter['name']!r}")
        try:
            openapi.validate_request(OpenAPIRequest(record))
        except Exception as exc:
            problems.append(f"{where}: {type(exc).__name__}: {exc}")
    assert len(sent) >= 15
    assert problems == []


def test_the_session_create_bodies_validate_against_their_component_schema(
    requests_spec: dict[str, Any], sent: list[RecordedRequest]
) -> None:
    check = component(requests_spec, "SessionCreateRequest")
    bodies = [r.body for r in sent if (r.method, r.path) == ("POST", "/api/sessions")]
    assert any("config" in body for body in bodies) and any("config" not in b for b in bodies)
    assert {i: errors_of(check, body) for i, body in enumerate(bodies)
            if errors_of(check, body)} == {}
    assert errors_of(check, {"name": "x", "config": {"webhooks": [
        {"url": HOOK_URL, "events": ["message.acks"]}]}})  # a misspelt event


def test_every_send_body_validates_against_its_component_schema(
    published: dict[str, Any], sent: list[RecordedRequest]
) -> None:
    checks = {path: component(published, name) for path, name in BODY_SCHEMAS.items()}
    bodies = [r for r in sent if r.method == "POST" and r.path in checks]
    problems = {f"{r.path} #{i}": errors_of(checks[r.path], r.body)
                for i, r in enumerate(bodies)}
    assert {where: found for where, found in problems.items() if found} == {}
    assert {r.path for r in bodies} == set(BODY_SCHEMAS)


def test_the_validators_refuse_what_waha_would_refuse(
    openapi: OpenAPI, published: dict[str, Any]
) -> None:
    text = component(published, "MessageTextRequest")
    image = component(published, "MessageImageRequest")
    good = {"session": "shop", "chatId": "994501234567@c.us", "text": "hi"}
    assert errors_of(text, good) == []
    assert errors_of(text, {"session": "shop", "text": "hi"})  # no chatId
    assert errors_of(text, {**good, "text": 42})
    both = {"mimetype": "image/png", "data": "AAAA", "url": "https://x.example/a.png"}
    assert errors_of(image, {"session": "shop", "chatId": "1@c.us", "file": both})  # oneOf
    assert errors_of(image, {"session": "shop", "chatId": "1@c.us", "file": {"data": "AAAA"}})

    def request(method: str, path: str, body: Any, **headers: str) -> OpenAPIRequest:
        raw = json.dumps(body).encode() if body is not None else b""
        return OpenAPIRequest(RecordedRequest(
            method, path, {}, {"content-type": "application/json", **headers}, body, raw,
            key_required=True,
        ))

    openapi.validate_request(request("POST", "/api/sendText", good, **{"x-api-key": "k"}))
    for refused, why in (
        (request("POST", "/api/sendText", good), SecurityValidationError),  # no X-Api-Key
        (request("POST", "/api/sendText", {"session": "shop"}, **{"x-api-key": "k"}),
         InvalidRequestBody),
        (request("POST", "/api/sendPicture", good, **{"x-api-key": "k"}), PathNotFound),
        (request("DELETE", "/api/sendImage", None, **{"x-api-key": "k"}), OperationNotFound),
    ):
        with pytest.raises(why):
            openapi.validate_request(refused)


def pointer(*parts: str) -> str:
    """A JSON pointer (RFC 6901) to ``parts`` inside the spec."""
    return "/" + "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


def test_the_fake_answers_in_the_documented_shapes(
    corrected: dict[str, Any], tour: list[RecordedRequest]
) -> None:
    """Each 2xx JSON answer of the fake against the schema its operation documents (not
    the sends': their answer is the engine's message, whose shape varies by engine)."""
    problems, checked = {}, set()
    for record in tour:
        if record.status is None or not 200 <= record.status < 300 or record.scripted:
            continue
        if record.path in BODY_SCHEMAS:
            continue
        template, operation = operation_of(corrected, record.method, record.path)
        status, method = str(record.status), record.method.lower()
        content = operation["responses"].get(status, {}).get("content", {})
        if "application/json" not in content or record.response is None:
            continue
        where = pointer("paths", template, method, "responses", status, "content",
                        "application/json", "schema")
        checked.add((method, template, status))
        found = errors_of(validator(corrected, {"$ref": f"{SPEC_URI}#{where}"}),
                          record.response)
        if found:
            problems[f"{record.method} {record.path}"] = found
    assert problems == {}
    assert checked == {
        ("get", "/api/sessions/{session}", "200"), ("get", "/api/contacts/check-exists", "200"),
        ("get", "/api/sessions/{session}/capping", "200"),
        ("get", "/api/sessions/{session}/timelock", "200"),
        ("post", "/api/sessions", "201"), ("post", "/api/sessions/{session}/logout", "201"),
    }


def test_each_correction_still_finds_what_it_corrects(
    published: dict[str, Any], corrected: dict[str, Any], tour: list[RecordedRequest]
) -> None:
    schemas = published["components"]["schemas"]
    nullable, boolean_required = count_3_0_keywords(published)
    assert nullable > 0 and boolean_required > 0
    assert count_3_0_keywords(corrected) == (0, 0)

    # nullable: WAHA's own capping answer (oteStatus null) fails the published schema.
    capping = next(r.response for r in tour if r.path.endswith("/capping") and r.status == 200)
    assert capping["oteStatus"] is None
    assert errors_of(component(published, "MessageCappingData"), capping)
    assert errors_of(component(corrected, "MessageCappingData"), capping) == []

    # boolean required: SessionInfo.timestamps.activity is not even a valid 2020-12 schema.
    timestamps = schemas["SessionInfo"]["properties"]["timestamps"]
    assert timestamps["properties"]["activity"]["required"] is True
    with pytest.raises(SchemaError):
        Draft202012Validator.check_schema(timestamps)
    fixed = corrected["components"]["schemas"]["SessionInfo"]["properties"]["timestamps"]
    assert fixed["required"] == ["activity"]

    # ... and the request schemas need neither: they are checked as published.
    for name in REQUEST_COMPONENTS:
        assert count_3_0_keywords(schemas[name]) == (0, 0), name

    # webhook events: the create body the adapter sends (WAHA's own example's shape)
    # fails as published, passes corrected.
    create = next(r.body for r in tour if r.path == "/api/sessions" and "config" in r.body)
    assert schemas["WebhookConfig"]["properties"]["events"]["items"] == {"type": "object"}
    assert any("is not of type 'object'" in e
               for e in errors_of(component(published, "SessionCreateRequest"), create))
    assert errors_of(component(corrected, "SessionCreateRequest"), create) == []
