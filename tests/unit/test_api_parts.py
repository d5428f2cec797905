"""The API framework's pure parts: the mapping of domain errors to problems, the rate
limiter's bucket, cursors, and examples made from schemas."""

from __future__ import annotations

import pytest
from jsonschema import Draft202012Validator

from bot.errors import (
    Conflict,
    IdempotencyMismatch,
    InsufficientCredits,
    InvalidTransition,
    NotFound,
    StorageUnavailable,
    ValidationError,
)
from bot.web.api import routers
from bot.web.api.limits import RateLimiter
from bot.web.api.openapi import example_of
from bot.web.api.pagination import Page, decode_cursor, encode_cursor, page_body
from bot.web.api.problems import ApiProblem, problem_of
from tests.fakes import FakeClock


@pytest.mark.parametrize(("error", "status", "slug", "field"), [
    (NotFound("template", template_id=7), 404, "not-found", None),
    (ValidationError("too_long", where="name", limit=64), 422, "invalid-body", "/name"),
    (ValidationError("bad", where="/recipients/3/phone"), 422, "invalid-body",
     "/recipients/3/phone"),
    (ValidationError("bad", where="row 17, column phone"), 422, "invalid-body", None),
    (InvalidTransition("campaign", "completed", "paused"), 409, "conflict", None),
    (Conflict("idempotency_in_progress"), 409, "conflict", None),
    (IdempotencyMismatch(), 409, "idempotency-mismatch", "Idempotency-Key"),
    (StorageUnavailable("disk_full"), 503, "unavailable", None),
])
def test_each_domain_error_is_one_problem(error, status, slug, field) -> None:
    problem = problem_of(error)
    assert problem is not None
    body = problem.body()
    assert (problem.status, body["type"], body["field"]) == (
        status, f"https://qasid.dev/problems/{slug}", field)


def test_insufficient_credits_says_what_is_missing() -> None:
    problem = problem_of(InsufficientCredits(needed=120, available=80))
    assert problem is not None and problem.status == 402
    body = problem.body()
    assert (body["needed"], body["available"]) == (120, 80) and "120" in body["detail"]


def test_a_not_found_names_neither_owner_nor_anything_but_the_id() -> None:
    problem = problem_of(NotFound("campaign", campaign_id=12))
    assert problem is not None and problem.detail == "There is no campaign 12."


def test_errors_the_table_does_not_know_are_not_problems() -> None:
    assert problem_of(RuntimeError("boom")) is None
    with pytest.raises(ValueError):
        ApiProblem(400, "no-such-slug", "x")


def test_the_bucket_allows_the_burst_then_the_rate() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rate=2, burst=3, monotonic=clock.monotonic)
    for _ in range(3):
        limiter.take(1)
    with pytest.raises(ApiProblem) as refused:
        limiter.take(1)
    assert refused.value.status == 429 and refused.value.headers["Retry-After"] == "1"
    limiter.take(2)  # another key has its own bucket
    clock.advance(seconds=0.5)  # one token back at 2 a second
    limiter.take(1)
    with pytest.raises(ApiProblem):
        limiter.take(1)
    clock.advance(seconds=60)  # refilled to the burst, not beyond
    for _ in range(3):
        limiter.take(1)
    with pytest.raises(ApiProblem):
        limiter.take(1)


def test_cursors_come_back_as_the_id_and_a_forged_one_is_400() -> None:
    assert decode_cursor(encode_cursor(123456)) == 123456
    for forged in ("!!", encode_cursor(5) + "x", "LTE", "YWJj"):  # -1, "abc"
        with pytest.raises(ApiProblem) as refused:
            decode_cursor(forged)
        assert refused.value.status == 400 and refused.value.field == "cursor"


def test_a_page_has_a_next_cursor_only_when_more_follow() -> None:
    items = list(range(1, 6))
    full = page_body(items, Page(None, 4), id_of=lambda n: n, render=lambda n: {"n": n})
    assert [d["n"] for d in full["data"]] == [1, 2, 3, 4]
    assert decode_cursor(full["next_cursor"]) == 4
    last = page_body(items[4:], Page(4, 4), id_of=lambda n: n, render=lambda n: {"n": n})
    assert last == {"data": [{"n": 5}], "next_cursor": None}


def test_examples_made_from_the_routes_schemas_fit_them() -> None:
    for router in routers():
        for route in router.routes:
            for status, reply in route.responses.items():
                if reply.schema is not None:
                    made = example_of(reply.schema)
                    errors = list(Draft202012Validator(reply.schema).iter_errors(made))
                    assert errors == [], (route.path, status, errors[0].message)
