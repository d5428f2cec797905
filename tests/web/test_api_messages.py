"""The hand checks of ``POST /messages``'s body and of a campaign's inline recipients
(``bot/web/api/messages.py``, ``bot/web/api/campaigns.py``) give jsonschema's answer for
the schemas the document shows: the server checks by hand, an integrator reads the
schema; the two must not drift."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from bot.web.api.campaigns import RECIPIENT_IN, recipient_input
from bot.web.api.messages import MESSAGE_IN, message_input
from bot.web.api.problems import ApiProblem

MESSAGE = Draft202012Validator(MESSAGE_IN)
RECIPIENT = Draft202012Validator(RECIPIENT_IN)


def hand_field(check: Any, body: object) -> str | None:
    """None when the hand check takes the body, else the field it names."""
    try:
        check(body)
    except ApiProblem as problem:
        assert (problem.status, problem.slug) == (422, "invalid-body")
        return problem.field
    return None


def message(body: object) -> str | None:
    return hand_field(message_input, body)


def recipient(item: object) -> str | None:
    return hand_field(lambda x: recipient_input(x, "/recipients/3"), item)


VALID_MESSAGES: list[Any] = [
    {"phone": "+994501234567", "text": "Hi"},
    {"phone": "050 123 45 67", "template_id": 1},
    {"phone": "x", "template_id": 2.0, "variables": {"code": 1234, "name": "Aysel",
                                                     "gone": None, "k": "v" * 4096},
     "media_url": "https://a.example/x.jpg", "media_kind": "image", "sender_id": 3,
     "client_ref": "r" * 200},
    {"phone": "x", "text": "t" * 4096, "media_url": "http://a", "client_ref": "1"},
    {"phone": "x", "template_id": 1, "variables": {f"v{n}": "" for n in range(100)}},
]
INVALID_MESSAGES: list[tuple[Any, str | None]] = [
    ({"text": "Hi"}, "/phone"),
    ({"phone": 994501234567, "text": "Hi"}, "/phone"),
    ({"phone": "", "text": "Hi"}, "/phone"),
    ({"phone": "1" * 65, "text": "Hi"}, "/phone"),
    ({"phone": "x", "text": "Hi", "to": "y"}, "/to"),
    ({"phone": "x", "template_id": 0}, "/template_id"),
    ({"phone": "x", "template_id": "1"}, "/template_id"),
    ({"phone": "x", "template_id": True}, "/template_id"),
    ({"phone": "x", "template_id": 1.5}, "/template_id"),
    ({"phone": "x", "text": ""}, "/text"),
    ({"phone": "x", "text": "t" * 4097}, "/text"),
    ({"phone": "x", "template_id": 1, "variables": []}, "/variables"),
    ({"phone": "x", "template_id": 1, "variables": {"a": True}}, "/variables/a"),
    ({"phone": "x", "template_id": 1, "variables": {"a": 1.5}}, "/variables/a"),
    ({"phone": "x", "template_id": 1, "variables": {"a/b": ["x"]}}, "/variables/a~1b"),
    ({"phone": "x", "template_id": 1, "variables": {"a": "v" * 4097}}, "/variables/a"),
    ({"phone": "x", "template_id": 1, "variables": {f"v{n}": "" for n in range(101)}},
     "/variables"),
    ({"phone": "x", "text": "Hi", "media_url": "ftp://a"}, "/media_url"),
    ({"phone": "x", "text": "Hi", "media_url": ""}, "/media_url"),
    ({"phone": "x", "text": "Hi", "media_kind": "video"}, "/media_kind"),
    ({"phone": "x", "text": "Hi", "sender_id": -1}, "/sender_id"),
    ({"phone": "x", "text": "Hi", "client_ref": ""}, "/client_ref"),
    ({"phone": "x", "text": "Hi", "client_ref": "r" * 201}, "/client_ref"),
    # one of a template and a text (the schema's oneOf: its pointer is its own choice)
    ({"phone": "x"}, None),
    ({"phone": "x", "template_id": 1, "text": "Hi"}, None),
    ({"phone": "x", "text": "Hi", "variables": {"a": "b"}}, None),
]


@pytest.mark.parametrize("body", VALID_MESSAGES)
def test_what_the_schema_takes_the_hand_check_takes(body: Any) -> None:
    assert list(MESSAGE.iter_errors(body)) == []
    assert message(body) is None


@pytest.mark.parametrize(("body", "field"), INVALID_MESSAGES)
def test_what_the_schema_refuses_the_hand_check_refuses_at_the_same_field(
        body: Any, field: str | None) -> None:
    assert list(MESSAGE.iter_errors(body)) != []
    found = message(body)
    assert found is not None
    if field is not None:
        assert found == field


_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(-2, 2),
                    st.text(max_size=3), st.lists(st.integers(), max_size=1))
_BODIES = st.dictionaries(
    st.sampled_from(["phone", "template_id", "text", "variables", "media_url", "media_kind",
                     "sender_id", "client_ref", "other"]),
    st.one_of(_VALUES, st.sampled_from(["https://a.example", "image", "document", 1, 2.0]),
              st.dictionaries(st.text(max_size=2), _VALUES, max_size=2)), max_size=5)


@settings(max_examples=400, deadline=None)
@given(_BODIES)
def test_generated_bodies_get_the_schemas_answer(body: dict[str, Any]) -> None:
    assert (message(body) is None) == (not list(MESSAGE.iter_errors(body)))


VALID_RECIPIENTS: list[Any] = [
    {"phone": "+994501234567"},
    {"phone": "x", "name": None, "variables": {}, "client_ref": "c"},
    {"phone": "x", "name": "n" * 200, "variables": {"City": "Bakı", "n": 2, "gone": None}},
]
INVALID_RECIPIENTS: list[tuple[Any, str]] = [
    ("+994501234567", "/recipients/3"),
    ({}, "/recipients/3/phone"),
    ({"phone": 5}, "/recipients/3/phone"),
    ({"phone": ""}, "/recipients/3/phone"),
    ({"phone": "x", "name": 7}, "/recipients/3/name"),
    ({"phone": "x", "name": "n" * 201}, "/recipients/3/name"),
    ({"phone": "x", "variables": []}, "/recipients/3/variables"),
    ({"phone": "x", "variables": {"a": True}}, "/recipients/3/variables/a"),
    ({"phone": "x", "client_ref": ""}, "/recipients/3/client_ref"),
    ({"phone": "x", "client_ref": None}, "/recipients/3/client_ref"),
    ({"phone": "x", "email": "e"}, "/recipients/3/email"),
]


@pytest.mark.parametrize("item", VALID_RECIPIENTS)
def test_a_recipient_the_schema_takes_the_hand_check_takes(item: Any) -> None:
    assert list(RECIPIENT.iter_errors(item)) == []
    assert recipient(item) is None


@pytest.mark.parametrize(("item", "field"), INVALID_RECIPIENTS)
def test_a_recipient_the_schema_refuses_the_hand_check_refuses(item: Any, field: str) -> None:
    assert list(RECIPIENT.iter_errors(item)) != []
    assert recipient(item) == field
