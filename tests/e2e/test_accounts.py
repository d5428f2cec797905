"""Registration, approval, suspension, language and help, as users see them in chat."""

from __future__ import annotations

import logging

from tests.e2e.conftest import ADMIN_ID, Harness


async def test_new_owner_registers_and_is_approved_with_a_button(harness: Harness) -> None:
    chat = harness.chat(501, name="Aysel")
    replies = await chat.send("/start")
    assert "Welcome to <b>Qasid</b>" in replies[0].text
    assert replies[-1].text == "What is your name?"

    assert (await chat.send("Aysel Məmmədova"))[-1].text == "What is your business called?"
    replies = await chat.send("Gül Evi <Çiçək>")
    assert "Share your phone number" in replies[-1].text
    assert chat.reply_buttons() == ["📱 Share my phone number"]

    replies = await chat.share_contact("994501234567")
    assert replies[0].text == "Thank you, your number is saved."
    assert "Do you accept these terms?" in replies[-1].text
    assert "No spam" in replies[-1].text and "not refundable" in replies[-1].text
    assert "banned" in replies[-1].text
    assert chat.reply_buttons() == []  # the share-contact keyboard is gone

    replies = await chat.press("✅ I accept")
    assert "waiting for an administrator" in replies[-1].text

    request = harness.api.last_message(ADMIN_ID)
    assert request is not None
    assert "New registration" in request.text
    assert "Gül Evi &lt;Çiçək&gt;" in request.text  # user data is escaped
    assert "+994501234567" in request.text
    assert request.buttons == ["✅ Approve", "❌ Reject"]

    admin_replies = await harness.admin.press("✅ Approve")
    assert any(r.edited and "active" in r.text for r in admin_replies)

    owner_messages = [m.text for m in harness.api.messages(501)]
    assert "🎉 Your account has been approved. Welcome to Qasid!" in owner_messages
    menu = harness.api.last_message(501)
    assert "main menu" in menu.text
    assert menu.buttons == ["🚀 New campaign", "📊 Campaigns", "📈 Statistics", "📱 Numbers",
                            "📇 Contacts",
                            "📝 Templates", "💳 Balance", "⚙️ Settings", "🔌 API",
                            "🤖 Automations", "👤 My account",
                            "🌐 Language", "❓ Help"]

    replies = await chat.press("👤 My account")
    assert "Aysel Məmmədova" in replies[0].text and replies[0].edited
    assert "+994501234567" in replies[0].text


async def test_pending_owner_can_use_nothing_else(harness: Harness) -> None:
    chat = await harness.register(502)
    for attempt in ("/menu", "hello", "/help"):
        replies = await chat.send(attempt)
        texts = " ".join(r.text for r in replies)
        if attempt == "/help":  # help and language stay open to everyone
            assert "/language" in texts
        else:
            assert "waiting for an administrator" in texts
            assert "main menu" not in texts


async def test_rejected_owner_is_told_and_refused(harness: Harness) -> None:
    chat = await harness.register(503)
    await harness.admin.press("❌ Reject")  # asks for a reason first
    await harness.admin.press("Skip: decline without a reason")
    assert "declined" in harness.api.last_message(503).text
    replies = await chat.send("/menu")
    assert "declined" in replies[-1].text
    assert "main menu" not in replies[-1].text


async def test_suspended_owner_is_refused_until_unsuspended(harness: Harness) -> None:
    chat = await harness.active_owner(504)
    owner = await harness.qasid.services.accounts.find(504)
    replies = await harness.admin.send(f"/suspend {owner.id} spam complaints")
    assert "suspended" in replies[-1].text
    assert "suspended: spam complaints" in harness.api.last_message(504).text

    replies = await chat.send("/menu")
    assert "suspended: spam complaints" in replies[-1].text
    replies = await chat.press("👤 My account")  # an old button does nothing either
    assert "suspended" in replies[-1].text

    await harness.admin.send(f"/unsuspend {owner.id}")
    assert "main menu" in harness.api.last_message(504).text
    assert "main menu" in (await chat.send("/menu"))[-1].text


async def test_admin_commands_explain_their_usage(harness: Harness) -> None:
    replies = await harness.admin.send("/suspend")
    assert "Usage: /suspend" in replies[-1].text
    for command in ("/suspend 999", "/unsuspend 999", "/credit 999 100"):
        replies = await harness.admin.send(command)
        assert replies[-1].text == "There is no owner #999.", command


async def test_someone_elses_contact_is_refused(harness: Harness) -> None:
    chat = harness.chat(505)
    await chat.send("/start")
    await chat.send("Tural")
    await chat.send("Tural MMC")
    replies = await chat.share_contact("+994551112233", own=False)
    assert "your own number" in replies[0].text
    assert "Share your phone number" in replies[-1].text


async def test_second_owner_cannot_act_on_the_first(harness: Harness) -> None:
    first = await harness.active_owner(601, name="Birinci", phone="+994501110001")
    second = await harness.active_owner(602, name="Ikinci", phone="+994501110002")
    owner_a = await harness.qasid.services.accounts.find(601)

    replies = await second.send(f"/suspend {owner_a.id}")
    assert "Only administrators" in replies[-1].text
    # a forged admin button from the second owner changes nothing
    forged = harness.api.callback_update(second.user, harness.api.last_message(602),
                                         f"adm:no:{owner_a.id}")
    await second.step(forged)
    answers = [c.params for c in harness.api.calls if c.method == "answerCallbackQuery"]
    assert answers[-1]["text"] == "Only administrators can do that."
    assert (await harness.qasid.services.accounts.find(601)).is_active
    replies = await second.press("👤 My account")
    assert "Ikinci" in replies[0].text and "Birinci" not in replies[0].text
    assert "+994501110001" not in replies[0].text
    assert "main menu" in (await first.send("/menu"))[-1].text


async def test_unknown_command_gets_help(harness: Harness) -> None:
    chat = await harness.active_owner(506)
    replies = await chat.send("/frobnicate")
    assert replies[0].text == "I do not know that command."
    assert "/language" in replies[1].text and "/help" in replies[1].text
    assert "/suspend" not in replies[1].text  # owners do not see admin commands


async def test_russian_user_gets_russian_and_switches_to_azerbaijani(harness: Harness) -> None:
    chat = harness.chat(507, language="ru", name="Иван")
    replies = await chat.send("/start")
    assert replies[-1].text == "Как вас зовут?"
    replies = await chat.send("/language")
    assert replies[0].buttons == ["English", "Azərbaycanca", "✓ Русский"]
    replies = await chat.press("Azərbaycanca")
    assert replies[0].text == "Dil Azərbaycan dilinə dəyişdirildi."
    assert replies[-1].text == "Adınız nədir?"  # registration goes on in Azerbaijani
    replies = await chat.send("Ivan")
    assert "şirkət" in replies[-1].text.lower() or "biznes" in replies[-1].text.lower()


async def test_language_with_an_argument_switches_at_once(harness: Harness) -> None:
    chat = await harness.active_owner(515)
    replies = await chat.send("/language ru")
    assert replies[0].text == "Язык изменён на русский."
    assert "главное меню" in replies[-1].text  # and the menu follows, in Russian
    assert (await harness.qasid.services.accounts.find(515)).language.value == "ru"
    replies = await chat.send("/language English")
    assert replies[0].text == "Language changed to English."

    replies = await chat.send("/language klingon")
    assert "I do not know the language “klingon”" in replies[0].text
    assert "Available: <code>en</code> (English), <code>az</code> (Azərbaycanca)," \
        " <code>ru</code> (Русский)" in replies[0].text
    assert replies[1].buttons == ["✓ English", "Azərbaycanca", "Русский"]
    assert (await harness.qasid.services.accounts.find(515)).language.value == "en"


async def test_registration_survives_a_restart(harness: Harness) -> None:
    chat = harness.chat(508)
    await chat.send("/start")
    await chat.send("Leyla")
    await harness.restart()
    chat = harness.chat(508)
    replies = await chat.send("Leyla Kafe")  # the next answer, after the restart
    assert "Share your phone number" in replies[-1].text
    owner = await harness.qasid.services.accounts.find(508)
    assert (owner.name, owner.company) == ("Leyla", "Leyla Kafe")


async def test_open_mode_activates_at_once(make_settings) -> None:
    from bot.console.botapi import FakeBotApi

    h = Harness(FakeBotApi(), make_settings(registration_mode="open"))
    await h.start()
    try:
        await h.register(509)
        texts = [m.text for m in h.api.messages(509)]
        assert "🎉 Your account is active." in texts
        assert "main menu" in texts[-1]
        assert h.api.messages(ADMIN_ID) == []
    finally:
        await h.stop()


async def test_a_failing_handler_apologises_and_the_bot_goes_on(
    harness: Harness, monkeypatch, caplog
) -> None:
    chat = await harness.active_owner(510)
    accounts = harness.qasid.services.accounts

    async def broken(*args: object) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(accounts, "set_language", broken)
    with caplog.at_level(logging.ERROR):
        replies = await chat.press("🌐 Language")
        replies = await chat.press("Azərbaycanca")
    assert replies[-1].text == "😔 Sorry, something went wrong. Please try again."
    assert "Traceback" not in replies[-1].text
    assert any("from user 510" in r.getMessage() and r.exc_info for r in caplog.records)
    monkeypatch.undo()
    assert "main menu" in (await chat.send("/menu"))[-1].text


async def test_command_menu_is_published_in_every_language(harness: Harness) -> None:
    default = {c["command"]: c["description"] for c in harness.api.commands()}
    assert {"start", "help", "language", "menu"} <= set(default)
    assert "suspend" not in default
    russian = {c["command"]: c["description"] for c in harness.api.commands(language_code="ru")}
    assert russian["language"] != default["language"]
    admin = harness.api.commands({"type": "chat", "chat_id": ADMIN_ID})
    assert "suspend" in {c["command"] for c in admin}
