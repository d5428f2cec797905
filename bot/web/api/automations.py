"""``/automations``: the owner's automations (sequences, date messages, keyword replies),
as in the chat's /automations (``bot/services/automations.py``). An automation produces
outbox messages like a campaign, so the campaigns' scopes govern it: ``campaigns:read``
to see, ``campaigns:write`` to make, pause and resume."""

from __future__ import annotations

from typing import Any

from bot.domain import Automation, Scope
from bot.services.automations import AutomationCard, AutomationsService
from bot.web.api.routing import (
    DATETIME,
    ApiCall,
    ApiResponse,
    ApiRouter,
    Example,
    Reply,
    Schema,
    nullable,
    obj,
    path_id,
)

router = ApiRouter(
    "Automations",
    "Standing rules that produce messages by themselves, through the same outbox, pacing, "
    "credits and opt-outs as campaigns: a *sequence* (steps after a contact joins a "
    "list), a *date* message, a *keyword* reply. Each kind has its own `config`; a "
    "sequence's: `list_id`, `steps` (each `template_id`, `delay`, `unit` minutes/hours/"
    "days, `after` previous/join, optional `at` HH:MM in the recipient's zone), "
    "`stop_on_reply`, `stop_on_opt_out`, `stop_on_leave` (default true), "
    "`restart_on_rejoin` (default false).")

READ, WRITE = Scope.CAMPAIGNS_READ, Scope.CAMPAIGNS_WRITE

SEQUENCE_CONFIG = {"list_id": 1, "steps": [
    {"template_id": 1, "delay": 0, "unit": "minutes", "after": "join"},
    {"template_id": 1, "delay": 2, "unit": "days", "after": "previous", "at": "10:00"}]}
AUTOMATION: Schema = obj({
    "id": {"type": "integer", "examples": [1]},
    "kind": {"type": "string", "enum": ["sequence", "date", "keyword"]},
    "name": {"type": "string", "examples": ["Welcome series"]},
    "state": {"type": "string", "enum": ["on", "paused"]},
    "paused_reason": nullable({"type": "string", "enum": ["owner", "balance"],
                               "description": "`balance`: it met an empty balance"}),
    "config": {"type": "object", "description": "The kind's settings, as stored.",
               "examples": [SEQUENCE_CONFIG]},
    "created_at": DATETIME,
    "updated_at": DATETIME,
})
NEW_AUTOMATION: Schema = obj({
    "kind": {"type": "string", "enum": ["sequence", "date", "keyword"]},
    "name": {"type": "string", "minLength": 1, "maxLength": 64,
             "examples": ["Welcome series"]},
    "config": {"type": "object", "description": "The kind's settings (the tag's text).",
               "examples": [SEQUENCE_CONFIG]},
})
COUNT: Schema = {"type": "integer", "minimum": 0}
STATS: Schema = obj({
    "id": {"type": "integer", "examples": [1]},
    "state": {"type": "string", "enum": ["on", "paused"]},
    "produced_today": {**COUNT, "description": "Messages made today (the owner's zone)"},
    "produced_total": COUNT,
    "queued": COUNT, "sent": {**COUNT, "description": "Sent, delivered or read"},
    "delivered": {**COUNT, "description": "Delivered or read"}, "read": COUNT,
    "failed": COUNT, "skipped": {**COUNT, "description": "Dropped unsent (paused, "
                                 "deleted, opted out)"},
    "enrolments": {"type": "object", "additionalProperties": COUNT,
                   "description": "A sequence's contacts: `active` and each stop reason "
                   "(`done`, `replied`, `opted_out`, `left`)"},
    "next_sends": {"type": "array", "items": obj({
        "phone": {"type": "string", "examples": ["+994501234567"]},
        "step": {"type": "integer", "minimum": 1},
        "at": DATETIME})},
})


def automation_json(a: Automation) -> dict[str, Any]:
    return {"id": a.id, "kind": a.kind, "name": a.name, "state": a.state,
            "paused_reason": a.paused_reason, "config": a.config,
            "created_at": a.created_at, "updated_at": a.updated_at}


def stats_json(card: AutomationCard) -> dict[str, Any]:
    return {"id": card.automation.id, "state": card.automation.state,
            "produced_today": card.produced_today, "produced_total": card.produced_total,
            "queued": card.queued, "sent": card.sent, "delivered": card.delivered,
            "read": card.read, "failed": card.failed, "skipped": card.skipped,
            "enrolments": dict(card.enrolments),
            "next_sends": [{"phone": p.phone, "step": p.step + 1, "at": p.at}
                           for p in card.next_sends]}


def _service(call: ApiCall) -> AutomationsService:
    service = call.services.automations
    assert service is not None, "the app wires the automations service"
    return service


@router.route("GET", "/automations", scope=READ, summary="The owner's automations",
              responses={200: Reply("Every automation of the owner's, oldest first", obj(
                  {"data": {"type": "array", "items": AUTOMATION}}))},
              examples=[Example("Every automation", 200)])
async def list_automations(call: ApiCall) -> ApiResponse:
    found = await _service(call).list(call.owner_id)
    return ApiResponse({"data": [automation_json(a) for a in found]})


@router.route(
    "POST", "/automations", scope=WRITE, summary="Make an automation",
    description="On at once. A sequence follows the contacts who join its list from now "
    "on (by file, by API or by hand). The list and templates must be the owner's.",
    body=NEW_AUTOMATION, responses={201: Reply("The new automation", AUTOMATION)},
    examples=[Example("A two-step welcome sequence", 201, body={
                  "kind": "sequence", "name": "Welcome series", "config": SEQUENCE_CONFIG}),
              Example("A step with a bad time of day", 422, body={
                  "kind": "sequence", "name": "Broken", "config": {
                      "list_id": 1, "steps": [{"template_id": 1, "delay": 1,
                                               "unit": "days", "at": "25:00"}]}})])
async def create_automation(call: ApiCall) -> ApiResponse:
    made = await _service(call).create(call.owner_id, call.body["kind"], call.body["name"],
                                       call.body["config"])
    return ApiResponse(automation_json(made), 201)


@router.route("GET", "/automations/{id}", scope=READ, summary="One automation",
              params=[path_id("The automation's id")],
              responses={200: Reply("The automation", AUTOMATION)},
              examples=[Example("An automation", 200, path={"id": 1}),
                        Example("Not one of the owner's", 404, path={"id": 999})])
async def get_automation(call: ApiCall) -> ApiResponse:
    return ApiResponse(automation_json(
        await _service(call).get(call.owner_id, call.path_params["id"])))


@router.route("POST", "/automations/{id}/pause", scope=WRITE, summary="Pause an automation",
              description="It makes nothing more; its messages not sent yet are dropped "
              "and their credits given back.",
              params=[path_id("The automation's id")],
              responses={200: Reply("The automation, paused", AUTOMATION)},
              examples=[Example("An automation", 200, path={"id": 1}),
                        Example("Not one of the owner's", 404, path={"id": 999})])
async def pause_automation(call: ApiCall) -> ApiResponse:
    service = _service(call)
    await service.pause(call.owner_id, call.path_params["id"])
    return ApiResponse(automation_json(await service.get(call.owner_id,
                                                         call.path_params["id"])))


@router.route("POST", "/automations/{id}/resume", scope=WRITE,
              summary="Resume an automation",
              description="On again, from where it was (a sequence's due steps go now).",
              params=[path_id("The automation's id")],
              responses={200: Reply("The automation, on", AUTOMATION)},
              examples=[Example("An automation", 200, path={"id": 1}),
                        Example("Not one of the owner's", 404, path={"id": 999})])
async def resume_automation(call: ApiCall) -> ApiResponse:
    return ApiResponse(automation_json(
        await _service(call).resume(call.owner_id, call.path_params["id"])))


@router.route("GET", "/automations/{id}/stats", scope=READ,
              summary="What an automation produced",
              description="Its messages today and in all, their delivery figures, and its "
              "next planned sends.",
              params=[path_id("The automation's id")],
              responses={200: Reply("Its figures", STATS)},
              examples=[Example("An automation", 200, path={"id": 1}),
                        Example("Not one of the owner's", 404, path={"id": 999})])
async def automation_stats(call: ApiCall) -> ApiResponse:
    return ApiResponse(stats_json(
        await _service(call).card(call.owner_id, call.path_params["id"])))
