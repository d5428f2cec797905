"""Lists and opt-outs in chat: /lists, sample, rename, export, delete, /optout, /optin."""

from __future__ import annotations

import csv
import io

from bot.storage import contacts, lists
from tests.e2e.conftest import Harness


async def seed_list(harness: Harness, telegram_id: int, name: str, rows) -> int:
    """Contacts as an import would leave them (the import flow has its own tests)."""
    owner = await harness.qasid.services.accounts.find(telegram_id)
    db = harness.qasid.db
    async with db.transaction() as tx:
        created = await lists.create(tx, owner.id, name, owner.created_at)
        await contacts.upsert(tx, owner.id, rows, owner.created_at)
        await contacts.add_to_list(tx, owner.id, created.id, [r[0] for r in rows],
                                   owner.created_at)
    return created.id


async def test_lists_sample_rename_export_delete(harness: Harness) -> None:
    chat = await harness.active_owner(701)
    replies = await chat.send("/lists")
    assert "no contact lists yet" in replies[0].text

    await seed_list(harness, 701, "Müştərilər", [
        ("+994501234567", "Əli <b>", '{"city": "Bakı"}'),
        ("+994551234567", "Leyla", '{"city": "Gəncə"}'),
    ])
    replies = await chat.send("/lists")
    assert "1. Müştərilər: 2 contacts, 0 opted out" in replies[0].text
    replies = await chat.press("📋 Müştərilər")
    assert "2 contacts" in replies[0].text and replies[0].edited

    replies = await chat.press("👀 Sample")
    assert "Əli &lt;b&gt;" in replies[0].text and "+994551234567 — Leyla (city: Gəncə)" in \
        replies[0].text
    await chat.press("« Back to the list")

    replies = await chat.press("✏️ Rename")
    assert "Send the new name" in replies[0].text
    await harness.restart()  # the question survives a restart
    chat = harness.chat(701)
    replies = await chat.send("VIP müştərilər")
    assert replies[0].text == "✅ The list is now called <b>VIP müştərilər</b>."

    replies = await chat.press("⬇️ CSV")
    document = next(r.message for r in replies if r.message.kind == "document")
    table = list(csv.reader(io.StringIO(document.file.content.decode("utf-8-sig"))))
    assert table[0] == ["phone", "name", "city", "opted out"]
    assert ["+994501234567", "Əli <b>", "Bakı", ""] in table
    assert document.file.file_name == "VIP_müştərilər.csv"
    replies = await chat.press("⬇️ Excel")
    assert any(r.message.kind == "document" and r.message.file.file_name.endswith(".xlsx")
               for r in replies)

    [confirm] = await chat.press("🗑 Delete")
    assert "2 contacts are in no other list" in confirm.text
    replies = await chat.press("🗑 Yes, delete it")
    assert "is deleted, with 2 contacts" in replies[0].text
    replies = await chat.send("/lists")
    assert "no contact lists yet" in replies[0].text


async def test_a_taken_name_is_refused_and_can_be_retried(harness: Harness) -> None:
    chat = await harness.active_owner(702)
    await seed_list(harness, 702, "A", [("+994501234567", "x", "{}")])
    await seed_list(harness, 702, "B", [])
    await chat.send("/lists")
    await chat.press("📋 A")
    await chat.press("✏️ Rename")
    replies = await chat.send("B")
    assert "already have a list called" in replies[0].text
    replies = await chat.send("C")
    assert "now called <b>C</b>" in replies[0].text
    replies = await chat.send("D")  # the prompt is answered: plain text is not a name now
    assert "did not understand" in replies[0].text


async def test_optout_and_optin_by_hand(harness: Harness) -> None:
    chat = await harness.active_owner(703)
    await seed_list(harness, 703, "Shop", [("+994501234567", "Əli", "{}")])
    replies = await chat.send("/optout 050 123 45 67 asked by phone")
    assert replies[0].text.startswith("🚫 +994501234567 is opted out")
    assert "asked by phone" in replies[0].text
    replies = await chat.send("/lists")
    assert "1 contacts, 1 opted out" in replies[0].text or "1 opted out" in replies[0].text
    replies = await chat.send("/optin +994501234567")
    assert replies[0].text == "✅ +994501234567 can get your messages again."
    assert "Usage: /optout" in (await chat.send("/optout"))[0].text
    assert "not a valid phone number" in (await chat.send("/optout hello"))[0].text


async def test_another_owner_cannot_open_or_change_a_list(harness: Harness) -> None:
    await harness.active_owner(704, phone="+994501110004")
    intruder = await harness.active_owner(705, phone="+994501110005")
    list_id = await seed_list(harness, 704, "Private", [("+994501234567", "Secret", "{}")])
    for action in ("open", "sample", "csv", "del", "delok", "rename"):
        update = harness.api.callback_update(intruder.user, harness.api.last_message(705),
                                             f"lst:{action}:{list_id}")
        replies = await intruder.step(update)
        assert all("Secret" not in r.text and "Private" not in r.text for r in replies)
        answers = [c.params for c in harness.api.calls if c.method == "answerCallbackQuery"]
        assert "Not found" in answers[-1].get("text", "")
    owner = await harness.qasid.services.accounts.find(704)
    assert [x.name for x in await harness.qasid.services.contacts.lists(owner.id)] == ["Private"]


TEXT_METHODS = {"sendMessage": "text", "editMessageText": "text", "sendDocument": "caption",
                "sendPhoto": "caption", "editMessageCaption": "caption"}


async def test_every_text_and_caption_is_sent_as_html(harness: Harness) -> None:
    """The application's default parse mode: an export's caption, a rejected-rows file and
    an apology are read as HTML like every other message (a name like "A & B" shows as
    typed)."""
    chat = await harness.active_owner(706)
    await chat.upload(b"Name,Phone\nA & B <Ltd>,+994501234567\nbad,12\n", "shop.csv",
                      "text/csv")
    await chat.press("➕ New list “shop”")
    await chat.send("/lists")
    await chat.press("📋 shop")
    await chat.press("👀 Sample")
    await chat.press("« Back to the list")
    await chat.press("⬇️ CSV")
    sent = [c for c in harness.api.calls if c.method in TEXT_METHODS and c.error is None
            and c.params.get(TEXT_METHODS[c.method])]
    assert {c.method for c in sent} >= {"sendMessage", "editMessageText", "sendDocument"}
    assert [c.method for c in sent if c.params.get("parse_mode") != "HTML"] == []
    assert any("A &amp; B &lt;Ltd&gt;" in c.params["text"] for c in sent
               if c.method != "sendDocument")
