"""``/campaigns``: a campaign from a list or from inline recipients, with the wizard's
checks and confirmation (``CampaignsService.create``, ``bot/services/campaigns_api.py``);
one or all of them; pause, resume and cancel as the chat's buttons; each recipient's state.

Up to 10,000 inline recipients come in one body: as with contacts
(``bot/web/api/contacts.py``), the server's JSON Schema check covers the envelope and each
recipient is checked here by hand (``recipient_input``), with the same problem and JSON
pointer as the schema would give.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from bot.domain import Language, Scope
from bot.i18n import translator
from bot.services.campaigns import CampaignOrder, CampaignView
from bot.services.campaigns_api import MAX_RECIPIENTS, CampaignCreated, Recipient
from bot.services.planning import PRESETS, Pacing, QuietHours
from bot.services.risk import HighRisk, Level, Risk
from bot.web.api.messages import MESSAGE_OUT, message_json
from bot.web.api.pagination import PAGE_PARAMS, page_body, page_of, page_schema
from bot.web.api.problems import ApiProblem
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
    "Campaigns", "Campaigns as the chat's wizard makes them: a list (or the recipients "
    "themselves), a template, numbers, a start and a pace; the same checks, the same plan "
    "and the same outbox. Pause, resume and cancel are the chat's buttons.")

PHONE_MAX = 64
NAME_MAX = 200
VALUE_MAX = 4096
VARIABLES_MAX = 100
CLIENT_REF_MAX = 200
PLANS = ("original", "safe")  # POST /campaigns' plan: as given, or the chat's Safe plan
_ID: Schema = {"type": "integer", "minimum": 1, "examples": [1]}
_COUNT: Schema = {"type": "integer", "minimum": 0}
_CLOCK: Schema = {"type": "string", "pattern": r"^([01]?\d|2[0-3]):[0-5]\d$",
                  "examples": ["22:00"]}

PACE_VALUES: Schema = obj({
    "delay_min": {"type": "number", "minimum": 0, "maximum": 3600,
                  "description": "Seconds between two messages of a number, at least",
                  "examples": [8]},
    "delay_max": {"type": "number", "minimum": 0, "maximum": 3600, "examples": [20]},
    "batch_size": {"type": "integer", "minimum": 1, "maximum": 1000, "examples": [100]},
    "batch_pause_min": {"type": "number", "minimum": 0, "maximum": 86400,
                        "description": "Seconds of rest between two batches, at least",
                        "examples": [300]},
    "batch_pause_max": {"type": "number", "minimum": 0, "maximum": 86400, "examples": [600]},
    "quiet": nullable(obj({"start": _CLOCK, "end": {**_CLOCK, "examples": ["08:00"]}},
                          description="No messages between these times, the owner's")),
    "recipient_night": {"type": "boolean", "default": True,
                        "description": "Hold the night (22:00-08:00) in each recipient's own "
                                       "zone: a message due then waits for their morning"},
}, optional=("quiet", "recipient_night"),
    description="A pace of one's own (as the wizard's Custom)")

PACE: Schema = {
    "oneOf": [{"type": "string", "enum": sorted(PRESETS),
               "description": "safe (~50 an hour a number, quiet 21-09), normal (~70, "
                              "quiet 22-08), both random 30-60 s gaps holding the night "
                              "in each recipient's zone, or fast (~500, no quiet hours)"},
              PACE_VALUES],
    "description": "A preset or values (default: normal)"}

RECIPIENT_IN: Schema = obj({
    "phone": {"type": "string", "minLength": 1, "maxLength": PHONE_MAX,
              "examples": ["+994 55 987 65 43"]},
    "name": nullable({"type": "string", "maxLength": NAME_MAX, "examples": ["Leyla"]}),
    "variables": {"type": "object", "maxProperties": VARIABLES_MAX,
                  "additionalProperties": {"type": ["string", "integer", "null"],
                                           "maxLength": VALUE_MAX},
                  "description": "Saved on the contact, named as a file's columns are "
                                 "(`City` is `{{city}}`)",
                  "examples": [{"city": "Gəncə"}]},
    "client_ref": {"type": "string", "minLength": 1, "maxLength": CLIENT_REF_MAX,
                   "description": "Your reference: on its message and its webhook events",
                   "examples": ["crm-88"]},
}, optional=("name", "variables", "client_ref"), description="A recipient")

_ORDER: dict[str, Schema] = {
    "name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX,
             "description": "Absent: the template's and the list's names",
             "examples": ["Spring sale"]},
    "list_id": {**_ID, "description": "One of the owner's lists (or `recipients`)"},
    "recipients": {"type": "array", "minItems": 1, "maxItems": MAX_RECIPIENTS,
                   "items": RECIPIENT_IN,
                   "description": "Up to 10,000, saved as contacts in a new list first"},
    "list_name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX,
                  "description": "The new list's name (absent: `API <date time> UTC`)"},
    "template_id": _ID,
    "sender_ids": {"type": "array", "minItems": 1, "maxItems": 100, "uniqueItems": True,
                   "items": _ID, "description": "Absent: every working number"},
    "start_at": nullable({**DATETIME, "description": "Absent or null: now"}),
    "pace": PACE,
    "allow_missing_variables": {
        "type": "boolean", "default": False,
        "description": "true: send to recipients without a value for a variable that has "
                       "no fallback (it is left blank); false: such a campaign is 422"},
    "plan": {"type": "string", "enum": list(PLANS), "default": "original",
             "description": "original: the pace and numbers given; safe: rewritten to low "
                            "risk as the chat's Safe plan (random 30-60 s gaps, batches of "
                            "at most 50, rests of 15-30 min, nothing at night; the owner's "
                            "other healthy numbers added), the start kept"},
    "accept_risk": {
        "type": "boolean", "default": False,
        "description": "true: start it even when its risk (after `plan`) is high; false: "
                       "such a campaign is 409 `high-risk` with its `risk`, nothing "
                       "written (the chat's second confirmation)"},
}
_OPTIONAL = ("name", "list_id", "recipients", "list_name", "sender_ids", "start_at", "pace",
             "allow_missing_variables", "plan", "accept_risk")
_ONE_SOURCE: Schema = {"oneOf": [
    {"required": ["list_id"], "not": {"anyOf": [{"required": ["recipients"]},
                                                {"required": ["list_name"]}]}},
    {"required": ["recipients"], "not": {"required": ["list_id"]}}]}
CAMPAIGN_IN: Schema = {**obj(_ORDER, optional=_OPTIONAL, description="A campaign"),
                       **_ONE_SOURCE}
# what the server checks with jsonschema: the envelope (the recipients: ``recipient_input``)
CAMPAIGN_CHECK: Schema = {**obj({**_ORDER, "recipients": {"type": "array", "minItems": 1,
                                                          "maxItems": MAX_RECIPIENTS}},
                                optional=_OPTIONAL), **_ONE_SOURCE}

_PROGRESS: Schema = obj({name: _COUNT for name in (
    "total", "queued", "sending", "sent", "delivered", "read", "failed", "uncertain",
    "skipped")}, description="Its messages by state (sent: no receipt yet)")

CAMPAIGN_OUT: Schema = obj({
    "id": _ID,
    "name": {"type": "string", "examples": ["Spring sale"]},
    "status": {"type": "string", "enum": ["scheduled", "running", "paused", "completed",
                                          "cancelled"]},
    "status_reason": nullable({"type": "string", "examples": ["owner"],
                               "description": "Why it paused or ended: owner, "
                                              "failure_spike, sender_banned, no_credits, ..."}),
    "list_id": nullable(_ID),
    "template_id": nullable(_ID),
    "sender_ids": {"type": "array", "items": _ID},
    "starts_at": nullable(DATETIME),
    "created_at": DATETIME,
    "started_at": nullable(DATETIME),
    "finished_at": nullable(DATETIME),
    "progress": _PROGRESS,
    "credits_held": {**_COUNT, "description": "Reserved for its unsent messages"},
    "planned_end": nullable({**DATETIME, "description": "When its last queued message is "
                             "planned (null: none is queued)"}),
}, description="A campaign")

_REJECTED: Schema = {
    "type": "array", "description": "Inline recipients not taken, with the import's reason",
    "items": obj({"index": {"type": "integer", "minimum": 0},
                  "phone": {"type": "string", "examples": ["12345"]},
                  "reason": {"type": "string", "examples": ["too_short"]}})}

_LEVEL: Schema = {"type": "string", "enum": [level.label for level in Level]}
RISK: Schema = obj({
    "level": {**_LEVEL, "examples": ["medium"]},
    "reasons": {"type": "array", "items": obj({
        "code": {"type": "string", "enum": [
            "room", "new_contacts", "unchecked", "same_texts", "links", "pace", "night",
            "young", "failures", "blocks", "tier", "quality", "slowed", "no_new_chats",
            "paused"]},
        "level": _LEVEL,
        "params": {"type": "object", "additionalProperties": {"type": ["integer", "string"]},
                   "description": "The figures the reason names"},
        "text": {"type": "string", "description": "The reason in words (English)"},
    }), "description": "What raised the level, highest first"},
}, description="The pre-flight check, as the chat's summary shows it (README: Campaigns)")
RISK["examples"] = [{"level": "medium", "reasons": [
    {"code": "pace", "level": "medium",
     "params": {"low": "3", "high": "8", "safe_low": "30", "safe_high": "60"},
     "text": "Gaps of 3-8 s between messages; WAHA advises random gaps of 30-60 s."}]}]

CREATED: Schema = obj({
    "id": _ID,
    "name": {"type": "string", "examples": ["Promo · Customers"]},
    "status": {"type": "string", "enum": ["scheduled"]},
    "list_id": {**_ID, "description": "Its list (a new one for inline recipients)"},
    "recipients": {**_COUNT, "description": "Messages queued"},
    "opted_out": {**_COUNT, "description": "Members skipped: opted out"},
    "cost": {**_COUNT, "description": "Credits reserved", "examples": [3]},
    "available": {**_COUNT, "description": "Credits available after it"},
    "starts_at": DATETIME,
    "planned_end": {**DATETIME, "description": "When the last message is planned"},
    "sender_ids": {"type": "array", "items": _ID},
    "rejected": _REJECTED,
    "duplicates": {**_COUNT, "description": "Inline recipients whose number came earlier"},
    "warnings": {"type": "array", "items": {"type": "string", "enum": [
        "risky_pace", "starts_in_quiet_hours", "over_advice"]},
        "description": "What the chat would have asked to confirm"},
    "plan": {"type": "string", "enum": list(PLANS),
             "description": "The plan it follows: safe when `plan: safe` rewrote it"},
    "risk": {**RISK, "description": "The pre-flight check of the plan it follows"},
}, description="The campaign, scheduled")

_CANCELLED: Schema = {**CAMPAIGN_OUT, "properties": {
    **CAMPAIGN_OUT["properties"],
    "credits_released": {**_COUNT, "description": "Given back: its queued messages'"}},
    "required": [*CAMPAIGN_OUT["required"], "credits_released"]}


# --- the recipients, checked by hand ---------------------------------------------------

def _invalid(where: str, message: str) -> ApiProblem:
    return ApiProblem(422, "invalid-body", message, field=where)


def _string(item: dict[str, Any], key: str, at: str, limit: int, *,
            nullable_: bool = False) -> str | None:
    value = item.get(key)
    if value is None and (nullable_ or key not in item):
        return None
    if not isinstance(value, str):
        raise _invalid(f"{at}/{key}", f"{value!r:.40} is not of type 'string'")
    if len(value) > limit or (not nullable_ and not value):
        raise _invalid(f"{at}/{key}", f"1 to {limit} characters")
    return value


_FIELDS = frozenset(RECIPIENT_IN["properties"])


def recipient_input(item: object, at: str) -> Recipient:
    """One recipient of a body (at the JSON pointer ``at``), as ``RECIPIENT_IN`` says."""
    if not isinstance(item, dict):
        raise _invalid(at, f"{item!r:.40} is not of type 'object'")
    if not _FIELDS.issuperset(item):
        extra = next(key for key in item if key not in _FIELDS)
        raise _invalid(f"{at}/{extra}", f"'{extra}' is not a field of this body")
    if "phone" not in item:
        raise _invalid(f"{at}/phone", "'phone' is required")
    phone = _string(item, "phone", at, PHONE_MAX)
    assert phone is not None
    values: dict[str, str] = {}
    given = item.get("variables", {})
    if not isinstance(given, dict):
        raise _invalid(f"{at}/variables", f"{given!r:.40} is not of type 'object'")
    if len(given) > VARIABLES_MAX:
        raise _invalid(f"{at}/variables", f"at most {VARIABLES_MAX} variables")
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, str | int | None):
            raise _invalid(f"{at}/variables/{key}",
                           f"{value!r:.40} is not of type 'string', 'integer', 'null'")
        if isinstance(value, str) and len(value) > VALUE_MAX:
            raise _invalid(f"{at}/variables/{key}", f"longer than {VALUE_MAX} characters")
        if value is not None:
            values[key] = str(value)
    return Recipient(phone, values, _string(item, "name", at, NAME_MAX, nullable_=True),
                     _string(item, "client_ref", at, CLIENT_REF_MAX))


def _pace(given: Any) -> tuple[str, Pacing | None]:
    if given is None:
        return "normal", None
    if isinstance(given, str):
        return given, None
    quiet = given.get("quiet")
    pacing = Pacing(float(given["delay_min"]), float(given["delay_max"]),
                    int(given["batch_size"]), float(given["batch_pause_min"]),
                    float(given["batch_pause_max"]),
                    QuietHours(time.fromisoformat(_hhmm(quiet["start"])),
                               time.fromisoformat(_hhmm(quiet["end"]))) if quiet else None,
                    recipient_night=bool(given.get("recipient_night", True)))
    return "custom", pacing


def _moment(text: str | None) -> datetime | None:
    """An RFC 3339 date-time with its offset (``2030-01-06T09:00:00Z``)."""
    if text is None:
        return None
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid("/start_at", f"{text!r:.40} is not a date-time") from None
    if at.tzinfo is None:
        raise _invalid("/start_at", "a date-time with its offset: Z or +04:00")
    return at


def _hhmm(text: str) -> str:
    return text.zfill(5)  # 9:00 -> 09:00


# --- rendering ---------------------------------------------------------------------------

def campaign_json(view: CampaignView) -> dict[str, Any]:
    c, p = view.campaign, view.progress
    return {
        "id": c.id, "name": c.name, "status": c.status, "status_reason": c.status_reason,
        "list_id": c.list_id, "template_id": c.template_id, "sender_ids": c.sender_ids,
        "starts_at": c.starts_at, "created_at": c.created_at, "started_at": c.started_at,
        "finished_at": c.finished_at,
        "progress": {"total": p.total, "queued": p.queued, "sending": p.sending,
                     "sent": p.sent, "delivered": p.delivered, "read": p.read,
                     "failed": p.failed, "uncertain": p.uncertain, "skipped": p.skipped},
        "credits_held": view.held, "planned_end": view.finish,
    }


def created_json(created: CampaignCreated) -> dict[str, Any]:
    s = created.summary
    assert s.campaign is not None
    warnings = [word for word, on in (("risky_pace", s.risky_pace),
                                      ("starts_in_quiet_hours", s.starts_quiet),
                                      ("over_advice", s.over_advice)) if on]
    return {"id": s.campaign.id, "name": s.campaign.name, "status": s.campaign.status,
            "list_id": created.list_id, "recipients": s.recipients,
            "opted_out": s.opted_out, "cost": s.cost, "available": s.balance.available,
            "starts_at": s.starts_at, "planned_end": s.finish,
            "sender_ids": s.campaign.sender_ids,
            "rejected": [{"index": r.index, "phone": r.phone, "reason": r.reason}
                         for r in created.rejected],
            "duplicates": created.duplicates, "warnings": warnings,
            "plan": "safe" if s.safe_plan_on else "original", "risk": risk_json(s.risk)}


def risk_json(risk: Risk) -> dict[str, Any]:
    """The pre-flight check: its level and reasons, each with its words in English."""
    tr = translator(Language.EN)
    return {"level": risk.level.label, "reasons": [
        {"code": r.code, "level": r.level.label, "params": dict(r.params),
         "text": tr(f"risk.reason.{r.code}", **r.params).removeprefix("• ")}
        for r in risk.reasons]}


# --- routes ------------------------------------------------------------------------------

_PATH_ID = path_id("The campaign's id")


# bursts of 1-2 s gaps: a high risk (the examples')
_BURST = {"list_id": 1, "template_id": 1,
          "pace": {"delay_min": 1, "delay_max": 2, "batch_size": 50, "batch_pause_min": 600,
                   "batch_pause_max": 900, "quiet": {"start": "22:00", "end": "08:00"}}}


@router.route(
    "POST", "/campaigns", scope=Scope.CAMPAIGNS_WRITE, summary="Start a campaign",
    description="Plans and queues a campaign at once (202), as *Confirm* does in the chat: "
    "its recipients are a list's (`list_id`) or up to 10,000 given here (`recipients`, "
    "saved as contacts in a new list first; numbers that cannot receive WhatsApp are "
    "`rejected` with their index); opted-out contacts are skipped and counted. The credits "
    "of every message are reserved: when they do not cover it, 402 says how many are "
    "`needed` and `available`, and nothing is written. Also refused (nothing written): a "
    "list, template or number that is not the owner's (404); a number not working, a "
    "Cloud API number and a template without its approved twin, a start in the past, "
    "recipients without a value for a variable that has no fallback unless "
    "`allow_missing_variables` (422). Every campaign has its pre-flight check (`risk`: "
    "low, medium or high and the reasons, README's Campaigns); `plan: safe` rewrites it "
    "as the chat's Safe plan first. A high risk (after the plan) is 409 `high-risk` with "
    "the `risk` and nothing written, unless `accept_risk: true` (the chat asks twice).",
    body=CAMPAIGN_IN, check_body=CAMPAIGN_CHECK,
    responses={202: Reply("Scheduled", CREATED), 402: Reply("Not enough credits"),
               409: Reply("The risk is high and `accept_risk` is not true (`high-risk`, "
                          "with its `risk`); or the Idempotency-Key's conflicts")},
    examples=[
        Example("A list, now, at the fast pace", 202, body={
            "list_id": 1, "template_id": 1, "pace": "fast", "name": "Weekend offer"}),
        Example("Recipients given here, at a set time and a pace of one's own", 202, body={
            "recipients": [{"phone": "+994 55 987 65 43", "name": "Leyla",
                            "variables": {"city": "Gəncə"}, "client_ref": "crm-88"},
                           {"phone": "050 111 22 33", "client_ref": "crm-89"},
                           {"phone": "12345"}],
            "template_id": 1, "start_at": "2030-01-06T09:00:00Z",
            "pace": {"delay_min": 10, "delay_max": 30, "batch_size": 50,
                     "batch_pause_min": 600, "batch_pause_max": 900,
                     "quiet": {"start": "21:00", "end": "09:00"}}}),
        Example("The chat's Safe plan", 202, body={
            "list_id": 1, "template_id": 1, "pace": "fast", "plan": "safe"}),
        Example("A high risk, not accepted", 409, body=_BURST),
        Example("A high risk, accepted", 202, body={**_BURST, "accept_risk": True}),
        Example("Both a list and recipients", 422, body={
            "list_id": 1, "recipients": [{"phone": "+994501234567"}], "template_id": 1}),
        Example("A list of another owner's", 404, body={"list_id": 2, "template_id": 1}),
    ])
async def create_campaign(call: ApiCall) -> ApiResponse:
    body: dict[str, Any] = call.body
    recipients = ([recipient_input(item, f"/recipients/{n}")
                   for n, item in enumerate(body["recipients"])]
                  if "recipients" in body else None)
    preset, pacing = _pace(body.get("pace"))
    order = CampaignOrder(
        list_id=body.get("list_id", 0), template_id=body["template_id"],
        sender_ids=body.get("sender_ids"), start_at=_moment(body.get("start_at")),
        preset=preset, pacing=pacing, name=body.get("name"),
        allow_missing=bool(body.get("allow_missing_variables", False)),
        safe_plan=body.get("plan") == "safe", accept_risk=bool(body.get("accept_risk")))
    try:
        created = await call.services.campaigns_api.create(
            call.owner_id, order, recipients, body.get("list_name"),
            on_commit=call.idempotent(202, created_json))
    except HighRisk as high:
        raise ApiProblem(409, "high-risk", "The campaign's risk is high: " + "; ".join(
            r["text"].rstrip(".") for r in risk_json(high.risk)["reasons"]
            if r["level"] == "high") + ". Send accept_risk: true to start it anyway, or "
            "plan: safe.", field="/accept_risk", risk=risk_json(high.risk)) from None
    return ApiResponse(created_json(created), 202)


@router.route(
    "GET", "/campaigns", scope=Scope.CAMPAIGNS_READ, summary="The owner's campaigns",
    params=list(PAGE_PARAMS),
    responses={200: Reply("A page of campaigns, newest first", page_schema(CAMPAIGN_OUT))},
    examples=[Example("The latest", 200, query={"limit": 10})])
async def list_campaigns(call: ApiCall) -> ApiResponse:
    """Every campaign (not the chat's wizard in progress), newest first, with its
    progress."""
    page = page_of(call)
    found = await call.services.campaigns.list(call.owner_id, page.limit + 1, page.after)
    return ApiResponse(page_body(found, page, id_of=lambda v: v.campaign.id,
                                 render=campaign_json))


@router.route(
    "GET", "/campaigns/{id}", scope=Scope.CAMPAIGNS_READ, summary="One campaign",
    params=[_PATH_ID], responses={200: Reply("The campaign", CAMPAIGN_OUT)},
    examples=[Example("A campaign", 200, path={"id": 1}),
              Example("Not one of the owner's", 404, path={"id": 999})])
async def get_campaign(call: ApiCall) -> ApiResponse:
    """A campaign, its progress, its credits still held and its planned end."""
    view = await call.services.campaigns.view(call.owner_id, call.path_params["id"])
    return ApiResponse(campaign_json(view))


@router.route(
    "POST", "/campaigns/{id}/pause", scope=Scope.CAMPAIGNS_WRITE, summary="Pause a campaign",
    description="As the chat's *Pause*: nothing more goes out until it is resumed. A "
    "campaign that is not scheduled or running is 409.",
    params=[_PATH_ID], responses={200: Reply("Paused", CAMPAIGN_OUT)},
    examples=[Example("Pause", 200, path={"id": 1}),
              Example("A paused one again", 409, path={"id": 2})])
async def pause_campaign(call: ApiCall) -> ApiResponse:
    view = await call.services.campaigns.pause(call.owner_id, call.path_params["id"])
    return ApiResponse(campaign_json(view))


@router.route(
    "POST", "/campaigns/{id}/resume", scope=Scope.CAMPAIGNS_WRITE,
    summary="Resume a campaign",
    description="As the chat's *Resume*: a paused campaign goes on where it stopped. One "
    "that is not paused is 409.",
    params=[_PATH_ID], responses={200: Reply("Running (or scheduled) again", CAMPAIGN_OUT)},
    examples=[Example("Resume", 200, path={"id": 2}),
              Example("One that is running", 409, path={"id": 1})])
async def resume_campaign(call: ApiCall) -> ApiResponse:
    view = await call.services.campaigns.resume(call.owner_id, call.path_params["id"])
    return ApiResponse(campaign_json(view))


@router.route(
    "POST", "/campaigns/{id}/cancel", scope=Scope.CAMPAIGNS_WRITE,
    summary="Cancel a campaign",
    description="As the chat's *Cancel*: its queued messages are skipped and their credits "
    "given back (`credits_released`); messages being sent, or uncertain, keep theirs "
    "until their outcome is known. A finished campaign is 409.",
    params=[_PATH_ID], responses={200: Reply("Cancelled", _CANCELLED)},
    examples=[Example("Cancel", 200, path={"id": 1}),
              Example("Not one of the owner's", 404, path={"id": 999})])
async def cancel_campaign(call: ApiCall) -> ApiResponse:
    view, released = await call.services.campaigns.cancel(call.owner_id,
                                                           call.path_params["id"])
    return ApiResponse({**campaign_json(view), "credits_released": released})


@router.route(
    "GET", "/campaigns/{id}/messages", scope=Scope.CAMPAIGNS_READ,
    summary="A campaign's messages: each recipient's state",
    params=[_PATH_ID, *PAGE_PARAMS],
    responses={200: Reply("A page of its messages, in the order they were queued",
                          page_schema(MESSAGE_OUT))},
    examples=[Example("The first page", 200, path={"id": 1}, query={"limit": 3}),
              Example("Not one of the owner's", 404, path={"id": 999})])
async def campaign_messages(call: ApiCall) -> ApiResponse:
    """Every recipient's message (each run of a recurring campaign), its state and its
    history, with the `client_ref` it was given."""
    page = page_of(call)
    found = await call.services.campaigns.messages(call.owner_id, call.path_params["id"],
                                                   page.after or 0, page.limit + 1)
    return ApiResponse(page_body(found, page, id_of=lambda m: m.id, render=message_json))

