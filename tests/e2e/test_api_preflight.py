"""The pre-flight check in the HTTP API (``POST /campaigns``): a high risk is refused
(409 ``high-risk`` with its reasons, nothing queued or reserved) unless the integrator
accepts it, as the chat asks twice; ``plan: safe`` is the chat's Safe plan (the pace of
the guidance, the owner's other numbers added) and answers the risk after it."""

from __future__ import annotations

import itertools
from typing import Any

from bot.clock import utcnow
from bot.services.senders import sandbox_default
from tests.e2e.api_world import ApiWorld, api_world
from tests.e2e.conftest import Harness
from tests.e2e.test_api_messages import problem

LONG_AGO = 1_767_600_000.0  # 2026-01-05, epoch seconds
BURST = {"delay_min": 1, "delay_max": 2, "batch_size": 50, "batch_pause_min": 600,
         "batch_pause_max": 900, "quiet": {"start": "22:00", "end": "08:00"}}


async def queued(world: ApiWorld) -> list[tuple[Any, ...]]:
    async with world.qasid.db.reader.execute(
            "SELECT campaign_id, sender_id, planned_at FROM messages WHERE owner_id = ?"
            " AND status = 'queued' AND campaign_id > 1 ORDER BY planned_at",
            (world.a,)) as cur:
        return [tuple(row) async for row in cur]


async def test_a_high_risk_needs_accept_risk_and_the_safe_plan_lowers_it(
        harness: Harness) -> None:
    async with api_world(harness) as world, world.client(world.key_a) as http:
        q = world.qasid
        first = await sandbox_default(q.db, world.a, utcnow())
        assert first is not None
        second = await q.services.senders.add_sandbox(world.a)
        async with q.db.transaction() as tx:  # both past their first weeks
            await tx.execute("UPDATE senders SET linked_at = ?, created_at = ?"
                             " WHERE owner_id = ?", (LONG_AGO, LONG_AGO, world.a))
        before = (await http.get("/campaigns")).json()["data"]
        balance = await q.services.billing.balance(world.a)

        refused = await http.post("/campaigns", json={
            "list_id": 1, "template_id": 1, "sender_ids": [first.id], "pace": BURST})
        assert refused.status_code == 409, refused.text
        body = problem(refused)
        assert body["type"].endswith("/high-risk") and body["field"] == "/accept_risk"
        assert "Gaps of 1-2 s between messages" in body["detail"]
        assert "accept_risk: true" in body["detail"]
        assert body["risk"]["level"] == "high"
        pace = next(r for r in body["risk"]["reasons"] if r["code"] == "pace")
        assert pace["level"] == "high" and pace["params"]["low"] == "1"
        # nothing written: no campaign, no message, no credit reserved
        assert (await http.get("/campaigns")).json()["data"] == before
        assert await queued(world) == []
        assert await q.services.billing.balance(world.a) == balance

        # the chat's Safe plan: the guidance's pace, the other number added, not high
        safe = await http.post("/campaigns", json={
            "list_id": 1, "template_id": 1, "sender_ids": [first.id], "pace": BURST,
            "plan": "safe"})
        assert safe.status_code == 202, safe.text
        made = safe.json()
        assert made["plan"] == "safe" and made["risk"]["level"] != "high"
        assert "pace" not in {r["code"] for r in made["risk"]["reasons"]}
        assert made["sender_ids"] == sorted([first.id, second.id])
        rows = await queued(world)
        assert len(rows) == made["recipients"] == 3
        # one batch of 3 (batches go to a number whole): the guidance's gaps
        assert {campaign for campaign, _s, _at in rows} == {made["id"]}
        times = [at for *_rest, at in rows]
        assert all(30 <= b - a <= 60 for a, b in itertools.pairwise(times)), times

        # accepted: the owner's own pace, as asked, and the high risk said
        accepted = await http.post("/campaigns", json={
            "list_id": 1, "template_id": 1, "sender_ids": [first.id], "pace": BURST,
            "accept_risk": True})
        assert accepted.status_code == 202, accepted.text
        taken = accepted.json()
        assert (taken["plan"], taken["risk"]["level"]) == ("original", "high")
        assert taken["sender_ids"] == [first.id]


async def test_inline_recipients_of_a_refused_high_risk_leave_no_list(harness: Harness) -> None:
    async with api_world(harness) as world, world.client(world.key_a) as http:
        lists_before = (await http.get("/lists")).json()["data"]
        refused = await http.post("/campaigns", json={
            "recipients": [{"phone": "+994501230001"}, {"phone": "+994501230002"}],
            "template_id": 1, "pace": BURST})
        assert refused.status_code == 409 and problem(refused)["risk"]["level"] == "high"
        assert (await http.get("/lists")).json()["data"] == lists_before
