"""Questions answered by the next typed message (a list's new name, a template's approved
Cloud API twin, My account): a command drops the question, a conversation started later
replaces it, and one owner's question is never answered by another owner's text."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import CUSTOMERS, compose, owner_id, press_data, seed_list

NOT_UNDERSTOOD = "I did not understand that"


async def ask_rename(chat) -> None:
    await chat.send("/lists")
    await chat.press("📋 Customers")
    replies = await chat.press("✏️ Rename")
    assert "Send the new name" in replies[0].text


async def list_names(harness: Harness, telegram_id: int) -> list[str]:
    owner = await owner_id(harness, telegram_id)
    return [item.name for item in await harness.qasid.services.contacts.lists(owner)]


async def test_a_command_after_rename_drops_the_question(harness: Harness) -> None:
    chat = await harness.active_owner(1601)
    await seed_list(harness, 1601, "Customers", CUSTOMERS)
    await ask_rename(chat)
    replies = await chat.send("/balance")
    assert "Your credits" in replies[0].text  # the command runs
    replies = await chat.send("Salam")  # and is no list's name now
    assert NOT_UNDERSTOOD in replies[0].text
    assert await list_names(harness, 1601) == ["Customers"]


async def test_a_command_after_the_cloud_template_question_drops_it(harness: Harness) -> None:
    chat = await harness.active_owner(1602)
    await seed_list(harness, 1602, "Customers", CUSTOMERS)
    await compose(chat, "Promo", "Salam {{name}}")
    [template] = await harness.qasid.services.templates.list(await owner_id(harness, 1602))
    await press_data(harness, chat, f"tpl:cloud:{template.id}")
    assert "approved" in harness.api.last_message(1602).text
    await chat.send("/templates")
    replies = await chat.send("spring_sale az name")
    assert NOT_UNDERSTOOD in replies[0].text
    [template] = await harness.qasid.services.templates.list(await owner_id(harness, 1602))
    assert template.cloud is None


@pytest.mark.parametrize("command", ["/help", "/numbers"])
async def test_a_command_after_a_my_account_question_drops_it(harness: Harness,
                                                              command: str) -> None:
    chat = await harness.active_owner(1603, name="Aysel")
    await chat.send("/menu")
    await chat.press("👤 My account")
    await chat.press("✏️ Name")
    await chat.send(command)
    replies = await chat.send("Leyla")
    assert NOT_UNDERSTOOD in replies[0].text
    assert (await harness.qasid.services.accounts.find(1603)).name == "Aysel"


async def test_a_campaign_started_after_rename_takes_the_typed_text(harness: Harness) -> None:
    chat = await harness.active_owner(1604)
    await seed_list(harness, 1604, "Customers", CUSTOMERS)
    await chat.send("/menu")
    await ask_rename(chat)
    await chat.press("🚀 New campaign")  # the menu's button, pressed after Rename
    replies = await chat.send("VIP")
    assert "use the buttons" in replies[0].text  # the wizard's, not a list's new name
    assert await list_names(harness, 1604) == ["Customers"]


async def test_another_owners_text_never_answers_my_question(harness: Harness) -> None:
    mine = await harness.active_owner(1605, phone="+994501110605")
    theirs = await harness.active_owner(1606, phone="+994501110606")
    await seed_list(harness, 1605, "Customers", CUSTOMERS)
    await ask_rename(mine)
    replies = await theirs.send("Stolen")
    assert NOT_UNDERSTOOD in replies[0].text
    assert await list_names(harness, 1605) == ["Customers"]
    assert await list_names(harness, 1606) == []
    replies = await mine.send("Regulars")
    assert "now called <b>Regulars</b>" in replies[0].text
