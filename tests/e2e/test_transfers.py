"""Paying by bank transfer, in chat: the owner orders, pays, sends the receipt; the admins
get it with *Confirm payment* / *Reject*; whoever taps first decides, once. Through the
fake Bot API, with two admins."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest

from bot.console.botapi import FakeBotApi, SentMessage
from bot.console.driver import ChatDriver
from bot.domain import OrderStatus
from bot.storage import packages
from tests.e2e.conftest import ADMIN_ID, Harness
from tests.e2e.test_sending import ClockedHarness
from tests.fakes import FakeClock

SECOND_ADMIN = 901
IBAN = "AZ21NABZ00000000137010001944"
PAYMENT = {"payment_bank": "Kapital Bank", "payment_iban": IBAN,
           "payment_recipient": "Qasid MMC", "payment_note": "Card to card: 4169 0000 1111 2222",
           "admin_ids": frozenset({ADMIN_ID, SECOND_ADMIN})}
REFERENCE = re.compile(r"Q-\d{6}-[0-9A-Z]{2}")


@pytest.fixture
async def make_harness(make_settings) -> AsyncIterator:
    made: list[ClockedHarness] = []

    async def make(**overrides) -> ClockedHarness:
        h = ClockedHarness(FakeBotApi(), make_settings(**(PAYMENT | overrides)),
                           FakeClock(datetime.now(UTC)))
        await h.start()
        h.chat(SECOND_ADMIN, name="Leyla")  # the second admin opened the bot
        made.append(h)
        return h

    yield make
    for h in made:
        await h.stop()


async def package(h: Harness, name: str = "Starter") -> int:
    async with h.qasid.db.transaction() as tx:
        made = await packages.add(tx, name=name, credits=1000, validity_days=30,
                                  price_minor=2500, currency="AZN", price_stars=0,
                                  now=h.qasid.services.accounts.now())
    return made.id


def message_with(h: Harness, chat_id: int, data: str) -> SentMessage:
    """The chat's newest message with a button whose callback data is ``data``."""
    for message in reversed(h.api.messages(chat_id)):
        rows = (message.reply_markup or {}).get("inline_keyboard", [])
        if any(b.get("callback_data") == data for row in rows for b in row):
            return message
    raise LookupError(f"no message of chat {chat_id} has a button {data!r}")


async def tap(h: Harness, chat: ChatDriver, data: str,
              message: SentMessage | None = None) -> list:
    """Press the button with this callback data (or replay it on ``message``)."""
    message = message or message_with(h, chat.chat_id, data)
    update = h.api.callback_update(chat.user, message, data)
    replies = await chat.step(update)
    query_id = update["callback_query"]["id"]
    chat.last_answer = next((c.params for c in h.api.calls if c.method == "answerCallbackQuery"
                             and c.params.get("callback_query_id") == query_id), None)
    return replies


async def pay_by_transfer(h: Harness, owner: ChatDriver, package_id: int) -> str:
    """Balance -> Buy credits -> the package -> Pay by transfer: the order's reference."""
    await owner.send("/balance")
    await tap(h, owner, "buy:list")
    await tap(h, owner, f"buy:pkg:{package_id}")
    [details] = await tap(h, owner, f"buy:transfer:{package_id}")
    found = REFERENCE.search(details.text)
    assert found, details.text
    return found.group(0)


async def send_photo(h: Harness, owner: ChatDriver, name: str = "receipt.jpg") -> list:
    photo = h.api.add_file(b"\xff\xd8\xff receipt", name, "image/jpeg")
    return await owner.step(h.api.photo_update(owner.user, photo))


def card(h: Harness, admin_id: int, reference: str) -> SentMessage:
    """The admin's message about the order: the receipt, with the order in its caption."""
    found = [m for m in h.api.messages(admin_id) if m.kind != "text" and reference in m.body]
    assert len(found) == 1, [m.body for m in h.api.messages(admin_id)]
    return found[0]


async def order_of(h: Harness, reference: str):
    from bot.storage import orders

    found = await orders.by_reference(h.qasid.db.reader, reference)
    assert found is not None
    return found


async def available(h: Harness, telegram_id: int) -> int:
    owner = await h.qasid.services.accounts.find(telegram_id)
    assert owner is not None
    return (await h.qasid.services.billing.balance(owner.id)).available


async def test_a_receipt_photo_confirmed_by_an_admin_credits_once(make_harness) -> None:
    h = await make_harness()
    pid = await package(h)
    owner = await h.active_owner(601, name="Aysel", company="Gül Evi")
    second = h.chat(SECOND_ADMIN, name="Leyla")

    reference = await pay_by_transfer(h, owner, pid)
    details = owner.last_replies[0].text
    for shown in ("Kapital Bank", IBAN, "Qasid MMC", "25.00 AZN", "Card to card: 4169",
                  "photo or PDF"):
        assert shown in details, (shown, details)
    assert "❌ Cancel order" in owner.last_replies[0].buttons

    [told] = await send_photo(h, owner)
    assert reference in told.text and "administrators" in told.text
    for admin_id in (ADMIN_ID, SECOND_ADMIN):
        sent = card(h, admin_id, reference)
        assert sent.kind == "photo" and sent.buttons == ["✅ Confirm payment", "❌ Reject"]
        assert "Aysel" in sent.body and "Gül Evi" in sent.body and "25.00 AZN" in sent.body
    assert await available(h, 601) == 0

    order = await order_of(h, reference)
    await tap(h, h.admin, f"adm:pay:{order.id}", card(h, ADMIN_ID, reference))
    order = await order_of(h, reference)
    assert order.status is OrderStatus.PAID and order.decided_by == ADMIN_ID
    assert await available(h, 601) == 1000
    told_owner = " ".join(m.body for m in h.api.messages(601)[-3:])
    assert reference in told_owner and "1,000" in told_owner
    for admin_id in (ADMIN_ID, SECOND_ADMIN):  # every card says who decided, no buttons
        decided = card(h, admin_id, reference)
        assert "confirmed by Admin" in decided.body and decided.buttons == []

    # the second admin's Reject and Confirm, tapped on the card before it was updated
    for data in (f"adm:payno:{order.id}", f"adm:pay:{order.id}"):
        await tap(h, second, data, card(h, SECOND_ADMIN, reference))
        assert second.last_answer is not None
        assert "already confirmed by Admin" in second.last_answer["text"]
    assert await h.qasid.services.prompts.pending_admin(SECOND_ADMIN) is None  # no reason asked
    assert (await order_of(h, reference)).status is OrderStatus.PAID
    assert await available(h, 601) == 1000  # credited once


async def test_a_rejection_with_its_reason_reaches_the_owner(make_harness) -> None:
    h = await make_harness()
    pid = await package(h)
    owner = await h.active_owner(602)
    second = h.chat(SECOND_ADMIN, name="Leyla")
    reference = await pay_by_transfer(h, owner, pid)
    await send_photo(h, owner)
    order = await order_of(h, reference)

    [question] = await tap(h, second, f"adm:payno:{order.id}")
    assert "Why is the payment" in question.text and question.buttons == ["« Back"]
    await tap(h, second, f"adm:payback:{order.id}")  # changed their mind: the card again
    assert card(h, SECOND_ADMIN, reference).buttons == ["✅ Confirm payment", "❌ Reject"]
    await tap(h, second, f"adm:payno:{order.id}")
    await second.send("The amount was 20 AZN, not 25")
    rejected = await order_of(h, reference)
    assert rejected.status is OrderStatus.REJECTED
    assert rejected.reason == "The amount was 20 AZN, not 25"
    told = h.api.last_message(602).body
    assert "was not confirmed" in told and "The amount was 20 AZN, not 25" in told
    for admin_id in (ADMIN_ID, SECOND_ADMIN):
        assert "Rejected by Leyla" in card(h, admin_id, reference).body
    admin = h.admin
    await tap(h, admin, f"adm:pay:{order.id}", card(h, ADMIN_ID, reference))
    assert "already rejected by Leyla" in admin.last_answer["text"]
    assert await available(h, 602) == 0


async def test_an_order_without_a_receipt_expires_and_the_owner_is_told(
        make_harness) -> None:
    h = await make_harness()
    pid = await package(h)
    owner = await h.active_owner(603)
    reference = await pay_by_transfer(h, owner, pid)
    h.clock.advance(days=3, minutes=-1)
    assert await h.qasid.services.transfers.expire_due() == 0
    h.clock.advance(minutes=2)
    assert await h.qasid.services.transfers.expire_due() == 1
    told = h.api.last_message(603).body
    assert reference in told and "expired" in told and "3 days" in told
    assert (await order_of(h, reference)).status is OrderStatus.EXPIRED
    calls = len(h.api.calls)
    await send_photo(h, owner)  # too late: no order takes it, no admin gets it
    assert not [c for c in h.api.calls[calls:] if c.params.get("chat_id") == ADMIN_ID]


async def test_a_suspended_owner_can_neither_order_nor_send_a_receipt(make_harness) -> None:
    h = await make_harness()
    pid = await package(h)
    owner = await h.active_owner(604)
    reference = await pay_by_transfer(h, owner, pid)
    account = await h.qasid.services.accounts.find(604)
    await h.admin.send(f"/suspend {account.id} unpaid bills")
    calls = len(h.api.calls)
    [refused] = await send_photo(h, owner)
    assert "suspended" in refused.text
    await tap(h, owner, f"buy:transfer:{pid}", h.api.last_message(604))
    assert "suspended" in h.api.last_message(604).body
    assert not [c for c in h.api.calls[calls:] if c.params.get("chat_id") == ADMIN_ID]
    assert (await order_of(h, reference)).status is OrderStatus.OPEN


async def test_a_second_owner_can_neither_see_nor_cancel_nor_confirm(make_harness) -> None:
    h = await make_harness()
    pid = await package(h)
    owner_a = await h.active_owner(605, name="Aynur", company="Alpha Shop")
    owner_b = await h.active_owner(606, name="Bəhram", company="Beta LLC")
    reference = await pay_by_transfer(h, owner_a, pid)
    order = await order_of(h, reference)
    a_calls = len([c for c in h.api.calls if c.params.get("chat_id") == 605])
    since = len(h.api.calls)

    await tap(h, owner_b, f"trf:cancel:{order.id}", h.api.last_message(606))
    assert "not found" in owner_b.last_answer["text"].lower()
    await send_photo(h, owner_b)  # B has no order: not A's receipt
    assert (await order_of(h, reference)).status is OrderStatus.OPEN
    await send_photo(h, owner_a)
    for data in (f"adm:pay:{order.id}", f"adm:payno:{order.id}", f"adm:payback:{order.id}"):
        await tap(h, owner_b, data, h.api.last_message(606))
        assert owner_b.last_answer["text"] == "Only administrators can do that."
    assert (await order_of(h, reference)).status is OrderStatus.SUBMITTED
    assert await available(h, 605) == 0 and await available(h, 606) == 0
    shown_to_b = " ".join(str(c.params) for c in h.api.calls[since:]
                          if c.params.get("chat_id") == 606 or c.method == "answerCallbackQuery")
    for secret in ("Aynur", "Alpha Shop", reference):
        assert secret not in shown_to_b
    a_calls_now = len([c for c in h.api.calls if c.params.get("chat_id") == 605])
    assert a_calls_now == a_calls + 1  # only A's own "receipt received"


async def test_a_contacts_file_still_imports_while_an_order_waits(make_harness) -> None:
    h = await make_harness()
    pid = await package(h)
    owner = await h.active_owner(607)
    reference = await pay_by_transfer(h, owner, pid)
    [reminder] = await owner.send("what now?")
    assert reference in reminder.text and "photo or PDF" in reminder.text
    [target] = await owner.upload(b"Name,Phone\nAli,+994501112233\n", "customers.csv",
                                  "text/csv")
    assert any("New list" in b for b in target.buttons)  # the import's question
    assert (await order_of(h, reference)).status is OrderStatus.OPEN
    await owner.upload(b"%PDF-1.4 receipt", "receipt.pdf", "application/pdf")
    sent = await order_of(h, reference)
    assert sent.status is OrderStatus.SUBMITTED and sent.receipt_kind == "document"
    assert card(h, ADMIN_ID, reference).kind == "document"


async def test_one_order_waits_at_a_time_and_can_be_cancelled(make_harness) -> None:
    h = await make_harness()
    pid = await package(h)
    owner = await h.active_owner(608)
    first = await pay_by_transfer(h, owner, pid)
    again = await pay_by_transfer(h, owner, pid)
    assert again == first and "already have an order" in owner.last_replies[0].text
    order = await order_of(h, first)
    [cancelled] = await tap(h, owner, f"trf:cancel:{order.id}")
    assert "cancelled" in cancelled.text
    assert (await order_of(h, first)).status is OrderStatus.CANCELLED
    assert await pay_by_transfer(h, owner, pid) != first


async def test_without_an_iban_pay_by_transfer_is_not_offered(make_harness) -> None:
    h = await make_harness(payment_iban="")
    pid = await package(h)
    owner = await h.active_owner(609)
    await owner.send("/balance")
    await tap(h, owner, "buy:list")
    await tap(h, owner, f"buy:pkg:{pid}")
    datas = [b.get("callback_data") for row in
             (h.api.last_message(609).reply_markup or {}).get("inline_keyboard", [])
             for b in row]
    assert f"buy:transfer:{pid}" not in datas
    await tap(h, owner, f"buy:transfer:{pid}", h.api.last_message(609))  # a forged button
    assert owner.last_answer["text"] == "Paying by bank transfer is not available here."
