"""The fake Bot API speaks Telegram Stars payments as Telegram does: an invoice message,
the pre-checkout query and its answer, the successful payment (repeatable), a refund."""

from __future__ import annotations

import pytest
from telegram import LabeledPrice, Update
from telegram.error import BadRequest
from telegram.ext import Application, ContextTypes, MessageHandler, PreCheckoutQueryHandler, filters

from bot.console import ChatDriver, FakeBotApi, FakeUser, application_builder

AYSEL, BAHRUZ = FakeUser(id=601, first_name="Aysel"), FakeUser(id=602, first_name="Bahruz")


async def checkout(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.pre_checkout_query
    if query.from_user.id == AYSEL.id and query.invoice_payload == "order-1":
        await query.answer(ok=True)
    else:
        await query.answer(ok=False, error_message="Not your order")


async def paid(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    payment = update.message.successful_payment
    context.bot_data.setdefault("paid", []).append(
        (payment.currency, payment.total_amount, payment.invoice_payload,
         payment.telegram_payment_charge_id))
    await update.message.reply_text("thanks")


@pytest.fixture
def api() -> FakeBotApi:
    return FakeBotApi()


@pytest.fixture
async def app(api: FakeBotApi):
    application = application_builder(api).build()
    application.add_handler(PreCheckoutQueryHandler(checkout))
    application.add_handler(MessageHandler(filters.SUCCESSFUL_PAYMENT, paid))
    async with application:
        yield application


async def send(app: Application, chat: ChatDriver, **kwargs):
    defaults = {"title": "Start", "description": "1,000 credits", "payload": "order-1",
                "currency": "XTR", "prices": [LabeledPrice("1,000 credits", 500)]}
    return await app.bot.send_invoice(chat.chat_id, **(defaults | kwargs))


async def test_an_invoice_is_a_message_with_the_invoice_telegram_shows(app, api) -> None:
    chat = ChatDriver(app, api, AYSEL)
    message = await send(app, chat)
    assert message.invoice is not None
    assert (message.invoice.title, message.invoice.description, message.invoice.currency,
            message.invoice.total_amount) == ("Start", "1,000 credits", "XTR", 500)
    stored = api.last_message(AYSEL.id)
    assert stored is not None and stored.kind == "invoice"
    assert api.invoices[(AYSEL.id, message.message_id)].payload == "order-1"


@pytest.mark.parametrize("wrong", [
    {"provider_token": "284685063:TEST:abc"},
    {"prices": [LabeledPrice("a", 1), LabeledPrice("b", 2)]},
    {"title": "x" * 33},
    {"payload": ""},
])
async def test_a_stars_invoice_telegram_would_refuse_is_refused(app, api, wrong) -> None:
    chat = ChatDriver(app, api, AYSEL)
    with pytest.raises(BadRequest):
        await send(app, chat, **wrong)


async def test_a_user_pays_once_asked_and_the_update_can_come_again(app, api) -> None:
    chat = ChatDriver(app, api, AYSEL)
    await send(app, chat)
    done = await chat.pay()
    assert done.ok and [r.text for r in done.replies] == ["thanks"]
    assert done.charge_id is not None and done.update is not None
    asked = [c for c in api.calls if c.method == "answerPreCheckoutQuery"]
    assert [c.params["ok"] for c in asked] == [True]
    await chat.step(done.update)  # redelivered: the bot sees the same payment again
    assert app.bot_data["paid"] == [("XTR", 500, "order-1", done.charge_id)] * 2


async def test_a_refused_checkout_takes_nothing_and_says_why(app, api) -> None:
    owner_chat = ChatDriver(app, api, AYSEL)
    invoice = await send(app, owner_chat)
    other = ChatDriver(app, api, BAHRUZ)
    refused = await other.pay(api.message(AYSEL.id, invoice.message_id))  # forwarded
    assert not refused.ok and refused.error_message == "Not your order"
    assert api.payments == {} and "paid" not in app.bot_data


async def test_a_payment_is_refunded_once(app, api) -> None:
    chat = ChatDriver(app, api, AYSEL)
    await send(app, chat)
    done = await chat.pay()
    assert done.charge_id is not None
    with pytest.raises(BadRequest, match=r"(?i)charge_not_found"):
        await app.bot.refund_star_payment(BAHRUZ.id, done.charge_id)
    assert await app.bot.refund_star_payment(AYSEL.id, done.charge_id)
    with pytest.raises(BadRequest, match=r"(?i)charge_already_refunded"):
        await app.bot.refund_star_payment(AYSEL.id, done.charge_id)
    update = Update.de_json(api.refunded_payment_update(AYSEL, done.charge_id), app.bot)
    assert update.message.refunded_payment.telegram_payment_charge_id == done.charge_id


async def test_a_pre_checkout_query_is_answered_once(app, api) -> None:
    chat = ChatDriver(app, api, AYSEL)
    invoice = await send(app, chat)
    update = api.pre_checkout_update(AYSEL, api.message(AYSEL.id, invoice.message_id))
    await chat.step(update)
    with pytest.raises(BadRequest):
        await app.bot.answer_pre_checkout_query(update["pre_checkout_query"]["id"], ok=True)
    with pytest.raises(BadRequest):  # ok=False needs the reason the user reads
        await app.bot.answer_pre_checkout_query("checkout-999", ok=False)
