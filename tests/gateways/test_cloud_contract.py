"""Every request the Cloud API adapter sends is one Meta's published OpenAPI document allows.

The document is ``tests/contracts/specs/meta-business-messaging-api-v23.0.yaml`` (its SHA-256 is
checked), loaded with PyYAML. Requests are collected by the fake Cloud API: a tour through
every call the adapter makes, plus whatever ``test_cloud.py`` sent in the same run
(``ALL_REQUESTS``). Each is checked against the document: the path and method exist,
path parameters and the ``Authorization`` / ``User-Agent`` headers match their patterns,
``/messages`` bodies validate (JSON Schema 2020-12) against ``Message`` and the upload's
form fields against the ``/media`` multipart schema.

The specs README's named corrections are applied in test code, and each is asserted to
still find what it corrects:

* ``allOf`` branches with ``additionalProperties: false`` reject the shared fields
  (``messaging_product``, ``to``...): the branch's keyword is moved to
  ``unevaluatedProperties: false`` on the ``allOf`` schema;
* ``LanguageObject`` requires ``policy``, which Meta's own template examples omit: not
  required.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from bot.gateways.base import Media, SenderRef
from bot.gateways.cloud import CloudConfig, CloudGateway
from tests.conftest import SPECS
from tests.gateways.fake_cloud import ALL_REQUESTS, FakeCloud, FakeCloudServer, RecordedRequest

SPEC_FILE = SPECS / "meta-business-messaging-api-v23.0.yaml"
SPEC_SHA256 = "c7148d5e2aeff32f2effc3d3557795d7eddd07abf8b017c9e40e86bb3312c116"
SPEC_URI = "urn:meta:business-messaging:v23.0"
TOKEN = "EAAGcontractToken"
NUMBER_ID = "106853218861309"
TO = "+994501234567"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

OPERATIONS_USED = {
    ("post", "/{Version}/{Phone-Number-ID}/messages"),
    ("post", "/{Version}/{Phone-Number-ID}/media"),
    ("get", "/{Version}/{Phone-Number-ID}"),
    ("get", "/{Version}/{Media-ID}"),  # a customer's attachment (its URL, then its bytes)
}
MESSAGE_TYPES = {"text", "image", "document", "template"}


# -- the spec, as published and as corrected -------------------------------------------


@pytest.fixture(scope="module")
def published() -> dict[str, Any]:
    return yaml.safe_load(SPEC_FILE.read_text(encoding="utf-8"))


def strict_branches_as_unevaluated(schemas: dict[str, Any]) -> list[str]:
    """Each ``allOf`` whose branch says ``additionalProperties: false``: the branch loses
    it, the ``allOf`` schema gets ``unevaluatedProperties: false``. Returns the names."""
    changed = []
    for name, schema in schemas.items():
        branches = schema.get("allOf") if isinstance(schema, dict) else None
        if not isinstance(branches, list):
            continue
        strict = [b for b in branches if isinstance(b, dict)
                  and b.get("additionalProperties") is False]
        for branch in strict:
            del branch["additionalProperties"]
        if strict:
            schema["unevaluatedProperties"] = False
            changed.append(name)
    return changed


def policy_not_required(schemas: dict[str, Any]) -> bool:
    required = schemas["LanguageObject"].get("required", [])
    if "policy" not in required:
        return False
    schemas["LanguageObject"]["required"] = [r for r in required if r != "policy"]
    return True


@pytest.fixture(scope="module")
def corrected(published: dict[str, Any]) -> dict[str, Any]:
    spec = copy.deepcopy(published)
    schemas = spec["components"]["schemas"]
    assert strict_branches_as_unevaluated(schemas)
    assert policy_not_required(schemas)
    return spec


def component(spec: dict[str, Any], name: str) -> Draft202012Validator:
    resource = Resource.from_contents(spec, default_specification=DRAFT202012)
    return Draft202012Validator({"$ref": f"{SPEC_URI}#/components/schemas/{name}"},
                                registry=Registry().with_resource(SPEC_URI, resource))


def errors_of(check: Draft202012Validator, instance: Any) -> list[str]:
    found = []
    for error in check.iter_errors(instance):
        found.append(f"{'/'.join(map(str, error.absolute_path)) or '<body>'}: {error.message}")
        found += [f"  {c.message}" for c in error.context or ()]
    return found


# -- the requests ----------------------------------------------------------------------


async def _tour(cloud: FakeCloud) -> None:
    cloud.add_number(NUMBER_ID, TOKEN)
    shop = SenderRef(1, "+994500000001", NUMBER_ID)
    async with httpx.AsyncClient() as client:
        gateway = CloudGateway(CloudConfig(base_url=cloud.url, timeout=5), client,
                               tokens={1: TOKEN})
        await gateway.send_text(shop, TO, "Salam, Aysel! 🎉\nEndirim: 20%")
        await gateway.send_media(shop, TO, Media("image", url="https://cdn.example.az/a.jpg"),
                                 caption="Yeni menyu")
        await gateway.send_media(shop, TO, Media("image", data=PNG))
        await gateway.send_media(shop, TO, Media("document", data=b"%PDF-1.7 ...",
                                                 filename="qiymetler.pdf"), caption="Qiymət")
        await gateway.send_media(shop, TO, Media("document", url="https://cdn.example.az/x.pdf"))
        await gateway.send_template(shop, TO, "spring_sale", "az", ["Aysel", "20%"])
        await gateway.send_template(shop, TO, "hello_world", "en_US", [])
        await gateway.sender_status(shop)
        cloud.add_media("1003383421387256", PNG, "image/png", number_id=NUMBER_ID)
        await gateway.download_media(shop, "1003383421387256")


@pytest.fixture(scope="module")
def tour() -> Iterator[list[RecordedRequest]]:
    with FakeCloudServer() as cloud:
        asyncio.run(_tour(cloud))
        # the attachment's bytes come from the URL Meta answered (its CDN, not the Graph
        # API the document describes)
        yield [r for r in cloud.requests if not r.path.startswith("/lookaside/")]


@pytest.fixture(scope="module")
def sent(tour: list[RecordedRequest]) -> list[RecordedRequest]:
    return list({id(r): r for r in (*tour, *ALL_REQUESTS)}.values())


def operation_of(spec: dict[str, Any], method: str, path: str,
                 query: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    matches = []
    for template, item in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}/]+\\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, path) and method.lower() in item:
            matches.append((template.count("{"), template, item[method.lower()]))
    if not matches:
        raise LookupError(f"{method} {path} is not in the spec")
    # literal paths first; among look-alikes (``/{Version}/{Business-ID}`` and
    # ``/{Version}/{Phone-Number-ID}`` are one pattern) the one the adapter means: a GET
    # with ``phone_number_id`` is Retrieve Media URL, any other the number's own
    ours = {template for _, template in OPERATIONS_USED}
    if "phone_number_id" in (query or {}):
        ours = {"/{Version}/{Media-ID}"}
    else:
        ours.discard("/{Version}/{Media-ID}")
    _, template, operation = min(matches, key=lambda m: (m[0], m[1] not in ours))
    return template, operation


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].lstrip("#/").split("/"):
            target = target[part]
        node = target
    return node


def parameter_problems(spec: dict[str, Any], record: RecordedRequest) -> list[str]:
    template, operation = operation_of(spec, record.method, record.path, record.query)
    item = spec["paths"][template]
    parameters = [resolve(spec, p) for p in (*item.get("parameters", []),
                                             *operation.get("parameters", []))]
    values = dict(zip(re.findall(r"\{([^}]+)\}", template),
                      re.fullmatch(re.sub(r"\\\{[^}/]+\\\}", "([^/]+)", re.escape(template)),
                                   record.path).groups(), strict=True))
    problems = []
    for parameter in parameters:
        where, name = parameter["in"], parameter["name"]
        value = (values.get(name) if where == "path" else record.query.get(name)
                 if where == "query" else record.headers.get(name.lower())
                 if where == "header" else None)
        if value is None:
            if parameter.get("required"):
                problems.append(f"missing {where} parameter {name}")
            continue
        pattern = parameter.get("schema", {}).get("pattern")
        if pattern and not re.search(pattern, value):
            problems.append(f"{where} parameter {name}={value!r} does not match {pattern}")
    return problems


# -- the contract ----------------------------------------------------------------------


def test_the_spec_is_the_published_document() -> None:
    assert hashlib.sha256(SPEC_FILE.read_bytes()).hexdigest() == SPEC_SHA256


def test_the_tour_uses_every_operation_and_message_shape(
    published: dict[str, Any], tour: list[RecordedRequest]
) -> None:
    used = {(r.method.lower(), operation_of(published, r.method, r.path, r.query)[0])
            for r in tour}
    assert used == OPERATIONS_USED
    shapes = {(r.body["type"], *sorted(set(r.body[r.body["type"]]) & {"id", "link"}))
              for r in tour if r.path.endswith("/messages")}
    assert shapes == {("text",), ("template",), ("image", "id"), ("image", "link"),
                      ("document", "id"), ("document", "link")}


def test_every_request_is_a_documented_operation_with_valid_parameters(
    published: dict[str, Any], sent: list[RecordedRequest]
) -> None:
    problems = []
    for record in sent:
        try:
            template, _ = operation_of(published, record.method, record.path, record.query)
        except LookupError as exc:
            problems.append(str(exc))
            continue
        if (record.method.lower(), template) not in OPERATIONS_USED:
            problems.append(f"{record.method} {record.path}: not an operation we mean to use")
        problems += [f"{record.method} {record.path}: {p}"
                     for p in parameter_problems(published, record)]
    assert len(sent) >= 10
    assert problems == []


def test_every_message_body_validates_against_the_corrected_message_schema(
    corrected: dict[str, Any], sent: list[RecordedRequest]
) -> None:
    check = component(corrected, "Message")
    bodies = [r.body for r in sent if r.method == "POST" and r.path.endswith("/messages")
              and isinstance(r.body, dict)]
    problems = {f"#{i} {b.get('type')}": errors_of(check, b) for i, b in enumerate(bodies)}
    assert {k: v for k, v in problems.items() if v} == {}
    assert {b["type"] for b in bodies} == MESSAGE_TYPES


def test_every_upload_carries_the_documented_form_fields(
    published: dict[str, Any], sent: list[RecordedRequest]
) -> None:
    _, operation = operation_of(published, "POST", f"/v23.0/{NUMBER_ID}/media")
    schema = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    uploads = [r for r in sent if r.method == "POST" and r.path.endswith("/media")]
    assert uploads
    for record in uploads:
        assert record.headers["content-type"].startswith("multipart/form-data")
        fields = {**record.form, **{name: "<binary>" for name in record.files}}
        assert {"file", "messaging_product"} <= set(fields) <= {*schema["properties"], "type"}
        assert errors_of(Draft202012Validator(schema), fields) == []


def test_the_validators_refuse_what_meta_would_refuse(corrected: dict[str, Any]) -> None:
    check = component(corrected, "Message")
    good = {"messaging_product": "whatsapp", "recipient_type": "individual",
            "to": "994501234567", "type": "text", "text": {"body": "hi"}}
    assert errors_of(check, good) == []
    assert errors_of(check, {**good, "txt": {"body": "hi"}})  # unevaluatedProperties
    assert errors_of(check, {k: v for k, v in good.items() if k != "to"})
    image = {**good, "type": "image", "image": {"link": "https://x.example/a.png",
                                                "id": "1"}}
    del image["text"]
    assert errors_of(check, image)  # id and link: MediaObject's oneOf


def test_each_correction_still_finds_what_it_corrects(
    published: dict[str, Any], corrected: dict[str, Any], tour: list[RecordedRequest]
) -> None:
    bodies = {r.body["type"]: r.body for r in tour if r.path.endswith("/messages")}

    # additionalProperties on the allOf branches: our (and Meta's) text message fails.
    schemas = copy.deepcopy(published["components"]["schemas"])
    changed = strict_branches_as_unevaluated(schemas)
    assert {"TextMessage", "ImageMessage", "DocumentMessage"} <= set(changed)
    found = errors_of(component(published, "TextMessage"), bodies["text"])
    assert any("Additional properties" in e for e in found)
    assert errors_of(component(corrected, "TextMessage"), bodies["text"]) == []
    assert strict_branches_as_unevaluated(copy.deepcopy(corrected["components"]["schemas"])) \
        == []

    # LanguageObject.policy: a template as Meta's own examples send it fails.
    assert "policy" in published["components"]["schemas"]["LanguageObject"]["required"]
    assert "policy" not in bodies["template"]["template"]["language"]
    found = errors_of(component(published, "TemplateMessage"), bodies["template"])
    assert any("'policy' is a required property" in e for e in found)
    assert errors_of(component(corrected, "TemplateMessage"), bodies["template"]) == []
