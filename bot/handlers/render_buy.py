"""Rendering for buying credits: the packages on sale, a package's card with its ways to
pay, the Stars invoice's texts, the receipt, a refusal at checkout and a refund. Pure."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_decimal

from bot.domain import Order, Package
from bot.handlers.render import Screen, keyboard
from bot.i18n import STARS, Safe, Translator
from bot.services.orders import Payment, Refusal

# the buttons (``bot/handlers/buy.py`` reads them): buy:list, buy:pkg:<id>, buy:stars:<id>,
# buy:transfer:<id> (*Pay by transfer*: ``bot/handlers/transfers.py``)
REFUSALS: dict[Refusal, str] = {
    Refusal.UNKNOWN: "buy.refused_unknown",
    Refusal.NOT_ACTIVE: "buy.refused_not_active",
    Refusal.PAID: "buy.refused_paid",
    Refusal.CLOSED: "buy.refused_closed",
    Refusal.HIDDEN: "buy.refused_hidden",
    Refusal.CHANGED: "buy.refused_changed",
    Refusal.AMOUNT: "buy.refused_amount",
}


def validity(tr: Translator, days: int) -> str:
    return tr("buy.valid_days", count=days) if days else tr("buy.valid_forever")


def price(tr: Translator, package: Package) -> str:
    """``25.00 AZN · 500 ⭐``: the prices it is sold at."""
    prices = []
    if package.for_money:
        prices.append(tr.money(package.price_minor, package.currency))
    if package.for_stars:
        prices.append(tr.money(package.price_stars, STARS))
    return " · ".join(prices)


def _fraction(tr: Translator, value: Decimal) -> str:
    """A price per message: up to four decimals (``0.025``), at least two for money."""
    return format_decimal(value, format="#,##0.00##", locale=tr.language.value)


def per_message(tr: Translator, package: Package) -> str:
    """What one message costs (one credit a message): in money, else in Stars."""
    if package.for_money:
        return f"{_fraction(tr, package.minor_per_message.scaleb(-2))} {package.currency}"
    value = format_decimal(package.stars_per_message, format="#,##0.####",
                           locale=tr.language.value)
    return f"{value} ⭐"


def package_line(tr: Translator, package: Package) -> str:
    return tr("buy.package_line", name=package.name, count=package.credits,
              price=price(tr, package), per_message=per_message(tr, package),
              validity=validity(tr, package.validity_days))


def packages_screen(tr: Translator, packages: list[Package]) -> Screen:
    """*Buy credits*: every package on sale, a button each."""
    back = [(tr("menu.back"), "bal:show")]
    if not packages:
        return Screen(tr("buy.none"), keyboard(back))
    lines = [tr("buy.title")] + [package_line(tr, p) for p in packages]
    buttons = [[(tr("buy.package_button", name=p.name, count=p.credits), f"buy:pkg:{p.id}")]
               for p in packages]
    return Screen("\n\n".join(lines), keyboard(*buttons, back))


def package_card(tr: Translator, package: Package, *, transfer: bool = False) -> Screen:
    """A package and its ways to pay: *Pay with Stars* when it has a Stars price, *Pay by
    transfer* when it has a price in money and transfers are offered (``transfer``)."""
    stars = [(tr("buy.pay_stars", stars=tr.money(package.price_stars, STARS)),
              f"buy:stars:{package.id}")] if package.for_stars else []
    bank = [(tr("buy.pay_transfer"), f"buy:transfer:{package.id}")] \
        if transfer and package.for_money else []
    return Screen(tr("buy.card", line=Safe(package_line(tr, package))),
                  keyboard(stars, bank, [(tr("menu.back"), "buy:list")]))


def invoice(tr: Translator, order: Order) -> dict[str, str]:
    """The Stars invoice's texts (plain: Telegram shows them as they are): its title
    (the package's name, at most 32 characters), description and price label."""
    credits = tr("buy.invoice_credits", count=order.credits)
    return {
        "title": order.package_name[:32] or credits,
        "description": tr("buy.invoice_description", credits=Safe(credits),
                          validity=Safe(validity(tr, order.validity_days)),
                          reference=order.reference)[:255],
        "label": credits,
    }


def receipt(tr: Translator, payment: Payment, zone: str) -> Screen:
    """After a successful Stars payment: what was paid and what the owner has now."""
    order = payment.order
    expiry = (tr("buy.expires_on", date=tr.date(payment.credits_expire, zone))
              if payment.credits_expire else tr("buy.valid_forever"))
    return Screen(tr("buy.receipt", reference=order.reference, package=order.package_name,
                     count=order.credits, paid=tr.money(order.amount_minor, order.currency),
                     at=tr.datetime(order.paid_at or order.created_at, zone),
                     expiry=Safe(expiry),
                     available=tr.number(payment.available)),
                  keyboard([(tr("menu.balance"), "bal:show")]))


def refused(tr: Translator, reason: Refusal) -> str:
    """Why the payment cannot go ahead (Telegram shows it in its payment window)."""
    return tr(REFUSALS[reason])


def refunded_alert(tr: Translator, order: Order, taken: int, available: int) -> Screen:
    """To the owner: an admin gave the Stars of an order back."""
    spent = order.credits - taken
    lines = [tr("buy.refunded", reference=order.reference,
                stars=tr.money(order.amount_minor, order.currency),
                count=taken, available=tr.number(available))]
    if spent:
        lines.append(tr("buy.refunded_spent", count=spent))
    return Screen("\n".join(lines), keyboard([(tr("menu.balance"), "bal:show")]))
