"""Rendering for *New date message* and a date message's figures
(``bot/handlers/automations_dates.py``). Pure.

Buttons (``adt:``): ``adt:new`` asks the date column; ``adt:a:<n>`` the n-th column
offered; ``adt:o:<when>:<days>`` before / on / after and how many days; ``adt:t:<HHMM>``
the time of day (or typed ``HH:MM``); ``adt:y:<1|0>`` every year or once; ``adt:p:<template
id>`` the template, which makes it (or changes the one ``adt:ed:<automation id>``, its
card's *Edit*, began with); ``adt:f:<automation id>`` its figures;
``adt:cancel`` drops the wizard.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from bot.domain import Automation, Template
from bot.handlers import render_automations as ra
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.automations_dates import DateConfig, DateFigures

OFFSETS = (("on", 0), ("before", 1), ("before", 3), ("before", 7), ("after", 1),
           ("after", 7))
TIMES = ("09:00", "10:00", "12:00", "18:00")
SHOWN = 20  # columns or templates offered as buttons


def _cancel(tr: Translator) -> list[tuple[str, str]]:
    return [(tr("common.cancel"), "adt:cancel")]


def when_text(tr: Translator, when: str, days: int) -> str:
    if when == "on" or days == 0:
        return tr("dates.on_day")
    return tr("dates.days_before" if when == "before" else "dates.days_after", count=days)


def column_question(tr: Translator, columns: Sequence[tuple[str, int]]) -> Screen:
    if not columns:
        return Screen(tr("dates.no_columns"), keyboard(_cancel(tr)))
    rows = [[(tr("dates.column", name=name, count=count), f"adt:a:{n}")]
            for n, (name, count) in enumerate(columns[:SHOWN])]
    return Screen(tr("dates.ask_column"), keyboard(*rows, _cancel(tr)))


def offset_question(tr: Translator, column: str) -> Screen:
    buttons = [(when_text(tr, w, d), f"adt:o:{w}:{d}") for w, d in OFFSETS]
    return Screen(tr("dates.ask_offset", column=column),
                  keyboard(buttons[:1], buttons[1:4], buttons[4:], _cancel(tr)))


def time_question(tr: Translator, column: str, when: str, days: int) -> Screen:
    buttons = [(t, f"adt:t:{t.replace(':', '')}") for t in TIMES]
    return Screen(tr("dates.ask_time", column=column, when=when_text(tr, when, days)),
                  keyboard(buttons, _cancel(tr)))


def yearly_question(tr: Translator, at: str) -> Screen:
    return Screen(tr("dates.ask_yearly", at=at),
                  keyboard([(tr("dates.yearly_yes"), "adt:y:1"),
                            (tr("dates.yearly_no"), "adt:y:0")], _cancel(tr)))


def template_question(tr: Translator, templates: Sequence[Template]) -> Screen:
    if not templates:
        return Screen(tr("dates.no_templates"), keyboard(_cancel(tr)))
    rows = [[(f"📝 {t.name}", f"adt:p:{t.id}")] for t in templates[:SHOWN]]
    return Screen(tr("dates.ask_template"), keyboard(*rows, _cancel(tr)))


def summary(tr: Translator, config: DateConfig) -> str:
    return tr("dates.summary", column=config.attribute,
              when=when_text(tr, config.when.value, config.days), at=config.at,
              repeat=tr("dates.every_year" if config.yearly else "dates.once"))


def figures_text(tr: Translator, config: DateConfig, figures: DateFigures,
                 next_sends: Sequence[tuple[str, str]]) -> str:
    """The counts and the next sends (``next_sends``: (when, phone), already in the
    owner's zone)."""
    lines = [tr("dates.figures", column=config.attribute, valid=figures.valid,
                invalid=figures.invalid, missing=figures.missing)]
    if figures.unread:
        lines.append(tr("dates.unread", count=figures.unread))
    if next_sends:
        lines.append(tr("dates.next"))
        lines += [f"• {at} · {phone}" for at, phone in next_sends]
    else:
        lines.append(tr("dates.no_next"))
    return "\n".join(lines)


def made(tr: Translator, automation: Automation, template: str, figures: str) -> Screen:
    config = DateConfig.of(automation.config)
    text = (tr("dates.made", name=automation.name, template=template) + "\n"
            + summary(tr, config) + "\n\n" + figures)
    return Screen(text, keyboard([(tr("dates.figures_button"), f"adt:f:{automation.id}")],
                                 [(tr("automations.all"), "aut:all")]))


def figures_screen(tr: Translator, automation: Automation, figures: str) -> Screen:
    config = DateConfig.of(automation.config)
    title = f"<b>{html.escape(automation.name, quote=False)}</b>\n"
    return Screen(title + summary(tr, config) + "\n\n" + figures,
                  keyboard([(tr("menu.back"), f"aut:open:{automation.id}")]))


def cancelled(tr: Translator) -> Screen:
    return Screen(tr("dates.cancelled"))


def name_for(tr: Translator, column: str, when: str, days: int, limit: int = 64) -> str:
    name = f"📅 {column} · {when_text(tr, when, days)}"
    return name if len(name) <= limit else name[:limit - 1] + "…"


def _describe(tr: Translator, automation: Automation) -> str:
    return summary(tr, DateConfig.of(automation.config))


# on the automations' list and a date message's card (``render_automations``)
ra.NEW_BUTTONS.append(("dates.new_button", "adt:new"))
ra.DESCRIBE["date"] = _describe
ra.CARD_BUTTONS["date"] = ("dates.figures_button", "adt:f:{id}")
ra.EDITORS["date"] = "adt:ed:{id}"
