"""Rendering for the admins' ``/sales`` and ``/owner``. Pure.

Buttons: ``adm:sales:order:<order id>`` (a waiting transfer's card, with *Confirm payment*
and *Reject*, sent again), ``adm:sales:chart`` (revenue per day as a picture).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from babel.dates import format_date

from bot.handlers.render import Screen, keyboard
from bot.handlers.render_invoices import month_name
from bot.i18n import LANGUAGE_NAMES, STARS, Safe, Translator
from bot.services.sales import OwnerCard, Period, SalesOverview
from bot.services.statements import Month
from bot.storage.sales import OrderView, Spender


def _totals(tr: Translator, period: Period) -> str:
    if not period.totals:
        return tr("sales.nothing")
    parts = []
    for total in period.totals:
        key = "sales.part_stars" if total.currency == STARS else "sales.part_transfer"
        amount = (tr.number(total.amount_minor) if total.currency == STARS
                  else tr.money(total.amount_minor, total.currency))
        parts.append(tr(key, amount=amount, orders=tr.number(total.orders)))
    return " · ".join(parts)


def _amounts(tr: Translator, amounts: dict[str, int]) -> str:
    return " · ".join(tr.money(amount, currency) for currency, amount in sorted(
        amounts.items(), key=lambda item: item[0] == STARS))


def _day(tr: Translator, period: Period) -> str:
    start = period.start
    return format_date(date(start.year, start.month, start.day), "EEE d MMM",
                       locale=tr.language.value)


def _waiting_line(tr: Translator, order: OrderView, zone: str) -> str:
    return tr("sales.waiting_line", reference=order.reference, id=order.owner_id,
              owner=order.owner_name or "—", package=order.package_name,
              amount=tr.money(order.amount_minor, order.currency),
              at=tr.datetime(order.created_at, zone))


def _top_line(tr: Translator, n: int, spender: Spender) -> str:
    name = spender.name or "—"
    if spender.company:
        name = f"{name} ({spender.company})"
    return tr("sales.top_line", count=spender.credits, n=n, id=spender.owner_id, name=name,
              amounts=_amounts(tr, spender.amounts))


def sales(tr: Translator, overview: SalesOverview) -> Screen:
    lines = [tr("sales.title", zone=overview.zone), tr("sales.days")]
    lines += [tr("sales.line", when=_day(tr, p), totals=Safe(_totals(tr, p)))
              for p in overview.days]
    lines.append(tr("sales.months"))
    lines += [tr("sales.line", when=month_name(tr, Month(p.start.year, p.start.month)),
                 totals=Safe(_totals(tr, p))) for p in overview.months]
    if overview.waiting_count:
        lines.append(tr("sales.waiting", count=overview.waiting_count))
        lines += [_waiting_line(tr, order, overview.zone) for order in overview.waiting]
        if overview.waiting_count > len(overview.waiting):
            lines.append(tr("sales.waiting_more",
                            count=overview.waiting_count - len(overview.waiting)))
    else:
        lines.append(tr("sales.waiting_none"))
    lines.append(tr("sales.top"))
    lines += [_top_line(tr, n, s) for n, s in enumerate(overview.top, 1)] or [
        tr("sales.top_none")]
    rows = [[(tr("sales.order_button", reference=o.reference), f"adm:sales:order:{o.id}")]
            for o in overview.waiting]
    return Screen("\n".join(lines), keyboard(*rows, [(tr("sales.chart_button"),
                                                      "adm:sales:chart")]))


def owner_usage(tr: Translator) -> Screen:
    return Screen(tr("owner.usage"))


def _order_line(tr: Translator, order: OrderView, zone: str) -> str:
    return tr("owner.order_line", at=tr.date(order.created_at, zone),
              reference=order.reference, package=order.package_name,
              amount=tr.money(order.amount_minor, order.currency),
              status=tr(f"sales.status_{order.status}"))


def owner_card(tr: Translator, card: OwnerCard) -> Screen:
    owner, zone, balance = card.owner, card.zone, card.balance
    lines = [tr("owner.card", id=owner.id, name=owner.name or "—",
                company=owner.company or "—", telegram_id=owner.telegram_id,
                phone=owner.phone or "—", status=tr(f"owner_status.{owner.status.value}"),
                language=LANGUAGE_NAMES[owner.language],
                zone=zone, created=tr.date(owner.created_at, zone)),
             tr("owner.balance", total=tr.number(balance.total),
                reserved=tr.number(balance.reserved), available=tr.number(balance.available))]
    lines.append(tr("owner.lots"))
    for line in card.lots:
        lot = line.lot
        expiry = (tr("owner.lot_until", date=tr.date(lot.expires_at, zone))
                  if lot.expires_at is not None else tr("owner.lot_never"))
        lines.append(tr("owner.lot", count=lot.credits, remaining=tr.number(lot.remaining),
                        held=tr.number(lot.held), package=line.package_name or "—",
                        expiry=expiry))
    if not card.lots:
        lines.append(tr("sales.nothing"))
    lines.append(tr("owner.orders"))
    lines += [_order_line(tr, o, zone) for o in card.orders] or [tr("sales.nothing")]
    lines.append(tr("owner.campaigns"))
    lines += [tr("owner.campaign_line", count=c.messages, id=c.id, name=c.name,
                 status=tr(f"status.{c.status}"), at=tr.date(c.created_at, zone))
              for c in card.campaigns] or [tr("sales.nothing")]
    return Screen("\n".join(lines))


def chart_caption(tr: Translator, zone: str) -> str:
    return tr("sales.chart_caption", zone=zone)


def chart_labels(tr: Translator, days: Sequence[Period]) -> list[str]:
    return [format_date(date(p.start.year, p.start.month, p.start.day), "d.MM",
                        locale=tr.language.value) for p in days]
