"""Screens of /numbers: the owner's WhatsApp numbers, linking and removing them."""

from __future__ import annotations

import html

from bot.domain import Sender, SenderStatus
from bot.gateways.base import SenderHealth, SenderState
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.senders import NumberView

MAX_BUTTONS = 20
WARNINGS_SHOWN = 3  # the last warnings of a number /numbers lists
# the health guard's notices (bot/services/health_guard.py), by warning kind
_GUARD_ALERTS = {"capping_first_warning": "guard.alert_first_warning",
                 "capping_second_warning": "guard.alert_second_warning",
                 "capping_cleared": "guard.alert_cleared",
                 "quality_yellow": "guard.alert_quality_yellow",
                 "quality_green": "guard.alert_quality_green",
                 "tier_changed": "guard.alert_tier",
                 "slowed": "guard.alert_slowed", "eased": "guard.alert_eased"}
_GUARD_MODES = {"normal": "guard.mode_normal", "slowed": "guard.mode_slowed",
                "no_new_chats": "guard.mode_no_new_chats", "paused": "guard.mode_paused"}
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
        lines.extend("   " + line for line in guard_lines(tr, view, zone))
    return "\n".join(lines)


def _factor(tr: Translator, factor: float) -> str:
    return tr.number(round(factor, 2))


def _tier(tr: Translator, tier: int | None) -> str:
    return tr.number(tier) if tier is not None else tr("guard.unlimited")


def guard_lines(tr: Translator, view: NumberView, zone: str) -> list[str]:
    """The health guard's standing of the number (mode, gap factor, the gateway's capping,
    quality and tier) and its last warnings with their times; nothing for a number the
    guard never saw."""
    guard, lines = view.guard, []
    if guard is not None and (guard.mode != "normal" or guard.gap_factor > 1.0):
        lines.append(tr("numbers.guard", mode=tr(_GUARD_MODES.get(guard.mode,
                                                                  "guard.mode_normal")),
                        factor=_factor(tr, guard.gap_factor)))
    if guard is not None:
        facts = []
        if guard.capping is not None:
            facts.append(tr("numbers.capping", status=html.escape(guard.capping)))
        if guard.quality is not None:
            facts.append(tr("numbers.quality", quality=html.escape(guard.quality)))
        if guard.tier is not None:
            facts.append(tr("numbers.tier", tier=_tier(tr, guard.tier)))
        if facts:
            lines.append(" · ".join(facts))
    if view.warnings:
        lines.append(tr("numbers.warnings"))
        lines.extend(f"  • {tr.datetime(w.at, zone)} · {warning_label(tr, w.kind)}"
                     for w in view.warnings[:WARNINGS_SHOWN])
    return lines


def warning_label(tr: Translator, kind: str) -> str:
    from bot.handlers.render_post_mortem import WARNING_KINDS  # one list of labels

    return tr(f"postmortem.warning.{kind}") if kind in WARNING_KINDS else html.escape(kind)


def guard_alert(tr: Translator, label: str, kind: str, factor: float, tier: int | None,
                tier_before: int | None, sender_id: int) -> Screen:
    """The owner told once per change of the guard (``SenderWarned``)."""
    text = tr(_GUARD_ALERTS.get(kind, "guard.alert_slowed"), number=html.escape(label),
              factor=_factor(tr, factor), before=_tier(tr, tier_before),
              after=_tier(tr, tier))
    return Screen(text, keyboard([(tr("numbers.all"), "num:all")]))  # /numbers: its card


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
