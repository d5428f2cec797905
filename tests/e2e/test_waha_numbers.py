"""A real WhatsApp number through WAHA, as the owner lives it: /numbers, the QR code in the
chat (refreshed), the scan, a campaign sent through the fake WAHA on 127.0.0.1, delivery
and read receipts arriving by signed webhook at Qasid's own HTTP server, /stats, and the
session FAILED mid-campaign: paused, and the ban alert with its buttons.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn

from bot.console.botapi import FakeBotApi, SentMessage
from tests.e2e.test_campaigns import CUSTOMERS, compose, credit, seed_list, up_to_pace
from tests.e2e.test_sending import ClockedHarness
from tests.fakes import FakeClock, wait_until
from tests.gateways.fake_waha import FakeWaha, serve_fake_waha

OWNER = 931
PHONE = "+994501110000"
KEY = "webhook-key"


@pytest.fixture
async def world(make_settings) -> AsyncIterator[tuple[ClockedHarness, FakeWaha]]:
    from datetime import UTC, datetime

    async with serve_fake_waha(auto_ack=True) as waha:
        # The web app is built with the bot, and the bot needs to know its own address:
        # reserve the port first, then start both.
        probe = socket.socket()
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        settings = make_settings(
            gateway="waha", waha_base_url=waha.url, waha_webhook_key=KEY,
            public_url=f"http://127.0.0.1:{port}", dispatch_interval=0,
            link_poll_interval=0.1, link_timeout=30)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(datetime.now(UTC)))
        await h.start()
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))

        class Server(uvicorn.Server):
            def capture_signals(self):
                return contextlib.nullcontext()

        server = Server(uvicorn.Config(h.qasid.web, log_config=None, lifespan="off",
                                       access_log=False))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        await wait_until(lambda: server.started)
        try:
            yield h, waha
        finally:
            server.should_exit = True
            await task
            sock.close()
            await h.stop()


def photos(api: FakeBotApi) -> list[SentMessage]:
    return [m for m in api.messages(OWNER) if m.kind == "photo"]


async def link_number(h: ClockedHarness, waha: FakeWaha, chat) -> str:
    replies = await chat.send("/numbers")
    assert "No number yet" in replies[0].text
    assert "➕ Link a WhatsApp number (QR code)" in replies[0].buttons
    assert "➕ Add a sandbox number" not in replies[0].buttons  # real numbers only

    await chat.press("➕ Link a WhatsApp number (QR code)")
    [qr] = await wait_until(lambda: photos(h.api))
    assert qr.file.content.startswith(b"\x89PNG")
    assert "Linked devices" in qr.caption
    assert qr.buttons == ["🔢 Use a pairing code instead", "✖️ Cancel"]
    [session] = waha.sessions
    assert waha.sessions[session].webhooks[0]["url"].endswith("/webhooks/waha")
    assert waha.sessions[session].webhooks[0]["hmac"] == {"key": KEY}

    first = qr.file.content
    waha.refresh_qr(session)  # WhatsApp renewed the code: the photo follows
    await wait_until(lambda: photos(h.api)[0].file.content != first)
    assert len(photos(h.api)) == 1  # the same message, edited

    replies = await chat.press("🔢 Use a pairing code instead")
    assert "Send the phone number you are linking" in replies[0].text
    replies = await chat.send("050 111 00 00")
    assert "Your code: <b>ABCD-1234</b>" in replies[0].text
    assert waha.sessions[session].pairing_phone in ("994501110000", "+994501110000")

    waha.scan(session, PHONE)
    await wait_until(lambda: any("is linked and ready to send" in m.text
                                 for m in h.api.messages(OWNER) if m.text))
    assert "Scanned: the number is linked." in photos(h.api)[0].caption
    return session


async def test_link_by_qr_send_receive_receipts_and_a_ban(world) -> None:
    h, waha = world
    chat = await h.active_owner(OWNER)
    session = await link_number(h, waha, chat)

    replies = await h.chat(OWNER).send("/numbers")  # the new process's chat
    assert PHONE in replies[0].text and "working" in replies[0].text
    assert "today 0 of 20 · warm-up day 1" in replies[0].text

    await seed_list(h, OWNER, "Müştərilər", CUSTOMERS)
    await compose(chat, "Promo", "{Salam|Hello} {{name|dostum}}")
    await credit(h, OWNER, 100)
    await chat.send("/newcampaign")
    await chat.press("📋 Müştərilər (3)")
    await chat.press("📝 Promo")
    replies = await chat.press("Next ➡️")
    await chat.press("▶️ Now")
    await chat.press("🐇 Fast")
    replies = await chat.press("✅ Confirm")
    assert "is scheduled" in replies[0].text

    waha.not_on_whatsapp.add("994701234567")  # the third customer has no WhatsApp
    await h.run(60)
    checks = [r for r in waha.requests if r.path == "/api/contacts/check-exists"]
    assert sorted(r.query["phone"] for r in checks) == sorted(
        p.removeprefix("+") for p, _, _ in CUSTOMERS)  # asked once each, before sending
    sent = waha.sent()
    assert len(sent) == 2  # the one not on WhatsApp failed without a send
    assert {r.body["session"] for r in sent} == {session}
    assert sorted(r.body["chatId"] for r in sent) == sorted(
        p.removeprefix("+") + "@c.us" for p, _, _ in CUSTOMERS[:2])
    await waha.wait_webhooks_idle()  # acks 1, 2, 3 for each, posted to /webhooks/waha
    assert waha.webhook_failures == []
    await h.qasid.services.dispatcher.events.flush_receipts()

    replies = await chat.send("/stats")
    assert "📬 delivered 2 (100% of sent)" in replies[0].text
    assert "👀 read 2" in replies[0].text
    assert "not on WhatsApp" in replies[0].text

    # a second campaign; WhatsApp drops the number while it runs
    await up_to_pace(chat, "📋 Müştərilər (3)", "📝 Promo")
    await chat.press("🐢 Safe")
    await chat.press("✅ Confirm")
    waha.set_status(session, "FAILED")
    await waha.wait_webhooks_idle()
    alert = await wait_until(lambda: [m for m in h.api.messages(OWNER)
                                      if m.text and "banned" in m.text.lower()
                                      and "Remove this number" in " ".join(m.buttons)])
    assert "🔀 Move its campaigns to another number" in alert[-1].buttons
    assert "➕ Link a new number" in alert[-1].buttons
    await h.run(30)
    assert len(waha.sent()) == 2  # nothing more went out through the lost number
    checks_after = [r for r in waha.requests if r.path == "/api/contacts/check-exists"]
    assert len(checks_after) == len(checks)  # the answers were kept
    replies = await chat.send("/numbers")
    assert "banned" in replies[0].text


async def test_a_scan_while_the_bot_was_down_is_found_at_start_up(world) -> None:
    h, waha = world
    chat = await h.active_owner(OWNER)
    await chat.send("/numbers")
    await chat.press("➕ Link a WhatsApp number (QR code)")
    await wait_until(lambda: photos(h.api))
    [session] = waha.sessions
    await h.qasid.stop()
    waha.scan(session, PHONE)  # scanned while nothing was watching
    await h.start()
    owner = await h.qasid.services.accounts.find(OWNER)
    numbers = h.qasid.services.senders
    await wait_until(lambda: h.qasid._linking is not None and h.qasid._linking.done())
    [number] = await numbers.list(owner.id)
    assert (number.phone, number.status.value) == (PHONE, "active")
    replies = await h.chat(OWNER).send("/numbers")  # the new process's chat
    assert PHONE in replies[0].text and "working" in replies[0].text
