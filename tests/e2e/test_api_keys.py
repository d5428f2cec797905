"""API keys in the chat (/api): an owner makes a key, sees it once, lists it, revokes it;
another owner never sees or touches it; the key never reaches a log."""

from __future__ import annotations

import logging
import re

from bot.services.api_keys import KEY_SHAPE
from tests.e2e.conftest import Harness

A_ID, B_ID = 861, 862


def the_key(text: str) -> str:
    found = KEY_SHAPE.search(text)
    assert found is not None, text
    return found.group(0)


def sent_since(harness: Harness, since: int) -> str:
    """Everything the bot sent, showed or answered since call ``since``, in any chat."""
    return " ".join(str(call.params) for call in harness.api.calls[since:])


async def make_key(chat, name: str, *scopes: str) -> str:
    await chat.send("/api")
    await chat.press("➕ New key")
    await chat.send(name)
    for scope in scopes:
        await chat.press(f"⬜ {scope}")
    [shown] = await chat.press("✅ Create key")
    return the_key(shown.text)


async def test_an_owner_makes_a_key_sees_it_once_lists_it_and_revokes_it(
        harness: Harness, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    a = await harness.active_owner(A_ID)
    keys = harness.qasid.services.api_keys

    [empty] = await a.send("/api")
    assert "You have no API keys yet" in empty.text
    [asked] = await a.press("➕ New key")
    assert "What should the new key be called?" in asked.text
    [refused] = await a.send("x")  # too short: the question stays open
    assert "too short" in refused.text
    [scopes] = await a.send("Shop   site")
    assert "Key “<b>Shop site</b>”: what may it do?" in scopes.text
    assert "⬜ Contacts: read" in scopes.buttons and "⬜ Webhooks: write" in scopes.buttons
    assert [b for b in scopes.buttons if b.startswith("⬜ Stats")] == ["⬜ Stats: read"]
    [toggled] = await a.press("⬜ Contacts: write")
    assert "✅ Contacts: read" in toggled.buttons and "✅ Contacts: write" in toggled.buttons
    await a.press("⬜ Messages: write")
    await a.press("✅ Messages: read")  # no write without read: both go
    [toggled] = await a.press("⬜ Stats: read")
    assert "✅ Messages: write" not in toggled.buttons
    assert "Chosen: Contacts: read and write · Stats: read" in toggled.text

    since = len(harness.api.calls)
    [shown] = await a.press("✅ Create key")
    secret = the_key(shown.text)
    assert "will not be shown again" in shown.text
    assert f"<code>{secret}</code>" in shown.text
    principal = await keys.authenticate(secret)
    owner = await harness.qasid.services.accounts.find(A_ID)
    assert principal is not None and principal.owner_id == owner.id

    after = len(harness.api.calls)
    [listed] = await a.press("🔑 API keys")
    prefix = secret[:12]
    assert "<b>Shop site</b>" in listed.text and f"<code>{prefix}…</code>" in listed.text
    assert "Contacts: read and write · Stats: read" in listed.text
    assert "last used: " in listed.text and "never" not in listed.text  # used just now
    [again] = await a.send("/api")
    assert "<b>Shop site</b>" in again.text
    assert secret not in sent_since(harness, after)  # shown once, never again
    assert sent_since(harness, since).count(secret) == 1

    await a.press("🗑 Revoke “Shop site”")
    assert "Whatever uses it stops working at once" in a.texts()[0]
    [revoked] = await a.press("🗑 Yes, revoke")
    assert "The key “Shop site” is revoked" in revoked.text
    assert "You have no API keys yet" in revoked.text
    assert await keys.authenticate(secret) is None

    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert prefix in logged  # keys are named by their prefix in the log...
    assert secret not in logged and secret[13:] not in logged  # ...never by themselves


async def test_a_second_owner_neither_sees_nor_revokes_the_first_owners_keys(
        harness: Harness) -> None:
    a = await harness.active_owner(A_ID, name="Aynur", company="Alpha")
    b = await harness.active_owner(B_ID, name="Bəhram", company="Beta",
                                   phone="+994552220002")
    secret = await make_key(a, "Alpha CRM", "Messages: write")
    [a_key] = await harness.qasid.services.api_keys.list(
        (await harness.qasid.services.accounts.find(A_ID)).id)

    [b_list] = await b.send("/api")
    assert "Alpha CRM" not in b_list.text and a_key.prefix not in b_list.text
    for data in (f"api:rv:{a_key.id}", f"api:rvok:{a_key.id}", "api:mk",
                 "api:sc:contacts:write"):
        message = harness.api.last_message(B_ID)
        assert message is not None
        before = len(harness.api.calls)
        await b.step(harness.api.callback_update(b.user, message, data))
        told = sent_since(harness, before)
        assert "Alpha CRM" not in told and a_key.prefix not in told
        assert "out of date" in told or "Not found" in told
    assert await harness.qasid.services.api_keys.authenticate(secret) is not None
    [a_list] = await a.send("/api")
    assert "Alpha CRM" in a_list.text


async def test_the_api_button_of_the_menu_and_a_suspension(harness: Harness) -> None:
    a = await harness.active_owner(A_ID)
    secret = await make_key(a, "Booking", "Campaigns: write")
    await a.send("/menu")
    [screen] = await a.press("🔌 API")
    assert "<b>Booking</b>" in screen.text and "Campaigns: read and write" in screen.text
    assert "🔌 API" in (await a.send("/menu"))[0].buttons
    keys = harness.qasid.services.api_keys
    owner = await harness.qasid.services.accounts.find(A_ID)
    await harness.admin.send(f"/suspend {owner.id} spam")
    assert await keys.authenticate(secret) is None  # at once
    await harness.admin.send(f"/unsuspend {owner.id}")
    assert await keys.authenticate(secret) is not None


async def test_a_key_half_made_survives_a_restart_and_a_command_drops_its_question(
        harness: Harness) -> None:
    a = await harness.active_owner(A_ID)
    await a.send("/api")
    await a.press("➕ New key")
    await a.send("/balance")  # a command: the question of the name is dropped
    replies = await a.send("Not a name")
    assert not any("what may it do" in r.text for r in replies)

    await a.send("/api")
    await a.press("➕ New key")
    await a.send("Warehouse")
    await a.press("⬜ Contacts: read")
    await harness.restart()
    a = harness.chat(A_ID)
    [toggled] = await a.press("⬜ Stats: read")
    assert "Chosen: Contacts: read · Stats: read" in toggled.text
    [shown] = await a.press("✅ Create key")
    secret = the_key(shown.text)
    assert await harness.qasid.services.api_keys.authenticate(secret) is not None
    since = len(harness.api.calls)  # Create tapped twice: the second tap makes nothing
    message = harness.api.last_message(A_ID)
    assert message is not None
    await a.step(harness.api.callback_update(a.user, message, "api:mk"))
    assert "out of date" in sent_since(harness, since)
    owner = await harness.qasid.services.accounts.find(A_ID)
    assert len(await harness.qasid.services.api_keys.list(owner.id)) == 1
    assert not re.search(KEY_SHAPE, (await a.send("/api"))[0].text)
