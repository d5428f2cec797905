"""The inbox, end to end: customers' messages of every kind reach the owner in Telegram
(their own chat, or a forum topic per customer in a linked group) and the owner's (or a
colleague's) answer goes back through the same number, media included.

Sandbox numbers for the chat; a WAHA session on the fake WAHA (real HTTP) and a Cloud API
number on the fake Cloud API for the topics and the adapters, their webhooks posted,
signed, to Qasid's own web app.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bot.console.botapi import FakeBotApi, FakeGroup, FakeUser, SentMessage
from bot.console.driver import GroupDriver
from bot.domain import SenderStatus
from bot.gateways.base import IncomingKind, Media
from bot.storage import senders
from tests.e2e.test_campaigns import CUSTOMERS, compose, credit, seed_list, up_to_pace
from tests.e2e.test_sending import ClockedHarness, prepared_owner
from tests.fakes import FakeClock
from tests.gateways.fake_cloud import FakeCloud, serve_fake_cloud
from tests.gateways.fake_waha import FakeWaha, serve_fake_waha
from tests.web import test_cloud_webhook as cloud_bodies
from tests.web import test_waha_webhook as waha_bodies

OWNER = 951
ALI = CUSTOMERS[0][0]  # +994501234567, "Əli Həsənov"
PHOTO = b"\xff\xd8\xff\xe0 the shop front"
VOICE = b"OggS\x00\x02 a voice note"


@pytest.fixture
async def make_harness(make_settings) -> AsyncIterator:
    made: list[ClockedHarness] = []

    async def make(**overrides: Any) -> ClockedHarness:
        settings = make_settings(dispatch_interval=0, sandbox_invalid_share=0, **overrides)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(datetime.now(UTC)))
        await h.start()
        made.append(h)
        return h

    yield make
    for h in made:
        await h.stop()


async def messages_since(h: ClockedHarness, chat_id: int, before: int) -> list[SentMessage]:
    await h.qasid.services.inbox.drain()
    return h.api.messages(chat_id)[before:]


async def sent_campaign(h: ClockedHarness, chat) -> None:
    """The owner's campaign "Promo" to the three customers, all sent."""
    await up_to_pace(chat, "📋 Müştərilər (3)", "📝 Promo")
    await chat.press("🐇 Fast")
    replies = await chat.press("✅ Confirm")
    if "Send it anyway?" in replies[0].text:  # a warning asks once more
        replies = await chat.press("Yes, send to 3")
    assert "is scheduled" in replies[0].text
    await h.run(60)


async def balance(h: ClockedHarness, telegram_id: int) -> int:
    owner = await h.qasid.services.accounts.find(telegram_id)
    return (await h.qasid.services.billing.balance(owner.id)).available


# -- chat mode (sandbox numbers) -------------------------------------------------------------


async def test_chat_mode_a_reply_reaches_the_owner_who_answers_with_text_and_a_photo(
    make_harness,
) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, OWNER)
    await sent_campaign(h, chat)
    owner = await h.qasid.services.accounts.find(OWNER)
    [number] = await h.qasid.services.campaigns.usable_senders(owner.id)
    sandbox = h.qasid.gateway.get("sandbox")
    credits = await balance(h, OWNER)

    before = len(h.api.messages(OWNER))
    await sandbox.simulate_incoming(number.id, ALI, "Salam! <b>Sabah</b> açıqsınız?",
                                    message_id="sbx-in-1")
    [shown] = await messages_since(h, OWNER, before)
    assert "💬 <b>Əli Həsənov</b> · +994501234567" in shown.text
    assert f"📱 to {number.label or number.phone}" in shown.text
    assert "📣 answers «Promo · Müştərilər»" in shown.text
    assert "Salam! &lt;b&gt;Sabah&lt;/b&gt; açıqsınız?" in shown.text  # their words escaped
    assert shown.buttons == ["↩️ Reply", "🚫 Opt out", "🔕 Mute"]

    replies = await chat.press("↩️ Reply")
    assert "Type your answer to <b>Əli Həsənov</b> (+994501234567)" in replies[-1].text
    replies = await chat.send("Bəli, 10:00-dan açığıq 🙂")
    assert "✅ Sent to +994501234567" in replies[-1].text
    assert await balance(h, OWNER) == credits - 1
    replies = await chat.send("and this goes nowhere")  # the prompt closed with the answer
    assert not any("Sent to" in r.text for r in replies)

    # a photo from the customer arrives as a photo; the owner answers with one
    before = len(h.api.messages(OWNER))
    await sandbox.simulate_incoming(number.id, ALI, "Bu rəng var?", kind=IncomingKind.IMAGE,
                                    media=Media("image", data=PHOTO, mimetype="image/jpeg"))
    [photo] = await messages_since(h, OWNER, before)
    assert photo.kind == "photo" and photo.file.content == PHOTO
    assert "Bu rəng var?" in photo.caption and photo.buttons[0] == "↩️ Reply"
    await chat.press("↩️ Reply")
    picture = h.api.add_file(b"\x89PNG\r\n\x1a\n our colours", "colours.png", "image/png")
    replies = await chat.step(h.api.photo_update(chat.user, picture, caption="Bunlar var"))
    assert "✅ Sent to +994501234567" in replies[-1].text
    assert await balance(h, OWNER) == credits - 2

    card = await chat.send(f"/contact {ALI}")
    assert "Bəli, 10:00-dan açığıq 🙂" in card[0].text  # the answer, kept
    assert "Bu rəng var?" in card[0].text and "Salam!" in card[0].text


async def test_stop_words_still_opt_out_and_a_muted_customer_is_no_longer_forwarded(
    make_harness,
) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, OWNER)
    owner = await h.qasid.services.accounts.find(OWNER)
    await chat.send("/numbers")
    [number] = await h.qasid.services.campaigns.usable_senders(owner.id)
    sandbox = h.qasid.gateway.get("sandbox")

    before = len(h.api.messages(OWNER))
    await sandbox.simulate_incoming(number.id, CUSTOMERS[1][0], "STOP")
    assert await messages_since(h, OWNER, before) == []  # acted on, not forwarded
    card = await chat.send(f"/contact {CUSTOMERS[1][0]}")
    assert "🚫 Opted out" in card[0].text

    await sandbox.simulate_incoming(number.id, ALI, "Salam")
    await h.qasid.services.inbox.drain()
    await chat.press("🔕 Mute")
    assert "is muted" in chat.texts()[-1]
    before = len(h.api.messages(OWNER))
    await sandbox.simulate_incoming(number.id, ALI, "Salam yenə")
    assert await messages_since(h, OWNER, before) == []
    card = await chat.send(f"/contact {ALI}")
    assert "Salam yenə" in card[0].text and "🔕 Muted in the inbox" in card[0].text
    await chat.press("🔔 Unmute")
    before = len(h.api.messages(OWNER))
    await sandbox.simulate_incoming(number.id, ALI, "Hələ burdayam")
    [shown] = await messages_since(h, OWNER, before)
    assert "Hələ burdayam" in shown.text


# -- topics mode: a WAHA number, a forum group ---------------------------------------------

KEY = "webhook-key"
AYSEL = waha_bodies.CUSTOMER  # +994500000000, writing from waha_bodies.CHAT
GROUP = -1001555000111
COLLEAGUE = FakeUser(id=961, first_name="Kamran")


async def add_number(h: ClockedHarness, telegram_id: int, gateway: str, external_id: str,
                     phone: str):
    owner = await h.qasid.services.accounts.find(telegram_id)
    async with h.qasid.db.transaction() as tx:
        return await senders.add(tx, owner_id=owner.id, gateway=gateway, phone=phone,
                                 status=SenderStatus.ACTIVE, now=h.clock(),
                                 external_id=external_id)


class Webhooks:
    """Signed webhook POSTs to Qasid's own web app."""

    def __init__(self, h: ClockedHarness) -> None:
        self.h = h

    async def post(self, path: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        raw = json.dumps(body).encode()
        transport = httpx.ASGITransport(app=self.h.qasid.web)
        async with httpx.AsyncClient(transport=transport, base_url="http://qasid") as client:
            response = await client.post(path, content=raw, headers=headers(raw)
                                         if callable(headers) else headers)
        assert response.status_code == 200
        await self.h.qasid.services.inbox.drain()

    async def waha(self, body: dict[str, Any]) -> None:
        await self.post("/webhooks/waha", body, lambda raw: waha_bodies.sign(raw, KEY))

    async def cloud(self, body: dict[str, Any]) -> None:
        await self.post("/webhooks/cloud", body, cloud_bodies.sign)


@pytest.fixture
async def waha_world(make_settings) -> AsyncIterator[tuple[ClockedHarness, FakeWaha]]:
    async with serve_fake_waha() as waha:
        waha.add_session("shop")
        settings = make_settings(gateway="waha", waha_base_url=waha.url,
                                 waha_webhook_key=KEY, dispatch_interval=0)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(datetime.now(UTC)))
        await h.start()
        try:
            yield h, waha
        finally:
            await h.stop()


async def link_group(h: ClockedHarness, chat, group: FakeGroup, member: FakeUser) -> GroupDriver:
    """The owner asks for a code in their chat; a member types it in the forum group."""
    replies = await chat.send("/inbox")
    assert "Customers' messages come to this chat" in replies[0].text
    replies = await chat.press("👥 Use a forum group")
    steps = replies[-1].text
    assert "Manage topics" in steps and "/linkinbox " in steps
    code = steps.split("/linkinbox ", 1)[1].split("<", 1)[0].strip()
    in_group = GroupDriver(h.qasid.application, h.api, group, member)
    replies = await in_group.send(f"/linkinbox@qasid_bot {code}")
    assert "✅ Linked" in replies[-1].text
    return in_group


async def test_topics_mode_each_kind_lands_in_the_customers_topic_and_answers_go_back(
    waha_world,
) -> None:
    h, waha = waha_world
    chat = await h.active_owner(OWNER)
    await seed_list(h, OWNER, "Müştərilər", [(AYSEL, "Aysel Quliyeva", "{}")])
    await credit(h, OWNER, 100)
    await add_number(h, OWNER, "waha", "shop", "+994509990000")
    group = h.api.add_group(FakeGroup(GROUP, "Gül Evi · müştərilər",
                                      members={OWNER: chat.user}))
    in_group = await link_group(h, chat, group, COLLEAGUE)
    assert "is now the group «Gül Evi · müştərilər»" in h.api.last_message(OWNER).text
    replies = await chat.send("/inbox")
    assert "go to the forum group «Gül Evi · müştərilər»" in replies[0].text
    hooks = Webhooks(h)
    in_chat = len(h.api.messages(OWNER))

    await hooks.waha(waha_bodies.incoming("Salam, sifarişim hazırdır?"))
    [topic] = group.topics
    assert group.topics[topic] == "Aysel Quliyeva · +994500000000"
    [first] = h.api.topic_messages(GROUP, topic)
    assert "Salam, sifarişim hazırdır?" in first.text and "📱 to +994509990000" in first.text
    assert len(h.api.messages(OWNER)) == in_chat  # nothing in the owner's chat

    photo_url = waha.add_file("shop/photo.jpeg", PHOTO, "image/jpeg")
    voice_url = waha.add_file("shop/voice.oga", VOICE, "audio/ogg; codecs=opus")
    pdf_url = waha.add_file("shop/sifaris.pdf", b"%PDF-1.7 order", "application/pdf")
    for body in (waha_bodies.media_message("image/jpeg", caption="Bu rəngdə", url=photo_url),
                 waha_bodies.media_message("audio/ogg; codecs=opus", url=voice_url),
                 waha_bodies.media_message("application/pdf", url=pdf_url,
                                           filename="sifaris.pdf"),
                 waha_bodies.location_message(), waha_bodies.vcard_message()):
        body["payload"]["id"] += str(len(h.api.topic_messages(GROUP, topic)))  # a new message
        await hooks.waha(body)
    posts = h.api.topic_messages(GROUP, topic)
    assert [m.kind for m in posts] == ["text", "photo", "voice", "document", "text", "text"]
    assert posts[1].file.content == PHOTO and "Bu rəngdə" in posts[1].caption
    assert posts[2].file.content == VOICE
    assert posts[3].file.content == b"%PDF-1.7 order" and posts[3].file.file_name == "sifaris.pdf"
    assert "https://maps.google.com/?q=40.409300,49.867100" in posts[4].text
    assert "Leyla Məmmədova: +994 50 222 33 44" in posts[5].text
    assert len(group.topics) == 1  # one topic per customer

    # the colleague answers in the topic: text, then a photo, through the same session
    credits = await balance(h, OWNER)
    replies = await in_group.send("Bəli, hazırdır. Saat 18:00-a qədər gələ bilərsiniz.",
                                  thread=topic)
    assert replies[-1].text == "✅ Sent. 1 credit used." and replies[-1].message.thread_id == topic
    await in_group.send_photo(b"\xff\xd8 the order, packed", thread=topic, caption="Hazırdır")
    [text, image] = waha.sent()
    assert text.path == "/api/sendText" and text.body["session"] == "shop"
    assert text.body["chatId"] == waha_bodies.CHAT
    assert text.body["text"] == "Bəli, hazırdır. Saat 18:00-a qədər gələ bilərsiniz."
    assert image.path == "/api/sendImage" and image.body["caption"] == "Hazırdır"
    assert base64.b64decode(image.body["file"]["data"]) == b"\xff\xd8 the order, packed"
    assert await balance(h, OWNER) == credits - 2

    # the topic deleted in Telegram: the customer's next message opens a new one
    h.api.delete_topic(GROUP, topic)
    body = waha_bodies.incoming("Yenə mən")
    body["payload"]["id"] += "9"
    await hooks.waha(body)
    [again] = group.topics
    assert again != topic and "Yenə mən" in h.api.topic_messages(GROUP, again)[0].text


async def test_a_group_that_turned_the_bot_out_sends_the_messages_to_the_owners_chat(
    waha_world,
) -> None:
    h, _waha = waha_world
    chat = await h.active_owner(OWNER)
    await add_number(h, OWNER, "waha", "shop", "+994509990000")
    group = h.api.add_group(FakeGroup(GROUP, "Gül Evi"))
    await link_group(h, chat, group, COLLEAGUE)
    hooks = Webhooks(h)
    before = len(h.api.messages(OWNER))
    await hooks.waha(waha_bodies.incoming("Please stop sending me these"))  # asks to stop
    [topic] = group.topics
    assert "Please stop sending me these" in h.api.topic_messages(GROUP, topic)[0].text
    [decide] = h.api.messages(OWNER)[before:]  # the one-tap decision stays in the chat
    assert decide.buttons == ["🚫 Opt out", "Keep"]

    h.api.remove_bot(GROUP)
    body = waha_bodies.incoming("Salam?")
    body["payload"]["id"] += "2"
    await hooks.waha(body)
    [shown] = h.api.messages(OWNER)[before + 1:]
    assert "Salam?" in shown.text and shown.buttons[0] == "↩️ Reply"


async def test_a_group_links_only_with_its_owners_code_rights_and_topics(waha_world) -> None:
    h, _waha = waha_world
    chat = await h.active_owner(OWNER)
    other = await h.active_owner(OWNER + 1, name="Bəhram", company="Beta LLC",
                                 phone="+994502220000")
    plain = h.api.add_group(FakeGroup(-1001, "no topics", is_forum=False))
    weak = h.api.add_group(FakeGroup(-1002, "bot not admin", bot_status="member"))
    mine = h.api.add_group(FakeGroup(-1003, "Gül Evi"))
    for group, expected in ((plain, "turn on Topics"), (weak, "Make me an administrator"),
                            (mine, "wrong or expired")):
        replies = await GroupDriver(h.qasid.application, h.api, group, COLLEAGUE).send(
            "/linkinbox ABCD2345")
        assert expected in replies[-1].text
    await link_group(h, chat, mine, COLLEAGUE)
    # owner B's own code typed in A's group: the group stays A's
    await other.send("/inbox")
    steps = (await other.press("👥 Use a forum group"))[-1].text
    code = steps.split("/linkinbox ", 1)[1].split("<", 1)[0].strip()
    replies = await GroupDriver(h.qasid.application, h.api, mine, COLLEAGUE).send(
        f"/linkinbox {code}")
    assert "already another account's inbox" in replies[-1].text
    b = await h.qasid.services.accounts.find(OWNER + 1)
    assert not (await h.qasid.services.inbox.settings(b.id)).topics


async def test_two_owners_never_see_each_others_customers_or_topics(waha_world) -> None:
    h, waha = waha_world
    a_chat = await h.active_owner(OWNER)
    b_chat = await h.active_owner(OWNER + 1, name="Bəhram", company="Beta LLC",
                                  phone="+994502220000")
    await add_number(h, OWNER, "waha", "shop", "+994509990000")
    await credit(h, OWNER, 10)
    await credit(h, OWNER + 1, 10)
    waha.add_session("beta")
    await add_number(h, OWNER + 1, "waha", "beta", "+994508880000")
    a_group = h.api.add_group(FakeGroup(GROUP, "A inbox"))
    await link_group(h, a_chat, a_group, COLLEAGUE)
    hooks = Webhooks(h)
    b_before = len(h.api.messages(OWNER + 1))

    await hooks.waha(waha_bodies.incoming("Alfa mağazasına salam"))  # to A's session
    to_b = waha_bodies.incoming("Beta mağazasına salam", chat=waha_bodies.CHAT)
    to_b["session"] = "beta"
    await hooks.waha(to_b)
    [a_topic] = a_group.topics
    assert h.api.topic_messages(GROUP, a_topic)[0].text.endswith("Alfa mağazasına salam")
    b_seen = " ".join(m.text or "" for m in h.api.messages(OWNER + 1)[b_before:])
    assert "Beta mağazasına salam" in b_seen and "Alfa" not in b_seen
    assert "Beta" not in " ".join(m.text or "" for m in h.api.messages(GROUP))
    # B's answer goes through B's number, never A's session
    await b_chat.press("↩️ Reply")
    replies = await b_chat.send("Salam, Beta buradadır")
    assert "✅ Sent to +994500000000" in replies[-1].text, replies[-1].text
    [sent] = waha.sent()
    assert sent.body["session"] == "beta"
    # a topic message in A's group answers A's customer only through A's session
    await GroupDriver(h.qasid.application, h.api, a_group, COLLEAGUE).send("Alfa cavab",
                                                                            thread=a_topic)
    assert [r.body["session"] for r in waha.sent()] == ["beta", "shop"]


# -- a Cloud API number: attachments, the 24-hour window ----------------------------------

CLOUD_TOKEN = "EAAGinboxTestToken000000001"


@pytest.fixture
async def cloud_world(make_settings) -> AsyncIterator[tuple[ClockedHarness, FakeCloud]]:
    with serve_fake_cloud() as cloud:
        cloud.add_number(cloud_bodies.PHONE_NUMBER_ID, CLOUD_TOKEN)
        settings = make_settings(gateway="cloud", cloud_graph_url=cloud.url,
                                 cloud_app_secret=cloud_bodies.APP_SECRET,
                                 cloud_verify_token="verify", dispatch_interval=0)
        h = ClockedHarness(FakeBotApi(), settings, FakeClock(datetime.now(UTC)))
        await h.start()
        try:
            yield h, cloud
        finally:
            await h.stop()


def now_stamped(h: ClockedHarness, body: dict[str, Any], message_id: str) -> dict[str, Any]:
    message = body["entry"][0]["changes"][0]["value"]["messages"][0]
    message["timestamp"] = str(int(h.clock().timestamp()))
    message["id"] = message_id
    return body


async def test_cloud_number_media_arrives_and_answers_follow_the_24_hour_rule(
    cloud_world,
) -> None:
    from bot.domain import CloudTemplate
    from bot.storage import templates

    h, cloud = cloud_world
    chat = await h.active_owner(OWNER)
    await seed_list(h, OWNER, "Müştərilər", [(AYSEL, "Aysel Quliyeva", '{"city": "Bakı"}')])
    await compose(chat, "Promo", "Salam {{name}}")
    await credit(h, OWNER, 100)
    number = await add_number(h, OWNER, "cloud", cloud_bodies.PHONE_NUMBER_ID, "+994509990000")
    h.qasid.tokens[number.id] = CLOUD_TOKEN
    owner = await h.qasid.services.accounts.find(OWNER)
    [promo] = await h.qasid.services.templates.list(owner.id)
    async with h.qasid.db.transaction() as tx:
        await templates.set_cloud(tx, owner.id, promo.id,
                                  CloudTemplate("spring_sale", "az", ("name",)), h.clock())
    hooks = Webhooks(h)

    cloud.add_media(cloud_bodies.MEDIA_ID, PHOTO, "image/jpeg",
                    number_id=cloud_bodies.PHONE_NUMBER_ID)
    before = len(h.api.messages(OWNER))
    await hooks.cloud(now_stamped(h, cloud_bodies.media("image", caption="Bu?"), "wamid.IN1"))
    [photo] = await messages_since(h, OWNER, before)
    assert photo.kind == "photo" and photo.file.content == PHOTO and "Bu?" in photo.caption
    assert "Aysel Quliyeva" in photo.caption

    # every other kind, each as the owner can read it; the media fetched from Meta
    kinds = [("document", {"filename": "sifaris.pdf", "caption": "Sifariş"}, b"%PDF order",
              "application/pdf", "document"),
             ("audio", {"voice": True}, VOICE, "audio/ogg", "voice"),
             ("video", {"caption": "Bax"}, b"\x00\x00\x00\x18ftypmp42", "video/mp4",
              "document"),
             ("sticker", {"animated": False}, b"RIFF....WEBPVP8 ", "image/webp", "document")]
    for n, (kind, fields, content, mime, shown_as) in enumerate(kinds):
        media_id = f"20000000000000{n}"
        cloud.add_media(media_id, content, mime, number_id=cloud_bodies.PHONE_NUMBER_ID)
        before = len(h.api.messages(OWNER))
        await hooks.cloud(now_stamped(h, cloud_bodies.media(kind, media_id=media_id,
                                                           mime_type=mime, **fields),
                                      f"wamid.K{n}"))
        [shown] = await messages_since(h, OWNER, before)
        assert (shown.kind, shown.file.content) == (shown_as, content), kind
    assert h.api.messages(OWNER)[-4].file.file_name == "sifaris.pdf"
    for n, body in enumerate((cloud_bodies.location(), cloud_bodies.contacts_card())):
        before = len(h.api.messages(OWNER))
        await hooks.cloud(now_stamped(h, body, f"wamid.L{n}"))
        [shown] = await messages_since(h, OWNER, before)
        assert ("maps.google.com/?q=40.409300,49.867100" if n == 0
                else "Leyla Məmmədova: +994 50 222 33 44") in shown.text

    await chat.press("↩️ Reply")
    replies = await chat.send("Bəli, var")
    assert "✅ Sent to +994500000000" in replies[-1].text
    [answer] = cloud.sent()
    assert answer.body["type"] == "text" and answer.body["text"] == {"body": "Bəli, var"}
    assert answer.body["to"] == "994500000000"
    assert answer.headers["authorization"] == f"Bearer {CLOUD_TOKEN}"
    await chat.press("↩️ Reply")  # and a photo: uploaded to Meta, then sent by its id
    picture = h.api.add_file(b"\x89PNG\r\n\x1a\n colours", "colours.png", "image/png")
    replies = await chat.step(h.api.photo_update(chat.user, picture, caption="Rənglər"))
    assert "✅ Sent to +994500000000" in replies[-1].text
    [upload] = [r for r in cloud.requests if r.path.endswith("/media")]
    assert upload.files["file"][2] == b"\x89PNG\r\n\x1a\n colours"
    photo_answer = cloud.sent()[-1].body
    assert photo_answer["type"] == "image" and photo_answer["image"]["caption"] == "Rənglər"

    h.clock.advance(hours=25)  # past Meta's customer service window
    credits = await balance(h, OWNER)
    await chat.press("↩️ Reply")
    replies = await chat.send("Hələ burdasınız?")
    assert "only within 24 hours of the customer's last message" in replies[-1].text
    assert replies[-1].buttons == ["📨 Send «Promo»"]
    assert len(cloud.sent()) == 2 and await balance(h, OWNER) == credits  # nothing went
    replies = await chat.press("📨 Send «Promo»")
    assert "✅ Sent to +994500000000" in replies[-1].text
    template = cloud.sent()[-1].body
    assert template["type"] == "template" and template["template"]["name"] == "spring_sale"
    assert template["template"]["components"][0]["parameters"] == [
        {"type": "text", "text": "Aysel Quliyeva"}]
    assert await balance(h, OWNER) == credits - 1

    # the customer writes again: the window opens again
    await hooks.cloud(now_stamped(h, cloud_bodies.text("Təşəkkürlər"), "wamid.IN2"))
    await chat.press("↩️ Reply")
    replies = await chat.send("Buyurun!")
    assert "✅ Sent" in replies[-1].text and cloud.sent()[-1].body["type"] == "text"


async def test_a_message_kept_while_the_bot_stopped_is_routed_after_the_restart(
    make_harness,
) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, OWNER)
    owner = await h.qasid.services.accounts.find(OWNER)
    await chat.send("/numbers")
    [number] = await h.qasid.services.campaigns.usable_senders(owner.id)
    await h.qasid.services.inbox.close()  # the router stops (as the process does)
    await h.qasid.gateway.get("sandbox").simulate_incoming(number.id, ALI, "Kimsə var?")
    assert not any("Kimsə var?" in (m.text or "") for m in h.api.messages(OWNER))
    await h.restart()
    await h.qasid.services.inbox.drain()
    assert sum("Kimsə var?" in (m.text or "") for m in h.api.messages(OWNER)) == 1


# -- the contact card ---------------------------------------------------------------------


async def test_the_contact_card_shows_edits_opts_out_and_forgets(make_harness) -> None:
    h = await make_harness()
    chat = await prepared_owner(h, OWNER)
    await sent_campaign(h, chat)
    owner = await h.qasid.services.accounts.find(OWNER)
    [number] = await h.qasid.services.campaigns.usable_senders(owner.id)
    await h.qasid.gateway.get("sandbox").simulate_incoming(number.id, ALI, "Qiymət nədir?")
    await h.qasid.services.inbox.drain()
    await chat.press("↩️ Reply")
    await chat.send("20 AZN")

    [card] = await chat.send("/contact 050 123 45 67")  # as the owner's region writes it
    assert "👤 <b>Əli Həsənov</b> · +994501234567" in card.text
    assert "📋 Lists: Müştərilər" in card.text and "city: Bakı" in card.text
    assert "✅ Receives campaigns" in card.text
    lines = card.text.split("<b>Last messages</b>")[1]
    newest, *older = lines.strip().splitlines()
    # the answer: sent, or delivered already (the sandbox delivers in 10 ms)
    assert newest.startswith("➡️") and newest.endswith(
        ("20 AZN · sent", "20 AZN · delivered", "20 AZN · read"))
    assert any(line.startswith("⬅️") and "Qiymət nədir?" in line for line in older)
    assert any("campaign «Promo · Müştərilər» ·" in line for line in older)
    assert card.buttons == ["✏️ Name", "🏷 Attribute", "↩️ Reply", "🔕 Mute", "🚫 Opt out",
                            "🗑 Delete"]

    replies = await chat.send("/contact ley")  # a name, in part, in another case: its card
    assert "👤 <b>Leyla</b> · +994551234567" in replies[0].text
    replies = await chat.send("/contact l")  # several: one button each
    assert replies[0].buttons == ["👤 Leyla · +994551234567", "👤 Əli Həsənov · +994501234567"]
    replies = await chat.press("👤 Leyla · +994551234567")
    assert "👤 <b>Leyla</b>" in replies[-1].text
    replies = await chat.send("/contact Nobody")
    assert "No contact's name holds “Nobody”" in replies[0].text

    await chat.send(f"/contact {ALI}")
    await chat.press("✏️ Name")
    replies = await chat.send("Əli Məmmədov")
    assert "👤 <b>Əli Məmmədov</b>" in replies[-1].text
    pressed = await chat.press("🏷 Attribute")
    assert "as <code>key: value</code>" in pressed[-1].text, (pressed, chat.last_answer)
    assert await h.qasid.services.prompts.pending(owner.id) is not None
    replies = await chat.send("phone: 1")
    assert "cannot be an attribute's name" in replies[-1].text, [r.text for r in replies]
    replies = await chat.send("Ölçü: M")
    assert "olchu: M" in replies[-1].text and "city: Bakı" in replies[-1].text  # as imports name it
    await chat.press("🏷 Attribute")
    replies = await chat.send("city:")
    assert "city: Bakı" not in replies[-1].text and "olchu: M" in replies[-1].text  # removed
    replies = await chat.press("🚫 Opt out")
    assert "🚫 Opted out" in replies[-1].text and "✅ Opt back in" in replies[-1].buttons
    replies = await chat.press("✅ Opt back in")
    assert "✅ Receives campaigns" in replies[-1].text

    await chat.press("🗑 Delete")
    assert "forget what they wrote" in chat.texts()[-1]
    replies = await chat.press("🗑 Yes, delete and forget")
    assert "+994501234567 deleted" in replies[-1].text
    async with h.qasid.db.reader.execute(
            "SELECT text, media_ref FROM inbound_messages WHERE phone = ?", (ALI,)) as cur:
        assert [tuple(r) for r in await cur.fetchall()] == [(None, None)]
    async with h.qasid.db.reader.execute(
            "SELECT COUNT(*), COUNT(content) FROM messages WHERE phone = ?", (ALI,)) as cur:
        assert tuple(await cur.fetchone()) == (2, 0)  # the campaign's and the answer: wordless
    replies = await chat.send(f"/contact {ALI}")
    assert "no contact" in replies[0].text.lower() or "not found" in replies[0].text.lower()


async def test_another_owner_cannot_open_or_change_a_card_or_answer_a_conversation(
    make_harness,
) -> None:
    from tests.e2e.test_campaigns import press_data

    h = await make_harness()
    chat = await prepared_owner(h, OWNER)
    owner = await h.qasid.services.accounts.find(OWNER)
    await chat.send("/numbers")
    [number] = await h.qasid.services.campaigns.usable_senders(owner.id)
    await h.qasid.gateway.get("sandbox").simulate_incoming(number.id, ALI, "Salam")
    await h.qasid.services.inbox.drain()
    [card] = await chat.send(f"/contact {ALI}")
    datas = [b["callback_data"] for row in card.message.reply_markup["inline_keyboard"]
             for b in row]
    datas.append(f"ctc:delok:{datas[0].split(':')[-1]}")
    other = await prepared_owner(h, OWNER + 1)
    before = len(h.api.messages(OWNER))
    for data in datas:
        answer = await press_data(h, other, data)
        assert answer  # refused in words
        assert not any("Əli" in t or ALI in t for t in other.texts())
    replies = await other.send(f"/contact {ALI}")  # B's own list has this number: B's card
    assert "Salam" not in replies[0].text  # A's customer's words are A's
    assert len(h.api.messages(OWNER)) == before
    [still] = await chat.send(f"/contact {ALI}")
    assert "Salam" in still.text and "Əli Həsənov" in still.text
