"""The contacts' hand check (``bot/web/api/contacts.py``) gives jsonschema's answer for the
schema the document shows: the server checks 10,000 items by hand, an integrator reads
``CONTACT_IN``; the two must not drift."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bot.web.api.contacts import (
    CONTACT_IN,
    CONTACTS_IN,
    PHONES_CHECK,
    PHONES_IN,
    UPSERT_CHECK,
    contact_input,
    phones_of,
)
from bot.web.api.problems import ApiProblem

ITEM = Draft202012Validator(CONTACT_IN)
PHONES = Draft202012Validator(PHONES_IN)


def hand_check(item: object) -> str | None:
    """None when the hand check takes the item, else the field it names."""
    try:
        contact_input(item, "/contacts/7")
    except ApiProblem as problem:
        assert (problem.status, problem.slug) == (422, "invalid-body")
        return problem.field
    return None


VALID: list[Any] = [
    {"phone": "+994501234567"},
    {"phone": ""},  # a blank number is a rejected row (no_phone), as in a file
    {"phone": "050 123 45 67", "name": None, "variables": {}, "list_ids": [],
     "opted_out": False},
    {"phone": "x", "name": "n" * 1000, "variables": {"City": "Bakı", "order": 12, "gone": None,
                                                     "k" * 100: "v" * 32768}},
    {"phone": "x", "variables": {"two": 2.0}, "list_ids": [1, 1, 3.0], "opted_out": True},
    {"phone": "x", "variables": {f"v{n}": "" for n in range(100)}, "list_ids": [1] * 100},
]
INVALID: list[tuple[Any, str]] = [
    ([], "/contacts/7"),
    ("+994501234567", "/contacts/7"),
    ({}, "/contacts/7/phone"),
    ({"name": "No phone"}, "/contacts/7/phone"),
    ({"phone": 994501234567}, "/contacts/7/phone"),
    ({"phone": None}, "/contacts/7/phone"),
    ({"phone": "1" * 65}, "/contacts/7/phone"),
    ({"phone": "x", "name": 7}, "/contacts/7/name"),
    ({"phone": "x", "name": "n" * 1001}, "/contacts/7/name"),
    ({"phone": "x", "variables": None}, "/contacts/7/variables"),
    ({"phone": "x", "variables": ["city"]}, "/contacts/7/variables"),
    ({"phone": "x", "variables": {"price": 9.5}}, "/contacts/7/variables/price"),
    ({"phone": "x", "variables": {"vip": True}}, "/contacts/7/variables/vip"),
    ({"phone": "x", "variables": {"tags": ["a"]}}, "/contacts/7/variables/tags"),
    ({"phone": "x", "variables": {"": "v"}}, "/contacts/7/variables/"),
    ({"phone": "x", "variables": {"k" * 101: "v"}}, "/contacts/7/variables/" + "k" * 101),
    ({"phone": "x", "variables": {"a/b": "v" * 32769}}, "/contacts/7/variables/a~1b"),
    ({"phone": "x", "variables": {f"v{n}": "" for n in range(101)}}, "/contacts/7/variables"),
    ({"phone": "x", "list_ids": "1"}, "/contacts/7/list_ids"),
    ({"phone": "x", "list_ids": [1, 0]}, "/contacts/7/list_ids/1"),
    ({"phone": "x", "list_ids": [True]}, "/contacts/7/list_ids/0"),
    ({"phone": "x", "list_ids": [1.5]}, "/contacts/7/list_ids/0"),
    ({"phone": "x", "list_ids": [1] * 101}, "/contacts/7/list_ids"),
    ({"phone": "x", "opted_out": "yes"}, "/contacts/7/opted_out"),
    ({"phone": "x", "opted_out": None}, "/contacts/7/opted_out"),
    ({"phone": "x", "email": "a@example.com"}, "/contacts/7/email"),
]


@pytest.mark.parametrize("item", VALID)
def test_what_the_schema_takes_the_hand_check_takes(item: Any) -> None:
    assert ITEM.is_valid(item)
    assert hand_check(item) is None


@pytest.mark.parametrize(("item", "field"), INVALID)
def test_what_the_schema_refuses_the_hand_check_refuses_at_its_field(item: Any,
                                                                      field: str) -> None:
    assert not ITEM.is_valid(item)
    assert hand_check(item) == field


def test_values_are_written_as_text_and_null_ones_left_out() -> None:
    item = contact_input({"phone": "x", "variables": {"order": 12, "two": 2.0, "gone": None,
                                                      "city": " Bakı "},
                          "list_ids": [3.0]}, "")
    assert dict(item.variables) == {"order": "12", "two": "2", "city": " Bakı "}
    assert item.list_ids == (3,)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-3, 3, allow_nan=False)
    | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner,
                                                                max_size=3),
    max_leaves=8)
_ITEMS = st.dictionaries(
    st.sampled_from(["phone", "name", "variables", "list_ids", "opted_out", "email"]),
    _JSON | st.dictionaries(st.text(max_size=2), _JSON, max_size=3)
    | st.lists(st.integers(-1, 3), max_size=3),
    max_size=5) | _JSON


@settings(max_examples=400, deadline=None)
@given(_ITEMS)
def test_any_json_gets_the_same_answer_from_both(item: Any) -> None:
    assert (hand_check(item) is None) == ITEM.is_valid(item)


@settings(max_examples=200, deadline=None)
@given(st.lists(_JSON | st.text(max_size=70), min_size=1, max_size=4))
def test_phones_get_the_same_answer_from_both(phones: list[Any]) -> None:
    body = {"phones": phones}
    assert Draft202012Validator(PHONES_CHECK).is_valid(body)
    try:
        phones_of(phones)
        taken = True
    except ApiProblem:
        taken = False
    assert taken == PHONES.is_valid(body)


def test_the_envelope_check_and_the_items_make_the_documented_body() -> None:
    """What the server checks (``UPSERT_CHECK``) plus the hand check of each item is the
    documented body: one contact, or ``{"contacts": [...]}``."""
    documented = Draft202012Validator({"oneOf": [CONTACT_IN, CONTACTS_IN]})
    envelope = Draft202012Validator(UPSERT_CHECK)
    bodies: list[Any] = [
        {"phone": "x"}, {"phone": "x", "contacts": []}, {"contacts": [{"phone": "x"}]},
        {"contacts": []}, {"contacts": [{"phone": "x"}], "list_ids": [0]},
        {"contacts": [{"phone": "x"}], "list": 1}, {"contacts": [{"name": "n"}]},
        {"contacts": [{"phone": "x"}] * 10_001}, {}, [], "x",
    ]
    for body in bodies:
        items = body.get("contacts") if isinstance(body, dict) else None
        single = isinstance(body, dict) and "contacts" not in body
        ours = envelope.is_valid(body) and (
            hand_check(body) is None if single else
            all(hand_check(item) is None for item in items or ()))
        assert ours == documented.is_valid(body), body
