"""Rendering for credits: the balance and its history, and what the owner is told about
them. Pure."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from bot.domain import Balance, LedgerLine
from bot.handlers.render import Screen, keyboard, support_text
from bot.i18n import Translator
from bot.services.billing import Expiring, History


def balance(tr: Translator, value: Balance, history: History, zone: str, *,
            support: str = "", expiring: Sequence[Expiring] = ()) -> Screen:
    """The balance and the credits that will expire (one line per day, nearest first),
    then its latest changes: one line per top-up or correction, one per campaign
    (reserved, spent, returned), and what the older ones add up to, so that the lines sum
    to the balance shown."""
    lines = [tr("balance.text", total=tr.number(value.total), reserved=tr.number(value.reserved),
                available=tr.number(value.available))]
    days: dict[str, int] = {}
    for soon in expiring:
        day = tr.date(soon.at, zone)
        days[day] = days.get(day, 0) + soon.credits
    lines.extend(tr("balance.expiring", count=n, date=day) for day, n in days.items())
    if history.lines:
        lines.append(tr("balance.history"))
        for line in history.lines:
            lines.append(_ledger_line(tr, line, zone))
        if history.earlier:
            lines.append(tr("balance.earlier", amount=tr.number(history.earlier, signed=True)))
    lines.append(tr("balance.hint", support=support_text(tr, support)))
    return Screen("\n".join(lines), keyboard(
        [(tr("balance.buy_button"), "buy:list")],
        [(tr("balance.statement_button"), "stm:months"),
         (tr("balance.receipts_button"), "inv:list")],
        [(tr("menu.back"), "menu:home")]))


def _ledger_line(tr: Translator, line: LedgerLine, zone: str) -> str:
    at, amount = tr.date(line.created_at, zone), tr.number(line.amount, signed=True)
    if line.kind is not None:
        return tr("balance.entry", at=at, kind=tr(f"ledger.{line.kind.value}"), amount=amount,
                  note=line.note or "")
    return tr("balance.entry_campaign_held" if line.held else "balance.entry_campaign",
              at=at, id=line.campaign_id or "—", name=line.campaign_name or "—", amount=amount,
              reserved=tr.number(line.reserved), spent=tr.number(line.spent),
              returned=tr.number(line.returned), held=tr.number(line.held))


def balance_changed(tr: Translator, amount: int, available: int) -> Screen:
    """To the owner, when an admin credited (or corrected) their credits."""
    return Screen(tr("balance.credited" if amount > 0 else "balance.adjusted",
                     count=abs(amount), amount=tr.number(amount, signed=True),
                     available=tr.number(available)))


def credits_expiring_alert(tr: Translator, credits: int, at: datetime, zone: str) -> Screen:
    """To the owner, ``billing.WARN_BEFORE`` before credits of theirs lapse."""
    return Screen(tr("alert.credits_expiring", count=credits, date=tr.date(at, zone)),
                  keyboard([(tr("menu.balance"), "bal:show")]))


def low_balance_alert(tr: Translator, available: int, support: str = "") -> Screen:
    return Screen(tr("alert.low_balance", available=tr.number(available),
                     support=support_text(tr, support)),
                  keyboard([(tr("menu.balance"), "bal:show")]))
