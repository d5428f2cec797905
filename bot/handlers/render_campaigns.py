"""Rendering for templates, the campaign wizard and campaigns. Pure."""

from __future__ import annotations

import html

from bot.domain import (
    WIZARD,
    WIZARD_STEPS_SHOWN,
    ContactList,
    Sender,
    Template,
    WizardStep,
)
from bot.handlers.render import Screen, keyboard
from bot.i18n import Safe, Translator
from bot.services.campaigns import (
    CAMPAIGN_NAME_MAX,
    SAFE_BATCH_MAX,
    SAFE_DELAY_MIN,
    CampaignView,
    Summary,
)
from bot.services.number_checks import CampaignChecks
from bot.services.planning import NIGHT, PRESETS, Pacing
from bot.services.risk import Risk
from bot.services.template_engine import Problem
from bot.services.templates import Preview, TemplateDraft

MAX_BUTTONS = 20
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")



def _pre(text: str) -> Safe:
    return Safe(f"<pre>{html.escape(text)}</pre>")


# --- templates --------------------------------------------------------------------------

def templates_overview(tr: Translator, items: list[Template]) -> Screen:
    rows = [[(f"📝 {t.name}", f"tpl:open:{t.id}")] for t in items[:MAX_BUTTONS]]
    rows.append([(tr("templates.new"), "tpl:new")])
    rows.append([(tr("menu.back"), "menu:home")])
    if not items:
        return Screen(tr("templates.empty"), keyboard(*rows))
    lines = [tr("templates.title")]
    for n, t in enumerate(items, 1):
        lines.append(tr("templates.line", n=n, name=t.name, count=len(t.variants),
                        media=tr(f"templates.media_{t.media_kind}") if t.media_kind else ""))
    return Screen("\n".join(lines), keyboard(*rows))


def template_card(tr: Translator, template: Template, distinct: int,
                  cloud: bool = False) -> Screen:
    parts = [tr("templates.card", name=template.name, count=len(template.variants),
                distinct=tr.number(distinct))]
    if template.media_kind:
        parts.append(tr(f"templates.media_{template.media_kind}"))
    if template.cloud is not None:
        params = ", ".join(f"{{{{{n}}}}} = {{{{{p}}}}}"
                           for n, p in enumerate(template.cloud.params, 1))
        parts.append(tr("templates.cloud_linked", name=template.cloud.name,
                        language=template.cloud.language, params=params or "-"))
    for n, text in enumerate(template.variants, 1):
        parts.append(tr("templates.variant", n=n) + "\n" + _pre(text))
    return Screen("\n\n".join(parts), keyboard(
        [(tr("templates.preview"), f"tpl:pv:{template.id}"),
         (tr("templates.edit"), f"tpl:edit:{template.id}")],
        [(tr("templates.cloud"), f"tpl:cloud:{template.id}")] if cloud else [],
        [(tr("templates.delete"), f"tpl:del:{template.id}")],
        [(tr("templates.all"), "tpl:all")],
    ))


def preview_pick_list(tr: Translator, template: Template, lists: list[ContactList]) -> Screen:
    if not lists:
        return Screen(tr("templates.preview_no_lists"),
                      keyboard([(tr("templates.back_to_template"), f"tpl:open:{template.id}")]))
    rows = [[(f"📋 {item.name}", f"tpl:pvl:{template.id}:{item.id}")]
            for item in lists[:MAX_BUTTONS]]
    rows.append([(tr("templates.back_to_template"), f"tpl:open:{template.id}")])
    return Screen(tr("templates.preview_pick_list", name=template.name), keyboard(*rows))


def preview(tr: Translator, result: Preview, list_id: int) -> Screen:
    parts = [tr("templates.preview_title", name=result.template.name,
                count=result.distinct)]
    if not result.samples:
        parts.append(tr("templates.preview_empty_list"))
    for contact, text in result.samples:
        parts.append(f"👤 {html.escape(contact.name or contact.phone)}\n" + _pre(text))
    tid = result.template.id
    return Screen("\n\n".join(parts), keyboard(
        [(tr("templates.preview_again"), f"tpl:pvl:{tid}:{list_id}")],
        [(tr("templates.back_to_template"), f"tpl:open:{tid}")],
    ))


def template_delete_confirm(tr: Translator, template: Template) -> Screen:
    return Screen(tr("templates.delete_confirm", name=template.name), keyboard(
        [(tr("templates.delete_yes"), f"tpl:delyes:{template.id}")],
        [(tr("templates.back_to_template"), f"tpl:open:{template.id}")],
    ))


def composer(tr: Translator, draft: TemplateDraft, *, added: str | None = None) -> Screen:
    cancel = [(tr("wizard.cancel"), "tpl:c:cancel")]
    if draft.step == "name":
        return Screen(tr("composer.ask_name"), keyboard(cancel))
    parts = []
    if added is not None:
        parts.append(tr("composer.added", n=len(draft.variants)) + "\n" + _pre(added))
    elif draft.variants:
        parts.append(tr("composer.has_variants", name=draft.name, count=len(draft.variants)))
    else:
        parts.append(tr("composer.ask_text", name=draft.name))
    if draft.media_kind:
        parts.append(tr(f"templates.media_{draft.media_kind}"))
    parts.append(tr("composer.next_hint" if draft.variants else "composer.syntax"))
    rows: list[list[tuple[str, str]]] = []
    if draft.variants:
        rows.append([(tr("composer.save"), "tpl:c:save")])
        rows.append([(tr("composer.undo"), "tpl:c:undo")])
    if draft.media_kind:
        rows.append([(tr("composer.drop_media"), "tpl:c:nomedia")])
    rows.append(cancel)
    return Screen("\n\n".join(parts), keyboard(*rows))


def template_problems(tr: Translator, problems: list[Problem], known: set[str],
                      variant: int | None = None) -> Screen:
    lines = [tr("composer.problems") if variant is None
             else tr("composer.problems_variant", n=variant)]
    for p in problems[:10]:
        lines.append("• " + tr("composer.where", line=p.line, column=p.column) + " "
                     + tr(f"template.{p.reason}", detail=p.detail, limit=p.limit))
    if any(p.reason == "unknown_variable" for p in problems):
        lines.append(tr("composer.known", names=", ".join(sorted(known))))
    return Screen("\n".join(lines))


# --- the wizard ---------------------------------------------------------------------------

def _nav(tr: Translator, back: bool = True) -> list[tuple[str, str]]:
    row = [(tr("wizard.back"), "wiz:back")] if back else []
    return [*row, (tr("wizard.cancel"), "wiz:cancel")]


def _head(tr: Translator, step: WizardStep) -> str:
    return tr("wizard.step", n=WIZARD[step].number, total=WIZARD_STEPS_SHOWN)


def wizard_list(tr: Translator, lists: list[ContactList]) -> Screen:
    if not lists:
        return Screen(_head(tr, WizardStep.LIST) + "\n" + tr("wizard.no_lists"),
                      keyboard(_nav(tr, False)))
    rows = [[(tr("wizard.list_button", name=item.name, size=tr.number(item.size - item.opted_out)),
              f"wiz:list:{item.id}")] for item in lists[:MAX_BUTTONS]]
    rows.append(_nav(tr, False))
    return Screen(_head(tr, WizardStep.LIST) + "\n" + tr("wizard.ask_list"), keyboard(*rows))


def wizard_template(tr: Translator, items: list[Template]) -> Screen:
    if not items:
        return Screen(_head(tr, WizardStep.TEMPLATE) + "\n" + tr("wizard.no_templates"),
                      keyboard(_nav(tr)))
    rows = [[(f"📝 {t.name}", f"wiz:tpl:{t.id}")] for t in items[:MAX_BUTTONS]]
    rows.append(_nav(tr))
    return Screen(_head(tr, WizardStep.TEMPLATE) + "\n" + tr("wizard.ask_template"),
                  keyboard(*rows))


def sender_label(sender: Sender) -> str:
    return sender.label or sender.phone


def wizard_senders(tr: Translator, usable: list[Sender], chosen: list[int]) -> Screen:
    if not usable:
        return Screen(_head(tr, WizardStep.SENDERS) + "\n" + tr("wizard.no_senders"),
                      keyboard(_nav(tr)))
    rows = [[(("✅ " if s.id in chosen else "⬜ ") + sender_label(s), f"wiz:snd:{s.id}")]
            for s in usable[:MAX_BUTTONS]]
    rows.append([(tr("wizard.next"), "wiz:snd:ok")])
    rows.append(_nav(tr))
    return Screen(_head(tr, WizardStep.SENDERS) + "\n" + tr("wizard.ask_senders"), keyboard(*rows))


def wizard_when(tr: Translator) -> Screen:
    return Screen(_head(tr, WizardStep.WHEN) + "\n" + tr("wizard.ask_when"), keyboard(
        [(tr("wizard.when_now"), "wiz:when:now")],
        [(tr("wizard.when_at"), "wiz:when:at")],
        [(tr("wizard.when_day"), "wiz:when:day"), (tr("wizard.when_week"), "wiz:when:week")],
        _nav(tr),
    ))


def wizard_when_at(tr: Translator, zone: str) -> Screen:
    return Screen(_head(tr, WizardStep.WHEN_AT) + "\n" + tr("wizard.ask_date", zone=zone),
                  keyboard(_nav(tr)))


def wizard_weekdays(tr: Translator, chosen: list[int]) -> Screen:
    row1 = [(("✅ " if d in chosen else "") + tr(f"weekday.{WEEKDAYS[d]}"), f"wiz:day:{d}")
            for d in range(4)]
    row2 = [(("✅ " if d in chosen else "") + tr(f"weekday.{WEEKDAYS[d]}"), f"wiz:day:{d}")
            for d in range(4, 7)]
    return Screen(_head(tr, WizardStep.RECURRING_DAYS) + "\n" + tr("wizard.ask_weekdays"),
                  keyboard(row1, row2, [(tr("wizard.next"), "wiz:day:ok")], _nav(tr)))


def wizard_time(tr: Translator, zone: str) -> Screen:
    return Screen(_head(tr, WizardStep.RECURRING_TIME) + "\n" + tr("wizard.ask_time", zone=zone),
                  keyboard(_nav(tr)))


def pacing_text(tr: Translator, pacing: Pacing) -> str:
    quiet = (tr("pacing.quiet", start=pacing.quiet.start.strftime("%H:%M"),
                end=pacing.quiet.end.strftime("%H:%M")) if pacing.quiet
             else tr("pacing.no_quiet"))
    if pacing.recipient_night:
        quiet += "; " + tr("pacing.recipient_night", start=NIGHT.start.strftime("%H:%M"),
                           end=NIGHT.end.strftime("%H:%M"))
    return tr("pacing.text", delay_min=_num(pacing.delay_min), delay_max=_num(pacing.delay_max),
              batch=pacing.batch_size, pause_min=_num(pacing.batch_pause_min / 60),
              pause_max=_num(pacing.batch_pause_max / 60), quiet=quiet)


def _num(value: float) -> str:
    return f"{value:g}"


def wizard_pacing(tr: Translator) -> Screen:
    lines = [_head(tr, WizardStep.PACING), tr("wizard.ask_pacing")]
    for name in ("safe", "normal", "fast"):
        lines.append(f"<b>{tr(f'pacing.{name}')}</b>: {pacing_text(tr, PRESETS[name])}")
    return Screen("\n".join(lines), keyboard(
        [(tr("pacing.safe"), "wiz:pace:safe"), (tr("pacing.normal"), "wiz:pace:normal"),
         (tr("pacing.fast"), "wiz:pace:fast")],
        [(tr("pacing.custom"), "wiz:pace:custom")],
        _nav(tr),
    ))


def wizard_custom(tr: Translator, step: WizardStep) -> Screen:
    rows = ([[(tr("pacing.no_quiet_button"), "wiz:quiet:none")]]
            if step is WizardStep.CUSTOM_QUIET else [])
    return Screen(_head(tr, step) + "\n" + tr(f"wizard.ask_{step}"), keyboard(*rows, _nav(tr)))


def summary(tr: Translator, s: Summary) -> Screen:
    zone = s.timezone.key
    lines = [_head(tr, WizardStep.SUMMARY), tr("summary.title"),
             tr("summary.name", name=s.name),
             tr("summary.list", name=s.contact_list.name),
             tr("summary.template", name=s.template.name, count=len(s.template.variants)),
             tr("summary.senders", names=", ".join(sender_label(x) for x in s.senders)),
             tr("summary.recipients", n=tr.number(s.recipients),
                opted_out=tr.number(s.opted_out))]
    if s.recurrence is not None:
        days = ", ".join(tr(f"weekday.{WEEKDAYS[d]}") for d in s.recurrence.weekdays)
        lines.append(tr("summary.every_day" if s.recurrence.every == "day"
                        else "summary.every_week", at=s.recurrence.at.strftime("%H:%M"),
                        days=days))
    lines.append(tr("summary.start", at=tr.datetime(s.starts_at, zone), zone=zone))
    lines.append(tr("summary.finish", at=tr.datetime(s.finish, zone),
                    count=s.batches))
    if s.starts_quiet and s.pacing.quiet is not None:
        lines.append(tr("summary.starts_quiet", start=s.pacing.quiet.start.strftime("%H:%M"),
                        end=s.pacing.quiet.end.strftime("%H:%M"),
                        first=tr.datetime(s.first_send or s.starts_at, zone)))
    if s.cap_waits:
        lines.append(tr("summary.days_cap", count=s.days, per_day=tr.number(s.per_day)))
    elif s.days > 1:
        lines.append(tr("summary.days_pace", count=s.days))
    lines.append(tr("summary.pacing", preset=tr(f"pacing.{s.preset}"),
                    text=pacing_text(tr, s.pacing)))
    if s.risky_pace:
        lines.append(tr("summary.risky_pace", delay=_num(SAFE_DELAY_MIN),
                        batch=tr.number(SAFE_BATCH_MAX)))
    for name, n in s.lacking.items():
        lines.append(tr("summary.lacking", count=n, total=tr.number(s.recipients),
                        name=name))
    lines.extend(risk_lines(tr, s.risk))
    if s.safe_plan_on and s.added:
        lines.append(tr("summary.safe_plan_numbers", count=len(s.senders),
                        names=", ".join(sender_label(x) for x in s.added)))
    elif s.safe_plan_on:
        lines.append(tr("summary.safe_plan_on"))
    lines.append(tr("summary.cost" if s.recurrence is None else "summary.cost_per_run",
                    count=s.cost, available=tr.number(s.balance.available),
                    after=tr.number(s.balance_after)))
    rows: list[list[tuple[str, str]]] = []
    if s.missing:
        lines.append(tr("summary.insufficient", count=s.missing))
    else:
        if s.over_advice:
            lines.append(tr("summary.over_advice", count=s.recipients,
                            limit=tr.number(s.advice_max)))
        elif s.asks_twice:
            lines.append(tr("summary.asks_twice"))
        rows.append([(tr("summary.confirm"), "wiz:ok")])
        rows.append([(tr("summary.test"), "wiz:test")])
    if s.offers_safe_plan:
        rows.append([(tr("summary.safe_plan"), "wiz:plan:safe")])
    elif s.safe_plan_on:
        rows.append([(tr("summary.original_plan"), "wiz:plan:original")])
    if s.lacking:
        rows.append([(tr("summary.fix_template"), "wiz:goto:template")])
    rows.append([(tr("summary.edit"), "wiz:edit"), (tr("summary.rename"), "wiz:name")])
    rows.append(_nav(tr))
    return Screen("\n".join(lines), keyboard(*rows))


def risk_lines(tr: Translator, risk: Risk) -> list[str]:
    """The pre-flight check: its level, then each reason in words."""
    return [tr(f"risk.level.{risk.level.label}"),
            *(tr(f"risk.reason.{r.code}", **r.params) for r in risk.reasons)]


def wizard_name(tr: Translator, s: Summary) -> Screen:
    """*Rename*: the name is typed; *Default name* goes back to template · list."""
    rows = [[(tr("wizard.default_name"), "wiz:name:default")]] if s.draft.name else []
    return Screen(_head(tr, WizardStep.NAME) + "\n" + tr(
        "wizard.ask_name", name=s.name, limit=CAMPAIGN_NAME_MAX), keyboard(*rows, _nav(tr)))


def edit_menu(tr: Translator) -> Screen:
    return Screen(tr("summary.edit_what"), keyboard(
        [(tr("summary.edit_list"), "wiz:goto:list"),
         (tr("summary.edit_template"), "wiz:goto:template")],
        [(tr("summary.edit_senders"), "wiz:goto:senders"),
         (tr("summary.edit_when"), "wiz:goto:when")],
        [(tr("summary.edit_pacing"), "wiz:goto:pacing")],
        [(tr("wizard.back"), "wiz:goto:summary")],
    ))


def confirm_big(tr: Translator, s: Summary) -> Screen:
    """The second confirmation: each reason it is asked, then *Yes*."""
    lines = []
    if s.over_advice:
        lines.append(tr("summary.big_warning", count=s.recipients,
                        limit=tr.number(s.advice_max), batches=tr.number(s.batches)))
    if s.risky_pace:
        lines.append(tr("summary.risky_warning", delay=_num(s.pacing.delay_min),
                        batch=tr.number(s.pacing.batch_size)))
    if s.lacking:
        lines.append(tr("summary.lacking_warning", count=max(s.lacking.values()),
                        names=", ".join(f"{{{{{n}}}}}" for n in s.lacking)))
    if s.risk.high:
        lines.append("\n".join([tr("risk.confirm_high"), *risk_lines(tr, s.risk)[1:]]))
    if not s.over_advice:  # the big-list warning asks it itself
        lines.append(tr("summary.sure"))
    rows = [[(tr("summary.big_yes", n=tr.number(s.recipients)), "wiz:big")]]
    if s.lacking:
        rows.append([(tr("summary.fix_template"), "wiz:goto:template")])
    return Screen("\n\n".join(lines), keyboard(*rows, _nav(tr)))


def confirmed(tr: Translator, s: Summary) -> Screen:
    assert s.campaign is not None  # confirmed
    zone = s.timezone.key
    return Screen(tr("summary.confirmed", id=s.campaign.id, name=s.campaign.name,
                     count=s.recipients, start=tr.datetime(s.starts_at, zone),
                     finish=tr.datetime(s.finish, zone), cost=tr.number(s.cost),
                     available=tr.number(s.balance.available)),
                  keyboard([(tr("campaigns.all"), "cmp:all")]))


# --- campaigns ----------------------------------------------------------------------------

def _percent(view: CampaignView) -> int:
    t = view.progress.tally
    return round(100 * (t.sent + t.failed) / t.total) if t.total else 0


def campaigns_overview(tr: Translator, views: list[CampaignView]) -> Screen:
    rows = [[(f"#{v.campaign.id} {v.campaign.name}"[:60], f"cmp:open:{v.campaign.id}")]
            for v in views[:MAX_BUTTONS]]
    rows.append([(tr("campaigns.new"), "menu:newcampaign")])
    rows.append([(tr("menu.back"), "menu:home")])
    if not views:
        return Screen(tr("campaigns.empty"), keyboard(*rows))
    lines = [tr("campaigns.title")]
    for v in views:
        lines.append(tr("campaigns.line", id=v.campaign.id, name=v.campaign.name,
                        status=tr(f"status.{v.campaign.status.value}"),
                        done=tr.number(v.progress.tally.sent),
                        total=tr.number(v.progress.tally.total),
                        percent=_percent(v)))
    return Screen("\n".join(lines), keyboard(*rows))


def campaign_card(tr: Translator, view: CampaignView, zone: str,
                  checks: CampaignChecks | None = None) -> Screen:
    c, p, t = view.campaign, view.progress, view.progress.tally
    lines = [tr("campaigns.card", id=c.id, name=c.name, status=tr(f"status.{c.status.value}")),
             tr("campaigns.counts", total=tr.number(t.total), queued=tr.number(t.queued),
                sent=tr.number(t.sent), delivered=tr.number(t.delivered), read=tr.number(t.read),
                failed=tr.number(t.failed), uncertain=tr.number(t.uncertain),
                skipped=tr.number(t.skipped))]
    if checks is not None and (checks.checked or checks.not_on_whatsapp) \
            and not c.status.is_final:  # the ahead-of-send number checks' progress
        lines.append(tr("campaigns.checked_ahead", checked=tr.number(checks.checked),
                        queued=tr.number(checks.queued),
                        absent=tr.number(checks.not_on_whatsapp)))
    if c.starts_at:
        lines.append(tr("campaigns.starts", at=tr.datetime(c.starts_at, zone)))
    if view.finish and not c.status.is_final:
        lines.append(tr("campaigns.finish", at=tr.datetime(view.finish, zone)))
    lines.append(tr("campaigns.held", n=tr.number(view.held)))
    if c.status.value == "paused":
        lines.append(tr("campaigns.paused_reason") if c.status_reason in (None, "owner")
                     else tr(f"alert.paused_{c.status_reason}", id=c.id, name=c.name))
    if p.uncertain and c.status.value != "cancelled":
        lines.append(tr("progress.uncertain", count=p.uncertain))
    rows = _controls(tr, view)
    rows.append([(tr("stats.button"), f"st:c:{c.id}")])
    rows.append([(tr("campaigns.refresh"), f"cmp:open:{c.id}")])
    rows.append([(tr("campaigns.all"), "cmp:all")])
    return Screen("\n".join(lines), keyboard(*rows))


def _controls(tr: Translator, view: CampaignView) -> list[list[tuple[str, str]]]:
    """Pause / Resume / Cancel as the status allows, and the choice on uncertain messages."""
    c = view.campaign
    buttons: list[tuple[str, str]] = []
    if c.status.value in ("scheduled", "running"):
        buttons.append((tr("campaigns.pause"), f"cmp:pause:{c.id}"))
    if c.status.value == "paused":
        buttons.append((tr("campaigns.resume"), f"cmp:resume:{c.id}"))
    if not c.status.is_final:
        buttons.append((tr("campaigns.cancel"), f"cmp:cancel:{c.id}"))
    rows = [buttons]
    if view.progress.uncertain and c.status.value != "cancelled":
        rows.append([(tr("campaigns.resend_uncertain"), f"cmp:resend:{c.id}"),
                     (tr("campaigns.count_uncertain"), f"cmp:countsent:{c.id}")])
    return rows


def campaign_cancel_confirm(tr: Translator, view: CampaignView) -> Screen:
    return Screen(tr("campaigns.cancel_confirm", id=view.campaign.id, name=view.campaign.name,
                     count=view.progress.unsent, held=tr.number(view.held)), keyboard(
        [(tr("campaigns.cancel_yes"), f"cmp:cancelyes:{view.campaign.id}")],
        [(tr("campaigns.cancel_no"), f"cmp:open:{view.campaign.id}")],
    ))


# --- sending: live progress and alerts --------------------------------------------------------

BAR_WIDTH = 12


def _bar(done: int, total: int) -> str:
    filled = round(BAR_WIDTH * done / total) if total else 0
    return "▓" * filled + "░" * (BAR_WIDTH - filled)


def campaign_progress(tr: Translator, view: CampaignView, zone: str) -> Screen:
    """The one message that follows a campaign while it sends (edited, not repeated)."""
    c, p, t = view.campaign, view.progress, view.progress.tally
    finished = t.sent + t.failed + t.skipped + t.uncertain
    lines = [tr("progress.title", id=c.id, name=c.name, status=tr(f"status.{c.status.value}")),
             f"<code>{_bar(finished, t.total)}</code> {_percent(view)}%",
             tr("progress.counts", sent=tr.number(t.sent), delivered=tr.number(t.delivered),
                read=tr.number(t.read), failed=tr.number(t.failed), queued=tr.number(t.queued),
                total=tr.number(t.total))]
    if t.uncertain:
        lines.append(tr("progress.uncertain", count=t.uncertain))
    if view.finish and c.status.value in ("running", "scheduled") and p.queued:
        lines.append(tr("progress.eta", at=tr.datetime(view.finish, zone)))
    if c.status.value == "completed":
        lines.append(tr("progress.done", sent=tr.number(t.sent), failed=tr.number(t.failed),
                        total=tr.number(t.total)))
    rows = _controls(tr, view)
    rows.append([(tr("campaigns.details"), f"cmp:open:{c.id}")])
    return Screen("\n".join(lines), keyboard(*rows))


def campaign_paused_alert(tr: Translator, campaign_id: int, name: str, reason: str) -> Screen:
    return Screen(tr(f"alert.paused_{reason}", id=campaign_id, name=name),
                  keyboard([(tr("campaigns.resume"), f"cmp:resume:{campaign_id}"),
                       (tr("campaigns.details"), f"cmp:open:{campaign_id}")]))


def campaign_finished_alert(tr: Translator, view: CampaignView) -> Screen:
    t = view.progress.tally
    return Screen(tr("alert.finished", id=view.campaign.id, name=view.campaign.name,
                     sent=tr.number(t.sent), failed=tr.number(t.failed),
                     uncertain=tr.number(t.uncertain), total=tr.number(t.total)),
                  keyboard([(tr("campaigns.details"), f"cmp:open:{view.campaign.id}")]))


def sender_lost_alert(tr: Translator, label: str, state: str, campaigns: int,
                      until: str | None, moved_to: str | None = None,
                      sender_id: int | None = None) -> Screen:
    text = (tr(f"alert.sender_{state}", number=label, count=campaigns)
            if moved_to is None else tr(f"alert.sender_{state}_moved", number=label,
                                        other=moved_to))
    if until:
        text += "\n" + tr("alert.restricted_until", at=until)
    rows: list[list[tuple[str, str]]] = []
    if moved_to is None and sender_id is not None:
        rows.append([(tr("numbers.move"), f"snd:move:{sender_id}")])
        rows.append([(tr("numbers.remove"), f"snd:rm:{sender_id}"),
                     (tr("numbers.link_new"), f"snd:new:{sender_id}")])
    rows.append([(tr("campaigns.all"), "cmp:all")])
    return Screen(text, keyboard(*rows))


def reply_decision(tr: Translator, phone: str, text: str) -> Screen:
    return Screen(tr("replies.ask", phone=phone, text=text), keyboard(
        [(tr("replies.opt_out"), f"rep:out:{phone}"), (tr("replies.keep"), "rep:keep")]))
