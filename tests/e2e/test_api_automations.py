"""/v1/automations over real HTTP: a sequence made by API with its config checked, listed,
read, paused and resumed, its figures; another owner's key sees none of it (404), and a
key without ``campaigns:write`` cannot make one (403)."""

from __future__ import annotations

from bot.domain import Scope
from tests.e2e.api_world import api_world
from tests.e2e.conftest import Harness


async def test_a_sequence_by_api_and_its_figures(harness: Harness) -> None:
    async with api_world(harness) as world, world.client(world.key_a) as api:
        body = {"kind": "sequence", "name": "Welcome series", "config": {
            "list_id": world.seeded_a.list_id, "steps": [
                {"template_id": world.seeded_a.template_id, "delay": 0},
                {"template_id": world.seeded_a.template_id, "delay": 3, "unit": "days",
                 "at": "9:30"}]}}
        made = await api.post("/automations", json=body)
        assert made.status_code == 201, made.text
        automation = made.json()
        assert automation["state"] == "on" and automation["config"]["steps"][1] == {
            "template_id": world.seeded_a.template_id, "delay": 3, "unit": "days",
            "after": "previous", "at": "09:30"}
        assert automation["config"]["stop_on_reply"] is True
        listed = (await api.get("/automations")).json()["data"]
        assert [a["name"] for a in listed] == ["Welcome", "Welcome series"]
        paused = await api.post(f"/automations/{automation['id']}/pause")
        assert paused.json()["state"] == "paused" and paused.json()["paused_reason"] == "owner"
        resumed = await api.post(f"/automations/{automation['id']}/resume")
        assert resumed.json()["state"] == "on"
        stats = (await api.get(f"/automations/{automation['id']}/stats")).json()
        assert (stats["produced_total"], stats["queued"], stats["next_sends"]) == (0, 0, [])

        bad = await api.post("/automations", json={**body, "config": {
            **body["config"], "steps": [{"template_id": 999_999, "delay": 0}]}})
        assert bad.status_code == 404
        unknown = await api.post("/automations", json={**body, "config": {"list_id": 1}})
        assert unknown.status_code == 422


async def test_another_owner_sees_none_of_them(harness: Harness) -> None:
    async with api_world(harness) as world, world.client(world.key_b) as api:
        assert (await api.get("/automations")).json() == {"data": []}
        for method, path in (("GET", "/automations/1"), ("POST", "/automations/1/pause"),
                             ("POST", "/automations/1/resume"),
                             ("GET", "/automations/1/stats")):
            answer = await api.request(method, path)
            assert answer.status_code == 404, (method, path)
        # B's own list and template cannot be A's: A's ids are refused
        made = await api.post("/automations", json={"kind": "sequence", "name": "X", "config": {
            "list_id": world.seeded_a.list_id,
            "steps": [{"template_id": world.seeded_a.template_id, "delay": 0}]}})
        assert made.status_code == 404
    a = await harness.qasid.services.automations.get(world.a, 1)
    assert a.on


async def test_a_read_key_cannot_make_one(harness: Harness) -> None:
    async with api_world(harness) as world:
        key = await world.key(world.a, [Scope.CAMPAIGNS_READ])
        async with world.client(key) as api:
            assert (await api.get("/automations")).status_code == 200
            refused = await api.post("/automations", json={
                "kind": "sequence", "name": "X", "config": {}})
            assert refused.status_code == 403
            assert (await api.post("/automations/1/pause")).status_code == 403
