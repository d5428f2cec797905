"""The API's framework over real HTTP (uvicorn on 127.0.0.1, the whole app's services, a
real SQLite file): keys and scopes, another owner's things, body and rate limits, bodies
checked against their schema, idempotency keys, errors; and the read routes' figures.

Routes of the framework's own (``POST /things`` ...) are declared here: the real ones
have no body to send wrong, and doing their work twice must be something one can count.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest

from bot.clock import utcnow
from bot.domain import ContactList, Scope
from bot.errors import InsufficientCredits
from bot.storage import lists
from bot.storage.db import Database
from bot.web.api import ApiApp, ApiConfig, routers
from bot.web.api.routing import ApiCall, ApiResponse, ApiRouter, obj
from bot.web.app import create_web_app
from tests.e2e.api_world import ApiWorld, api_world
from tests.e2e.conftest import Harness

PROBLEM = "application/problem+json"
TYPE = "https://qasid.dev/problems/"

THING = obj({"id": {"type": "integer"}, "name": {"type": "string"}})
BODY = obj({"name": {"type": "string", "minLength": 1},
            "items": {"type": "array", "items": obj({"phone": {"type": "string"}})}},
           optional=["items"])


@dataclass
class Work:
    """What the test routes did."""

    db: Database
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    done: int = 0  # lists made by the routes

    def __post_init__(self) -> None:
        self.gate.set()


def thing(made: ContactList) -> dict[str, object]:
    return {"id": made.id, "name": made.name}


def framework_routes(work: Work) -> ApiRouter:
    router = ApiRouter("Test")

    async def make(call: ApiCall, *, in_tx: bool) -> ApiResponse:
        await work.gate.wait()
        async with work.db.transaction() as tx:
            made = await lists.create(tx, call.owner_id, call.body["name"] + str(work.done),
                                      utcnow())
            store = call.idempotent(201, thing) if in_tx else None
            if store is not None:  # what a service taking on_commit does
                await store(tx, made)
            if call.body["name"] == "no credits":  # the work fails after the answer was
                raise InsufficientCredits(5, 2)  # stored in its transaction: both roll back
        work.done += 1
        return ApiResponse(thing(made), 201)

    @router.route("POST", "/things", scope=Scope.CONTACTS_WRITE, summary="Make a thing",
                  body=BODY, responses={201: THING})
    async def make_thing(call: ApiCall) -> ApiResponse:
        return await make(call, in_tx=True)

    @router.route("POST", "/later-things", scope=Scope.CONTACTS_WRITE, summary="Make one",
                  body=BODY, responses={201: THING})
    async def make_later(call: ApiCall) -> ApiResponse:
        return await make(call, in_tx=False)

    @router.route("GET", "/boom", scope=Scope.CONTACTS_READ, summary="Fails",
                  responses={200: THING})
    async def boom(call: ApiCall) -> ApiResponse:
        raise RuntimeError("secret detail 7421")

    return router


@dataclass
class Served:
    world: ApiWorld
    work: Work
    app: ApiApp


@pytest.fixture
async def real(harness: Harness) -> AsyncIterator[ApiWorld]:
    """The whole app, seeded (tests/e2e/api_world.py)."""
    async with api_world(harness) as world:
        yield world


async def with_test_routes(harness: Harness, config: ApiConfig) -> AsyncIterator[Served]:
    assert harness.qasid is not None
    work = Work(harness.qasid.db)
    app = ApiApp(harness.qasid.api.services, [framework_routes(work), *routers()], config)

    async def healthy() -> dict[str, bool]:
        return {"database": True}

    async with api_world(harness, app=create_web_app(healthy, api=app)) as world:
        yield Served(world, work, app)


@pytest.fixture
async def served(harness: Harness) -> AsyncIterator[Served]:
    async for made in with_test_routes(harness, ApiConfig(max_body=1024 * 1024)):
        yield made


def slug(response: httpx.Response) -> str:
    assert response.headers["content-type"] == PROBLEM, response.text
    return response.json()["type"].removeprefix(TYPE)


async def list_count(world: ApiWorld) -> int:
    return len(await lists.for_owner(world.qasid.db.reader, world.a))


# --- keys and scopes ---------------------------------------------------------------------


async def test_a_request_without_a_valid_key_is_401_with_a_bearer_challenge(real) -> None:
    revoked = await real.key(real.a, name="Old backend")
    [info] = [k for k in await real.qasid.services.api_keys.list(real.a)
              if k.name == "Old backend"]
    assert await real.qasid.services.api_keys.revoke(real.a, info.id)
    wrong = real.key_a[:-4] + ("AAAA" if not real.key_a.endswith("AAAA") else "BBBB")
    for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"},
                    {"Authorization": f"Bearer {wrong}"},
                    {"Authorization": f"Bearer {revoked}"},
                    {"Authorization": "Bearer"}):
        async with real.client(None) as http:
            response = await http.get("/balance", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert slug(response) == "unauthorized"
        assert "1000" not in response.text and "1,000" not in response.text


async def test_a_key_without_the_routes_scope_is_403_forbidden_scope(real) -> None:
    stats_only = await real.key(real.a, [Scope.STATS_READ])
    async with real.client(stats_only) as http:
        assert (await http.get("/balance")).status_code == 200
        response = await http.get("/templates")
    assert response.status_code == 403 and slug(response) == "forbidden-scope"
    assert "messages:read" in response.json()["detail"]
    assert "Promo" not in response.text
    writer = await real.key(real.a, [Scope.MESSAGES_WRITE])  # a write scope reads too
    async with real.client(writer) as http:
        assert (await http.get("/templates")).status_code == 200


async def test_another_owners_things_are_404_and_never_named(real) -> None:
    async with real.client(real.key_b) as http:
        template = await http.get("/templates/1")
        campaign = await http.get("/stats", params={"campaign_id": 1})
        listed = await http.get("/templates")
        balance = await http.get("/balance")
        stats = await http.get("/stats")
    for response in (template, campaign):
        assert response.status_code == 404 and slug(response) == "not-found"
        assert "Promo" not in response.text and "Spring" not in response.text
    assert [t["name"] for t in listed.json()["data"]] == ["Other"]
    assert balance.json()["balance"] == 0 and balance.json()["lines"] == []
    assert stats.json()["total"] == 0 and stats.json()["campaigns"] == []


# --- the read routes ---------------------------------------------------------------------


async def test_stats_and_balance_are_the_chats_figures(real) -> None:
    async with real.client(real.key_a) as http:
        overall = (await http.get("/stats")).json()
        one = (await http.get("/stats", params={"campaign_id": 1})).json()
        balance = (await http.get("/balance")).json()
        template = (await http.get("/templates/1")).json()
    counts = {k: overall[k] for k in ("total", "queued", "sent", "delivered", "read",
                                      "failed", "uncertain", "skipped")}
    assert counts == {"total": 6, "queued": 1, "sent": 4, "delivered": 3, "read": 2,
                      "failed": 1, "uncertain": 0, "skipped": 0}
    assert overall["delivered_rate"] == 0.75 and overall["failed_rate"] == 0.2
    assert overall["reasons"] == [{"category": "recipient_invalid", "count": 1,
                                   "detail": "not on WhatsApp"}]
    [spring] = [c for c in overall["campaigns"] if c["name"] == "Spring"]
    assert (spring["total"], spring["sent"], spring["delivered"]) == (6, 4, 3)
    assert one["campaign"] == {"id": 1, "name": "Spring", "status": "running"}
    assert one["total"] == 6
    assert (balance["balance"], balance["reserved"], balance["available"]) == (1000, 10, 990)
    assert sum(line["amount"] for line in balance["lines"]) + balance["earlier"] == 1000
    assert {(line["kind"], line["reserved"]) for line in balance["lines"]} == {
        ("credit", 0), (None, 10)}
    assert template["variables"] == ["city", "name"] and len(template["variants"]) == 2
    assert template["cloud"] is None

    chat = real.harness.chat(5001)
    await chat.send("/balance")
    assert "990" in chat.texts()[-1] and "1,000" in chat.texts()[-1]
    await chat.send("/stats")
    assert "75%" in chat.texts()[-1]  # delivered of sent, as the API's 0.75


# --- bodies ------------------------------------------------------------------------------


async def raw_post(url: str, path: str, key: str, head: str, body: list[bytes]) -> int:
    """POST by hand (httpx gives up writing when the server answers early and closes):
    the head, then the body's pieces as long as the server takes them; the status."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(f"POST /api/v1{path} HTTP/1.1\r\nHost: {host}\r\n"
                 f"Authorization: Bearer {key}\r\nContent-Type: application/json\r\n"
                 f"{head}\r\n".encode())
    try:
        for piece in body:
            writer.write(piece)
            await writer.drain()
    except ConnectionError:
        pass  # answered and closed before the whole body was sent: what is wanted
    status = int((await reader.readline()).split()[1])
    writer.close()
    return status


async def test_a_body_over_the_limit_is_413_and_never_reaches_the_route(served) -> None:
    world = served.world
    size = 1024 * 1024 + 10
    declared = await raw_post(world.url, "/things", world.key_a,
                              f"Content-Length: {size}\r\n", [b"x" * size])
    piece = b" " * 64 * 1024  # no Content-Length: counted as it arrives
    chunked = [b"%x\r\n%s\r\n" % (len(piece), piece)] * 40 + [b"0\r\n\r\n"]
    streamed = await raw_post(world.url, "/things", world.key_a,
                              "Transfer-Encoding: chunked\r\n", chunked)
    assert (declared, streamed) == (413, 413)
    assert served.work.done == 0 and await list_count(world) == 1


async def test_a_body_that_does_not_fit_its_schema_names_the_field(served) -> None:
    world = served.world
    cases = [
        ({"name": ""}, 422, "invalid-body", "/name"),
        ({}, 422, "invalid-body", "/name"),
        ({"name": "x", "items": [{"phone": "+1"}, {"phone": 5}]}, 422, "invalid-body",
         "/items/1/phone"),
        ({"name": "x", "colour": "red"}, 422, "invalid-body", "/colour"),
        ([1, 2], 422, "invalid-body", ""),
    ]
    async with world.client(world.key_a) as http:
        for body, status, kind, pointer in cases:
            response = await http.post("/things", json=body)
            assert (response.status_code, slug(response), response.json()["field"]) == (
                status, kind, pointer), body
        not_json = await http.post("/things", content=b"{name: 1",
                                   headers={"Content-Type": "application/json"})
        deep = await http.post("/things", content=b"[" * 100_000,
                               headers={"Content-Type": "application/json"})
        text = await http.post("/things", content=b"name=x",
                               headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert (not_json.status_code, slug(not_json)) == (400, "invalid-json")
    assert (deep.status_code, slug(deep)) == (400, "invalid-json")
    assert (text.status_code, slug(text)) == (415, "unsupported-media-type")
    assert served.work.done == 0


# --- limits ------------------------------------------------------------------------------


async def test_a_key_over_its_rate_is_429_with_retry_after_and_others_go_on(harness) -> None:
    async for made in with_test_routes(harness, ApiConfig(rate=0.001, burst=3)):
        world = made.world
        async with world.client(world.key_a) as http:
            answers = [await http.get("/balance") for _ in range(4)]
        async with world.client(world.key_b) as http:
            other = await http.get("/balance")
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert slug(answers[3]) == "rate-limited"
        assert 1 <= int(answers[3].headers["retry-after"]) <= 1000
        assert other.status_code == 200


# --- idempotency -------------------------------------------------------------------------


async def test_a_repeated_post_gets_the_first_answer_in_one_write(served) -> None:
    world, db = served.world, served.world.qasid.db
    key = {"Idempotency-Key": "order-1001"}
    async with world.client(world.key_a) as http:
        await http.get("/balance")  # the key's use noted (a write, once a minute)
        commits = db.commits
        first = await http.post("/things", json={"name": "Order"}, headers=key)
        one_write = db.commits - commits
        again = await http.post("/things", json={"name": "Order"}, headers=key)
        later = await http.post("/later-things", json={"name": "Later"},
                                headers={"Idempotency-Key": "order-1002"})
        two_writes = db.commits - commits - one_write
        later_again = await http.post("/later-things", json={"name": "Later"},
                                      headers={"Idempotency-Key": "order-1002"})
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    assert (again.status_code, again.content) == (201, first.content)
    assert again.headers["idempotent-replayed"] == "true"
    assert (later_again.status_code, later_again.content) == (201, later.content)
    assert served.work.done == 2 and await list_count(world) == 3  # the seed's + 2
    assert one_write == 1  # the answer stored in the work's own transaction
    assert two_writes == 2  # a route whose work did not take it: one small write after


async def test_the_same_key_for_another_request_is_409_and_not_done(served) -> None:
    world = served.world
    key = {"Idempotency-Key": "k-1"}
    async with world.client(world.key_a) as http:
        assert (await http.post("/things", json={"name": "A"}, headers=key)).status_code == 201
        other_body = await http.post("/things", json={"name": "B"}, headers=key)
        other_path = await http.post("/later-things", json={"name": "A"}, headers=key)
        too_long = await http.post("/things", json={"name": "A"},
                                   headers={"Idempotency-Key": "k" * 256})
    for response in (other_body, other_path):
        assert response.status_code == 409 and slug(response) == "idempotency-mismatch"
        assert response.json()["field"] == "Idempotency-Key"
    assert (too_long.status_code, slug(too_long)) == (400, "invalid-header")
    async with world.client(world.key_b) as http:  # another owner's key space
        theirs = await http.post("/things", json={"name": "B"}, headers=key)
    assert theirs.status_code == 201 and "idempotent-replayed" not in theirs.headers
    assert served.work.done == 2


async def test_concurrent_duplicates_wait_for_the_first_and_get_its_answer(served) -> None:
    world, work = served.world, served.work
    work.gate.clear()
    key = {"Idempotency-Key": "at-once"}
    async with world.client(world.key_a) as http:
        sent = [asyncio.create_task(http.post("/things", json={"name": "Once"}, headers=key))
                for _ in range(5)]
        await asyncio.sleep(0.2)
        assert not any(task.done() for task in sent)
        work.gate.set()
        answers = await asyncio.gather(*sent)
    assert {(r.status_code, r.content) for r in answers} == {(201, answers[0].content)}
    assert sum(r.headers.get("idempotent-replayed") == "true" for r in answers) == 4
    assert work.done == 1


async def test_work_that_fails_stores_no_answer_and_may_be_tried_again(served) -> None:
    world = served.world
    key = {"Idempotency-Key": "retry-me"}
    async with world.client(world.key_a) as http:
        failed = await http.post("/things", json={"name": "no credits"}, headers=key)
        again = await http.post("/things", json={"name": "no credits"}, headers=key)
    for response in (failed, again):
        assert response.status_code == 402 and slug(response) == "insufficient-credits"
        assert (response.json()["needed"], response.json()["available"]) == (5, 2)
        assert "idempotent-replayed" not in response.headers
    assert await list_count(world) == 1  # the seed's only: both rolled back


# --- errors ------------------------------------------------------------------------------


async def test_an_unexpected_error_is_500_without_details_and_logged_by_prefix(
        served, caplog) -> None:
    world = served.world
    with caplog.at_level(logging.ERROR):
        async with world.client(world.key_a) as http:
            response = await http.get("/boom")
    assert response.status_code == 500 and slug(response) == "internal"
    assert "secret detail" not in response.text and "Traceback" not in response.text
    [record] = [r for r in caplog.records if r.name == "bot.web.api.server"]
    assert "GET /boom" in record.getMessage()
    assert world.key_a[:12] in record.getMessage() and world.key_a not in caplog.text


async def test_unknown_paths_and_methods_are_problems_too(real) -> None:
    async with real.client(real.key_a) as http:
        nothing = await http.get("/nothing")
        wrong = await http.delete("/balance")
        bad_id = await http.get("/templates/abc")
        bad_query = await http.get("/stats", params={"campaign_id": "x"})
    assert (nothing.status_code, slug(nothing)) == (404, "not-found")
    assert (wrong.status_code, slug(wrong)) == (405, "method-not-allowed")
    assert (bad_id.status_code, slug(bad_id), bad_id.json()["field"]) == (
        400, "invalid-parameter", "id")
    assert (bad_query.status_code, bad_query.json()["field"]) == (400, "campaign_id")


# --- the document and its page -----------------------------------------------------------


async def test_the_docs_page_is_plain_html_of_every_route_with_nothing_fetched(real) -> None:
    async with httpx.AsyncClient(base_url=real.url) as http:
        page = await http.get("/api/docs")
        document = (await http.get("/api/v1/openapi.json")).json()
        health = await http.get("/healthz")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    html = page.text
    for path, operations in document["paths"].items():
        for method in operations:
            assert f"{method.upper()}</span>/api/v1{path}" in html, (method, path)
    for fetches in ("<script", "src=", "<link", "@import", "url("):
        assert fetches not in html
    assert "insufficient-credits" in html and 'href="/api/v1/openapi.json"' in html
    assert health.status_code == 200
