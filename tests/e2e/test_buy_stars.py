"""Packages and Telegram Stars in the chat: an admin defines a package in /packages, an
owner buys it under Balance -> Buy credits (invoice, pre-checkout, successful payment,
credits and receipt), a repeated payment update credits once, a hidden package's or a
suspended owner's payment is refused at pre-checkout, another owner can neither see nor
pay the order, and an admin refunds it (the unspent credits taken back)."""

from __future__ import annotations

from bot.console import ChatDriver, SentMessage
from bot.services import billing
from tests.e2e.conftest import ADMIN_ID, Harness

A_ID, B_ID = 871, 872


async def owner_id(harness: Harness, telegram_id: int) -> int:
    owner = await harness.qasid.services.accounts.find(telegram_id)
    assert owner is not None
    return owner.id


async def available(harness: Harness, telegram_id: int) -> int:
    balance = await harness.qasid.services.billing.balance(await owner_id(harness, telegram_id))
    return balance.available


async def make_package(harness: Harness, line: str = "Start; 1000; 25; 500; 30") -> None:
    """The admin makes a package in one line."""
    admin = harness.admin
    await admin.send("/packages")
    await admin.press("➕ New package")
    replies = await admin.send(line)
    assert "Package made and on sale" in replies[-1].text, replies[-1].text


async def invoice_of(chat: ChatDriver, package: str = "Start") -> SentMessage:
    """The owner opens Balance -> Buy credits -> the package -> Pay with Stars."""
    await chat.send("/balance")
    await chat.press("🛒 Buy credits")
    await chat.press(package)
    [sent] = await chat.press("⭐ Pay with Stars")
    assert sent.message.invoice is not None
    return sent.message


async def test_an_admin_defines_a_package_question_by_question(harness: Harness) -> None:
    admin = harness.admin
    [listed] = await admin.send("/packages")
    assert "No packages yet" in listed.text
    [asked] = await admin.press("➕ New package")
    assert "question 1 of 5" in asked.text and "one line" in asked.text
    await admin.send("Start")
    [wrong] = await admin.send("many")
    assert "whole number from 1 to" in wrong.text  # says what is wrong; still asking
    await admin.send("1 000")
    await admin.send("25.50")
    await admin.send("500")
    [made] = await admin.send("30")
    assert "Package made and on sale" in made.text
    assert "1,000 credits" in made.text and "25.50 AZN · 500 ⭐" in made.text
    assert "0.0255 AZN per message" in made.text and "valid for 30 days" in made.text
    assert "Hide" in " ".join(made.buttons)
    await admin.press("✏️ Price in Stars")
    [changed] = await admin.send("400")
    assert "25.50 AZN · 400 ⭐" in changed.text
    [hidden] = await admin.press("🙈 Hide")
    assert "Hidden" in hidden.text and "👁 Put on sale" in hidden.buttons


async def test_an_owner_buys_a_package_with_stars_and_a_repeated_update_credits_once(
        harness: Harness) -> None:
    await make_package(harness)
    a = await harness.active_owner(A_ID)
    await a.send("/balance")
    [shop] = await a.press("🛒 Buy credits")
    assert "Start" in shop.text and "1,000 credits" in shop.text
    assert "25.00 AZN · 500 ⭐" in shop.text and "0.025 AZN per message" in shop.text
    [card] = await a.press("Start")
    assert card.buttons[0] == "⭐ Pay with Stars (500 ⭐)"
    [sent] = await a.press("⭐ Pay with Stars")
    invoice = harness.api.invoices[(A_ID, sent.message.message_id)]
    assert sent.message.invoice == {"title": "Start", "description": sent.message.invoice[
        "description"], "start_parameter": "", "currency": "XTR", "total_amount": 500}
    assert invoice.payload.startswith("Q-") and invoice.payload in sent.text
    [call] = [c for c in harness.api.calls if c.method == "sendInvoice"]
    assert not call.params.get("provider_token") and call.params["prices"] == [
        {"label": "1,000 credits", "amount": 500}]

    paid = await a.pay()
    assert paid.ok, paid.error_message
    receipt, pdf = paid.replies  # the receipt, then its PDF
    assert "Payment received" in receipt.text and invoice.payload in receipt.text
    assert "1,000 credits (valid until " in receipt.text and "500 ⭐" in receipt.text
    assert "Available now: <b>1,000</b>" in receipt.text
    assert pdf.message.kind == "document" and invoice.payload in pdf.text
    assert await available(harness, A_ID) == 1000

    assert paid.update is not None
    await a.step(paid.update)  # Telegram delivers the same update again
    assert await available(harness, A_ID) == 1000
    [balance] = await a.send("/balance")
    assert "Available: <b>1,000</b>" in balance.text and balance.text.count("top-up") == 1


async def test_a_hidden_packages_open_invoice_is_refused_at_pre_checkout(
        harness: Harness) -> None:
    await make_package(harness)
    a = await harness.active_owner(A_ID)
    await invoice_of(a)
    admin = harness.admin
    await admin.send("/packages")
    await admin.press("Start")
    await admin.press("🙈 Hide")
    paid = await a.pay()
    assert not paid.ok and paid.error_message == (
        "This package is no longer on sale. Choose another one under Balance, Buy credits.")
    assert await available(harness, A_ID) == 0
    await a.send("/balance")
    [shop] = await a.press("🛒 Buy credits")
    assert "No packages are on sale" in shop.text


async def test_a_suspended_owner_cannot_pay(harness: Harness) -> None:
    await make_package(harness)
    a = await harness.active_owner(A_ID, language="ru")
    await a.send("/balance")
    await a.press("🛒 Купить кредиты")
    await a.press("Start")
    await a.press("⭐ Оплатить звёздами")
    await harness.admin.send(f"/suspend {await owner_id(harness, A_ID)} fraud")
    paid = await a.pay()
    assert not paid.ok
    assert paid.error_message == "Ваш аккаунт не активен, поэтому сейчас оплатить нельзя."
    assert await available(harness, A_ID) == 0


async def test_a_second_owner_can_neither_see_nor_pay_nor_refund_anothers_order(
        harness: Harness) -> None:
    await make_package(harness)
    a = await harness.active_owner(A_ID)
    b = await harness.active_owner(B_ID, name="Bahruz", phone="+994501234568")
    invoice = await invoice_of(a)
    reference = harness.api.invoices[(A_ID, invoice.message_id)].payload
    forwarded = await b.pay(invoice)  # A's invoice, forwarded to B
    assert not forwarded.ok
    assert forwarded.error_message == "This invoice is not one of your orders."
    [refused] = await b.send(f"/refund {reference}")
    assert reference not in refused.text and "Qasid" not in refused.text
    assert (await available(harness, A_ID), await available(harness, B_ID)) == (0, 0)
    assert (await a.pay()).ok  # A still pays it
    assert (await available(harness, A_ID), await available(harness, B_ID)) == (1000, 0)


async def test_an_admin_refunds_a_stars_payment_and_the_unspent_credits_go_back(
        harness: Harness) -> None:
    await make_package(harness)
    a = await harness.active_owner(A_ID)
    invoice = await invoice_of(a)
    reference = harness.api.invoices[(A_ID, invoice.message_id)].payload
    paid = await a.pay()
    assert paid.ok and paid.charge_id is not None
    qasid = harness.qasid
    async with qasid.db.transaction() as tx:  # 300 credits spent on messages meanwhile
        oid = await owner_id(harness, A_ID)
        await billing.reserve(tx, oid, 300, qasid.services.orders._clock())
        await billing.charge(tx, oid, 300, qasid.services.orders._clock())

    [done] = await harness.admin.send(f"/refund {reference.lower()} paid twice")
    assert f"Order {reference} refunded: 500 ⭐ back to" in done.text
    assert "700 credits taken back" in done.text
    assert "300 credits of it had been spent already" in done.text
    assert harness.api.payments[paid.charge_id].refunded
    told = harness.api.last_message(A_ID)
    assert told is not None and "was refunded" in told.text and "700 credits" in told.text
    assert "300 credits of the order had been spent" in told.text
    assert await available(harness, A_ID) == 0

    [again] = await harness.admin.send(f"/refund {reference}")
    assert "is not a paid order" in again.text
    refunds = [c for c in harness.api.calls if c.method == "refundStarPayment"]
    assert len(refunds) == 1 and refunds[0].params == {
        "user_id": A_ID, "telegram_payment_charge_id": paid.charge_id}
    await a.step(harness.api.refunded_payment_update(a.user, paid.charge_id))
    assert a.last_replies == []  # Telegram's own note of the refund: nothing more to say
    assert harness.api.last_message(ADMIN_ID) is not None


async def test_a_refund_telegram_refuses_changes_nothing_and_one_it_made_already_completes(
        harness: Harness) -> None:
    await make_package(harness)
    a = await harness.active_owner(A_ID)
    invoice = await invoice_of(a)
    reference = harness.api.invoices[(A_ID, invoice.message_id)].payload
    paid = await a.pay()
    assert paid.charge_id is not None
    harness.api.fail_next("refundStarPayment", 400, "Bad Request: BALANCE_TOO_LOW")
    [refused] = await harness.admin.send(f"/refund {reference}")
    assert "Telegram did not refund" in refused.text and "Nothing was changed" in refused.text
    assert await available(harness, A_ID) == 1000
    # the Stars went back, but the bot stopped before taking the credits: /refund again
    harness.api.payments[paid.charge_id].refunded = True
    [done] = await harness.admin.send(f"/refund {reference}")
    assert "1,000 credits taken back" in done.text
    assert await available(harness, A_ID) == 0
