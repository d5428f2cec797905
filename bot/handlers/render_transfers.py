"""Rendering for paying by transfer: the order's payment details, what the owner is told,
and the admins' card with the receipt. Pure."""

from __future__ import annotations

from telegram import InlineKeyboardMarkup

from bot.domain import Order, OrderStatus, Owner
from bot.errors import OrderDecided
from bot.handlers.render import Screen, keyboard, support_text
from bot.i18n import Safe, Translator
from bot.services.transfers import TransferConfig

CAPTION_MAX = 1024  # Telegram's limit for a photo's or document's caption


def _package(tr: Translator, order: Order) -> str:
    validity = (tr("transfer.validity", count=order.validity_days) if order.validity_days
                else tr("transfer.validity_forever"))
    return tr("transfer.package", count=order.credits, name=order.package_name,
              validity=Safe(validity))


def status_name(tr: Translator, status: str) -> str:
    return tr(f"transfer.status.{status}")


def order_details(tr: Translator, order: Order, config: TransferConfig, zone: str, *,
                  again: bool = False) -> Screen:
    """Where and how much to pay, the reference to write in the payment's purpose, and
    that the receipt is sent here (``again``: the order already waiting, shown again)."""
    lines = [tr("transfer.again")] if again else []
    lines.append(tr("transfer.details", reference=order.reference,
                    package=Safe(_package(tr, order)),
                    amount=tr.money(order.amount_minor, order.currency),
                    bank=config.bank or "—", iban=config.iban,
                    recipient=config.recipient or "—"))
    if config.note:
        lines.append(tr("transfer.note", note=config.note))
    until = order.expires_at
    lines.append(tr("transfer.send_receipt", until=tr.datetime(until, zone) if until else "—"))
    return Screen("\n".join(lines), cancel_keyboard(tr, order))


def cancel_keyboard(tr: Translator, order: Order) -> InlineKeyboardMarkup:
    return keyboard([(tr("transfer.cancel_button"), f"trf:cancel:{order.id}")],
                    [(tr("menu.back"), "menu:home")])


def waiting_for_receipt(tr: Translator, order: Order) -> Screen:
    """Typed text while the order waits for its receipt."""
    return Screen(tr("transfer.waiting_receipt", reference=order.reference),
                  cancel_keyboard(tr, order))


def receipt_received(tr: Translator, order: Order) -> Screen:
    return Screen(tr("transfer.receipt_received", reference=order.reference))


def cancelled(tr: Translator, order: Order) -> Screen:
    return Screen(tr("transfer.cancelled", reference=order.reference),
                  keyboard([(tr("menu.back"), "menu:home")]))


def not_open(tr: Translator, order_reference: str, status: str) -> str:
    """An order that can no longer take a receipt or be cancelled."""
    return tr("transfer.not_open", reference=order_reference, status=status_name(tr, status))


# --- the admins' card ---------------------------------------------------------------------

def admin_card(tr: Translator, order: Order, owner: Owner, zone: str) -> str:
    """The caption under the receipt each admin gets."""
    text = tr("transfer.admin_card", reference=order.reference, id=owner.id,
              name=owner.name or "—", company=owner.company or "—", phone=owner.phone or "—",
              package=Safe(_package(tr, order)),
              amount=tr.money(order.amount_minor, order.currency),
              ordered=tr.datetime(order.created_at, zone))
    return text[:CAPTION_MAX]


def admin_buttons(tr: Translator, order: Order) -> InlineKeyboardMarkup:
    return keyboard([(tr("transfer.confirm_button"), f"adm:pay:{order.id}"),
                     (tr("transfer.reject_button"), f"adm:payno:{order.id}")])


def reason_question(tr: Translator, order: Order, owner: Owner, zone: str) -> Screen:
    """After *Reject*: the card asks for the reason the owner will read."""
    text = admin_card(tr, order, owner, zone) + "\n\n" + tr("transfer.reason_question",
                                                            reference=order.reference)
    return Screen(text[:CAPTION_MAX],
                  keyboard([(tr("transfer.reason_back"), f"adm:payback:{order.id}")]))


def decided(tr: Translator, order: Order, owner: Owner, admin: str, zone: str) -> str:
    """What every admin's card says once an admin confirmed or rejected the order."""
    at = tr.datetime(order.decided_at, zone) if order.decided_at else "—"
    if order.status is OrderStatus.PAID:
        line = tr("transfer.decided_paid", count=order.credits, admin=admin, at=at,
                  id=owner.id, name=owner.name or "—")
    else:
        line = tr("transfer.decided_rejected", admin=admin, at=at, reason=order.reason or "")
    return (admin_card(tr, order, owner, zone) + "\n\n" + line)[:CAPTION_MAX]


def already_decided(tr: Translator, exc: OrderDecided, admin: str) -> str:
    """A second admin's tap (or a replayed button): who decided, nothing changed."""
    if exc.status in (OrderStatus.PAID, OrderStatus.REJECTED) and exc.decided_by is not None:
        key = "transfer.already_paid" if exc.status == OrderStatus.PAID \
            else "transfer.already_rejected"
        return tr(key, reference=exc.reference, admin=admin)
    return tr("transfer.not_waiting", reference=exc.reference,
              status=status_name(tr, exc.status))


def reason_saved(tr: Translator, order: Order) -> Screen:
    return Screen(tr("transfer.reason_saved", reference=order.reference))


# --- what the owner is told -------------------------------------------------------------

def owner_rejected(tr: Translator, order: Order, support: str) -> Screen:
    return Screen(tr("transfer.rejected", reference=order.reference, reason=order.reason or "",
                     support=support_text(tr, support)),
                  keyboard([(tr("menu.balance"), "bal:show")]))


def owner_expired(tr: Translator, order: Order, days: int, support: str) -> Screen:
    return Screen(tr("transfer.expired", count=days, reference=order.reference,
                     support=support_text(tr, support)),
                  keyboard([(tr("menu.balance"), "bal:show")]))
