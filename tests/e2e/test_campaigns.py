"""Templates, the campaign wizard, campaigns and credits, end to end in chat."""

from __future__ import annotations

from bot.storage import contacts, lists
from tests.e2e.conftest import Harness


async def seed_list(harness: Harness, telegram_id: int, name: str, rows) -> int:
    """Contacts as an import leaves them (the import flow has its own tests)."""
    owner = await harness.qasid.services.accounts.find(telegram_id)
    db = harness.qasid.db
    async with db.transaction() as tx:
        created = await lists.create(tx, owner.id, name, owner.created_at)
        await contacts.upsert(tx, owner.id, rows, owner.created_at)
        await contacts.add_to_list(tx, owner.id, created.id, [r[0] for r in rows],
                                   owner.created_at)
        await lists.add_variables(tx, owner.id, created.id, ["city"])
    return created.id


CUSTOMERS = [
    ("+994501234567", "Əli Həsənov", '{"city": "Bakı"}'),
    ("+994551234567", "Leyla", '{"city": "Gəncə"}'),
    ("+994701234567", None, '{"city": "Şəki"}'),
]


async def press_data(harness: Harness, chat, data: str) -> str:
    """Press a button with crafted data (as a forged or stale client could); the alert."""
    message = harness.api.last_message(chat.chat_id)
    update = harness.api.callback_update(chat.user, message, data)
    await chat.step(update)
    query_id = update["callback_query"]["id"]
    answer = next(c.params for c in harness.api.calls if c.method == "answerCallbackQuery"
                  and c.params.get("callback_query_id") == query_id)
    return answer.get("text", "")


async def owner_id(harness: Harness, telegram_id: int) -> int:
    return (await harness.qasid.services.accounts.find(telegram_id)).id


async def compose(chat, name: str, *texts: str) -> None:
    await chat.send("/newtemplate")
    await chat.send(name)
    for text in texts:
        await chat.send(text)
    replies = await chat.press("💾 Save the template")
    assert f"The template <b>{name}</b> is saved." in replies[0].text


async def credit(harness: Harness, telegram_id: int, amount: int) -> list:
    return await harness.admin.send(f"/credit {await owner_id(harness, telegram_id)} {amount}"
                                    " bank transfer")

async def up_to_pace(chat, list_button: str, template_button: str) -> None:
    """/newcampaign through list, template, the numbers offered and "Now", to the pace."""
    await chat.send("/newcampaign")
    await chat.press(list_button)
    await chat.press(template_button)
    await chat.press("Next ➡️")
    await chat.press("▶️ Now")


async def test_compose_preview_schedule_resume_and_cancel(harness: Harness) -> None:
    chat = await harness.active_owner(801)
    await seed_list(harness, 801, "Müştərilər", CUSTOMERS)

    # a template: a typo in a variable is shown where it is, the good text is kept
    await chat.send("/newtemplate")
    replies = await chat.send("Promo")
    assert "send the message text now" in replies[0].text
    replies = await chat.send("Hello {{citi}}")
    assert "line 1, column 7:" in replies[0].text and "<code>citi</code>" in replies[0].text
    assert "Variables you can use: city, first_name, name, phone" in replies[0].text
    replies = await chat.send("{Salam|Hello} {{name|dear customer}}, visit us in {{city}}!")
    assert "Variant 1 added" in replies[0].text
    assert "{Salam|Hello} {{name|dear customer}}, visit us in {{city}}!" in replies[0].text
    await harness.restart()  # the composer survives a restart
    chat = harness.chat(801)
    replies = await chat.send("Hi {{first_name|friend}}")
    assert "Variant 2 added" in replies[0].text
    replies = await chat.press("💾 Save the template")
    assert "2 variants, different texts: up to 3" in replies[-1].text

    replies = await chat.press("👁 Preview")
    replies = await chat.press("📋 Müştərilər")
    text = replies[0].text
    assert "Əli Həsənov, visit us in Bakı!" in text and "Hi Leyla" in text
    assert "dear customer, visit us in Şəki!" in text and "{" not in text

    # credits, from the admin
    replies = await credit(harness, 801, 100)
    assert "Credits for #1 Aysel: +100." in replies[0].text
    assert "100 credits were added to your account" in harness.api.last_message(801).text
    replies = await chat.send("/balance")
    assert "Balance: <b>100</b>" in replies[0].text and "Available: <b>100</b>" in replies[0].text

    # the wizard
    replies = await chat.send("/newcampaign")
    assert "step 1 of 6" in replies[-1].text
    await chat.press("📋 Müştərilər (3)")
    replies = await chat.press("📝 Promo")
    assert "✅ Sandbox" in replies[0].buttons
    await chat.press("Next ➡️")
    await chat.press("📅 At a date and time")
    replies = await chat.send("yesterday 10:00")  # it says at once that it has passed
    assert "already passed" in replies[0].text
    assert not any("Examples that work" in r.text for r in replies)
    replies = await chat.send("someday maybe")  # why first, then what works
    assert "could not read a date" in replies[0].text
    assert "Examples that work" in replies[1].text and "12/25 18:30" in replies[1].text
    replies = await chat.send("tomorrow 10:00")
    assert "How fast?" in replies[0].text

    await harness.restart()  # a restart in the middle: the wizard goes on where it was
    chat = harness.chat(801)
    replies = await chat.press("⚙️ My own values")
    assert "Seconds between two messages" in replies[0].text
    replies = await chat.send("40-10")
    assert "10-30" in replies[0].text  # refused with an example
    await chat.send("10-30")
    await chat.send("50")
    await chat.send("5-10")
    replies = await chat.send("22:00-08:00")
    summary = replies[0].text
    assert "Recipients: <b>3</b> (0 opted out" in summary
    assert "Cost: <b>3</b> credits. Available: 100; after: 97" in summary
    assert "10-30 s between messages, 50 per batch, 5-10 min pause" in summary
    assert "quiet 22:00-08:00" in summary
    replies = await chat.press("✅ Confirm")
    assert "is scheduled: 3 messages" in replies[0].text

    replies = await chat.send("/balance")
    assert "Reserved for campaigns: 3" in replies[0].text
    assert "Available: <b>97</b>" in replies[0].text

    replies = await chat.send("/campaigns")
    assert "Promo · Müştərilər: ⏳ scheduled, 0 of 3 sent" in replies[0].text
    replies = await chat.press("#1 Promo · Müştərilər")
    assert "queued 3" in replies[0].text
    replies = await chat.press("⏸ Pause")
    assert "⏸ paused" in replies[0].text
    replies = await chat.press("▶️ Resume")
    assert "⏳ scheduled" in replies[0].text
    replies = await chat.press("⏹ Cancel")
    assert "3 unsent messages will not go out, and the credits reserved for them come back" \
        " to you (3)" in replies[0].text
    replies = await chat.press("⏹ Yes, cancel it")
    assert "3 credits are available again" in chat.last_answer["text"]
    assert "⏹ cancelled" in replies[0].text and "not sent 3" in replies[0].text
    replies = await chat.send("/balance")
    assert "Available: <b>100</b>" in replies[0].text


async def test_a_big_campaign_needs_a_second_yes(make_settings) -> None:
    from bot.console.botapi import FakeBotApi

    harness = Harness(FakeBotApi(), make_settings(campaign_advice_max=2))
    await harness.start()
    try:
        chat = await harness.active_owner(802)
        await seed_list(harness, 802, "Hamı", CUSTOMERS)
        await compose(chat, "Salam", "Salam {{name|dostum}}")
        await credit(harness, 802, 10)
        await up_to_pace(chat, "📋 Hamı (3)", "📝 Salam")
        replies = await chat.press("🐢 Safe")
        assert "3 recipients is more than the 2 we advise" in replies[0].text
        replies = await chat.press("✅ Confirm")
        assert "more than the 2 we advise at once" in replies[0].text
        replies = await chat.press("Yes, send to 3")
        assert "is scheduled: 3 messages" in replies[0].text
    finally:
        await harness.stop()


async def test_an_unaffordable_campaign_cannot_be_confirmed(harness: Harness) -> None:
    chat = await harness.active_owner(803)
    await seed_list(harness, 803, "Hamı", CUSTOMERS)
    await compose(chat, "Salam", "Salam!")
    await credit(harness, 803, 2)
    await up_to_pace(chat, "📋 Hamı (3)", "📝 Salam")
    replies = await chat.press("🚶 Normal")
    assert "Not enough credits: <b>1</b> more is needed" in replies[0].text
    assert "✅ Confirm" not in replies[0].buttons
    replies = await chat.press("✏️ Change something")
    replies = await chat.press("📋 List")
    assert "Who gets it?" in replies[0].text
    replies = await chat.press("✖️ Cancel")
    assert "Campaign discarded" in replies[0].text


async def test_formatting_of_a_forwarded_message_becomes_whatsapps(harness: Harness) -> None:
    chat = await harness.active_owner(804)
    await chat.send("/newtemplate")
    await chat.send("Sale")
    update = harness.api.text_update(chat.user, "Big sale today")
    update["message"]["entities"] = [{"type": "bold", "offset": 0, "length": 8},
                                     {"type": "italic", "offset": 9, "length": 5}]
    update["message"]["forward_origin"] = {"type": "hidden_user", "date": 1,
                                           "sender_user_name": "Shop"}
    replies = await chat.step(update)
    assert "<pre>*Big sale* _today_</pre>" in replies[0].text


async def test_another_owner_cannot_use_or_see_my_things(harness: Harness) -> None:
    alice = await harness.active_owner(805)
    list_id = await seed_list(harness, 805, "Alice's", CUSTOMERS)
    await compose(alice, "Alice", "Hi")
    await credit(harness, 805, 10)
    await alice.send("/newcampaign")
    await alice.press("📋 Alice's (3)")
    await alice.press("📝 Alice")
    await alice.press("Next ➡️")
    await alice.press("▶️ Now")
    await alice.press("🚶 Normal")
    await alice.press("✅ Confirm")

    bob = await harness.active_owner(806, phone="+994551112233")
    replies = await bob.send("/campaigns")
    assert "No campaigns yet" in replies[0].text
    replies = await bob.send("/templates")
    assert "no templates yet" in replies[0].text
    for data in ("cmp:open:1", "cmp:cancelyes:1", "cmp:pause:1", "tpl:open:1",
                 f"tpl:pvl:1:{list_id}", "tpl:delyes:1"):
        assert "not found" in (await press_data(harness, bob, data)).lower(), data
    await bob.send("/newcampaign")
    assert "not found" in (await press_data(harness, bob, f"wiz:list:{list_id}")).lower()
    assert "not found" in (await press_data(harness, bob, "wiz:tpl:1")).lower()
    # Alice's campaign is untouched
    replies = await alice.send("/campaigns")
    assert "⏳ scheduled" in replies[0].text
    assert "0 of 3 sent" in replies[0].text


async def test_a_wizard_button_it_does_not_know_is_out_of_date(harness: Harness) -> None:
    """Only the main steps can be jumped back to; an unknown button changes nothing."""
    chat = await harness.active_owner(808)
    await seed_list(harness, 808, "Customers", CUSTOMERS)
    await compose(chat, "Promo", "Hi")
    await chat.send("/newcampaign")
    await chat.press("📋 Customers (3)")
    for data in ("wiz:goto:when_at", "wiz:goto:confirm_big", "wiz:goto:nowhere", "wiz:frob",
                 "wiz:snd", "wiz:list:x"):
        assert "out of date" in await press_data(harness, chat, data), data
    draft = await harness.qasid.services.campaigns.draft(await owner_id(harness, 808))
    assert draft.step == "template" and draft.senders is None


async def test_a_question_asked_later_gets_the_answer_not_the_composer(harness: Harness) -> None:
    chat = await harness.active_owner(807)
    await seed_list(harness, 807, "Old name", CUSTOMERS)
    await chat.send("/lists")
    await chat.send("/newtemplate")
    await chat.send("Promo")  # the composer now waits for a text
    await chat.press("📋 Old name")  # the older message's button (a command would leave)
    await chat.press("✏️ Rename")
    replies = await chat.send("New name")
    assert "now called <b>New name</b>" in replies[0].text
    replies = await chat.send("Salam {{name}}")  # the composer goes on
    assert "Variant 1 added" in replies[0].text


def many(n: int) -> list[tuple[str, str, str]]:
    """``n`` contacts, every other one with a city."""
    return [(f"+99450{2000000 + i:07d}", f"Client {i}", '{"city": "Bakı"}' if i % 2 else "{}")
            for i in range(n)]


async def test_the_summary_is_honest_about_a_new_number_and_a_test_reaches_the_owner(
        harness: Harness) -> None:
    chat = await harness.active_owner(803, phone="+994501112233")
    await seed_list(harness, 803, "New", many(36))
    await compose(chat, "Hi", "Hi {{name}}, see you in {{city}}")
    await credit(harness, 803, 50)
    await up_to_pace(chat, "📋 New (36)", "📝 Hi")
    replies = await chat.press("🐇 Fast")
    summary = replies[0].text
    # the sandbox number is new: 20 today, the rest tomorrow
    assert "Takes about 2 days: your numbers may send 20 messages a day" in summary
    assert "18 of 36 recipients have no value for <code>{{city}}</code>" in summary
    assert "📝 Change the template" in replies[0].buttons

    replies = await chat.press("📲 Send a test to me")
    assert "Test sent from Sandbox to your WhatsApp +994501112233" in replies[-1].text
    async with harness.qasid.db.reader.execute(
            "SELECT COUNT(*) FROM messages WHERE phone = ? AND campaign_id IS NULL"
            " AND status IN ('sent', 'delivered', 'read')",  # the sandbox delivers in 10 ms
            ("+994501112233",)) as cur:
        assert (await cur.fetchone())[0] == 1
    replies = await chat.send("/balance")
    assert "Available: <b>49</b>" in replies[0].text

    # a pace below the safe envelope: warned, and Confirm asks once more with the reasons
    await chat.send("/newcampaign")
    await chat.press("✏️ Change something")
    await chat.press("⏱ Pace")
    await chat.press("⚙️ My own values")
    for answer in ("0-1", "20", "1-2"):
        await chat.send(answer)
    replies = await chat.press("No quiet hours")
    assert "faster than we consider safe" in replies[0].text
    replies = await chat.press("✅ Confirm")
    assert "You chose 0 s between messages" in replies[0].text
    assert "18 recipients would get a message with a gap where {{city}} should be" \
        in replies[0].text
    replies = await chat.press("📝 Change the template")
    assert "step 2 of 6" in replies[0].text


async def test_cancelling_an_edit_says_the_template_is_kept_as_it_was(harness: Harness) -> None:
    chat = await harness.active_owner(831)
    await compose(chat, "Promo", "Salam {{name}}")
    await chat.send("/templates")
    await chat.press("📝 Promo")
    replies = await chat.press("✏️ Edit")
    assert "Editing <b>Promo</b>" in replies[0].text
    await chat.send("A different text")
    replies = await chat.send("/cancel")
    assert replies[0].text == "Changes discarded: the template <b>Promo</b> is kept as it was."
    await chat.send("/templates")
    replies = await chat.press("📝 Promo")
    assert "1 variant," in replies[0].text  # the original, untouched
    replies = await chat.press("✏️ Edit")
    await chat.send("Another text")
    replies = await chat.press("✖️ Cancel")  # the button says the same
    assert replies[0].text == "Changes discarded: the template <b>Promo</b> is kept as it was."

    await chat.send("/newtemplate")  # a new one is simply not saved
    await chat.send("Draft")
    replies = await chat.send("/cancel")
    assert replies[0].text == "Template not saved."
