"""The fake Bot API behaves like Telegram for the real python-telegram-bot Application."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator

import httpx
import pytest
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.constants import ParseMode
from telegram.error import BadRequest, EndPointNotFound, Forbidden, RetryAfter
from telegram.ext import (
    Application,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)

from bot.console import ChatDriver, FakeBotApi, FakeUser, application_builder
from bot.console.http import serving

AYSEL = FakeUser(id=501, first_name="Aysel", username="aysel")
CSV = b"phone,name\r\n+994501234567,\xc3\x9cmid\r\n\x00\xff"
MENU = InlineKeyboardMarkup(
    [
        [
            InlineKeyboardButton("Greet me", callback_data="greet"),
            InlineKeyboardButton("Export", callback_data="export"),
        ]
    ]
)


async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(
        f"Hello <b>{update.effective_user.first_name}</b>",
        parse_mode=ParseMode.HTML,
        reply_markup=MENU,
    )


async def keyboard(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    markup = ReplyKeyboardMarkup([[KeyboardButton("Share phone", request_contact=True)], ["Help"]])
    await update.message.reply_text("Choose", reply_markup=markup)


async def on_button(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    await query.answer("Done")
    if query.data == "greet":
        await query.edit_message_text("Greetings, Aysel", reply_markup=MENU)
    else:
        await query.message.reply_document(CSV, filename="contacts.csv", caption="Your export")


async def on_text(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(f"You said {update.message.text}")


async def on_document(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    file = await context.bot.get_file(update.message.document.file_id)
    context.bot_data["downloaded"] = bytes(await file.download_as_bytearray())
    await update.message.reply_text(f"Got {update.message.document.file_name}")


async def on_contact(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    own = update.message.contact.user_id == update.effective_user.id
    await update.message.reply_text(
        f"{'own' if own else 'other'} {update.message.contact.phone_number}"
    )


async def on_photo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    file = await update.message.photo[-1].get_file()
    await update.message.reply_photo(bytes(await file.download_as_bytearray()), caption="Back")


def build_app(api: FakeBotApi) -> Application:
    app = application_builder(api).build()
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CommandHandler("keyboard", keyboard))
    app.add_handler(CallbackQueryHandler(on_button))
    app.add_handler(MessageHandler(filters.Document.ALL, on_document))
    app.add_handler(MessageHandler(filters.CONTACT, on_contact))
    app.add_handler(MessageHandler(filters.PHOTO, on_photo))
    app.add_handler(MessageHandler(filters.TEXT & ~filters.COMMAND, on_text))
    return app


@pytest.fixture
def api() -> FakeBotApi:
    return FakeBotApi()


@pytest.fixture
async def app(api: FakeBotApi) -> AsyncIterator[Application]:
    application = build_app(api)
    async with application:
        yield application


@pytest.fixture
def chat(app: Application, api: FakeBotApi) -> ChatDriver:
    return ChatDriver(app, api, AYSEL)


async def test_start_replies_with_an_inline_keyboard(chat: ChatDriver, api: FakeBotApi) -> None:
    [reply] = await chat.send("/start")

    assert not reply.edited
    assert reply.text == "Hello <b>Aysel</b>"
    assert chat.buttons() == ["Greet me", "Export"]
    assert reply.message.reply_markup == MENU.to_dict()
    assert api.calls[0].method == "getMe"


async def test_pressing_a_button_edits_the_message_and_answers_the_query(
    chat: ChatDriver, api: FakeBotApi
) -> None:
    [greeting] = await chat.send("/start")

    [reply] = await chat.press("greet")  # case-insensitive prefix

    assert reply.edited and reply.message.message_id == greeting.message.message_id
    assert reply.text == "Greetings, Aysel"
    assert reply.message.edited == 1
    assert chat.last_answer is not None and chat.last_answer["text"] == "Done"
    assert [m.body for m in api.messages(AYSEL.id)] == ["Greetings, Aysel"]


async def test_editing_with_identical_content_fails_like_telegram(
    chat: ChatDriver, app: Application
) -> None:
    [reply] = await chat.send("/start")
    message_id = reply.message.message_id

    with pytest.raises(BadRequest, match="Message is not modified"):
        await app.bot.edit_message_text(
            "Hello <b>Aysel</b>", AYSEL.id, message_id, parse_mode=ParseMode.HTML, reply_markup=MENU
        )
    with pytest.raises(BadRequest, match="Message to edit not found"):
        await app.bot.edit_message_text("x", AYSEL.id, message_id + 10)
    edited = await app.bot.edit_message_text("Hello again", AYSEL.id, message_id)
    assert edited.reply_markup is None  # an edit without markup drops the keyboard


async def test_telegram_refusals_surface_as_ptb_errors(
    app: Application, api: FakeBotApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "1")  # else RetryAfter() itself warns (PTB 22.2+)
    api.add_user(AYSEL)
    with pytest.raises(BadRequest, match=r'(?i)unsupported start tag "ali"'):
        await app.bot.send_message(AYSEL.id, "Hi <Ali>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match="Chat not found"):
        await app.bot.send_message(999, "hello")
    api.fail_next("sendMessage", 429, "Too Many Requests: retry after 3", retry_after=3)
    with pytest.raises(RetryAfter) as flood:
        await app.bot.send_message(AYSEL.id, "hello")
    assert flood.value.retry_after == dt.timedelta(seconds=3)
    api.block(AYSEL.id)
    with pytest.raises(Forbidden, match="blocked by the user"):
        await app.bot.send_message(AYSEL.id, "hello")
    assert [call.error for call in api.calls[-4:]] == [
        'Bad Request: can\'t parse entities: Unsupported start tag "ali"',
        "Bad Request: chat not found",
        "Too Many Requests: retry after 3",
        "Forbidden: bot was blocked by the user",
    ]


async def test_user_upload_is_downloaded_by_the_handler(chat: ChatDriver, app: Application) -> None:
    [reply] = await chat.upload(CSV, "contacts.csv", "text/csv", caption="import")

    assert reply.text == "Got contacts.csv"
    assert app.bot_data["downloaded"] == CSV


async def test_document_the_bot_sends_can_be_read(chat: ChatDriver, api: FakeBotApi) -> None:
    await chat.send("/start")

    [reply] = await chat.press("Export")

    assert not reply.edited and reply.message.kind == "document"
    assert reply.text == "Your export"
    assert reply.message.file is not None
    assert reply.message.file.file_name == "contacts.csv"
    assert reply.message.file.content == CSV
    assert api.messages(AYSEL.id)[-1] is reply.message


async def test_photo_round_trip(chat: ChatDriver, api: FakeBotApi) -> None:
    photo = api.add_file(b"\x89PNG fake", "photo.png", "image/png")

    [reply] = await chat.step(api.photo_update(AYSEL, photo, caption="look"))

    assert reply.message.kind == "photo" and reply.text == "Back"
    assert reply.message.file is not None and reply.message.file.content == b"\x89PNG fake"


async def test_shared_contacts_tell_own_from_someone_elses(chat: ChatDriver) -> None:
    assert [r.text for r in await chat.share_contact("+994501234567")] == ["own +994501234567"]
    assert [r.text for r in await chat.share_contact("+994551112233", own=False)] == [
        "other +994551112233"
    ]


async def test_reply_markup_round_trips_to_ptb_objects(app: Application, api: FakeBotApi) -> None:
    api.add_user(AYSEL)

    sent = await app.bot.send_message(AYSEL.id, "Menu", reply_markup=MENU)

    assert sent.reply_markup == MENU
    assert api.calls[-1].params["reply_markup"] == MENU.to_dict()
    assert api.calls[-1].params["chat_id"] == AYSEL.id


async def test_reply_keyboard_buttons_are_sent_as_text(chat: ChatDriver) -> None:
    await chat.send("/keyboard")
    assert chat.reply_buttons() == ["Share phone", "Help"]

    assert chat.texts() == ["Choose"]
    await chat.press("Help")
    assert chat.texts() == ["You said Help"]
    with pytest.raises(ValueError, match="share_contact"):
        await chat.press("Share phone")
    with pytest.raises(LookupError, match=r"'Nope' not found; buttons: \['Share phone', 'Help'\]"):
        await chat.press("Nope")


async def test_user_and_bot_message_ids_never_collide(chat: ChatDriver, api: FakeBotApi) -> None:
    first = api.text_update(AYSEL, "hi")
    [reply] = await chat.send("hello")
    second = api.text_update(AYSEL, "again")

    ids = [
        first["message"]["message_id"],
        reply.message.message_id,
        second["message"]["message_id"],
    ]
    assert ids == sorted(set(ids))
    assert second["update_id"] > first["update_id"]


async def test_commands_are_recorded_per_scope_and_language(
    app: Application, api: FakeBotApi
) -> None:
    await app.bot.set_my_commands([("start", "Start")], language_code="az")
    await app.bot.set_my_commands([("help", "Help")])

    assert api.commands(language_code="az") == [{"command": "start", "description": "Start"}]
    assert [c.command for c in await app.bot.get_my_commands()] == ["help"]
    with pytest.raises(BadRequest, match=r"(?i)bot_command_invalid"):
        await app.bot.set_my_commands([("Start", "Capitalised commands are refused")])


async def test_unknown_method_is_recorded_and_answered_404(
    app: Application, api: FakeBotApi
) -> None:
    with pytest.raises(EndPointNotFound, match="sendTeleportation"):
        await app.bot.do_api_request("sendTeleportation", api_kwargs={"chat_id": 1})

    assert api.calls[-1].method == "sendTeleportation"
    assert api.calls[-1].error == "Not Found"


async def test_work_started_with_create_task_is_awaited(app: Application, api: FakeBotApi) -> None:
    async def report(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        async def build_report() -> None:
            await asyncio.sleep(0.05)
            await context.bot.send_message(update.effective_chat.id, "Report ready")

        context.application.create_task(build_report(), update=update)
        await update.message.reply_text("Working")

    app.add_handler(CommandHandler("report", report))
    await app.start()
    try:
        replies = await ChatDriver(app, api, AYSEL).send("/report")
    finally:
        await app.stop()

    assert [reply.text for reply in replies] == ["Working", "Report ready"]


async def test_polling_receives_a_pushed_update(api: FakeBotApi) -> None:
    app = build_app(api)
    handled = asyncio.Event()

    async def remember(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        handled.set()

    app.add_handler(CommandHandler("ping", remember), group=1)
    async with app:
        await app.start()
        await app.updater.start_polling(poll_interval=0, timeout=5)
        await asyncio.sleep(0.05)  # the poller now waits inside a long getUpdates
        api.push_update(api.text_update(AYSEL, "/ping"))
        await asyncio.wait_for(handled.wait(), 2)
        await app.updater.stop()
        await app.stop()

    [answer] = [c for c in api.calls if c.method == "getUpdates" and c.result]
    assert answer.params["timeout"] == 5  # delivered by a long poll
    assert api.updates_queue == []  # the last getUpdates confirmed it
    assert [c.method for c in api.calls].count("deleteWebhook") == 1


async def test_http_server_answers_over_real_http(api: FakeBotApi) -> None:
    document = api.add_file(CSV, "contacts.csv", "text/csv")
    async with serving(api) as url:
        assert url.startswith("http://127.0.0.1:")
        bot = Bot(api.token, base_url=f"{url}/bot", base_file_url=f"{url}/file/bot")
        async with bot:  # initialize() calls getMe
            assert bot.username == "qasid_bot"
            file = await bot.get_file(document["file_id"])
            assert await file.download_as_bytearray() == CSV
            assert await bot.get_updates(timeout=0) == ()
        async with httpx.AsyncClient() as client:
            answer = await client.get(f"{url}/botwrong:token/getMe")
        assert answer.status_code == 401
        assert answer.json() == {"ok": False, "error_code": 401, "description": "Unauthorized"}


async def test_http_long_poll_ends_when_the_client_goes_away(api: FakeBotApi) -> None:
    async with serving(api) as url, httpx.AsyncClient() as client:
        with pytest.raises(httpx.ReadTimeout):
            await client.post(
                f"{url}/bot{api.token}/getUpdates", data={"timeout": "30"}, timeout=0.2
            )
    # leaving `serving` did not wait the 30 s long poll out
    assert api.calls[-1].method == "getUpdates" and api.calls[-1].result is None


# -- forum groups ----------------------------------------------------------------------


async def test_a_forum_topic_is_created_posted_to_and_answered_in_like_telegram(
    app: Application, api: FakeBotApi,
) -> None:
    from bot.console import FakeGroup, GroupDriver

    group = api.add_group(FakeGroup(-1001234567890, "Gül Evi · inbox"))
    chat = await app.bot.get_chat(group.id)
    assert chat.type == "supergroup" and chat.is_forum and chat.title == "Gül Evi · inbox"
    me = await app.bot.get_chat_member(group.id, app.bot.id)
    assert me.status == "administrator" and me.can_manage_topics  # PTB parsed every right
    topic = await app.bot.create_forum_topic(group.id, "Aysel · +994501234567")
    assert topic.name == "Aysel · +994501234567" and topic.message_thread_id > 0
    sent = await app.bot.send_message(group.id, "Salam!", message_thread_id=topic.message_thread_id)
    assert sent.is_topic_message and sent.message_thread_id == topic.message_thread_id
    assert [m.text for m in api.topic_messages(group.id, topic.message_thread_id)] == ["Salam!"]

    member = GroupDriver(app, api, group, FakeUser(id=611, first_name="Kamran"))
    await member.send("Necəsən?", thread=topic.message_thread_id)  # on_text replies in it
    [reply] = member.texts()
    assert reply == "You said Necəsən?"
    assert api.last_message(group.id).thread_id == topic.message_thread_id
    assert (await app.bot.get_chat_member(group.id, 611)).status == "member"
    assert (await app.bot.get_chat_member(group.id, 999)).status == "left"

    api.delete_topic(group.id, topic.message_thread_id)
    with pytest.raises(BadRequest, match=r"(?i)thread not found"):
        await app.bot.send_message(group.id, "x", message_thread_id=topic.message_thread_id)


async def test_topics_need_a_forum_and_the_right_to_manage_them(
    app: Application, api: FakeBotApi,
) -> None:
    from bot.console import FakeGroup

    plain = api.add_group(FakeGroup(-1001, "no topics", is_forum=False))
    member = api.add_group(FakeGroup(-1002, "bot is a member", bot_status="member"))
    no_right = api.add_group(FakeGroup(-1003, "no right", can_manage_topics=False))
    with pytest.raises(BadRequest, match=r"(?i)not a forum"):
        await app.bot.create_forum_topic(plain.id, "x")
    for group in (member, no_right):
        with pytest.raises(BadRequest, match=r"(?i)not enough rights"):
            await app.bot.create_forum_topic(group.id, "x")
    assert (await app.bot.get_chat_member(member.id, app.bot.id)).status == "member"
    api.remove_bot(no_right.id)
    with pytest.raises(Forbidden, match="kicked"):
        await app.bot.send_message(no_right.id, "x")
