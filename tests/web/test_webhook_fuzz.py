"""Webhook fuzz: thousands of bodies per webhook, bad and good, through the real web app.

Each webhook gets ``BODIES`` bodies drawn from a seeded generator: its real bodies with
random fields replaced, removed or retyped, deeply nested or huge JSON, truncated and
random bytes, chunked bodies, bodies over the limit, replays, out-of-order statuses,
missing and wrong signatures, and receipts naming the owner's message from another
owner's number. The owner's message, credits and contacts may be changed by none of it:
nothing in the fuzz is both signed and bound to the message's own number. Checked: no
answer is a 5xx, no state changed, no traceback and no error in the log (bad input from
outside is at most one warning line), and the stray receipts were counted.
"""

from __future__ import annotations

import copy
import json
import logging
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from bot.domain import Language, SenderStatus
from bot.storage import owners, senders
from tests.web import test_cloud_webhook as cloud
from tests.web import test_waha_webhook as waha

BODIES = 5_000
INTRUDER_SESSION, INTRUDER_NUMBER = "intruder", "222333444555666"
ODD_VALUES: list[Any] = [
    None, True, False, 0, -1, 2**63, 1e308, float("-inf"), "", " ", "x" * 5000, "null",
    "\u0000", "\ud83d\ude00" * 100, [], [[]], {}, {"a": {}}, ["a", 1, None], 3.5, "-1",
    "9" * 40, "2026-13-45", "true", {"id": None},
]


def mutate(rng: random.Random, body: Any, depth: int = 0) -> Any:
    """The body with one random change somewhere in it."""
    if isinstance(body, dict) and body and depth < 6:
        key = rng.choice(list(body))
        roll = rng.random()
        if roll < 0.15:
            del body[key]
        elif roll < 0.25:
            body[rng.choice(["", "id", "x" * 300, "__proto__"])] = rng.choice(ODD_VALUES)
        elif roll < 0.7 and isinstance(body[key], dict | list) and body[key]:
            body[key] = mutate(rng, body[key], depth + 1)
        else:
            body[key] = copy.deepcopy(rng.choice(ODD_VALUES))
        return body
    if isinstance(body, list) and body and depth < 6:
        i = rng.randrange(len(body))
        roll = rng.random()
        if roll < 0.2:
            body.append(copy.deepcopy(body[i]))  # a replay inside one body
        elif roll < 0.4:
            body.reverse()  # out of order
        elif roll < 0.7 and isinstance(body[i], dict | list):
            body[i] = mutate(rng, body[i], depth + 1)
        else:
            body[i] = copy.deepcopy(rng.choice(ODD_VALUES))
        return body
    return copy.deepcopy(rng.choice(ODD_VALUES))


def raw_body(rng: random.Random, templates: list[Callable[[], Any]]) -> bytes:
    """One fuzzed body's bytes."""
    roll = rng.random()
    if roll < 0.04:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    if roll < 0.07:
        depth = rng.choice([50, 500, 5000, 50_000])
        return (b"[" * depth + b"]" * depth) if rng.random() < 0.5 else \
            (b'{"a":' * depth + b"1" + b"}" * depth)
    if roll < 0.09:
        return json.dumps(rng.choice(ODD_VALUES)).encode()
    body = templates[rng.randrange(len(templates))]()
    for _ in range(rng.randrange(0, 4)):
        body = mutate(rng, body)
    data = json.dumps(body).encode()
    if rng.random() < 0.05:
        return data[: rng.randrange(len(data) + 1)]  # truncated
    return data


async def fuzz(world: Any, path: str, templates: list[Callable[[], Any]],
               sign: Callable[[bytes], dict[str, str]], seed: int) -> Counter[int]:
    rng = random.Random(seed)
    answers: Counter[int] = Counter()
    for n in range(BODIES):
        data = raw_body(rng, templates)
        roll = rng.random()
        if roll < 0.1:
            headers: dict[str, str] = {}  # unsigned
        elif roll < 0.2:
            headers = sign(data + b" ")  # signed, but for other bytes
        else:
            headers = sign(data)
        content: Any = data
        if rng.random() < 0.1:  # chunked: no Content-Length
            async def chunks(data: bytes = data) -> AsyncIterator[bytes]:
                for i in range(0, len(data), 7):
                    yield data[i:i + 7]
            content = chunks()
        if n % 500 == 0:  # now and then far over the limit
            content = b"{" + b" " * (2 * 1024 * 1024) + b"}"
            headers = sign(content)
        response = await world.client.post(path, content=content, headers=headers)
        answers[response.status_code] += 1
    return answers


async def add_intruder(world: Any, gateway: str, external_id: str) -> None:
    """Another owner, with a number of their own on the same gateway."""
    async with world.db.transaction() as tx:
        other = await owners.add(tx, telegram_id=77, chat_id=77, language=Language.EN,
                                 now=world.h.clock())
        await senders.add(tx, owner_id=other.id, gateway=gateway, phone="+994559990000",
                          status=SenderStatus.ACTIVE, now=world.h.clock(),
                          external_id=external_id)


async def state(world: Any) -> tuple[Any, ...]:
    """Everything the fuzz may not change: the owner's message, ledger and contacts."""
    async with world.db.reader.execute(
            "SELECT id, status, delivered_at, read_at, error_detail FROM messages"
            " ORDER BY id") as cur:
        messages = await cur.fetchall()
    async with world.db.reader.execute("SELECT kind, amount FROM ledger ORDER BY id") as cur:
        ledger = await cur.fetchall()
    async with world.db.reader.execute(
            "SELECT phone, opted_out_at FROM contacts ORDER BY id") as cur:
        people = await cur.fetchall()
    async with world.db.reader.execute("SELECT id, status FROM senders ORDER BY id") as cur:
        numbers = await cur.fetchall()
    return tuple(map(tuple, messages)), tuple(map(tuple, ledger)), tuple(map(tuple, people)), \
        tuple(map(tuple, numbers))


def check_log(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == [], [r.getMessage() for r in bad[:5]]


@pytest.fixture
async def waha_world(db, clock) -> AsyncIterator[Any]:
    async for w in waha.make_world(db, clock):
        yield w


@pytest.fixture
async def cloud_world(db, clock, webhook_check) -> AsyncIterator[Any]:
    async for w in cloud._world(db, clock, webhook_check, cloud.APP_SECRET,
                                cloud.VERIFY_TOKEN):
        yield w


webhook_check = cloud.webhook_check  # the fixtures cloud_world needs
meta_published = cloud.meta_published


async def test_waha_webhook_fuzz_changes_nothing_and_never_fails(waha_world, caplog) -> None:
    caplog.set_level(logging.WARNING)
    await add_intruder(waha_world, "waha", INTRUDER_SESSION)
    before = await state(waha_world)

    def intruder(body: dict[str, Any]) -> dict[str, Any]:
        body["session"] = INTRUDER_SESSION
        return body

    templates: list[Callable[[], Any]] = [
        # the owner's message named from the other owner's session: never bound
        lambda: intruder(waha.ack(3, "READ")),
        lambda: intruder(waha.ack(-1, "ERROR")),
        lambda: intruder(waha.ack(2, "DEVICE", ms=1)),
        lambda: intruder(waha.session_status("WORKING")),
        lambda: intruder(waha.incoming("hello")),
        # unknown sessions and events
        lambda: waha.envelope("presence.update", {"id": waha.CHAT}, session="nobody"),
        lambda: waha.envelope("message.ack", {"id": "x"}, session="nobody"),
    ]
    answers = await fuzz(waha_world, "/webhooks/waha", templates, waha.sign, seed=1)
    assert sum(answers.values()) == BODIES
    assert not [code for code in answers if code >= 500], answers
    assert await state(waha_world) == before
    assert waha_world.h.dispatcher.receipts.ignored > 100
    check_log(caplog)


async def test_cloud_webhook_fuzz_changes_nothing_and_never_fails(cloud_world, caplog) -> None:
    caplog.set_level(logging.WARNING)
    await add_intruder(cloud_world, "cloud", INTRUDER_NUMBER)
    before = await state(cloud_world)
    other = {"number_id": INTRUDER_NUMBER}
    templates: list[Callable[[], Any]] = [
        lambda: cloud.statuses("sent", "delivered", "read", **other),
        lambda: cloud.statuses("read", "delivered", "failed", **other),  # out of order
        lambda: cloud.payload(cloud.status("failed", errors=[cloud.UNDELIVERABLE]), **other),
        lambda: cloud.text("hello", number_id=INTRUDER_NUMBER, phone="+994551112233"),
        lambda: cloud.statuses("read", number_id="999999999999999"),  # nobody's number
    ]
    answers = await fuzz(cloud_world, "/webhooks/cloud", templates,
                         lambda raw: cloud.sign(raw), seed=2)
    assert sum(answers.values()) == BODIES
    assert not [code for code in answers if code >= 500], answers
    assert await state(cloud_world) == before
    assert cloud_world.h.dispatcher.receipts.ignored > 100
    check_log(caplog)
