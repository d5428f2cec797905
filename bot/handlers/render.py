"""Pure rendering: domain data in, text and keyboards out. No I/O, no services."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    ReplyKeyboardRemove,
)

from bot.domain import Language, Owner, OwnerStatus, RegistrationStep
from bot.i18n import LANGUAGE_NAMES, Safe, Translator


@dataclass(slots=True)
class Screen:
    """What to send: ``await message.reply_text(**screen.kwargs)``. The text is HTML: the
    application's default parse mode (``bot/app.py``)."""

    text: str
    reply_markup: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def kwargs(self) -> dict[str, Any]:
        return {"text": self.text, "reply_markup": self.reply_markup, **self.extra}


def keyboard(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    """Inline buttons, one list of (label, callback data) per row; empty rows are left out
    (so a row can be ``[...] if condition else []``)."""
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row]
         for row in rows if row]
    )


# --- menu and help --------------------------------------------------------------------

MENU_ITEMS = (("menu.new_campaign", "menu:newcampaign"), ("menu.campaigns", "cmp:all"),
              ("menu.stats", "st:all"), ("menu.numbers", "num:all"),
              ("menu.contacts", "lst:all:0"), ("menu.templates", "tpl:all"),
              ("menu.balance", "bal:show"), ("menu.settings", "set:show"),
              ("menu.api", "api:all"), ("menu.automations", "aut:all"),
              ("menu.profile", "menu:profile"),
              ("menu.language", "menu:language"), ("menu.help", "menu:help"))


def main_menu(tr: Translator, owner: Owner) -> Screen:
    items = [(tr(key), data) for key, data in MENU_ITEMS]
    rows = [items[i:i + 2] for i in range(0, len(items), 2)]
    return Screen(tr("menu.title", name=owner.name or ""), keyboard(*rows))


def back_to_menu(tr: Translator) -> InlineKeyboardMarkup:
    return keyboard([(tr("menu.back"), "menu:home")])


def help_screen(tr: Translator, commands: list[tuple[str, str]], with_back: bool = False) -> Screen:
    lines = [tr("help.title")] + [f"/{name} — {description}" for name, description in commands]
    lines.append(tr("help.footer"))
    return Screen("\n".join(lines), back_to_menu(tr) if with_back else None)


def profile(tr: Translator, owner: Owner, note: str | None = None, *, zone: str) -> Screen:
    """My account, with buttons to change the name, the business and the time zone;
    ``zone``: the owner's (``AccountsService.zone``)."""
    text = tr(
        "profile.text",
        id=owner.id,
        name=owner.name or "—",
        company=owner.company or "—",
        phone=owner.phone or "—",
        language=LANGUAGE_NAMES[owner.language],
        timezone=zone,
        since=tr.date(owner.created_at, zone),
    )
    return Screen(
        f"{note}\n\n{text}" if note else text,
        keyboard([(tr("profile.edit_name"), "prof:ask:name"),
                  (tr("profile.edit_company"), "prof:ask:company")],
                 [(tr("profile.edit_timezone"), "prof:ask:timezone")],
                 [(tr("menu.back"), "menu:home")]),
    )


def profile_question(tr: Translator, owner: Owner, item: str,
                     zones: Sequence[tuple[str, str]] = (), now: datetime | None = None,
                     *, zone: str) -> Screen:
    """What to type for a new name, business or time zone; `zones` are (IANA name, label)
    buttons for the time zone, ``zone`` the owner's."""
    cancel = [(tr("common.cancel"), "prof:cancel")]
    if item == "name":
        return Screen(tr("profile.ask_name", name=owner.name or "—"), keyboard(cancel))
    if item == "company":
        return Screen(tr("profile.ask_company", company=owner.company or "—"), keyboard(cancel))
    labels = [(("✓ " if name == zone else "") + label, f"prof:tz:{name}")
              for name, label in zones]
    rows = [labels[i:i + 2] for i in range(0, len(labels), 2)]
    return Screen(tr("profile.ask_timezone", zone=zone,
                     time=tr.datetime(now, zone) if now else "—"),
                  keyboard(*rows, cancel))


def language_picker(tr: Translator, current: Language) -> Screen:
    rows = [
        [(("✓ " if lang is current else "") + LANGUAGE_NAMES[lang], f"lang:{lang.value}")]
        for lang in Language
    ]
    return Screen(tr("language.choose"), keyboard(*rows))


# --- settings -------------------------------------------------------------------------

def settings_screen(tr: Translator, alerts: dict[str, bool], failover: bool) -> Screen:
    rows = [[(("✅ " if alerts.get(name, True) else "⬜ ") + tr(f"settings.alert_{name}"),
              f"set:{name}")] for name in ("finished", "failure_spike", "low_balance")]
    rows.append([(("✅ " if failover else "⬜ ") + tr("settings.failover"), "set:failover")])
    rows.append([(tr("menu.back"), "menu:home")])
    return Screen(tr("settings.text"), keyboard(*rows))


# --- registration ---------------------------------------------------------------------

def registration_question(tr: Translator, step: RegistrationStep) -> Screen:
    if step is RegistrationStep.NAME:
        return Screen(tr("registration.ask_name"), ReplyKeyboardRemove())
    if step is RegistrationStep.COMPANY:
        return Screen(tr("registration.ask_company"))
    if step is RegistrationStep.PHONE:
        share = ReplyKeyboardMarkup(
            [[KeyboardButton(tr("registration.share_phone_button"), request_contact=True)]],
            resize_keyboard=True,
            one_time_keyboard=True,
        )
        return Screen(tr("registration.ask_phone"), share)
    return Screen(
        tr("registration.terms"),
        keyboard([(tr("registration.accept"), "reg:accept")],
                 [(tr("registration.decline"), "reg:decline")]),
    )


def support_text(tr: Translator, contact: str) -> Safe:
    """"write to @qasid_support" (SUPPORT_CONTACT), or "contact the administrator"."""
    if contact:
        return Safe(tr("support.write_to", contact=contact))
    return Safe(tr("support.ask_admin"))


def status_explained(tr: Translator, owner: Owner, support: str) -> Screen:
    """Why the account cannot be used; `support` is SUPPORT_CONTACT."""
    reason, contact = owner.status_reason, support_text(tr, support)
    if owner.status is OwnerStatus.PENDING:
        return Screen(tr("status.pending"))
    if owner.status is OwnerStatus.REJECTED:
        key = "status.rejected_reason" if reason else "status.rejected"
        return Screen(tr(key, reason=reason or "", support=contact))
    if owner.status is OwnerStatus.SUSPENDED:
        key = "status.suspended_reason" if reason else "status.suspended"
        return Screen(tr(key, reason=reason or "", support=contact))
    return Screen(tr("status.active"))


# --- admin ----------------------------------------------------------------------------

def registration_request(tr: Translator, owner: Owner, username: str | None = None) -> Screen:
    return Screen(
        tr(
            "admin.request",
            id=owner.id,
            name=owner.name or "—",
            company=owner.company or "—",
            phone=owner.phone or "—",
            telegram=f"@{username}" if username else str(owner.telegram_id),
            language=LANGUAGE_NAMES[owner.language],
        ),
        keyboard([(tr("admin.approve"), f"adm:ok:{owner.id}"),
                  (tr("admin.reject"), f"adm:no:{owner.id}")]),
    )


def reject_reason_question(tr: Translator, owner: Owner) -> Screen:
    """After Reject: the reason the owner will read, typed; or none (Skip)."""
    return Screen(
        tr("admin.reject_ask", id=owner.id, name=owner.name or "—",
           company=owner.company or "—"),
        keyboard([(tr("admin.reject_skip"), f"adm:skip:{owner.id}")],
                 [(tr("common.cancel"), f"adm:back:{owner.id}")]),
    )


def rejected_line(tr: Translator, owner: Owner) -> str:
    done = tr("admin.decided", line=Safe(owner_line(tr, owner)))
    if owner.status_reason:
        done += "\n" + tr("admin.reason_line", reason=owner.status_reason)
    return done


def owner_line(tr: Translator, owner: Owner) -> str:
    return tr("admin.owner_line", id=owner.id, name=owner.name or "—",
              company=owner.company or "—", status=tr(f"owner_status.{owner.status.value}"))
