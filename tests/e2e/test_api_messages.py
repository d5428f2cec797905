"""Messages and campaigns over real HTTP (``tests/e2e/api_world.py``): a message sent by
API goes out and its state follows; credits short is 402 with what is missing and nothing
queued; another owner's campaigns, messages, templates and numbers are 404; a repeated
``Idempotency-Key`` gets the first answer and queues nothing more."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.e2e.api_world import A_PHONES, ApiWorld, api_world
from tests.e2e.conftest import Harness


def problem(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"] == "application/problem+json", response.text
    body: dict[str, Any] = response.json()
    return body


async def outbox(world: ApiWorld, owner_id: int) -> list[tuple[Any, ...]]:
    async with world.qasid.db.reader.execute(
            "SELECT id, phone, status, campaign_id, client_ref FROM messages"
            " WHERE owner_id = ? ORDER BY id", (owner_id,)) as cur:
        return [tuple(row) async for row in cur]


async def test_a_message_sent_by_api_goes_out_and_its_state_follows(harness: Harness) -> None:
    async with api_world(harness) as world, world.client(world.key_a) as http:
        sent = await http.post("/messages", json={
            "phone": "050 100 00 01", "template_id": 1, "variables": {"name": "Aysel"},
            "client_ref": "order-1042"})
        assert sent.status_code == 202, sent.text
        accepted = sent.json()
        assert (accepted["status"], accepted["phone"], accepted["client_ref"]) == (
            "queued", A_PHONES[0], "order-1042")

        async def state() -> dict[str, Any]:
            return (await http.get(f"/messages/{accepted['id']}")).json()

        async def went_out() -> bool:
            return (await state())["status"] in ("sent", "delivered", "read")

        for _ in range(200):  # the dispatcher's ticks send it (the sandbox answers)
            if await went_out():
                break
            await asyncio.sleep(0.05)
        message = await state()
        assert message["status"] in ("sent", "delivered", "read"), message
        assert message["campaign_id"] is None and message["client_ref"] == "order-1042"
        assert [step["status"] for step in message["history"]][:2] == ["queued", "sent"]
        balance = (await http.get("/balance")).json()
        assert balance["balance"] == 999  # charged once; campaign 1 still holds its 10
        assert balance["reserved"] == 10


async def test_credits_short_are_402_with_what_is_missing_and_nothing_is_queued(
        harness: Harness) -> None:
    async with api_world(harness) as world:
        poor = await world.owner(5003)
        key = await world.key(poor)
        async with world.client(key) as http:
            created = await http.post("/lists", json={"name": "Few"})
            list_id = created.json()["id"]
            await http.post(f"/lists/{list_id}/members", json={"phones": list(A_PHONES)})
            message = await http.post("/messages", json={"phone": A_PHONES[0], "text": "Hi"})
            campaign = await http.post("/campaigns", json={"list_id": list_id,
                                                           "template_id": 1})
            inline = await http.post("/campaigns", json={
                "template_id": 1, "recipients": [{"phone": p} for p in A_PHONES]})
        assert message.status_code == 402
        assert (problem(message)["needed"], problem(message)["available"]) == (1, 0)
        # template 1 is A's: that is 404 before anything about credits
        assert campaign.status_code == 404 and inline.status_code == 404
        async with world.qasid.db.transaction() as tx:
            async with tx.execute(
                "INSERT INTO templates (owner_id, name, variants, created_at, updated_at)"
                " VALUES (?, 'Hi', '[\"Salam\"]', 0, 0) RETURNING id", (poor,)) as cur:
                template_id = (await cur.fetchone())[0]
        async with world.client(key) as http:
            campaign = await http.post("/campaigns", json={"list_id": list_id,
                                                           "template_id": template_id})
            inline = await http.post("/campaigns", json={
                "template_id": template_id, "recipients": [{"phone": p} for p in A_PHONES]})
            lists = (await http.get("/lists")).json()["data"]
        for refused in (campaign, inline):
            assert refused.status_code == 402, refused.text
            body = problem(refused)
            assert body["type"].endswith("/insufficient-credits")
            assert (body["needed"], body["available"]) == (3, 0)
        assert await outbox(world, poor) == []
        assert [item["name"] for item in lists] == ["Few"]  # no list made for the refused


async def test_another_owners_things_are_404_and_untouched(harness: Harness) -> None:
    async with api_world(harness) as world:
        async with world.client(world.key_a) as http:
            mine = (await http.post("/messages", json={"phone": A_PHONES[1],
                                                       "text": "Hi"})).json()
        before = await outbox(world, world.a)
        async with world.client(world.key_b) as http:
            answers = {
                "message": await http.get(f"/messages/{mine['id']}"),
                "campaign message": await http.get("/messages/1"),
                "campaign": await http.get("/campaigns/1"),
                "its messages": await http.get("/campaigns/1/messages"),
                "pause": await http.post("/campaigns/1/pause"),
                "resume": await http.post("/campaigns/2/resume"),
                "cancel": await http.post("/campaigns/1/cancel"),
                "template": await http.post("/messages", json={
                    "phone": A_PHONES[0], "template_id": 1, "variables": {"name": "x"}}),
                "number": await http.post("/messages", json={
                    "phone": A_PHONES[0], "text": "Hi", "sender_id": mine["sender_id"]}),
                "list": await http.post("/campaigns", json={"list_id": 1,
                                                            "template_id": 2}),
                "campaign number": await http.post("/campaigns", json={
                    "list_id": 2, "template_id": 2, "sender_ids": [mine["sender_id"]]}),
            }
            listed = (await http.get("/campaigns")).json()
        assert {what: r.status_code for what, r in answers.items()} == {
            what: 404 for what in answers}
        assert all(problem(r)["type"].endswith("/not-found") for r in answers.values())
        assert "Spring" not in str(answers) and listed["data"] == []
        # the dispatcher goes on sending A's messages meanwhile: their states may move on
        # (queued -> sent -> delivered), but none was added, removed, moved or skipped
        after = await outbox(world, world.a)
        assert [r[:2] + r[3:] for r in after] == [r[:2] + r[3:] for r in before]
        assert not any(r[2] == "skipped" for r in after)
        assert await outbox(world, world.b) == []
        view = await world.qasid.services.campaigns.view(world.a, 1)
        assert view.campaign.status.value == "running"


async def test_a_repeated_idempotency_key_gets_the_first_answer_and_queues_once(
        harness: Harness) -> None:
    async with api_world(harness) as world, world.client(world.key_a) as http:
        body = {"phone": A_PHONES[2], "text": "Your table is ready", "client_ref": "t-7"}
        key = {"Idempotency-Key": "7c1d0a6e-table-7"}
        first = await http.post("/messages", json=body, headers=key)
        again = await asyncio.gather(*(http.post("/messages", json=body, headers=key)
                                       for _ in range(5)))
        other = await http.post("/messages", json={**body, "text": "Another"}, headers=key)
        assert first.status_code == 202
        assert {(r.status_code, r.content) for r in again} == {(202, first.content)}
        assert all(r.headers["idempotent-replayed"] == "true" for r in again)
        assert other.status_code == 409
        assert problem(other)["type"].endswith("/idempotency-mismatch")
        rows = [r for r in await outbox(world, world.a) if r[4] == "t-7"]
        assert [(r[0], r[1]) for r in rows] == [(first.json()["id"], A_PHONES[2])]

        order = {"template_id": 1, "name": "Idem", "recipients": [
            {"phone": "+994 55 987 65 43", "client_ref": "crm-1"},
            {"phone": "+994 55 987 65 44", "client_ref": "crm-2"}]}
        key = {"Idempotency-Key": "campaign-idem-1"}
        made = await http.post("/campaigns", json=order, headers=key)
        remade = await http.post("/campaigns", json=order, headers=key)
        assert made.status_code == 202, made.text
        assert (remade.status_code, remade.content) == (202, made.content)
        campaigns = (await http.get("/campaigns")).json()["data"]
        assert [c["name"] for c in campaigns].count("Idem") == 1
        page = (await http.get(f"/campaigns/{made.json()['id']}/messages")).json()
        assert sorted(m["client_ref"] for m in page["data"]) == ["crm-1", "crm-2"]


async def test_a_campaign_by_api_is_paused_resumed_and_cancelled_as_in_the_chat(
        harness: Harness) -> None:
    async with api_world(harness) as world, world.client(world.key_a) as http:
        made = (await http.post("/campaigns", json={
            "list_id": 1, "template_id": 1, "start_at": "2030-01-06T09:00:00+04:00",
            "pace": "safe"})).json()
        assert (made["recipients"], made["cost"], made["status"]) == (3, 3, "scheduled")
        assert made["starts_at"] == "2030-01-06T05:00:00Z"
        cid = made["id"]
        paused = await http.post(f"/campaigns/{cid}/pause")
        assert paused.json()["status"] == "paused"
        again = await http.post(f"/campaigns/{cid}/pause")
        assert again.status_code == 409 and problem(again)["type"].endswith("/conflict")
        assert (await http.post(f"/campaigns/{cid}/resume")).json()["status"] == "scheduled"
        cancelled = (await http.post(f"/campaigns/{cid}/cancel")).json()
        assert (cancelled["status"], cancelled["credits_released"]) == ("cancelled", 3)
        got = (await http.get(f"/campaigns/{cid}")).json()
        assert got["progress"]["skipped"] == 3 and got["credits_held"] == 0
        past = await http.post("/campaigns", json={
            "list_id": 1, "template_id": 1, "start_at": "2020-01-01T09:00:00Z"})
        assert past.status_code == 422 and problem(past)["field"] == "/start_at"
        naive = await http.post("/campaigns", json={
            "list_id": 1, "template_id": 1, "start_at": "2030-01-01T09:00:00"})
        assert naive.status_code == 422 and problem(naive)["field"] == "/start_at"
        bad = await http.post("/campaigns", json={
            "template_id": 1, "recipients": [{"phone": "+994501234567"}, {"phone": 5}]})
        assert bad.status_code == 422 and problem(bad)["field"] == "/recipients/1/phone"
