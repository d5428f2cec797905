"""Contacts and lists: ``/contacts`` and ``/lists`` (``bot/services/contacts_api.py``: the
file import's rules, one transaction per request).

Up to 10,000 contacts (or phones) come in one body. Their schema is in the document, but
the server's JSON Schema check covers the envelope only: jsonschema took 585 ms to check
10,000 contacts item by item (measured), three times the whole request's budget. Each item
is checked by ``contact_input`` / ``phones_of`` instead, against the same rules as
``CONTACT_IN`` (``tests/web/test_api_contacts.py`` holds the two to the same answers), with
the same problem: ``invalid-body`` and the JSON pointer of the field at fault.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bot.domain import Contact, ContactList, Scope
from bot.errors import ValidationError
from bot.services.contacts_api import (
    MAX_CONTACTS,
    ContactInput,
    ContactRecord,
    RejectedContact,
    UpsertReport,
)
from bot.web.api.pagination import PAGE_PARAMS, encode_cursor, page_of, page_schema
from bot.web.api.problems import ApiProblem
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
    "Contacts", "The owner's contacts and lists, by phone number, with the same rules as a "
    "contact file sent in the chat: numbers normalised in the owner's region, the newer name "
    "and values win, an opt-out is never undone by new data.")

PHONE_MAX = 64
NAME_MAX = 1_000
VARIABLES_MAX = 100
VARIABLE_NAME_MAX = 100
VALUE_MAX = 32 * 1024  # a workbook cell's limit (``imports.limits.MAX_CELL_KB``)
LIST_IDS_MAX = 100

_PHONE: Schema = {"type": "string", "maxLength": PHONE_MAX,
                  "description": "As written: normalised to E.164 in the owner's region "
                                 "(`050 123 45 67` in Azerbaijan is `+994501234567`)",
                  "examples": ["+994 50 123 45 67"]}
_E164: Schema = {"type": "string", "description": "E.164", "examples": ["+994501234567"]}
_LIST_IDS: Schema = {"type": "array", "maxItems": LIST_IDS_MAX,
                     "items": {"type": "integer", "minimum": 1}, "examples": [[1]]}

CONTACT_IN: Schema = obj({
    "phone": _PHONE,
    "name": nullable({"type": "string", "maxLength": NAME_MAX,
                      "description": "Blank or absent: a known contact keeps its name",
                      "examples": ["Əli Məmmədov"]}),
    "variables": {
        "type": "object", "maxProperties": VARIABLES_MAX,
        "propertyNames": {"minLength": 1, "maxLength": VARIABLE_NAME_MAX},
        "additionalProperties": {"type": ["string", "integer", "null"],
                                 "maxLength": VALUE_MAX},
        "description": "Template variables. Named as a file's column headings are (`City` "
                       "and `Şəhər` are `{{city}}`); a blank or null value erases nothing; "
                       "others are merged into what the contact has.",
        "examples": [{"city": "Bakı", "order": 1042}]},
    "list_ids": {**_LIST_IDS, "description": "Lists to add the contact to (the owner's)"},
    "opted_out": {"type": "boolean",
                  "description": "true opts the number out (as a STOP reply does); false "
                                 "changes nothing: only `POST /contacts/{phone}/opt-in` "
                                 "opts a number back in"},
}, optional=("name", "variables", "list_ids", "opted_out"), description="A contact")

CONTACTS_IN: Schema = obj({
    "contacts": {"type": "array", "minItems": 1, "maxItems": MAX_CONTACTS,
                 "items": CONTACT_IN},
    "list_ids": {**_LIST_IDS, "description": "Lists to add every contact to"},
}, optional=("list_ids",), description="Up to 10,000 contacts")

# What the server checks with jsonschema: the envelope (the items: ``contact_input``).
# if/then/else, not oneOf/not: a failed branch of those words puts the repr of the whole
# body in its message (10 ms for 10,000 contacts, measured), even when the body is valid.
UPSERT_CHECK: Schema = {
    "type": "object",
    "if": {"required": ["contacts"]},
    "then": {**CONTACTS_IN, "properties": {**CONTACTS_IN["properties"],
                                           "contacts": {"type": "array", "minItems": 1,
                                                        "maxItems": MAX_CONTACTS}}},
    "else": {"required": ["phone"]},
}

CONTACT_OUT: Schema = obj({
    "phone": _E164,
    "name": nullable({"type": "string", "examples": ["Əli Məmmədov"]}),
    "variables": {"type": "object", "additionalProperties": {"type": "string"},
                  "examples": [{"city": "Bakı", "order": "1042"}]},
    "list_ids": {"type": "array", "items": {"type": "integer"}, "examples": [[1]]},
    "opted_out": {"type": "boolean", "description": "Campaigns skip it"},
    "opted_out_at": nullable(DATETIME),
    "opt_out_reason": nullable({"type": "string", "examples": ["replied STOP"]}),
}, description="A contact")

_REJECTED: Schema = {
    "type": "array", "description": "Numbers not written, with the import's reason",
    "items": obj({
        "index": {"type": "integer", "minimum": 0, "description": "Its place in the request"},
        "phone": {"type": "string", "description": "As sent", "examples": ["12345"]},
        "reason": {"type": "string", "examples": ["too_short"], "enum": [
            "no_phone", "not_a_phone_number", "too_short", "too_long",
            "invalid_country_code", "invalid_number", "landline", "not_mobile"]},
    })}
_COUNT: Schema = {"type": "integer", "minimum": 0}

UPSERT_REPORT: Schema = obj({
    "received": _COUNT,
    "created": {**_COUNT, "description": "New contacts"},
    "updated": {**_COUNT, "description": "Known contacts, their newer name and values written"},
    "duplicates": {**_COUNT, "description": "Items whose number came earlier in the request "
                                            "(merged into it)"},
    "opted_out": {**_COUNT, "description": "Of the request's contacts, how many are opted out"},
    "rejected": _REJECTED,
}, description="What 10,000 contacts did")

LIST_OUT: Schema = obj({
    "id": {"type": "integer", "examples": [1]},
    "name": {"type": "string", "examples": ["VIP clients"]},
    "created_at": DATETIME,
    "size": {**_COUNT, "description": "Members"},
    "opted_out": {**_COUNT, "description": "Members that are opted out"},
    "variables": {"type": "array", "items": {"type": "string"}, "examples": [["city"]],
                  "description": "Variables its contacts have"},
}, description="A list")

PHONES_IN: Schema = obj({"phones": {"type": "array", "minItems": 1, "maxItems": MAX_CONTACTS,
                                    "items": _PHONE}})
PHONES_CHECK: Schema = obj({"phones": {"type": "array", "minItems": 1,
                                       "maxItems": MAX_CONTACTS}})

_PHONE_PARAM = Param("phone", {"type": "string", "minLength": 1, "maxLength": PHONE_MAX},
                     "The number, as written (`+994501234567`, `050 123 45 67`)",
                     True, "path")
_EXAMPLE_PHONE = "+994501000001"  # the seeded world's (tests/e2e/api_world.py)
_OTHER_PHONE = "+994552000001"  # another owner's contact: 404


# --- the items, checked by hand ------------------------------------------------------------

def _invalid(where: str, message: str) -> ApiProblem:
    return ApiProblem(422, "invalid-body", message, field=where)


def _integer(value: object) -> bool:
    """JSON Schema's integer: a number without a fraction (``2.0`` is one), not a boolean."""
    if isinstance(value, float):
        return value.is_integer()
    return isinstance(value, int) and not isinstance(value, bool)


class _Refused(Exception):
    """An item's field at fault (a pointer below the item's) and why; the item's own
    pointer is only made for the problem (not for each of 10,000 items that pass)."""

    def __init__(self, below: str, message: str) -> None:
        super().__init__(message)
        self.below = below
        self.message = message


def _list_ids(value: object, below: str = "") -> tuple[int, ...]:
    if type(value) is not list:
        raise _Refused(below, f"{value!r:.40} is not of type 'array'")
    if len(value) > LIST_IDS_MAX:
        raise _Refused(below, f"at most {LIST_IDS_MAX} list ids")
    for n, list_id in enumerate(value):
        if not _integer(list_id):
            raise _Refused(f"{below}/{n}", f"{list_id!r:.40} is not of type 'integer'")
        if list_id < 1:
            raise _Refused(f"{below}/{n}", f"{list_id} is less than the minimum of 1")
    return tuple(int(list_id) for list_id in value)


_FIELDS = frozenset(CONTACT_IN["properties"])


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def _values(given: object) -> dict[str, str]:
    if type(given) is not dict:
        raise _Refused("/variables", f"{given!r:.40} is not of type 'object'")
    if len(given) > VARIABLES_MAX:
        raise _Refused("/variables", f"at most {VARIABLES_MAX} variables")
    texts = True
    for key, value in given.items():
        if not 0 < len(key) <= VARIABLE_NAME_MAX:
            raise _Refused(f"/variables/{_escape(key)}",
                           f"a variable's name is 1 to {VARIABLE_NAME_MAX} characters")
        if type(value) is str:
            if len(value) > VALUE_MAX:
                raise _Refused(f"/variables/{_escape(key)}",
                               f"longer than {VALUE_MAX} characters")
        elif value is None or _integer(value):
            texts = False
        else:
            raise _Refused(f"/variables/{_escape(key)}",
                           f"{value!r:.40} is not of type 'string', 'integer', 'null'")
    if texts:  # the usual case: taken as it is
        return given
    return {key: value if type(value) is str else str(int(value))
            for key, value in given.items() if value is not None}


def _contact(item: object) -> ContactInput:
    if type(item) is not dict:
        raise _Refused("", f"{item!r:.40} is not of type 'object'")
    if not _FIELDS.issuperset(item):
        extra = next(key for key in item if key not in _FIELDS)
        raise _Refused(f"/{_escape(extra)}", f"'{extra}' is not a field of this body")
    phone = item.get("phone")
    if type(phone) is not str:
        if "phone" not in item:
            raise _Refused("/phone", "'phone' is required")
        raise _Refused("/phone", f"{phone!r:.40} is not of type 'string'")
    if len(phone) > PHONE_MAX:
        raise _Refused("/phone", f"longer than {PHONE_MAX} characters")
    name = item.get("name")
    if name is not None:
        if type(name) is not str:
            raise _Refused("/name", f"{name!r:.40} is not of type 'string', 'null'")
        if len(name) > NAME_MAX:
            raise _Refused("/name", f"longer than {NAME_MAX} characters")
    if len(item) == 1 or (len(item) == 2 and name is not None):  # a number, maybe a name
        return ContactInput(phone, name)
    values = _values(item["variables"]) if "variables" in item else {}
    list_ids = _list_ids(item["list_ids"], "/list_ids") if "list_ids" in item else ()
    opted_out = item.get("opted_out", False)
    if type(opted_out) is not bool:
        raise _Refused("/opted_out", f"{opted_out!r:.40} is not of type 'boolean'")
    return ContactInput(phone, name, values, list_ids, opted_out)


def contact_input(item: object, at: str) -> ContactInput:
    """One contact of a body (at the JSON pointer ``at``), checked as ``CONTACT_IN`` says;
    422 ``invalid-body`` with the field at fault."""
    try:
        return _contact(item)
    except _Refused as refused:
        raise _invalid(at + refused.below, refused.message) from None


def contact_inputs(items: Sequence[object], at: str = "/contacts") -> list[ContactInput]:
    """The contacts of a body's array at ``at``, each checked as ``contact_input`` does."""
    check = _contact
    try:
        return [check(item) for item in items]
    except _Refused:
        pass
    for n, item in enumerate(items):  # which one, only now
        contact_input(item, f"{at}/{n}")
    raise AssertionError("an item was refused, then taken")


def phones_of(given: Sequence[object], at: str = "/phones") -> list[str]:
    """The ``phones`` of a members body, checked as ``PHONES_IN`` says."""
    for n, phone in enumerate(given):
        if not isinstance(phone, str):
            raise _invalid(f"{at}/{n}", f"{phone!r:.40} is not of type 'string'")
        if len(phone) > PHONE_MAX:
            raise _invalid(f"{at}/{n}", f"longer than {PHONE_MAX} characters")
    return [str(phone) for phone in given]


# --- rendering -----------------------------------------------------------------------------

def contact_json(record: ContactRecord) -> dict[str, Any]:
    contact: Contact = record.contact
    return {"phone": contact.phone, "name": contact.name,
            "variables": dict(contact.attributes), "list_ids": list(record.list_ids),
            "opted_out": contact.opted_out_at is not None,
            "opted_out_at": contact.opted_out_at, "opt_out_reason": contact.opt_out_reason}


def list_json(item: ContactList) -> dict[str, Any]:
    return {"id": item.id, "name": item.name, "created_at": item.created_at,
            "size": item.size, "opted_out": item.opted_out, "variables": list(item.variables)}


def _rejected(rows: Sequence[RejectedContact]) -> list[dict[str, Any]]:
    return [{"index": r.index, "phone": r.phone, "reason": r.reason} for r in rows]


def report_json(report: UpsertReport) -> dict[str, Any]:
    return {"received": report.received, "created": report.created,
            "updated": report.updated, "duplicates": report.duplicates,
            "opted_out": report.opted_out, "rejected": _rejected(report.rejected)}


async def _phone_call(call: ApiCall, action: Any) -> Any:
    """A route with a phone in its path: a number that is none is a bad parameter."""
    try:
        return await action(call.owner_id, call.path_params["phone"])
    except ValidationError as exc:
        if exc.where != "phone":
            raise
        raise ApiProblem(400, "invalid-parameter",
                         f"phone: {exc.reason.replace('_', ' ')}", field="phone") from None


# --- contacts ------------------------------------------------------------------------------

@router.route(
    "POST", "/contacts", scope=Scope.CONTACTS_WRITE,
    summary="Add or update contacts (one, or up to 10,000)",
    description="The body is one contact, or `{\"contacts\": [...]}` with up to 10,000 "
    "(and `list_ids` to put all of them in). A number is found by its E.164 form: a known "
    "contact gets the newer name and the non-blank values, merged into its variables; an "
    "opted-out contact stays opted out. Many contacts are written in one transaction (all "
    "or none); numbers that cannot receive WhatsApp are `rejected` with the reason a file "
    "import gives (one contact: 422 with the reason). A list that is not the owner's is "
    "404.",
    body={"oneOf": [CONTACT_IN, CONTACTS_IN]}, check_body=UPSERT_CHECK,
    responses={200: Reply("Many contacts: what was done; one known contact: the contact",
                          {"oneOf": [UPSERT_REPORT, CONTACT_OUT]}),
               201: Reply("One new contact", CONTACT_OUT),
               404: Reply("A list that is not the owner's")},
    examples=[
        Example("One contact", 201, body={"phone": "+994 55 987 65 43", "name": "Leyla",
                                          "variables": {"city": "Gəncə"}}),
        Example("Many contacts into a list", 200, body={
            "contacts": [{"phone": "050 111 22 33", "name": "Rəşad",
                          "variables": {"city": "Bakı", "order": 1042}},
                         {"phone": "+994 70 444 55 66", "opted_out": True},
                         {"phone": "12345"}],
            "list_ids": [1]}),
        Example("A field that is not one", 422, body={"phone": "+994501234567",
                                                      "email": "x@example.com"}),
        Example("A list of another owner's", 404, body={"contacts": [
            {"phone": "+994501234567"}], "list_ids": [2]}),
    ])
async def upsert_contacts(call: ApiCall) -> ApiResponse:
    body: Mapping[str, Any] = call.body
    service = call.services.contacts
    if "contacts" not in body:
        item = contact_input(body, "")
        report = await service.upsert(call.owner_id, [item])
        if report.rejected:
            reason = report.rejected[0].reason
            raise ApiProblem(422, "invalid-body", reason.replace("_", " "), field="/phone",
                             reason=reason)
        phone = report.phones[0]
        assert phone is not None
        record = await service.get(call.owner_id, phone)
        return ApiResponse(contact_json(record), 201 if report.created else 200)
    items = contact_inputs(body["contacts"])
    list_ids = tuple(int(i) for i in body.get("list_ids", ()))  # checked by UPSERT_CHECK
    report = await service.upsert(call.owner_id, items, list_ids)
    return ApiResponse(report_json(report))


@router.route(
    "GET", "/contacts/{phone}", scope=Scope.CONTACTS_READ, summary="One contact",
    params=[_PHONE_PARAM], responses={200: Reply("The contact", CONTACT_OUT)},
    examples=[Example("A contact", 200, path={"phone": _EXAMPLE_PHONE}),
              Example("Written as dialled at home", 200, path={"phone": "050 100 00 01"}),
              Example("Another owner's contact", 404, path={"phone": _OTHER_PHONE}),
              Example("Not a number", 400, path={"phone": "call me"})])
async def get_contact(call: ApiCall) -> ApiResponse:
    """The contact with this number (written in any form the owner's region reads)."""
    return ApiResponse(contact_json(await _phone_call(call, call.services.contacts.get)))


@router.route(
    "GET", "/contacts", scope=Scope.CONTACTS_READ, summary="The owner's contacts",
    params=[*PAGE_PARAMS, Param("list_id", {"type": "integer", "minimum": 1},
                                "Only the members of this list")],
    responses={200: Reply("A page of contacts, oldest first", page_schema(CONTACT_OUT)),
               404: Reply("A list that is not the owner's")},
    examples=[Example("The first page", 200, query={"limit": 2}),
              Example("A list's members", 200, query={"list_id": 1}),
              Example("A list of another owner's", 404, query={"list_id": 2})])
async def list_contacts(call: ApiCall) -> ApiResponse:
    """Every contact, or a list's members, by the order they were added."""
    page = page_of(call)
    found = await call.services.contacts.page(call.owner_id, list_id=call.query.get("list_id"),
                                              after=page.after or 0, limit=page.limit)
    return ApiResponse({"data": [contact_json(r) for r in found.items],
                        "next_cursor": None if found.next_after is None else
                        encode_cursor(found.next_after)})


@router.route(
    "POST", "/contacts/{phone}/opt-out", scope=Scope.CONTACTS_WRITE,
    summary="Opt a number out",
    description="As a STOP reply: no campaign sends to it any more, whatever a later upsert "
    "or file says. A number that is not a contact yet is remembered as opted out.",
    params=[_PHONE_PARAM], responses={200: Reply("The contact, opted out", CONTACT_OUT)},
    examples=[Example("Opt out", 200, path={"phone": _EXAMPLE_PHONE}),
              Example("Not a number", 400, path={"phone": "12"})])
async def opt_out(call: ApiCall) -> ApiResponse:
    return ApiResponse(contact_json(await _phone_call(call, call.services.contacts.opt_out)))


@router.route(
    "POST", "/contacts/{phone}/opt-in", scope=Scope.CONTACTS_WRITE,
    summary="Opt a number back in",
    description="As a START reply: campaigns reach the number again.",
    params=[_PHONE_PARAM], responses={200: Reply("The contact", CONTACT_OUT)},
    examples=[Example("Opt in", 200, path={"phone": _EXAMPLE_PHONE}),
              Example("Another owner's contact", 404, path={"phone": _OTHER_PHONE})])
async def opt_in(call: ApiCall) -> ApiResponse:
    return ApiResponse(contact_json(await _phone_call(call, call.services.contacts.opt_in)))


@router.route(
    "DELETE", "/contacts/{phone}", scope=Scope.CONTACTS_WRITE, summary="Delete a contact",
    description="The contact leaves every list and is deleted; campaigns keep their "
    "messages to it. An opted-out number is kept, without its name, variables and lists, "
    "so that it stays opted out if it comes back (as when a list is deleted in the chat).",
    params=[_PHONE_PARAM],
    responses={200: Reply("Deleted", obj({
        "phone": _E164,
        "kept_as_opt_out": {"type": "boolean",
                            "description": "true: the number stays, opted out"}}))},
    examples=[Example("Delete", 200, path={"phone": "+994501000003"}),
              Example("Another owner's contact", 404, path={"phone": _OTHER_PHONE})])
async def delete_contact(call: ApiCall) -> ApiResponse:
    contact = await _phone_call(call, call.services.contacts.delete)
    return ApiResponse({"phone": contact.phone,
                        "kept_as_opt_out": contact.opted_out_at is not None})


# --- lists ---------------------------------------------------------------------------------

@router.route(
    "POST", "/lists", scope=Scope.CONTACTS_WRITE, summary="Create a list",
    body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 200,
                       "description": "1 to 64 characters once spaces are trimmed; unique "
                                      "among the owner's lists",
                       "examples": ["VIP clients"]}}),
    responses={201: Reply("The new, empty list", LIST_OUT)},
    examples=[Example("A new list", 201, body={"name": "Spring 2026"}),
              Example("A name already taken", 409, body={"name": "Customers"})])
async def create_list(call: ApiCall) -> ApiResponse:
    created = await call.services.contacts.create_list(call.owner_id, call.body["name"])
    return ApiResponse(list_json(created), 201)


@router.route(
    "GET", "/lists", scope=Scope.CONTACTS_READ, summary="The owner's lists",
    params=PAGE_PARAMS,
    responses={200: Reply("A page of lists with their sizes, oldest first",
                          page_schema(LIST_OUT))},
    examples=[Example("Every list", 200)])
async def list_lists(call: ApiCall) -> ApiResponse:
    page = page_of(call)
    found = await call.services.contacts.lists(call.owner_id, after=page.after or 0,
                                               limit=page.limit)
    return ApiResponse({"data": [list_json(item) for item in found.items],
                        "next_cursor": None if found.next_after is None else
                        encode_cursor(found.next_after)})


_MEMBERS_ADDED: Schema = obj({
    "added": {**_COUNT, "description": "Numbers that were not in the list yet"},
    "created": {**_COUNT, "description": "Of them, numbers that were not contacts yet"},
    "rejected": _REJECTED,
})
_MEMBERS_REMOVED: Schema = obj({
    "removed": {**_COUNT, "description": "Numbers that were in the list"},
    "rejected": _REJECTED,
})


@router.route(
    "POST", "/lists/{id}/members", scope=Scope.CONTACTS_WRITE,
    summary="Add numbers to a list",
    description="As a file of numbers imported into the list: numbers that are not contacts "
    "yet become contacts; known ones keep their names and variables. Up to 10,000.",
    params=[path_id("The list's id")], body=PHONES_IN, check_body=PHONES_CHECK,
    responses={200: Reply("What was added", _MEMBERS_ADDED)},
    examples=[Example("Add", 200, path={"id": 1},
                      body={"phones": ["+994501234567", "055 222 33 44", "nope"]}),
              Example("Another owner's list", 404, path={"id": 2},
                      body={"phones": ["+994501234567"]})])
async def add_members(call: ApiCall) -> ApiResponse:
    report = await call.services.contacts.add_members(
        call.owner_id, call.path_params["id"], phones_of(call.body["phones"]))
    return ApiResponse({"added": report.changed, "created": report.created,
                        "rejected": _rejected(report.rejected)})


@router.route(
    "DELETE", "/lists/{id}/members", scope=Scope.CONTACTS_WRITE,
    summary="Take numbers out of a list",
    description="They stay the owner's contacts (`DELETE /contacts/{phone}` deletes one).",
    params=[path_id("The list's id")], body=PHONES_IN, check_body=PHONES_CHECK,
    responses={200: Reply("What was taken out", _MEMBERS_REMOVED)},
    examples=[Example("Take out", 200, path={"id": 1}, body={"phones": ["+994501000001"]}),
              Example("Another owner's list", 404, path={"id": 2},
                      body={"phones": ["+994501000001"]})])
async def remove_members(call: ApiCall) -> ApiResponse:
    report = await call.services.contacts.remove_members(
        call.owner_id, call.path_params["id"], phones_of(call.body["phones"]))
    return ApiResponse({"removed": report.changed, "rejected": _rejected(report.rejected)})
