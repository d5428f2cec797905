"""Rendering for /automations (issue 21). Pure.

Buttons (``aut:``): ``aut:all`` the list; ``aut:open:<id>`` a card; ``aut:off:<id>`` /
``aut:on:<id>`` pause and resume; ``aut:rm:<id>`` asks to delete, ``aut:rmok:<id>``
deletes; ``aut:ed:<id>`` the edit screen: ``aut:rn:<id>`` asks a new name,
``aut:et:<id>:<i>`` / ``aut:eT:<id>:<i>:<template>`` a step's template,
``aut:ew:<id>:<i>`` / ``aut:eW:<id>:<i>:<wait>`` a step's wait. *New sequence*:
``aut:new`` the lists, ``aut:nl:<list>`` the list picked, ``aut:nt:<template>`` the next
step's template, ``aut:nw:<wait>`` its wait (the step is added), ``aut:ok`` creates it,
``aut:x`` drops the draft.

Other kinds add themselves: ``NEW_BUTTONS`` (their *New ...* buttons on the list),
``DESCRIBE`` (a line about their settings on the card) and ``EDITORS`` (the callback
data their *Edit* opens, with ``{id}``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.domain import Automation, ContactList, Template
from bot.handlers.render import Screen, keyboard
from bot.i18n import Translator
from bot.services.automations import AutomationCard
from bot.services.automations_sequences import Step, steps_of

# a step's wait as a button: (delay, unit, time of day)
WAITS: tuple[tuple[int, str, str | None], ...] = (
    (0, "minutes", None), (30, "minutes", None), (1, "hours", None), (1, "days", None),
    (1, "days", "10:00"), (2, "days", "10:00"), (3, "days", "10:00"), (7, "days", "10:00"))
TEMPLATES_SHOWN = 20

NEW_BUTTONS: list[tuple[str, str]] = [("automations.new_sequence", "aut:new")]
DESCRIBE: dict[str, Callable[[Translator, Automation], str]] = {}
EDITORS: dict[str, str] = {"sequence": "aut:ed:{id}"}
# a kind's own button on its card: (label key, callback data with ``{id}``)
CARD_BUTTONS: dict[str, tuple[str, str]] = {}
_KIND_ICONS = {"sequence": "🔁", "date": "📅", "keyword": "💬"}


def wait_step(n: int) -> Step:
    delay, unit, at = WAITS[n]
    return Step(0, delay, unit, "previous", at)


def wait_text(tr: Translator, step: Step | Mapping[str, Any]) -> str:
    """When a step goes: "at once", "2 days after the previous step, at 10:00"."""
    s = step if isinstance(step, Step) else Step.of({"template_id": 0, **step})
    if s.delay == 0:
        text = tr("automations.wait_now")
    else:
        amount = tr(f"automations.unit_{s.unit}", count=s.delay)
        text = tr("automations.wait_after_join" if s.after == "join"
                  else "automations.wait_after", wait=amount)
    return text + (tr("automations.wait_at", at=s.at) if s.at else "")


def state_text(tr: Translator, automation: Automation) -> str:
    if automation.on:
        return tr("automations.state_on")
    if automation.paused_reason == "balance":
        return tr("automations.state_paused_balance")
    return tr("automations.state_paused")


def _icon(automation: Automation) -> str:
    return "⏸" if not automation.on else _KIND_ICONS.get(automation.kind, "⚙️")


def list_screen(tr: Translator, automations: Sequence[Automation],
                note: str | None = None) -> Screen:
    lines = [note, ""] if note else []
    lines.append(tr("automations.title"))
    if not automations:
        lines.append(tr("automations.none"))
    for a in automations:
        lines.append(tr("automations.line", icon=_icon(a), name=a.name,
                        kind=tr(f"automations.kind_{a.kind}"), state=state_text(tr, a)))
    rows = [[(f"{_icon(a)} {a.name}", f"aut:open:{a.id}")] for a in automations]
    rows += [[(tr(key), data)] for key, data in NEW_BUTTONS]
    rows.append([(tr("menu.back"), "menu:home")])
    return Screen("\n".join(lines), keyboard(*rows))


def card(tr: Translator, view: AutomationCard, zone: str,
         lists: Mapping[int, str], templates: Mapping[int, str],
         note: str | None = None) -> Screen:
    a = view.automation
    lines = [note, ""] if note else []
    lines.append(tr("automations.card", name=a.name, kind=tr(f"automations.kind_{a.kind}"),
                    state=state_text(tr, a)))
    if a.kind == "sequence":
        list_name = lists.get(int(a.config.get("list_id") or 0), "—")
        lines.append(tr("automations.trigger", list=list_name))
        lines.extend(tr("automations.step_line", n=i + 1,
                        template=templates.get(s.template_id, "—"), wait=wait_text(tr, s))
                     for i, s in enumerate(steps_of(a)))
        stops = [tr(f"automations.{rule}") for rule in
                 ("stop_on_reply", "stop_on_opt_out", "stop_on_leave")
                 if a.config.get(rule, True)]
        if stops:
            lines.append(tr("automations.stops", rules=", ".join(stops)))
    elif a.kind in DESCRIBE:
        lines.append(DESCRIBE[a.kind](tr, a))
    lines.append(tr("automations.figures", today=view.produced_today,
                    total=view.produced_total, queued=view.queued, sent=view.sent,
                    delivered=view.delivered, read=view.read, failed=view.failed,
                    skipped=view.skipped))
    if view.enrolments:
        lines.append(tr("automations.enrolments", active=view.enrolments.get("active", 0),
                        done=view.enrolments.get("done", 0),
                        stopped=sum(n for k, n in view.enrolments.items()
                                    if k not in ("active", "done"))))
    if view.next_sends:
        lines.append(tr("automations.next") + "\n" + "\n".join(
            tr("automations.next_line", phone=p.phone, n=p.step + 1,
               at=tr.datetime(p.at, zone)) for p in view.next_sends))
    else:
        lines.append(tr("automations.next_none"))
    toggle = ((tr("automations.resume"), f"aut:on:{a.id}") if not a.on
              else (tr("automations.pause"), f"aut:off:{a.id}"))
    edit = EDITORS.get(a.kind)
    return Screen("\n\n".join(lines), keyboard(
        [toggle, (tr("automations.edit"), edit.format(id=a.id))] if edit else [toggle],
        [(tr(CARD_BUTTONS[a.kind][0]), CARD_BUTTONS[a.kind][1].format(id=a.id))]
        if a.kind in CARD_BUTTONS else [],
        [(tr("automations.delete"), f"aut:rm:{a.id}")],
        [(tr("automations.all"), "aut:all")]))


def delete_question(tr: Translator, automation: Automation) -> Screen:
    return Screen(tr("automations.delete_confirm", name=automation.name),
                  keyboard([(tr("automations.delete_yes"), f"aut:rmok:{automation.id}")],
                           [(tr("common.cancel"), f"aut:open:{automation.id}")]))


def edit_screen(tr: Translator, automation: Automation, templates: Mapping[int, str]) -> Screen:
    lines = [tr("automations.edit_title", name=automation.name)]
    rows = [[(tr("automations.rename"), f"aut:rn:{automation.id}")]]
    for i, s in enumerate(steps_of(automation)):
        lines.append(tr("automations.step_line", n=i + 1,
                        template=templates.get(s.template_id, "—"), wait=wait_text(tr, s)))
        rows.append([(tr("automations.step_template", n=i + 1),
                      f"aut:et:{automation.id}:{i}"),
                     (tr("automations.step_wait", n=i + 1), f"aut:ew:{automation.id}:{i}")])
    rows.append([(tr("automations.done"), f"aut:open:{automation.id}")])
    return Screen("\n".join(lines), keyboard(*rows))


def rename_question(tr: Translator, automation: Automation) -> Screen:
    return Screen(tr("automations.ask_name", name=automation.name),
                  keyboard([(tr("common.cancel"), f"aut:ed:{automation.id}")]))


def templates_question(tr: Translator, templates: Sequence[Template], prefix: str,
                       back: str, question: str) -> Screen:
    """The owner's templates as buttons (``<prefix><template id>``)."""
    rows = [[(t.name, f"{prefix}{t.id}")] for t in templates[:TEMPLATES_SHOWN]]
    rows.append([(tr("common.cancel"), back)])
    return Screen(question if templates else tr("automations.no_templates"),
                  keyboard(*rows))


def waits_question(tr: Translator, prefix: str, back: str, question: str) -> Screen:
    """The waits as buttons (``<prefix><n>``), two a row."""
    buttons = [(wait_text(tr, wait_step(n)), f"{prefix}{n}") for n in range(len(WAITS))]
    rows = [buttons[i:i + 2] for i in range(0, len(buttons), 2)]
    rows.append([(tr("common.cancel"), back)])
    return Screen(question, keyboard(*rows))


def lists_question(tr: Translator, lists: Sequence[ContactList]) -> Screen:
    rows = [[(f"📋 {x.name}", f"aut:nl:{x.id}")] for x in lists[:TEMPLATES_SHOWN]]
    rows.append([(tr("common.cancel"), "aut:x")])
    return Screen(tr("automations.ask_list") if lists else tr("automations.no_lists"),
                  keyboard(*rows))


def draft_screen(tr: Translator, draft: Mapping[str, Any], lists: Mapping[int, str],
                 templates: Mapping[int, str]) -> Screen:
    """The new sequence so far: its list, its steps, *Add a step* / *Create* / *Cancel*."""
    steps = draft.get("steps") or []
    lines = [tr("automations.draft", name=draft.get("name") or "—",
                list=lists.get(int(draft.get("list_id") or 0), "—"))]
    lines.extend(tr("automations.step_line", n=i + 1,
                    template=templates.get(int(s["template_id"]), "—"),
                    wait=wait_text(tr, s)) for i, s in enumerate(steps))
    lines.append(tr("automations.draft_hint"))
    rows = [[(tr("automations.add_step"), "aut:add")]]
    if steps:
        rows.append([(tr("automations.create"), "aut:ok")])
    rows.append([(tr("common.cancel"), "aut:x")])
    return Screen("\n".join(lines), keyboard(*rows))


def paused_alert(tr: Translator, automation_id: int, name: str) -> Screen:
    """The owner's notice: an automation met an empty balance and paused."""
    return Screen(tr("automations.paused_balance_alert", name=name),
                  keyboard([(tr("automations.open"), f"aut:open:{automation_id}")],
                           [(tr("menu.balance"), "bal:show")]))
