"""Rendering for an owner's receipts and statements (*Balance* -> *Receipts*,
*Statement*). Pure.

Buttons: ``inv:list`` (the paid orders), ``inv:get:<order id>`` (its receipt again);
``stm:months`` (the months), ``stm:m:<YYYY-MM>`` (its formats), ``stm:f:<YYYY-MM>:<csv|xlsx>``
(the file).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from babel.dates import format_date

from bot.domain import LedgerKind
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.invoices import amount_text
from bot.services.statements import FORMATS, Month, StatementText
from bot.storage.sales import OrderView

MONTHS_PER_ROW = 2


def month_name(tr: Translator, month: Month) -> str:
    """``November 2026``, ``noyabr 2026``, ``Ноябрь 2026``: the month as a heading."""
    text = format_date(date(month.year, month.month, 1), "LLLL y", locale=tr.language.value)
    return text[:1].upper() + text[1:]


def back_row(tr: Translator) -> list[tuple[str, str]]:
    return [(tr("menu.back"), "bal:show")]


# --- receipts ----------------------------------------------------------------------------

def receipts(tr: Translator, orders: Sequence[OrderView], zone: str) -> Screen:
    """The owner's paid orders, each a button that sends its receipt again."""
    if not orders:
        return Screen(tr("invoice.list_empty"), keyboard(back_row(tr)))
    rows = [[(tr("invoice.list_button", date=tr.date(o.paid_at or o.created_at, zone),
                 reference=o.reference, amount=tr.money(o.amount_minor, o.currency)),
              f"inv:get:{o.id}")] for o in orders]
    return Screen(tr("invoice.list"), keyboard(*rows, back_row(tr)))


def receipt_caption(tr: Translator, order: OrderView) -> str:
    return tr("invoice.caption", reference=order.reference, package=order.package_name,
              amount=amount_text(tr, order))


def payment_received(tr: Translator, order: OrderView, available: int) -> Screen:
    """Before the receipt: the order is paid and its credits are there."""
    return Screen(tr("invoice.paid", count=order.credits, reference=order.reference,
                     package=order.package_name, available=tr.number(available)),
                  keyboard([(tr("menu.balance"), "bal:show")]))


# --- statements --------------------------------------------------------------------------

def statement_months(tr: Translator, months: Sequence[Month], zone: str) -> Screen:
    if not months:
        return Screen(tr("statement.none"), keyboard(back_row(tr)))
    buttons = [(month_name(tr, m), f"stm:m:{m.key}") for m in months]
    rows = [buttons[n:n + MONTHS_PER_ROW] for n in range(0, len(buttons), MONTHS_PER_ROW)]
    return Screen(tr("statement.months", zone=zone), keyboard(*rows, back_row(tr)))


def statement_formats(tr: Translator, month: Month) -> Screen:
    return Screen(tr("statement.format", month=month_name(tr, month)), keyboard(
        [(tr(f"statement.{fmt}"), f"stm:f:{month.key}:{fmt}") for fmt in FORMATS],
        [(tr("menu.back"), "stm:months")]))


def statement_text(tr: Translator, zone: str) -> StatementText:
    """The file's words in the owner's language (plain text: the file is no HTML)."""
    plain = {"&amp;": "&", "&lt;": "<", "&gt;": ">"}

    def t(key: str, **params: object) -> str:
        text = tr(key, **params)
        for entity, char in plain.items():
            text = text.replace(entity, char)
        return text

    return StatementText(
        columns=(t("statement.col_when", zone=zone), t("statement.col_kind"),
                 t("statement.col_amount"), t("statement.col_campaign"),
                 t("statement.col_package"), t("statement.col_note"),
                 t("statement.col_balance")),
        kinds={kind: t(f"ledger.{kind.value}") for kind in LedgerKind},
        opening=t("statement.opening"), sheet=t("statement.sheet"))


def statement_caption(tr: Translator, month: Month, rows: int, opening: int,
                      closing: int) -> str:
    return tr("statement.caption", count=rows, month=month_name(tr, month),
              opening=tr.number(opening), closing=tr.number(closing))
