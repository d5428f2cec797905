"""Rendering for admins' ``/packages``: the list with each package's state, a package's
card with *Edit* and *Hide*/*Show*, the questions of *New package*. Pure.

Buttons (``bot/handlers/packages.py`` reads them): pkg:all, pkg:new, pkg:view:<id>,
pkg:ed:<id>:<field>, pkg:hide:<id>, pkg:show:<id>, pkg:cancel[:<id>]."""

from __future__ import annotations

from bot.domain import Package
from bot.handlers.render import Screen, keyboard
from bot.handlers.render_buy import per_message, price, validity
from bot.i18n import Safe, Translator
from bot.services.packages import FIELDS

QUESTIONS = {"name": "packages.ask_name", "credits": "packages.ask_credits",
             "price": "packages.ask_price", "stars": "packages.ask_stars",
             "days": "packages.ask_days"}
EDIT_LABELS = {"name": "packages.edit_name", "credits": "packages.edit_credits",
               "price": "packages.edit_price", "stars": "packages.edit_stars",
               "days": "packages.edit_days"}


def _state(tr: Translator, package: Package) -> str:
    return tr("packages.on_sale") if package.active else tr("packages.hidden")


def _line(tr: Translator, package: Package) -> str:
    return tr("packages.line", name=package.name, count=package.credits,
              price=price(tr, package), per_message=per_message(tr, package),
              validity=validity(tr, package.validity_days), state=_state(tr, package))


def packages_list(tr: Translator, packages: list[Package], note: str | None = None) -> Screen:
    """Every package with its state; a button each, and *New package*."""
    lines = [note] if note else []
    lines.append(tr("packages.title") if packages else tr("packages.none"))
    lines += [_line(tr, p) for p in packages]
    buttons = [(("" if p.active else "🙈 ") + p.name, f"pkg:view:{p.id}") for p in packages]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    return Screen("\n\n".join(lines), keyboard(*rows, [(tr("packages.new"), "pkg:new")]))


def package_card(tr: Translator, package: Package, note: str | None = None) -> Screen:
    """A package as an admin sees it: its fields to edit, and hide or show."""
    text = tr("packages.card", line=Safe(_line(tr, package)), id=package.id)
    edits = [(tr(EDIT_LABELS[f]), f"pkg:ed:{package.id}:{f}") for f in FIELDS]
    toggle = ((tr("packages.hide"), f"pkg:hide:{package.id}") if package.active
              else (tr("packages.show"), f"pkg:show:{package.id}"))
    return Screen(f"{note}\n\n{text}" if note else text,
                  keyboard(edits[:2], edits[2:4], edits[4:], [toggle],
                           [(tr("packages.back"), "pkg:all")]))


def new_question(tr: Translator, field: str, currency: str) -> Screen:
    """A question of *New package* (the first one also offers the one-line form)."""
    step = tr("packages.step", step=FIELDS.index(field) + 1, steps=len(FIELDS))
    text = f"{step}\n{tr(QUESTIONS[field], currency=currency)}"
    if field == FIELDS[0]:
        text += "\n\n" + tr("packages.one_line", currency=currency)
    return Screen(text, keyboard([(tr("common.cancel"), "pkg:cancel")]))


def edit_question(tr: Translator, package: Package, field: str, currency: str) -> Screen:
    """*Edit* one field: what to type, and its value now."""
    now = {"name": package.name, "credits": tr.number(package.credits),
           "price": tr.money(package.price_minor, package.currency),
           "stars": tr.number(package.price_stars),
           "days": validity(tr, package.validity_days)}[field]
    return Screen(tr("packages.edit_question", name=package.name, now=now,
                     question=Safe(tr(QUESTIONS[field], currency=currency))),
                  keyboard([(tr("common.cancel"), f"pkg:cancel:{package.id}")]))
