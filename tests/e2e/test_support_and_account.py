"""Where owners turn for help (SUPPORT_CONTACT), declining with a reason, and My account
(name, business, time zone), as owners and admins see them in chat."""

from __future__ import annotations

from bot.services.notify import LowBalance
from tests.e2e.conftest import ADMIN_ID, Harness


async def start(make_settings, **settings: object) -> Harness:
    from bot.console.botapi import FakeBotApi

    harness = Harness(FakeBotApi(), make_settings(**settings))
    await harness.start()
    return harness


async def owner_id(harness: Harness, telegram_id: int) -> int:
    owner = await harness.qasid.services.accounts.find(telegram_id)
    assert owner is not None
    return owner.id


# --- where to turn ------------------------------------------------------------------------

async def test_a_declined_owner_reads_the_reason_and_where_to_turn(make_settings) -> None:
    harness = await start(make_settings, support_contact="@qasid_support")
    try:
        chat = await harness.register(701)
        replies = await harness.admin.press("❌ Reject")
        question = replies[0]
        assert question.edited and "Type the reason" in question.text
        assert question.buttons == ["Skip: decline without a reason", "Cancel"]
        assert "declined" not in harness.api.last_message(701).text  # not yet

        replies = await harness.admin.send("not a business account")
        assert "rejected" in replies[-1].text and "not a business account" in replies[-1].text
        assert harness.api.message(ADMIN_ID, question.message.message_id).buttons == []
        told = harness.api.last_message(701).text
        assert "declined: not a business account" in told
        assert "write to @qasid_support" in told

        replies = await chat.send("/menu")
        assert "write to @qasid_support" in replies[-1].text
    finally:
        await harness.stop()


async def test_without_a_support_contact_owners_are_sent_to_the_administrator(
    harness: Harness,
) -> None:
    await harness.register(702)
    await harness.admin.press("❌ Reject")
    await harness.admin.press("Skip: decline without a reason")
    told = harness.api.last_message(702).text
    assert "declined" in told and "contact the administrator of this bot" in told
    assert "support" not in told and "{" not in told and "Reason" not in told

    chat = await harness.active_owner(703)
    replies = await chat.send("/balance")
    assert "To top up, contact the administrator of this bot" in replies[-1].text


async def test_suspended_and_short_of_credits_owners_see_the_contact(make_settings) -> None:
    harness = await start(make_settings, support_contact="+994 12 555 00 00")
    try:
        chat = await harness.active_owner(704)
        replies = await chat.send("/balance")
        assert "To top up, write to +994 12 555 00 00" in replies[-1].text
        await harness.qasid.notifier.notify(LowBalance(await owner_id(harness, 704), 7, 100))
        alert = harness.api.last_message(704).text
        assert "running low: 7 available" in alert and "write to +994 12 555 00 00" in alert

        await harness.admin.send(f"/suspend {await owner_id(harness, 704)} spam")
        told = harness.api.last_message(704).text
        assert "suspended: spam" in told and "To restore it, write to +994 12 555 00 00" in told
    finally:
        await harness.stop()


# --- declining --------------------------------------------------------------------------------

async def test_reject_command_declines_with_a_reason(harness: Harness) -> None:
    await harness.register(705)
    number = await owner_id(harness, 705)
    replies = await harness.admin.send("/reject")
    assert "Usage: /reject" in replies[-1].text
    replies = await harness.admin.send(f"/reject {number} duplicate account")
    assert "rejected" in replies[-1].text and "Reason: duplicate account" in replies[-1].text
    assert "declined: duplicate account" in harness.api.last_message(705).text
    replies = await harness.admin.send(f"/reject {number} again")
    assert "cannot be done" in replies[-1].text  # already decided


async def test_cancel_or_a_command_instead_of_a_reason_leaves_the_owner_waiting(
    harness: Harness,
) -> None:
    await harness.register(706)
    admin = harness.admin
    await admin.press("❌ Reject")
    replies = await admin.press("Cancel")
    assert replies[0].buttons == ["✅ Approve", "❌ Reject"]  # the request again
    assert (await admin.send("spam"))[-1].text != "Done."  # not taken as a reason
    assert "waiting" in harness.api.last_message(706).text

    await admin.press("❌ Reject")
    replies = await admin.send("/pending")  # a command wins and drops the question
    assert "New registration" in replies[-1].text
    await admin.send("spam")
    assert "waiting" in harness.api.last_message(706).text
    assert (await harness.qasid.services.accounts.find(706)).status.value == "pending"


async def test_the_question_for_a_reason_survives_a_restart(harness: Harness) -> None:
    await harness.register(707)
    await harness.admin.press("❌ Reject")
    await harness.restart()
    await harness.admin.send("fake documents")
    assert "declined: fake documents" in harness.api.last_message(707).text


# --- My account -------------------------------------------------------------------------------

async def test_an_owner_changes_name_business_and_time_zone(harness: Harness) -> None:
    chat = await harness.active_owner(710, name="Aysel", company="Gül Evi")
    replies = await chat.press("👤 My account")
    assert replies[0].buttons == ["✏️ Name", "✏️ Business", "🕒 Time zone", "« Menu"]

    replies = await chat.press("✏️ Name")
    assert "Now: <b>Aysel</b>" in replies[0].text
    replies = await chat.send("A")
    assert "too short" in replies[0].text and "Nothing was changed" in replies[0].text
    assert "Now: <b>Aysel</b>" in replies[-1].text  # asked again, the old name kept
    replies = await chat.send("Aysel Məmmədova")
    assert "✅ Saved." in replies[-1].text and "Name: Aysel Məmmədova" in replies[-1].text

    await chat.press("✏️ Business")
    replies = await chat.send("Gül Evi & Co")
    assert "Business: Gül Evi &amp; Co" in replies[-1].text

    replies = await chat.press("🕒 Time zone")
    assert "Your time zone: <b>Asia/Baku</b>" in replies[0].text
    assert "✓ Baku (UTC+04:00)" in replies[0].buttons
    assert "Istanbul (UTC+03:00)" in replies[0].buttons
    replies = await chat.send("Atlantis")
    assert "I do not know the time zone “Atlantis”" in replies[0].text
    assert "Your time zone: <b>Asia/Baku</b>" in replies[-1].text
    replies = await chat.send("Europe/Moscow")
    assert "Time zone: Europe/Moscow" in replies[-1].text

    await chat.press("🕒 Time zone")
    replies = await chat.send("istanbul")  # a city, any case
    assert "Time zone: Europe/Istanbul" in replies[-1].text
    await chat.press("🕒 Time zone")
    replies = await chat.press("Baku (UTC+04:00)")
    assert replies[0].edited and "Time zone: Asia/Baku" in replies[0].text

    owner = await harness.qasid.services.accounts.find(710)
    assert (owner.name, owner.company, owner.timezone) == ("Aysel Məmmədova", "Gül Evi & Co",
                                                           "Asia/Baku")


async def test_a_command_wins_over_a_pending_change_and_cancel_keeps_the_value(
    harness: Harness,
) -> None:
    chat = await harness.active_owner(711, name="Tural")
    await chat.press("👤 My account")
    await chat.press("✏️ Name")
    replies = await chat.send("/balance")
    assert "Your credits" in replies[-1].text
    replies = await chat.send("Someone Else")  # no longer the answer
    assert "I did not understand" in replies[-1].text
    await chat.send("/menu")

    await chat.press("👤 My account")
    await chat.press("✏️ Name")
    replies = await chat.press("Cancel")
    assert "Name: Tural" in replies[0].text
    assert (await harness.qasid.services.accounts.find(711)).name == "Tural"


async def test_a_pending_change_survives_a_restart_and_beats_a_saved_wizard(
    harness: Harness,
) -> None:
    chat = await harness.active_owner(712, name="Nigar")
    await chat.send("/newcampaign")  # a wizard waiting for its first answer
    await chat.press("👤 My account")  # on the menu above it
    await chat.press("🕒 Time zone")
    await harness.restart()
    chat = harness.chat(712, name="Nigar")
    replies = await chat.send("Asia/Tbilisi")
    assert "Time zone: Asia/Tbilisi" in replies[-1].text


async def test_one_owner_changes_nothing_of_another(harness: Harness) -> None:
    first = await harness.active_owner(713, name="Birinci", phone="+994501110011")
    second = await harness.active_owner(714, name="Ikinci", phone="+994501110012")
    await first.press("👤 My account")
    await first.press("✏️ Name")
    replies = await second.send("Hacker")  # the second owner was asked nothing
    assert "I did not understand" in replies[-1].text
    await second.press("👤 My account")
    await second.press("🕒 Time zone")
    await second.send("Europe/London")
    await first.send("Birinci Bəy")
    a = await harness.qasid.services.accounts.find(713)
    b = await harness.qasid.services.accounts.find(714)
    assert (a.name, a.timezone) == ("Birinci Bəy", "Asia/Baku")
    assert (b.name, b.timezone) == ("Ikinci", "Europe/London")


async def test_an_owner_who_never_chose_a_time_zone_sees_the_configured_default(
    make_settings,
) -> None:
    # registered before the bot stored a zone: the bot's DEFAULT_TIMEZONE is theirs, on My
    # account as in their campaigns' times (not UTC)
    harness = await start(make_settings, default_timezone="Asia/Tbilisi")
    try:
        chat = await harness.active_owner(715, name="Leyla")
        async with harness.qasid.db.transaction() as tx:
            await tx.execute("UPDATE owners SET timezone = NULL WHERE telegram_id = 715")
        replies = await chat.press("👤 My account")
        assert "Time zone: Asia/Tbilisi" in replies[0].text
        replies = await chat.press("🕒 Time zone")
        assert "Your time zone: <b>Asia/Tbilisi</b>" in replies[0].text
    finally:
        await harness.stop()
