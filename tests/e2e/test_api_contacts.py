"""Contacts and lists over real HTTP (``tests/e2e/api_world.py``): keys and scopes, another
owner's contacts and lists as 404, a body over the limit as 413, and 10,000 contacts in
one request, written as a file of them would be."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import httpx

from bot.domain import Scope
from tests.e2e.api_world import A_PHONES, B_PHONES, api_world
from tests.e2e.conftest import Harness


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    return body


async def test_no_key_is_401_and_a_key_without_the_scope_is_403(harness: Harness) -> None:
    async with api_world(harness) as world:
        async with world.client(None) as anonymous:
            refused = await anonymous.get(f"/contacts/{A_PHONES[0]}")
        assert refused.status_code == 401
        assert problem(refused)["type"].endswith("/unauthorized")

        reader = await world.key(world.a, [Scope.CONTACTS_READ])
        stats_only = await world.key(world.a, [Scope.STATS_READ])
        async with world.client(reader) as http:
            assert (await http.get(f"/contacts/{A_PHONES[0]}")).status_code == 200
            assert (await http.get("/lists")).status_code == 200
            writes = [await http.post("/contacts", json={"phone": "+994501234567"}),
                      await http.post(f"/contacts/{A_PHONES[0]}/opt-out"),
                      await http.delete(f"/contacts/{A_PHONES[0]}"),
                      await http.post("/lists", json={"name": "New"})]
        assert [r.status_code for r in writes] == [403] * 4
        assert all(problem(r)["type"].endswith("/forbidden-scope") for r in writes)
        async with world.client(stats_only) as http:
            assert (await http.get("/contacts")).status_code == 403
        found = await world.qasid.services.contacts.lists(world.a)
        assert [item.name for item in found] == ["Customers"]  # nothing was written


async def test_another_owners_contacts_and_lists_are_404_and_untouched(
        harness: Harness) -> None:
    async with api_world(harness) as world:
        b_phone = B_PHONES[0]
        b_list = (await world.qasid.services.contacts.lists(world.b))[0].id
        async with world.client(world.key_a) as http:
            answers = {
                "get": await http.get(f"/contacts/{b_phone}"),
                "opt-in": await http.post(f"/contacts/{b_phone}/opt-in"),
                "delete": await http.delete(f"/contacts/{b_phone}"),
                "members of": await http.get("/contacts", params={"list_id": b_list}),
                "add to": await http.post(f"/lists/{b_list}/members",
                                          json={"phones": [A_PHONES[0]]}),
                "take from": await http.request("DELETE", f"/lists/{b_list}/members",
                                                json={"phones": [b_phone]}),
                "upsert into": await http.post("/contacts", json={
                    "contacts": [{"phone": "+994501234567"}], "list_ids": [b_list]}),
                "one into": await http.post("/contacts", json={
                    "phone": "+994501234567", "list_ids": [b_list]}),
            }
            listed = (await http.get("/contacts", params={"limit": 1000})).json()
            lists = (await http.get("/lists")).json()
        for what, answer in answers.items():
            assert answer.status_code == 404, what
            body = problem(answer)
            assert body["type"].endswith("/not-found"), what
            assert "B" not in body["detail"] and b_phone not in body["detail"], what
        assert b_phone not in {c["phone"] for c in listed["data"]}
        assert [item["name"] for item in lists["data"]] == ["Customers"]

        async with world.client(world.key_b) as http:
            mine = (await http.get(f"/contacts/{b_phone}")).json()
            b_lists = (await http.get("/lists")).json()["data"]
        assert (mine["name"], mine["opted_out"], mine["list_ids"]) == (
            "B customer", False, [b_list])
        assert [(item["name"], item["size"]) for item in b_lists] == [("B list", 1)]
        # A's upsert made no contact of its own either (the request was refused whole)
        async with world.client(world.key_a) as http:
            assert (await http.get("/contacts/+994501234567")).status_code == 404


def _answer_size(answer: bytes) -> int:
    """The length of a whole answer whose head is in ``answer``."""
    head, _, _ = answer.partition(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(head) + 4 + int(value)
    return len(answer)


async def _raw_post(url: str, key: str, head: dict[str, str], chunks: list[bytes]) -> bytes:
    """A POST /contacts on a socket of its own, its answer read while the body is still
    going out (as curl does: the server answers a body too large before it is all sent,
    and closes the connection, which a client that only reads after sending never sees)."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    lines = ["POST /api/v1/contacts HTTP/1.1", f"Host: {host}",
             f"Authorization: Bearer {key}", "Content-Type: application/json",
             *(f"{name}: {value}" for name, value in head.items())]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def send_body() -> None:
        with contextlib.suppress(ConnectionError):
            for chunk in chunks:
                writer.write(chunk)
                await writer.drain()

    sending = asyncio.create_task(send_body())
    try:
        answer = b""
        while b"\r\n\r\n" not in answer or len(answer) < _answer_size(answer):
            more = await reader.read(65536)
            if not more:
                break
            answer += more
    finally:
        sending.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sending
        writer.close()
    return answer


async def test_a_body_over_the_limit_is_413(harness: Harness) -> None:
    async with api_world(harness) as world:
        limit = world.qasid.api.config.max_body
        contact = b'{"phone":"+994501234567","name":"' + b"n" * 900 + b'"},'
        body = b'{"contacts":[' + contact * (limit // len(contact) + 1)
        said = await _raw_post(world.url, world.key_a, {"Content-Length": str(len(body))},
                               [body[:65536]])
        chunked = [b"%x\r\n%s\r\n" % (len(part), part)
                   for part in (body[n:n + 65536] for n in range(0, len(body), 65536))]
        counted = await _raw_post(world.url, world.key_a, {"Transfer-Encoding": "chunked"},
                                  chunked)
        for answer in (said, counted):
            assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
            assert b"/payload-too-large" in answer
        assert (await world.qasid.services.contacts.lists(world.a))[0].size == 3


async def test_ten_thousand_contacts_in_one_request_as_a_file_would_bring_them(
        harness: Harness) -> None:
    async with api_world(harness) as world:
        contacts: list[dict[str, Any]] = [
            {"phone": f"050 2{n:06d}", "name": f"Client {n}",
             "variables": {"City": "Gəncə", "order": n}} for n in range(9_998)]
        contacts += [{"phone": "12345"}, {"phone": f"+994 50 2{7:06d}", "opted_out": True}]
        async with world.client(world.key_a) as http:
            made = await http.post("/lists", json={"name": "Spring 2026"})
            assert made.status_code == 201, made.text
            target = made.json()["id"]
            answer = await http.post("/contacts", json={"contacts": contacts,
                                                        "list_ids": [target]})
            assert answer.status_code == 200, answer.text
            report = answer.json()
            pages, cursor, seen = 0, None, []
            while True:
                params: dict[str, Any] = {"list_id": target, "limit": 1000}
                if cursor:
                    params["cursor"] = cursor
                page = (await http.get("/contacts", params=params)).json()
                seen += page["data"]
                pages += 1
                cursor = page["next_cursor"]
                if cursor is None:
                    break
            one = (await http.get("/contacts/+994502000007")).json()
            listed = (await http.get("/lists")).json()["data"]
        assert report == {"received": 10_000, "created": 9_998, "updated": 0,
                          "duplicates": 1, "opted_out": 1,
                          "rejected": [{"index": 9_998, "phone": "12345",
                                        "reason": "too_short"}]}
        assert pages == 10 and len(seen) == 9_998
        assert seen[0] == {"phone": "+994502000000", "name": "Client 0",
                           "variables": {"city": "Gəncə", "order": "0"},
                           "list_ids": [target], "opted_out": False, "opted_out_at": None,
                           "opt_out_reason": None}
        assert (one["name"], one["opted_out"]) == ("Client 7", True)
        sizes = {item["name"]: (item["size"], item["opted_out"], item["variables"])
                 for item in listed}
        assert sizes["Spring 2026"] == (9_998, 1, ["city", "order"])


async def test_one_contact_is_created_then_updated_and_a_bad_number_is_422(
        harness: Harness) -> None:
    async with api_world(harness) as world:
        async with world.client(world.key_a) as http:
            created = await http.post("/contacts", json={"phone": "055 987 65 43",
                                                         "name": "Leyla"})
            updated = await http.post("/contacts", json={"phone": "+994559876543",
                                                         "variables": {"city": "Quba"}})
            landline = await http.post("/contacts", json={"phone": "012 493 00 00"})
            stopped = await http.post("/contacts/+994559876543/opt-out")
            again = await http.post("/contacts", json={"phone": "+994559876543",
                                                       "opted_out": False})
            back = await http.post("/contacts/055 987 65 43/opt-in")
            gone = await http.delete("/contacts/+994559876543")
            after = await http.get("/contacts/+994559876543")
        assert created.status_code == 201
        assert created.json()["phone"] == "+994559876543"
        assert updated.status_code == 200
        assert (updated.json()["name"], updated.json()["variables"]) == ("Leyla",
                                                                         {"city": "Quba"})
        assert landline.status_code == 422
        assert (problem(landline)["field"], problem(landline)["reason"]) == ("/phone",
                                                                            "landline")
        assert stopped.json()["opted_out"] and stopped.json()["opt_out_reason"] == "API"
        assert again.json()["opted_out"] is True  # new data never undoes an opt-out
        assert back.json()["opted_out"] is False
        assert gone.json() == {"phone": "+994559876543", "kept_as_opt_out": False}
        assert after.status_code == 404
