"""The live health guard as the owner sees it: told once per change in their language,
and /numbers shows the number's guard (mode, gap factor, capping / quality / tier) and its
last warnings with their times."""

from __future__ import annotations

from bot.gateways.base import SenderHealth, SenderState
from tests.e2e.test_sending import make_harness, prepared_owner  # noqa: F401 - a fixture

WORKING = SenderState.WORKING


async def test_warnings_told_once_and_shown_in_numbers(make_harness) -> None:  # noqa: F811
    h = await make_harness()
    chat = await prepared_owner(h, 951)
    await chat.send("/numbers")  # the sandbox number is made
    owner = await h.qasid.services.accounts.find(951)
    [number] = await h.qasid.services.campaigns.usable_senders(owner.id)
    guard = h.qasid.services.dispatcher.guard
    before = len(h.api.messages(951))
    for _ in range(2):  # the same report twice: one reaction, one message
        await guard.observe(number.id, SenderHealth(WORKING, capping="FIRST_WARNING"),
                            h.clock())
    [told] = h.api.messages(951)[before:]
    assert "first warning about new chats" in told.text and "x2" in told.text

    replies = await chat.send("/numbers")
    text = replies[0].text
    assert "Guard: slowed · gaps x2" in text
    assert "New-chat status: FIRST_WARNING" in text
    assert "Recent warnings:" in text and "first new-chat warning" in text

    await chat.send("/language")
    await chat.press("Русский")
    h.clock.advance(seconds=60)
    await guard.observe(number.id, SenderHealth(WORKING, capping="SECOND_WARNING"), h.clock())
    await guard.observe(number.id, SenderHealth(WORKING, quality="YELLOW", tier=1000),
                        h.clock())
    await guard.observe(number.id, SenderHealth(WORKING, tier=250), h.clock())
    texts = [m.text for m in h.api.messages(951)[before + 1:]]
    assert sum("второе предупреждение" in t for t in texts) == 1
    assert sum("1\xa0000 → 250 человек в день" in t for t in texts) == 1
    replies = await chat.send("/numbers")
    text = replies[0].text
    assert "Защита: без новых чатов · паузы x2" in text
    assert "Качество: YELLOW" in text and "Лимит: 250 человек в день" in text
