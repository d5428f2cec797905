"""The sandbox gateway behaves like a remote WhatsApp gateway, deterministically."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.gateways.base import (
    ErrorCategory,
    GatewayError,
    GatewayEvent,
    IncomingMessage,
    Media,
    Receipt,
    ReceiptStatus,
    SenderRef,
    SenderState,
    SenderStateChanged,
    WhatsAppGateway,
)
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from tests.fakes import FakeClock, wait_until

SENDER = SenderRef(sender_id=1, phone="+994501234567")
OTHER_SENDER = SenderRef(sender_id=2, phone="+994507654321")
FAST = SandboxConfig(delivery_delay=0.03, read_delay=0.03, read_share=1.0, invalid_share=0.0)
# Asyncio may fire a timer up to its clock resolution early; allow that much.
TIMER_SLACK = 0.01
WAIT_LIMIT = 2.0
START = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


class Recorder:
    """An event handler that remembers what arrived, and when (loop time)."""

    def __init__(self) -> None:
        self.events: list[GatewayEvent] = []
        self.times: list[float] = []
        self._changed = asyncio.Event()

    async def __call__(self, event: GatewayEvent) -> None:
        self.events.append(event)
        self.times.append(asyncio.get_running_loop().time())
        self._changed.set()

    def receipts(self, status: ReceiptStatus | None = None) -> list[Receipt]:
        return [
            e
            for e in self.events
            if isinstance(e, Receipt) and (status is None or e.status is status)
        ]

    def state_changes(self) -> list[SenderStateChanged]:
        return [e for e in self.events if isinstance(e, SenderStateChanged)]

    async def wait_until(self, done: Callable[[Recorder], bool]) -> None:
        """Wait (at most WAIT_LIMIT seconds) until ``done`` holds for what arrived."""
        async with asyncio.timeout(WAIT_LIMIT):
            while not done(self):
                self._changed.clear()
                await self._changed.wait()


def numbers(count: int, start: int = 0) -> list[str]:
    return [f"+99450{n:07d}" for n in range(start, start + count)]


async def make(
    config: SandboxConfig = FAST, clock: Callable[[], datetime] | None = None
) -> tuple[SandboxGateway, Recorder]:
    gateway = SandboxGateway(config, clock=clock)
    recorder = Recorder()
    gateway.set_event_handler(recorder)
    return gateway, recorder


def test_sandbox_is_a_whatsapp_gateway() -> None:
    gateway = SandboxGateway(SandboxConfig())
    assert isinstance(gateway, WhatsAppGateway)
    assert gateway.kind == "sandbox"


async def test_receipts_arrive_after_the_delays_delivered_then_read() -> None:
    gateway, recorder = await make()
    loop = asyncio.get_running_loop()

    sent_at = loop.time()
    result = await gateway.send_text(SENDER, "+994551112233", "Salam!")
    await asyncio.sleep(0)  # give any wrongly immediate receipt a chance to show up

    assert recorder.events == []
    assert gateway.pending_receipts == 2

    await recorder.wait_until(lambda r: len(r.receipts(ReceiptStatus.READ)) == 1)
    await gateway.close()

    assert [(e.message_id, e.status) for e in recorder.receipts()] == [
        (result.message_id, ReceiptStatus.DELIVERED),
        (result.message_id, ReceiptStatus.READ),
    ]
    delivered_at, read_at = recorder.times
    assert delivered_at - sent_at >= FAST.delivery_delay - TIMER_SLACK
    assert read_at - delivered_at >= FAST.read_delay - TIMER_SLACK
    assert gateway.pending_receipts == 0


async def test_timestamps_come_from_the_injected_clock() -> None:
    clock = FakeClock(START)
    gateway, recorder = await make(clock=clock)

    result = await gateway.send_text(SENDER, "+994551112233", "Salam!")
    clock.now += timedelta(minutes=5)
    await recorder.wait_until(lambda r: len(r.receipts()) == 2)
    await gateway.close()

    assert result.accepted_at == datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    assert [r.at for r in recorder.receipts()] == [clock.now, clock.now]


async def test_read_share_zero_means_delivered_but_never_read() -> None:
    gateway, recorder = await make(replace(FAST, read_share=0.0, read_delay=0.01))

    for phone in numbers(5):
        await gateway.send_text(SENDER, phone, "Hello")
    await recorder.wait_until(lambda r: len(r.receipts(ReceiptStatus.DELIVERED)) == 5)
    assert gateway.pending_receipts == 0  # no read receipt waits to be sent either
    await gateway.close()

    assert recorder.receipts(ReceiptStatus.READ) == []


async def _run(seed: int) -> tuple[list[str], set[str], set[str]]:
    """Check numbers, send to the valid ones from two senders; what did the gateway say?"""
    config = SandboxConfig(
        delivery_delay=0.01, read_delay=0.01, read_share=0.5, invalid_share=0.2, seed=seed
    )
    gateway, recorder = await make(config)
    checks = [await gateway.check_number(SENDER, phone) for phone in numbers(200)]
    invalid = {c.phone for c in checks if not c.on_whatsapp}
    ids = []
    for i, check in enumerate(c for c in checks if c.on_whatsapp):
        if i == 40:
            break
        sender = SENDER if i % 2 else OTHER_SENDER
        ids.append((await gateway.send_text(sender, check.phone, "Hi")).message_id)
    await recorder.wait_until(
        lambda r: len(r.receipts(ReceiptStatus.DELIVERED)) == 40 and gateway.pending_receipts == 0
    )
    await gateway.close()
    read = {r.message_id for r in recorder.receipts(ReceiptStatus.READ)}
    return ids, invalid, read


async def test_same_seed_gives_the_same_ids_invalid_numbers_and_reads() -> None:
    ids_a, invalid_a, read_a = await _run(seed=7)
    ids_b, invalid_b, read_b = await _run(seed=7)

    assert ids_a == ids_b
    assert ids_a[:4] == ["sbx-2-1", "sbx-1-1", "sbx-2-2", "sbx-1-2"]
    assert invalid_a == invalid_b
    assert read_a == read_b
    assert 0 < len(read_a) < 40
    assert 0 < len(invalid_a) < 200


async def test_a_different_seed_gives_different_invalid_numbers_and_reads() -> None:
    _, invalid_a, read_a = await _run(seed=7)
    _, invalid_b, read_b = await _run(seed=8)

    assert invalid_a != invalid_b
    assert read_a != read_b


async def test_invalid_share_half_makes_about_half_the_numbers_unknown() -> None:
    gateway = SandboxGateway(SandboxConfig(invalid_share=0.5, seed=3))

    checks = [await gateway.check_number(SENDER, phone) for phone in numbers(1000)]
    unknown = sum(not c.on_whatsapp for c in checks)

    assert 430 <= unknown <= 570
    again = SandboxGateway(SandboxConfig(invalid_share=0.5, seed=3))
    assert [await again.check_number(OTHER_SENDER, c.phone) for c in checks[:50]] == checks[:50]


async def test_sending_to_a_number_not_on_whatsapp_fails_and_schedules_nothing() -> None:
    gateway, _ = await make(replace(FAST, invalid_share=0.5))
    phone = next(p for p in numbers(100) if not gateway.on_whatsapp(p))

    with pytest.raises(GatewayError) as caught:
        await gateway.send_text(SENDER, phone, "Hello")

    assert caught.value.category is ErrorCategory.RECIPIENT_INVALID
    assert gateway.pending_receipts == 0
    await gateway.close()


@pytest.mark.parametrize(
    "phone", ["994501234567", "+1234567", "+0994501234567", "+9945012345678901", "+99450 123", ""]
)
async def test_a_number_that_is_not_e164_is_an_invalid_recipient(phone: str) -> None:
    gateway, _ = await make()

    assert (await gateway.check_number(SENDER, phone)).on_whatsapp is False
    with pytest.raises(GatewayError) as caught:
        await gateway.send_text(SENDER, phone, "Hello")
    assert caught.value.category is ErrorCategory.RECIPIENT_INVALID


@pytest.mark.parametrize("text", ["", "   \n", "x" * 4097])
async def test_empty_or_too_long_text_is_rejected(text: str) -> None:
    gateway, _ = await make()

    with pytest.raises(GatewayError) as caught:
        await gateway.send_text(SENDER, "+994551112233", text)

    assert caught.value.category is ErrorCategory.REJECTED
    assert gateway.pending_receipts == 0


@pytest.mark.parametrize(
    ("media", "caption"),
    [
        (Media(kind="video", url="https://example.org/a.mp4"), None),
        (Media(kind="image", url="https://example.org/a.png"), "x" * 1025),
        (Media(kind="document"), "no file at all"),
    ],
)
async def test_unsupported_media_or_long_caption_is_rejected(
    media: Media, caption: str | None
) -> None:
    gateway, _ = await make()

    with pytest.raises(GatewayError) as caught:
        await gateway.send_media(SENDER, "+994551112233", media, caption)

    assert caught.value.category is ErrorCategory.REJECTED


async def test_longest_allowed_text_and_caption_are_accepted_with_receipts() -> None:
    gateway, recorder = await make(replace(FAST, read_share=0.0))

    text = await gateway.send_text(SENDER, "+994551112233", "x" * 4096)
    image = await gateway.send_media(
        SENDER, "+994551112233", Media(kind="image", data=b"\x89PNG"), "y" * 1024
    )
    document = await gateway.send_media(
        SENDER, "+994551112233", Media(kind="document", url="https://example.org/price.pdf")
    )
    await recorder.wait_until(lambda r: len(r.receipts()) == 3)
    await gateway.close()

    assert {r.message_id for r in recorder.receipts(ReceiptStatus.DELIVERED)} == {
        text.message_id,
        image.message_id,
        document.message_id,
    }


async def test_ban_after_n_messages_bans_the_sender_at_message_n_plus_one() -> None:
    gateway, recorder = await make(replace(FAST, ban_after=3))

    for phone in numbers(3):
        await gateway.send_text(SENDER, phone, "Promo")
    for phone in numbers(2, start=10):
        with pytest.raises(GatewayError) as caught:
            await gateway.send_text(SENDER, phone, "Promo")
        assert caught.value.category is ErrorCategory.SENDER_BANNED

    assert (await gateway.sender_status(SENDER)).state is SenderState.BANNED
    assert (await gateway.sender_status(OTHER_SENDER)).state is SenderState.WORKING
    await gateway.send_text(OTHER_SENDER, "+994551112233", "Promo")

    await recorder.wait_until(lambda r: len(r.receipts(ReceiptStatus.READ)) == 4)
    await gateway.close()
    [change] = recorder.state_changes()
    assert change.sender_id == SENDER.sender_id
    assert change.health.state is SenderState.BANNED


async def test_ban_event_is_asynchronous_like_a_webhook() -> None:
    gateway, recorder = await make(replace(FAST, ban_after=1))

    await gateway.send_text(SENDER, "+994551112233", "Promo")
    assert recorder.state_changes() == []  # the send returned before the event

    await recorder.wait_until(lambda r: len(r.state_changes()) == 1)
    await gateway.close()


async def test_ban_on_cue_then_unban_lets_the_sender_send_again() -> None:
    gateway, recorder = await make(replace(FAST, ban_after=2))
    await gateway.send_text(SENDER, "+994551112233", "1")

    await gateway.ban(SENDER.sender_id)
    await gateway.ban(SENDER.sender_id)  # already banned: no second event
    with pytest.raises(GatewayError) as caught:
        await gateway.send_text(SENDER, "+994551112233", "2")
    assert caught.value.category is ErrorCategory.SENDER_BANNED

    await gateway.unban(SENDER.sender_id)
    first = await gateway.send_text(SENDER, "+994551112233", "3")
    await gateway.send_text(SENDER, "+994551112233", "4")  # the ban_after count restarted
    await gateway.close()

    assert first.message_id == "sbx-1-2"
    assert [c.health.state for c in recorder.state_changes()] == [
        SenderState.BANNED,
        SenderState.WORKING,
    ]


async def test_restricted_sender_cannot_send_until_the_restriction_lifts() -> None:
    clock = FakeClock(START)
    gateway, recorder = await make(clock=clock)
    until = clock.now + timedelta(hours=24)

    await gateway.restrict(SENDER.sender_id, until)
    with pytest.raises(GatewayError) as caught:
        await gateway.send_text(SENDER, "+994551112233", "Hello")
    health = await gateway.sender_status(SENDER)

    assert caught.value.category is ErrorCategory.SENDER_RESTRICTED
    assert (health.state, health.until) == (SenderState.RESTRICTED, until)
    assert [c.health.state for c in recorder.state_changes()] == [SenderState.RESTRICTED]

    clock.now = until
    assert (await gateway.sender_status(SENDER)).state is SenderState.WORKING
    await gateway.send_text(SENDER, "+994551112233", "Hello")
    await gateway.close()


async def test_close_cancels_pending_receipts_and_leaves_no_tasks() -> None:
    gateway, recorder = await make(replace(FAST, ban_after=3))
    for phone in numbers(3):
        await gateway.send_text(SENDER, phone, "Hello")  # the 3rd also schedules a ban event
    assert gateway.pending_receipts == 6
    loop = asyncio.get_running_loop()

    started = loop.time()
    await gateway.close()
    assert loop.time() - started < FAST.delivery_delay / 2  # cancelled, not waited out
    await asyncio.sleep(FAST.delivery_delay + FAST.read_delay + 0.03)

    assert recorder.events == []
    assert gateway.pending_receipts == 0
    assert asyncio.all_tasks() == {asyncio.current_task()}
    with pytest.raises(GatewayError) as caught:
        await gateway.send_text(OTHER_SENDER, "+994551112233", "Hello")
    assert caught.value.category is ErrorCategory.TRANSIENT


async def test_a_failing_handler_does_not_stop_later_receipts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gateway, recorder = await make(replace(FAST, read_share=0.0))
    calls = 0

    async def flaky(event: GatewayEvent) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("database is locked")
        await recorder(event)

    gateway.set_event_handler(flaky)
    first = await gateway.send_text(SENDER, "+994551112233", "Secret discount code XYZ")
    second = await gateway.send_text(SENDER, "+994551112244", "Secret discount code XYZ")
    await recorder.wait_until(lambda r: len(r.receipts()) == 1)
    await gateway.close()

    assert [r.message_id for r in recorder.receipts()] == [second.message_id]
    [record] = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert first.message_id in record.getMessage()
    assert record.exc_info is not None
    assert "XYZ" not in caplog.text


async def test_without_a_handler_receipts_are_dropped_quietly() -> None:
    gateway = SandboxGateway(replace(FAST, delivery_delay=0.01, read_delay=0.01))

    await gateway.send_text(SENDER, "+994551112233", "Hello")
    await wait_until(lambda: gateway.pending_receipts == 0, what="both receipts dropped")
    await gateway.close()


async def test_logs_never_contain_message_bodies_or_customer_numbers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.gateways.sandbox")
    gateway = SandboxGateway(replace(FAST, delivery_delay=0.01, read_delay=0.01, ban_after=1))

    await gateway.send_text(SENDER, "+994551112233", "Your code is 4321")
    await gateway.simulate_incoming(SENDER.sender_id, "+994551112233", "STOP 4321")
    await wait_until(lambda: gateway.pending_receipts == 0, what="receipts and ban logged")
    await gateway.close()

    assert "sbx-1-1" in caplog.text
    assert "4321" not in caplog.text
    assert "+994551112233" not in caplog.text


async def test_incoming_reply_reaches_the_handler() -> None:
    clock = FakeClock(START)
    gateway, recorder = await make(clock=clock)

    await gateway.simulate_incoming(SENDER.sender_id, "+994551112233", "STOP")
    await gateway.close()

    assert recorder.events == [
        IncomingMessage(
            sender_id=SENDER.sender_id, from_phone="+994551112233", text="STOP", at=clock.now
        )
    ]


async def test_latency_is_simulated_per_call() -> None:
    gateway = SandboxGateway(replace(FAST, latency=0.03))
    loop = asyncio.get_running_loop()

    started = loop.time()
    await gateway.check_number(SENDER, "+994551112233")

    assert loop.time() - started >= 0.03 - TIMER_SLACK
    await gateway.close()


@pytest.mark.parametrize(
    "bad",
    [{"invalid_share": 1.5}, {"read_share": -0.1}, {"delivery_delay": -1}, {"ban_after": -1}],
)
def test_nonsense_config_is_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        SandboxConfig(**bad)  # type: ignore[arg-type]
