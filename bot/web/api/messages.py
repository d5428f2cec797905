"""``POST /messages`` and ``GET /messages/{id}``: one message to one phone, through the
same outbox, pacing, caps and credits as campaigns (``bot/services/messages.py``).

A POST with an ``Idempotency-Key`` stores its answer in the very transaction that queues
the message (``call.idempotent``), so a repeat, even after a crash, finds either both or
neither.

``POST /messages`` is the API's busiest route: its body is checked by hand
(``message_input``), not by jsonschema (50 us a body here, an eighth of the request's
time), against the same rules as ``MESSAGE_IN``, which the document shows
(``tests/web/test_api_messages.py`` holds the two to the same answers).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from bot.domain import Message, MessageStatus, Scope
from bot.services.messages import (
    CAPTION_MAX,
    CLIENT_REF_MAX,
    MEDIA_KINDS,
    TEXT_MAX,
    VARIABLES_MAX,
    MessageAccepted,
    MessageRequest,
)
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
    "Messages", "One message to one phone: a template with its variables, or a plain "
    "text, optionally with a picture or a document by URL. It goes through the same "
    "outbox as campaigns: at its number's pace (at least 3 s between two messages of a "
    "number, no quiet hours), within the number's daily cap, one credit reserved at once "
    "and charged when WhatsApp accepts it (given back if it fails).")

PHONE_MAX = 64
URL_MAX = 2048
VALUE_MAX = 4096
STATUSES = [status.value for status in MessageStatus]

_PHONE: Schema = {"type": "string", "minLength": 1, "maxLength": PHONE_MAX,
                  "description": "As written: normalised to E.164 in the owner's region",
                  "examples": ["+994501000001"]}
_E164: Schema = {"type": "string", "description": "E.164", "examples": ["+994501000001"]}
_ID: Schema = {"type": "integer", "minimum": 1, "examples": [1]}

MESSAGE_IN: Schema = {
    **obj({
        "phone": _PHONE,
        "template_id": {**_ID, "description": "One of the owner's templates (or `text`)"},
        "variables": {
            "type": "object", "maxProperties": VARIABLES_MAX,
            "additionalProperties": {"type": ["string", "integer", "null"],
                                     "maxLength": VALUE_MAX},
            "description": "Values of the template's variables, by their names "
                           "(`{{code}}`: `code`); the contact's own values fill the "
                           "others; a variable without a fallback needs one.",
            "examples": [{"name": "Aysel", "code": "4821"}]},
        "text": {"type": "string", "minLength": 1, "maxLength": TEXT_MAX,
                 "description": f"A plain text, sent as written (or `template_id`); at most "
                                f"{CAPTION_MAX} characters with media",
                 "examples": ["Your order 1042 is on its way."]},
        "media_url": {"type": "string", "format": "uri", "maxLength": URL_MAX,
                      "pattern": "^https?://",
                      "description": "A picture or a document WhatsApp fetches and sends "
                                     "with the text as its caption",
                      "examples": ["https://shop.example/receipts/1042.pdf"]},
        "media_kind": {"type": "string", "enum": list(MEDIA_KINDS),
                       "description": "Absent: `image` for .jpg, .jpeg, .png, .webp and "
                                      ".gif, else `document`"},
        "sender_id": {**_ID, "description": "The number to send from (the owner's, "
                      "working); absent: the working number with the earliest free turn"},
        "client_ref": {"type": "string", "minLength": 1, "maxLength": CLIENT_REF_MAX,
                       "description": "Your reference (an order, a booking): given back "
                                      "with the message and in its webhook events",
                       "examples": ["order-1042"]},
    }, optional=("template_id", "variables", "text", "media_url", "media_kind", "sender_id",
                 "client_ref"), description="One message"),
    "oneOf": [{"required": ["template_id"], "not": {"required": ["text"]}},
              {"required": ["text"], "not": {"anyOf": [{"required": ["template_id"]},
                                                       {"required": ["variables"]}]}}],
}

ACCEPTED: Schema = obj({
    "id": _ID,
    "status": {"type": "string", "enum": ["queued"]},
    "phone": _E164,
    "sender_id": _ID,
    "planned_at": {**DATETIME, "description": "The earliest it goes out: its number's pace "
                   "and daily cap may hold it a little longer"},
    "client_ref": nullable({"type": "string", "examples": ["order-1042"]}),
}, description="The message, queued")

MESSAGE_OUT: Schema = obj({
    "id": _ID,
    "phone": _E164,
    "status": {"type": "string", "enum": STATUSES,
               "description": "queued, sending, sent (WhatsApp accepted it), delivered, "
                              "read, failed, uncertain (it may or may not have gone out: "
                              "never sent again by itself) or skipped (cancelled)"},
    "campaign_id": nullable({**_ID, "description": "null: a single message"}),
    "sender_id": nullable(_ID),
    "client_ref": nullable({"type": "string", "examples": ["order-1042"]}),
    "planned_at": DATETIME,
    "queued_at": nullable(DATETIME),
    "sent_at": nullable(DATETIME),
    "delivered_at": nullable(DATETIME),
    "read_at": nullable(DATETIME),
    "attempts": {"type": "integer", "minimum": 0},
    "error": nullable(obj({
        "category": {"type": "string", "examples": ["recipient_invalid"]},
        "detail": nullable({"type": "string", "examples": ["not on WhatsApp"]}),
    }, description="Why it failed (or is uncertain, or waits to be tried again)")),
    "history": {"type": "array", "description": "Its states with their times, oldest first",
                "items": obj({"status": {"type": "string", "enum": STATUSES},
                              "at": DATETIME})},
}, description="A message and its history")


def accepted_json(accepted: MessageAccepted) -> dict[str, Any]:
    """Plain JSON values already (rendered twice a request: the answer and its stored
    copy), the time as ``encode`` writes one."""
    return {"id": accepted.id, "status": accepted.status.value, "phone": accepted.phone,
            "sender_id": accepted.sender_id,
            "planned_at": accepted.planned_at.astimezone(UTC).isoformat().replace(
                "+00:00", "Z"),
            "client_ref": accepted.client_ref}


def message_json(message: Message) -> dict[str, Any]:
    error = (None if message.error_category is None and message.error_detail is None else
             {"category": message.error_category or "", "detail": message.error_detail})
    return {"id": message.id, "phone": message.phone, "status": message.status,
            "campaign_id": message.campaign_id, "sender_id": message.sender_id,
            "client_ref": message.client_ref, "planned_at": message.planned_at,
            "queued_at": message.queued_at, "sent_at": message.sent_at,
            "delivered_at": message.delivered_at, "read_at": message.read_at,
            "attempts": message.attempts, "error": error,
            "history": [{"status": status, "at": at} for status, at in message.history]}


# --- the body, checked by hand ------------------------------------------------------------

_FIELDS = frozenset(MESSAGE_IN["properties"])


def _invalid(where: str, message: str) -> ApiProblem:
    return ApiProblem(422, "invalid-body", message, field=where)


def _integer(value: object) -> bool:
    """JSON Schema's integer: a number without a fraction (``2.0`` is one), not a boolean."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


def _id(body: dict[str, Any], name: str) -> int | None:
    if name not in body:
        return None
    value = body[name]
    if not _integer(value):
        raise _invalid(f"/{name}", f"{value!r:.40} is not of type 'integer'")
    if value < 1:
        raise _invalid(f"/{name}", f"{value} is less than the minimum of 1")
    return int(value)


def _text(body: dict[str, Any], name: str, low: int, high: int) -> str | None:
    if name not in body:
        return None
    value = body[name]
    if not isinstance(value, str):
        raise _invalid(f"/{name}", f"{value!r:.40} is not of type 'string'")
    if not low <= len(value) <= high:
        raise _invalid(f"/{name}", f"{low} to {high} characters")
    return value


def message_input(body: object) -> MessageRequest:
    """A ``POST /messages`` body, checked as ``MESSAGE_IN`` says."""
    if not isinstance(body, dict):
        raise _invalid("", f"{body!r:.40} is not of type 'object'")
    if not _FIELDS.issuperset(body):
        extra = next(key for key in body if key not in _FIELDS)
        raise _invalid(f"/{extra}", f"'{extra}' is not a field of this body")
    if "phone" not in body:
        raise _invalid("/phone", "'phone' is required")
    phone = _text(body, "phone", 1, PHONE_MAX)
    template_id = _id(body, "template_id")
    text = _text(body, "text", 1, TEXT_MAX)
    values: dict[str, str] = {}
    if "variables" in body:
        given = body["variables"]
        if not isinstance(given, dict):
            raise _invalid("/variables", f"{given!r:.40} is not of type 'object'")
        if len(given) > VARIABLES_MAX:
            raise _invalid("/variables", f"at most {VARIABLES_MAX} variables")
        for key, value in given.items():
            where = "/variables/" + key.replace("~", "~0").replace("/", "~1")
            if isinstance(value, str):
                if len(value) > VALUE_MAX:
                    raise _invalid(where, f"longer than {VALUE_MAX} characters")
                values[key] = value
            elif _integer(value):
                values[key] = str(int(value))
            elif value is not None:
                raise _invalid(where, f"{value!r:.40} is not of type 'string', 'integer', "
                                      "'null'")
    media_url = _text(body, "media_url", 0, URL_MAX)
    if media_url is not None and not media_url.startswith(("http://", "https://")):
        raise _invalid("/media_url", "an http or https address")
    media_kind = body.get("media_kind")
    if "media_kind" in body and media_kind not in MEDIA_KINDS:
        raise _invalid("/media_kind", f"{media_kind!r:.40} is not one of {list(MEDIA_KINDS)}")
    sender_id = _id(body, "sender_id")
    client_ref = _text(body, "client_ref", 1, CLIENT_REF_MAX)
    if (template_id is None) == (text is None) or (text is not None and "variables" in body):
        raise _invalid("", "a template_id (with its variables) or a text: one of them")
    assert phone is not None
    return MessageRequest(phone=phone, template_id=template_id, variables=values, text=text,
                          media_url=media_url, media_kind=media_kind, sender_id=sender_id,
                          client_ref=client_ref)


@router.route(
    "POST", "/messages", scope=Scope.MESSAGES_WRITE, summary="Send one message",
    description="Queues one message to one phone and answers at once (202) with its id "
    "and planned time; `GET /messages/{id}` then follows it (and webhooks tell). Refused, "
    "with nothing queued: a number opted out (422, field `/phone`), a variable without a "
    "fallback and without a value (422, `/variables`), a Cloud API number with a text or "
    "a template without its approved twin (422), a template or number that is not the "
    "owner's (404), no credit left (402 with `needed` and `available`).",
    body=MESSAGE_IN, check_body={"type": "object"},  # the fields: ``message_input``
    responses={202: Reply("Queued", ACCEPTED), 402: Reply("No credit left")},
    examples=[
        Example("A template with its variables", 202, body={
            "phone": "+994501000001", "template_id": 1,
            "variables": {"name": "Aysel", "city": "Gəncə"}, "client_ref": "order-1042"}),
        Example("A plain text with a document", 202, body={
            "phone": "050 100 00 02", "text": "Your receipt for order 1042.",
            "media_url": "https://shop.example/receipts/1042.pdf"}),
        Example("Both a template and a text", 422, body={
            "phone": "+994501000001", "template_id": 1, "text": "Hi"}),
        Example("Not a phone number", 422, body={"phone": "12", "text": "Hi"}),
        Example("Another owner's template", 404, body={
            "phone": "+994501000001", "template_id": 2}),
        Example("A key without messages:write", 403, body={
            "phone": "+994501000001", "text": "Hi"},
            scopes=frozenset({Scope.MESSAGES_READ})),
    ])
async def send_message(call: ApiCall) -> ApiResponse:
    request = message_input(call.body)
    accepted = await call.services.messages.send(
        call.owner_id, request, call.idempotent(202, accepted_json))
    return ApiResponse(accepted_json(accepted), 202)


@router.route(
    "GET", "/messages/{id}", scope=Scope.MESSAGES_READ, summary="A message: state and history",
    params=[path_id("The message's id (a single message's, or a campaign's)")],
    responses={200: Reply("The message", MESSAGE_OUT)},
    examples=[Example("A message", 200, path={"id": 1}),
              Example("Not one of the owner's", 404, path={"id": 999})])
async def get_message(call: ApiCall) -> ApiResponse:
    """Where a message stands: queued, sending, sent, delivered, read, failed (with the
    reason), uncertain or skipped, with the time of each step."""
    message = await call.services.messages.get(call.owner_id, call.path_params["id"])
    return ApiResponse(message_json(message))
