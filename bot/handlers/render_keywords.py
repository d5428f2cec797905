"""Rendering for *New keyword reply* (``bot/handlers/automations_keyword.py``). Pure.

Buttons (``akw:``): ``akw:new`` asks the keywords (typed), ``akw:ed:<id>`` those of a
keyword reply to change; ``akw:t:<template id>`` the
template to answer with; ``akw:c:<hours>`` how often one contact is answered at most;
``akw:l:<list id>`` the list the contact joins (``akw:l:0``: none), which makes it;
``akw:cancel`` drops the wizard.
"""

from __future__ import annotations

from collections.abc import Sequence

from bot.domain import Automation, ContactList, Template
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator

COOLDOWNS = (1, 6, 24, 72, 168)  # hours offered as buttons (24: the default)
SHOWN = 20  # templates or lists offered as buttons


def _cancel(tr: Translator) -> list[tuple[str, str]]:
    return [(tr("common.cancel"), "akw:cancel")]


def hours_text(tr: Translator, hours: int) -> str:
    if hours % 24 == 0:
        return tr("keywords.days", count=hours // 24)
    return tr("keywords.hours", count=hours)


def keywords_question(tr: Translator, current: Automation | None = None) -> Screen:
    """The first step; on *Edit*, the keywords it has now (to type again, changed)."""
    text = tr("keywords.ask_keywords")
    if current is not None:
        text += "\n\n" + tr("keywords.now", keywords=", ".join(current.config["keywords"]))
    return Screen(text, keyboard(_cancel(tr)))


def describe(tr: Translator, automation: Automation) -> str:
    """A keyword reply's settings, on its card (``render_automations.DESCRIBE``)."""
    config = automation.config
    text = tr("keywords.describe", keywords=", ".join(config.get("keywords") or []),
              every=hours_text(tr, int(config.get("cooldown_hours") or 24)))
    if config.get("list_id"):
        text += " " + tr("keywords.describe_list")
    return text


def template_question(tr: Translator, keywords: Sequence[str],
                      templates: Sequence[Template]) -> Screen:
    if not templates:
        return Screen(tr("keywords.no_templates"), keyboard(_cancel(tr)))
    rows = [[(f"📝 {t.name}", f"akw:t:{t.id}")] for t in templates[:SHOWN]]
    return Screen(tr("keywords.ask_template", keywords=", ".join(keywords)),
                  keyboard(*rows, _cancel(tr)))


def cooldown_question(tr: Translator, template: Template) -> Screen:
    buttons = [(("✅ " if h == 24 else "") + hours_text(tr, h), f"akw:c:{h}")
               for h in COOLDOWNS]
    return Screen(tr("keywords.ask_cooldown", template=template.name),
                  keyboard(buttons[:3], buttons[3:], _cancel(tr)))


def list_question(tr: Translator, hours: int, lists: Sequence[ContactList]) -> Screen:
    rows = [[(f"📋 {c.name}", f"akw:l:{c.id}")] for c in lists[:SHOWN]]
    return Screen(tr("keywords.ask_list", every=hours_text(tr, hours)),
                  keyboard([(tr("keywords.no_list"), "akw:l:0")], *rows, _cancel(tr)))


def made(tr: Translator, automation: Automation, template: str, list_name: str | None,
         card: str | None, all_data: str | None) -> Screen:
    """The keyword reply is on; ``card`` / ``all_data``: the callback data of its card
    and of the automations' list (``bot/handlers/automations.py``), when there is one."""
    config = automation.config
    text = tr("keywords.made", name=automation.name,
              keywords=", ".join(config["keywords"]), template=template,
              every=hours_text(tr, int(config["cooldown_hours"])))
    if list_name is not None:
        text += "\n" + tr("keywords.made_list", list=list_name)
    buttons = [(tr("keywords.open_card"), card)] if card else []
    if all_data:
        buttons.append((tr("keywords.all"), all_data))
    return Screen(text, keyboard(buttons) if buttons else None)


def cancelled(tr: Translator) -> Screen:
    return Screen(tr("keywords.cancelled"))


def name_for(keywords: Sequence[str], limit: int = 64) -> str:
    """The automation's name: its keywords, cut to ``limit``."""
    name = "🔑 " + ", ".join(keywords)
    return name if len(name) <= limit else name[:limit - 1].rstrip(", ") + "…"
