"""Screens of /numbers: the owner's WhatsApp numbers, linking and removing them."""

from __future__ import annotations

import html

from bot.domain import Sender, SenderStatus
from bot.gateways.base import SenderHealth, SenderState
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.senders import NumberView

MAX_BUTTONS = 20
_STATE_ICON = {"working": "✅", "restricted": "⚠️", "banned": "⛔", "linking": "⏳",
               "stopped": "⏸"}


def label(tr: Translator, sender: Sender) -> str:
    if sender.status is SenderStatus.LINKING:
        return tr("numbers.unlinked", kind=tr(f"numbers.kind_{sender.gateway}"))
    return sender.label or sender.phone


def _state(sender: Sender, health: SenderHealth | None) -> tuple[str, str]:
    """(state, detail): the stored status, or a fresher one from the gateway."""
    if sender.status is SenderStatus.LINKING:
        return "linking", ""
    if sender.status is SenderStatus.BANNED:
        return "banned", sender.status_detail or ""
    if health is not None and health.state is not SenderState.WORKING:
        return health.state.value, health.detail
    if sender.status is SenderStatus.RESTRICTED:
        return "restricted", sender.status_detail or ""
    return "working", health.detail if health is not None else ""


def number_line(tr: Translator, view: NumberView, zone: str) -> str:
    sender = view.sender
    state, detail = _state(sender, view.health)
    head = (f"{_STATE_ICON[state]} <b>{html.escape(label(tr, sender))}</b> · "
            f"{tr(f'numbers.kind_{sender.gateway}')} · {tr(f'numbers.state_{state}')}")
    lines = [head]
    if detail:
        lines.append("   " + html.escape(detail[:160]))
    if state == "restricted" and sender.restricted_until is not None:
        lines.append("   " + tr("alert.restricted_until",
                                at=tr.datetime(sender.restricted_until, zone)))
    if state != "linking":
        today = tr("numbers.today", sent=tr.number(view.sent_today),
                   cap=tr.number(view.allowance.cap))
        if view.allowance.warmup_day is not None:
            today += " · " + tr("numbers.warmup_day", day=view.allowance.warmup_day)
        if view.queued:
            today += " · " + tr("numbers.queued", n=tr.number(view.queued))
        if view.health is None and sender.gateway != "sandbox":
            today += " · " + tr("numbers.health_unknown")
        lines.append("   " + today)
    return "\n".join(lines)


def numbers_screen(tr: Translator, views: list[NumberView], kinds: tuple[str, ...],
                   zone: str) -> Screen:
    if views:
        body = "\n\n".join(number_line(tr, v, zone) for v in views)
        text = tr("numbers.title") + "\n\n" + body
    else:
        text = tr("numbers.title") + "\n\n" + tr("numbers.none")
    rows = [[("⚙️ " + label(tr, v.sender), f"num:open:{v.sender.id}")]
            for v in views[:MAX_BUTTONS]]
    rows += [[(tr(f"numbers.add_{kind}"), f"num:add:{kind}")] for kind in kinds]
    rows.append([(tr("menu.back"), "menu:home")])
    return Screen(text, keyboard(*rows))


def number_card(tr: Translator, view: NumberView, zone: str, can_relink: bool) -> Screen:
    sender = view.sender
    state, _ = _state(sender, view.health)
    rows: list[list[tuple[str, str]]] = []
    if state == "linking" and sender.gateway == "waha":
        rows.append([(tr("numbers.show_qr"), f"num:qr:{sender.id}")])
        rows.append([(tr("numbers.use_code"), f"num:code:{sender.id}")])
    if state == "banned" and can_relink:
        rows.append([(tr("numbers.relink"), f"num:relink:{sender.id}")])
    if sender.status in (SenderStatus.BANNED, SenderStatus.RESTRICTED):
        rows.append([(tr("numbers.post_mortem"), f"num:pm:{sender.id}")])
    rows.append([(tr("numbers.remove"), f"num:rm:{sender.id}")])
    rows.append([(tr("numbers.all"), "num:all")])
    return Screen(number_line(tr, view, zone), keyboard(*rows))


def remove_confirm(tr: Translator, view: NumberView, can_move: bool) -> Screen:
    name = label(tr, view.sender)
    rows: list[list[tuple[str, str]]] = []
    if view.queued:
        text = tr("numbers.remove_ask_queued", number=name, count=view.queued)
        if can_move:
            rows.append([(tr("numbers.remove_move"), f"num:rmm:{view.sender.id}")])
        rows.append([(tr("numbers.remove_pause"), f"num:rmp:{view.sender.id}")])
    else:
        text = tr("numbers.remove_ask", number=name)
        rows.append([(tr("numbers.remove_yes"), f"num:rmp:{view.sender.id}")])
    rows.append([(tr("numbers.keep"), f"num:open:{view.sender.id}")])
    return Screen(text, keyboard(*rows))


def qr_caption(tr: Translator, *, expired: bool = False) -> str:
    return tr("numbers.qr_expired") if expired else tr("numbers.qr_caption")


def qr_keyboard(tr: Translator, sender_id: int, *, expired: bool = False):
    rows = [[(tr("numbers.new_qr"), f"num:qr:{sender_id}")]] if expired else []
    rows.append([(tr("numbers.use_code"), f"num:code:{sender_id}")])
    rows.append([(tr("numbers.cancel_link"), f"num:rmp:{sender_id}")])
    return keyboard(*rows)
