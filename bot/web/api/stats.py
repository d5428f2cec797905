"""``GET /stats`` and ``GET /balance``: the same figures as /stats and /balance in the chat
(``bot/services/analytics.py``, ``bot/services/billing.py``)."""

from __future__ import annotations

from typing import Any

from bot.domain import Balance, LedgerLine, Scope
from bot.services.analytics import Stats
from bot.services.billing import History
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
)

router = ApiRouter("Stats and balance", "Delivery statistics and credits, the figures of "
                   "/stats and /balance in the chat.")

_COUNT: Schema = {"type": "integer", "minimum": 0}
_RATE: Schema = nullable({"type": "number", "minimum": 0, "maximum": 1,
                          "description": "A share (0..1); null when there is nothing to "
                                         "divide by"})

STATS: Schema = obj({
    "campaign": nullable(obj({"id": {"type": "integer"}, "name": {"type": "string"},
                              "status": {"type": "string"}},
                             description="Whose figures these are (null: all the owner's "
                                         "messages)")),
    "total": _COUNT,
    "queued": {**_COUNT, "description": "Not sent yet (waiting or being sent)"},
    "sent": {**_COUNT, "description": "Accepted by WhatsApp (delivered and read included)"},
    "delivered": {**_COUNT, "description": "Delivered (read included)"},
    "read": _COUNT, "failed": _COUNT,
    "uncertain": {**_COUNT, "description": "May or may not have gone out: never resent"},
    "skipped": {**_COUNT, "description": "Never sent: cancelled or opted out"},
    "delivered_rate": {**_RATE, "description": "delivered / sent"},
    "read_rate": {**_RATE, "description": "read / sent"},
    "failed_rate": {**_RATE, "description": "failed / (sent + failed)"},
    "reasons": {"type": "array", "description": "The commonest failure reasons",
                "items": obj({"category": {"type": "string", "examples": ["recipient_invalid"]},
                              "count": _COUNT,
                              "detail": nullable({"type": "string"})})},
    "campaigns": {"type": "array", "description": "The latest campaigns (overall only)",
                  "items": obj({"id": {"type": "integer"}, "name": {"type": "string"},
                                "total": _COUNT, "sent": _COUNT, "delivered": _COUNT,
                                "delivered_rate": _RATE})},
})

BALANCE: Schema = obj({
    "balance": {"type": "integer", "description": "Credits owned", "examples": [950]},
    "reserved": {"type": "integer", "description": "Held by campaigns", "examples": [120]},
    "available": {"type": "integer", "description": "balance - reserved", "examples": [830]},
    "lines": {"type": "array", "description": "The latest changes, newest first: a top-up "
              "or a correction on its line, a campaign's credits on one line",
              "items": obj({
                  "kind": nullable({"type": "string", "enum": [
                      "credit", "reserve", "release", "charge", "expire", "adjust"],
                      "description": "null: a campaign's line"}),
                  "amount": {"type": "integer",
                             "description": "What it did to the balance"},
                  "at": DATETIME,
                  "note": nullable({"type": "string"}),
                  "campaign": nullable(obj({"id": {"type": "integer"},
                                            "name": nullable({"type": "string"})})),
                  "reserved": _COUNT, "spent": _COUNT, "returned": _COUNT,
                  "held": {"type": "integer", "description": "Still reserved"},
              })},
    "earlier": {"type": "integer", "description": "What the changes before the lines add "
                "up to (lines + earlier = balance)"},
})


def stats_json(stats: Stats) -> dict[str, Any]:
    campaign = stats.campaign
    return {
        "campaign": None if campaign is None else {
            "id": campaign.id, "name": campaign.name, "status": campaign.status.value},
        "total": stats.total, "queued": stats.queued, "sent": stats.sent,
        "delivered": stats.delivered, "read": stats.read, "failed": stats.failed,
        "uncertain": stats.uncertain, "skipped": stats.skipped,
        "delivered_rate": stats.delivered_rate, "read_rate": stats.read_rate,
        "failed_rate": stats.failed_rate,
        "reasons": [{"category": r.category, "count": r.count, "detail": r.detail}
                    for r in stats.reasons],
        "campaigns": [{"id": c.id, "name": c.name, "total": c.total, "sent": c.sent,
                       "delivered": c.delivered, "delivered_rate": c.delivered_rate}
                      for c in stats.campaigns],
    }


def _line(line: LedgerLine) -> dict[str, Any]:
    return {"kind": line.kind.value if line.kind is not None else None,
            "amount": line.amount, "at": line.created_at, "note": line.note,
            "campaign": None if line.campaign_id is None else {
                "id": line.campaign_id, "name": line.campaign_name},
            "reserved": line.reserved, "spent": line.spent, "returned": line.returned,
            "held": line.held}


def balance_json(balance: Balance, history: History) -> dict[str, Any]:
    return {"balance": balance.total, "reserved": balance.reserved,
            "available": balance.available, "lines": [_line(li) for li in history.lines],
            "earlier": history.earlier}


@router.route("GET", "/stats", scope=Scope.STATS_READ, summary="Delivery statistics",
              params=[Param("campaign_id", {"type": "integer", "minimum": 1},
                            "One campaign's figures (absent: all the owner's messages)")],
              responses={200: Reply("The figures", STATS)},
              examples=[Example("All the owner's messages", 200),
                        Example("One campaign", 200, query={"campaign_id": 1}),
                        Example("Not one of the owner's campaigns", 404,
                                query={"campaign_id": 999})])
async def get_stats(call: ApiCall) -> ApiResponse:
    """Messages queued, sent, delivered, read, failed, uncertain and skipped, their rates
    and the commonest failure reasons: of all the owner's messages, or of one campaign."""
    analytics = call.services.analytics
    campaign_id = call.query.get("campaign_id")
    stats = (await analytics.overall(call.owner_id) if campaign_id is None
             else await analytics.campaign(call.owner_id, campaign_id))
    return ApiResponse(stats_json(stats))


@router.route("GET", "/balance", scope=Scope.STATS_READ, summary="Credits",
              responses={200: Reply("The balance and its latest changes", BALANCE)},
              examples=[Example("The balance", 200)])
async def get_balance(call: ApiCall) -> ApiResponse:
    """The balance, the credits reserved by campaigns, what is available, and the latest
    changes (as /balance shows them)."""
    billing = call.services.billing
    return ApiResponse(balance_json(await billing.balance(call.owner_id),
                                    await billing.history(call.owner_id)))
