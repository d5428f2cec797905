"""``/webhooks``: the owner's outgoing webhook endpoints, as in the chat's /webhooks (the
service is ``bot/services/webhooks.py``: what is sent, how it is signed and retried)."""

from __future__ import annotations

from typing import Any

from bot.domain import Scope
from bot.services.webhooks import (
    ALL_EVENTS,
    Delivery,
    Endpoint,
    EventType,
    TestResult,
)
from bot.web.api.routing import (
    DATETIME,
    ApiCall,
    ApiResponse,
    ApiRouter,
    Example,
    Param,
    Reply,
    Schema,
    nullable,
    obj,
    path_id,
)

router = ApiRouter(
    "Webhooks",
    "Endpoints Qasid calls when something happens: a signed `POST` of each event, in "
    "order per endpoint, retried with exponential backoff for 24 hours (README, "
    "*Integrate*: *Webhooks*, says how to check the `Qasid-Signature` header).")

URL = "https://shop.example.com/qasid-events"
EVENT_NAMES = [t.value for t in EventType]

EVENTS: Schema = {
    "type": "array", "minItems": 1, "uniqueItems": True,
    "items": {"type": "string", "enum": [ALL_EVENTS, *EVENT_NAMES]},
    "description": "The event types it receives; `*`: all of them (those added later too).",
    "examples": [["message.delivered", "message.failed", "reply.received"]],
}
ENDPOINT: Schema = obj({
    "id": {"type": "integer", "examples": [1]},
    "url": {"type": "string", "format": "uri", "examples": [URL]},
    "events": EVENTS,
    "state": {"type": "string", "enum": ["active", "failing", "disabled"],
              "description": "`failing`: events were dropped after 24 hours of failed "
              "attempts (it goes back to `active` with the next delivery); `disabled`: "
              "paused in the chat, nothing is kept for it."},
    "failing_since": nullable(DATETIME),
    "failures": {"type": "integer", "minimum": 0,
                 "description": "Failed attempts in a row (0 once one is delivered)."},
    "last_error": nullable({"type": "string", "examples": ["HTTP 503"]}),
    "created_at": DATETIME,
})
CREATED: Schema = {**ENDPOINT, "properties": {
    **ENDPOINT["properties"],
    "secret": {"type": "string", "examples": ["whsec_3q2-7wEx0Vd8b6Xn1FhTq4sYkLmN9aBcDeFgHiJkLmQ"],
               "description": "Signs every request (`Qasid-Signature`); shown only in "
               "this answer."}},
    "required": [*ENDPOINT["required"], "secret"]}
DELIVERY: Schema = obj({
    "event_id": nullable({"type": "string", "examples": ["evt_1042"],
                          "description": "The `Qasid-Event-Id` sent (null: a test event)"}),
    "event_type": {"type": "string", "examples": ["message.delivered"]},
    "outcome": {"type": "string", "enum": ["delivered", "failed", "dropped"]},
    "status_code": nullable({"type": "integer", "examples": [200]}),
    "error": nullable({"type": "string", "examples": ["timed out"]}),
    "duration_ms": nullable({"type": "integer", "minimum": 0, "examples": [42]}),
    "attempted_at": DATETIME,
})
TESTED: Schema = obj({
    "ok": {"type": "boolean", "description": "The endpoint answered 2xx."},
    "status_code": nullable({"type": "integer", "examples": [200]}),
    "error": nullable({"type": "string", "examples": ["could not connect"]}),
    "duration_ms": {"type": "integer", "minimum": 0, "examples": [42]},
})
NEW_ENDPOINT: Schema = obj({
    "url": {"type": "string", "minLength": 8, "maxLength": 2000, "examples": [URL],
            "description": "https (http only where the server allows it); its host must "
            "resolve to public addresses."},
    "events": EVENTS,
}, optional=["events"])


def endpoint_json(endpoint: Endpoint) -> dict[str, Any]:
    events = ([ALL_EVENTS] if ALL_EVENTS in endpoint.events
              else [name for name in EVENT_NAMES if name in endpoint.events])
    return {"id": endpoint.id, "url": endpoint.url, "events": events,
            "state": endpoint.state.value, "failing_since": endpoint.failing_since,
            "failures": endpoint.failures, "last_error": endpoint.last_error,
            "created_at": endpoint.created_at}


def delivery_json(delivery: Delivery) -> dict[str, Any]:
    return {"event_id": f"evt_{delivery.event_id}" if delivery.event_id is not None else None,
            "event_type": delivery.event_type, "outcome": delivery.outcome.value,
            "status_code": delivery.status_code, "error": delivery.error,
            "duration_ms": delivery.duration_ms, "attempted_at": delivery.attempted_at}


def tested_json(result: TestResult) -> dict[str, Any]:
    return {"ok": result.ok, "status_code": result.status_code, "error": result.error,
            "duration_ms": result.duration_ms}


@router.route("GET", "/webhooks", scope=Scope.WEBHOOKS_READ, summary="The owner's endpoints",
              responses={200: Reply("Every endpoint of the owner's, oldest first", obj(
                  {"data": {"type": "array", "items": ENDPOINT}}))},
              examples=[Example("Every endpoint", 200)])
async def list_webhooks(call: ApiCall) -> ApiResponse:
    """Every endpoint with its state (never its secret)."""
    views = await call.services.webhooks.endpoints(call.owner_id)
    return ApiResponse({"data": [endpoint_json(v.endpoint) for v in views]})


@router.route(
    "POST", "/webhooks", scope=Scope.WEBHOOKS_WRITE, summary="Add an endpoint",
    description="The answer holds the endpoint's signing secret, this once. The endpoint "
    "receives the events that happen from now on. At most 10 endpoints per owner.",
    body=NEW_ENDPOINT, responses={201: Reply("The new endpoint, with its secret", CREATED)},
    examples=[Example("An endpoint for deliveries, failures and replies", 201,
                      body={"url": URL, "events": ["message.delivered", "message.failed",
                                                   "reply.received"]}),
              Example("An address in a private network", 422,
                      body={"url": "https://192.168.1.20/hooks"}),
              Example("Not https", 422, body={"url": "http://shop.example.com/hooks"})])
async def create_webhook(call: ApiCall) -> ApiResponse:
    """A new endpoint: its URL and the events it wants (all when not given)."""
    made = await call.services.webhooks.create(call.owner_id, call.body["url"],
                                               call.body.get("events", [ALL_EVENTS]))
    return ApiResponse({**endpoint_json(made.endpoint), "secret": made.secret}, 201)


@router.route("DELETE", "/webhooks/{id}", scope=Scope.WEBHOOKS_WRITE,
              summary="Delete an endpoint",
              description="Nothing more is sent to it; its undelivered events are dropped.",
              params=[path_id("The endpoint's id")],
              responses={204: Reply("Deleted")},
              examples=[Example("An endpoint", 204, path={"id": 2}),
                        Example("Not one of the owner's", 404, path={"id": 999})])
async def delete_webhook(call: ApiCall) -> ApiResponse:
    await call.services.webhooks.delete(call.owner_id, call.path_params["id"])
    return ApiResponse(None, 204)


@router.route("POST", "/webhooks/{id}/test", scope=Scope.WEBHOOKS_WRITE,
              summary="Send a test event",
              description="A `webhook.test` event, signed like the others, sent now (not in "
              "the order of the others, not retried); the answer says how it went.",
              params=[path_id("The endpoint's id")],
              responses={200: Reply("What the endpoint answered", TESTED)},
              examples=[Example("The seeded endpoint (its host does not resolve here)", 200,
                                path={"id": 1}),
                        Example("Not one of the owner's", 404, path={"id": 999})])
async def test_webhook(call: ApiCall) -> ApiResponse:
    result = await call.services.webhooks.send_test(call.owner_id, call.path_params["id"])
    return ApiResponse(tested_json(result))


@router.route("GET", "/webhooks/{id}/deliveries", scope=Scope.WEBHOOKS_READ,
              summary="An endpoint's last deliveries",
              description="The last attempts (and drops), newest first: at most 50 are kept.",
              params=[path_id("The endpoint's id"),
                      Param("limit", {"type": "integer", "minimum": 1, "maximum": 50,
                                      "default": 10}, "How many (default 10, at most 50).")],
              responses={200: Reply("The last attempts, newest first", obj(
                  {"data": {"type": "array", "items": DELIVERY}}))},
              examples=[Example("The seeded endpoint's", 200, path={"id": 1},
                                query={"limit": 5}),
                        Example("Not one of the owner's", 404, path={"id": 999})])
async def webhook_deliveries(call: ApiCall) -> ApiResponse:
    found = await call.services.webhooks.deliveries(
        call.owner_id, call.path_params["id"], int(call.query.get("limit", 10)))
    return ApiResponse({"data": [delivery_json(d) for d in found]})
