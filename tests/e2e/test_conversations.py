"""A command always wins over a waiting conversation (the campaign wizard, the template
composer): it runs, the conversation stops waiting, and its draft is kept to come back to."""

from __future__ import annotations

from tests.e2e.conftest import Harness
from tests.e2e.test_campaigns import CUSTOMERS, seed_list

NOT_UNDERSTOOD = "I did not understand that."


async def test_newtemplate_from_the_wizard_then_back_to_the_wizard(harness: Harness) -> None:
    chat = await harness.active_owner(811)
    await seed_list(harness, 811, "Müştərilər", CUSTOMERS)
    await chat.send("/newcampaign")
    replies = await chat.press("📋 Müştərilər (3)")
    assert "write one with /newtemplate" in replies[-1].text

    replies = await chat.send("/newtemplate")  # the wizard does not keep it
    assert "What shall we call it?" in replies[0].text
    replies = await chat.send("Promo")
    assert "send the message text now" in replies[0].text
    replies = await chat.send("Salam {{name|dear customer}}")
    assert "Variant 1 added" in replies[0].text
    replies = await chat.press("💾 Save the template")
    assert "The template <b>Promo</b> is saved." in replies[0].text

    replies = await chat.send("/newcampaign")  # the wizard was kept where it was left
    assert "You were preparing a campaign" in replies[0].text
    assert "📝 Promo" in replies[-1].buttons
    replies = await chat.press("📝 Promo")
    assert "Sandbox" in " ".join(replies[-1].buttons)


async def test_one_cancel_leaves_the_composer_opened_from_the_wizard(harness: Harness) -> None:
    chat = await harness.active_owner(812)
    await seed_list(harness, 812, "Müştərilər", CUSTOMERS)
    await chat.send("/newcampaign")
    await chat.press("📋 Müştərilər (3)")
    await chat.send("/newtemplate")
    replies = await chat.send("/cancel")
    assert replies[0].text == "Template not saved."
    replies = await chat.send("Hello")  # nobody waits for a text any more
    assert NOT_UNDERSTOOD in replies[0].text


async def test_a_command_ends_the_waiting_for_a_typed_answer(harness: Harness) -> None:
    chat = await harness.active_owner(813)
    await seed_list(harness, 813, "Müştərilər", CUSTOMERS)
    await chat.send("/newtemplate")
    await chat.send("Promo")  # the composer waits for a text
    replies = await chat.send("/balance")
    assert "Balance" in replies[0].text or "balance" in replies[0].text
    replies = await chat.send("Salam {{name}}")
    assert NOT_UNDERSTOOD in replies[0].text
    await harness.restart()  # nor does it wait again after a restart
    chat = harness.chat(813)
    replies = await chat.send("Salam {{name}}")
    assert NOT_UNDERSTOOD in replies[0].text

    replies = await chat.send("/newtemplate")  # the draft was kept
    assert "<b>Promo</b>" in replies[0].text
    replies = await chat.send("Salam {{name}}")
    assert "Variant 1 added" in replies[0].text
    replies = await chat.press("🆕 Start a new template")  # or it starts afresh
    assert "What shall we call it?" in replies[-1].text


async def test_a_wizard_left_for_a_command_still_takes_its_buttons(harness: Harness) -> None:
    chat = await harness.active_owner(814)
    await seed_list(harness, 814, "Müştərilər", CUSTOMERS)
    await chat.send("/newcampaign")
    await chat.send("/balance")  # the wizard stops waiting, its message stays
    replies = await chat.press("📋 Müştərilər (3)")
    assert "write one with /newtemplate" in replies[-1].text
    assert chat.last_answer is not None and "text" not in chat.last_answer  # not stale


async def test_another_owners_command_leaves_my_conversation_alone(harness: Harness) -> None:
    alice = await harness.active_owner(815)
    bob = await harness.active_owner(816, name="Bob", phone="+994551112233")
    await alice.send("/newtemplate")
    await alice.send("Promo")
    await bob.send("/newtemplate")
    await bob.send("Bob's")
    await bob.send("/lists")  # Bob leaves his composer
    replies = await alice.send("Salam {{name}}")  # Alice's still waits
    assert "Variant 1 added" in replies[0].text
    replies = await bob.send("Salam {{name}}")
    assert NOT_UNDERSTOOD in replies[0].text
