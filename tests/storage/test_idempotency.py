"""Idempotency keys on a real SQLite file: answers kept a day, then gone; another request
under a used key refused; a key at work held for its duplicates."""

from __future__ import annotations

import asyncio

import pytest

from bot.errors import Conflict, IdempotencyMismatch
from bot.services.idempotency import (
    SWEEP_EVERY,
    Answer,
    IdempotencyService,
    fingerprint,
    valid_key,
)
from tests.fakes.owners import add_active_owner


@pytest.fixture
async def owners(db, clock) -> tuple[int, int]:
    async with db.transaction() as tx:
        a = await add_active_owner(tx, 1, clock())
        b = await add_active_owner(tx, 2, clock())
    return a.id, b.id


async def rows(db) -> int:
    async with db.reader.execute("SELECT COUNT(*) FROM idempotency_keys") as cur:
        row = await cur.fetchone()
    return row[0]


async def test_an_answer_is_replayed_for_a_day_to_its_owner_only(db, clock, owners) -> None:
    a, b = owners
    service = IdempotencyService(db, clock)
    request = fingerprint("POST", "/api/v1/messages?", b'{"to": "+994501234567"}')
    await service.store(a, "k1", request, Answer(202, b'{"id": 7}'))
    assert await service.stored(a, "k1", request) == Answer(202, b'{"id": 7}')
    assert await service.stored(b, "k1", request) is None  # another owner's key space
    clock.advance(hours=23, minutes=59)
    assert await service.stored(a, "k1", request) is not None
    clock.advance(minutes=1)
    assert await service.stored(a, "k1", request) is None  # a day old: a new request
    await service.store(a, "k1", request, Answer(202, b'{"id": 8}'))  # replaces it
    assert await service.stored(a, "k1", request) == Answer(202, b'{"id": 8}')


async def test_another_request_under_a_used_key_is_refused(db, clock, owners) -> None:
    a, _ = owners
    service = IdempotencyService(db, clock)
    await service.store(a, "k", fingerprint("POST", "/api/v1/messages?", b"{}"),
                        Answer(202, b"{}"))
    for other in (fingerprint("POST", "/api/v1/messages?", b'{"x": 1}'),
                  fingerprint("POST", "/api/v1/campaigns?", b"{}")):
        with pytest.raises(IdempotencyMismatch):
            await service.stored(a, "k", other)


async def test_expired_answers_are_swept_by_later_writes(db, clock, owners) -> None:
    a, _ = owners
    service = IdempotencyService(db, clock)
    for n in range(5):
        await service.store(a, f"old-{n}", b"x" * 32, Answer(201, b"{}"))
    assert await rows(db) == 5
    clock.advance(hours=25)
    await service.store(a, "new", b"y" * 32, Answer(201, b"{}"))
    assert await rows(db) == 1  # the first write after SWEEP_EVERY took the old ones
    clock.advance(hours=25)
    await service.store(a, "newer", b"z" * 32, Answer(201, b"{}"))
    clock.advance(seconds=SWEEP_EVERY.total_seconds() / 2)
    await service.store(a, "newest", b"w" * 32, Answer(201, b"{}"))  # too soon to sweep
    assert await rows(db) == 2
    assert await service.sweep() == 0
    clock.advance(hours=25)
    assert await service.sweep() == 2 and await rows(db) == 0


async def test_a_key_at_work_holds_its_duplicates_then_lets_them_in(db, clock) -> None:
    service = IdempotencyService(db, clock, wait=0.05)
    entered: list[str] = []
    release = asyncio.Event()

    async def first() -> None:
        async with service.claim(1, "k"):
            entered.append("first")
            await release.wait()

    task = asyncio.create_task(first())
    await asyncio.sleep(0)
    with pytest.raises(Conflict) as refused:  # still at work after ``wait``
        async with service.claim(1, "k"):
            entered.append("too soon")
    assert refused.value.reason == "idempotency_in_progress"
    async with service.claim(1, "other"):  # another key is not held
        entered.append("other")
    release.set()
    await task
    async with service.claim(1, "k"):
        entered.append("after")
    assert entered == ["first", "other", "after"]


def test_a_key_is_1_to_255_printable_ascii_characters() -> None:
    assert valid_key("3f2c1b9e-0d1a-4c55-9d0e-6d8f0b7a1c22") and valid_key("x" * 255)
    assert not any(valid_key(k) for k in ("", "x" * 256, "ключ", "a\nb"))
