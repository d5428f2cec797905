"""/stats: delivery statistics, overall and per campaign, as text.

Buttons: ``st:all`` (the overall stats) and ``st:c:<campaign id>`` (one campaign's).
"""

from __future__ import annotations

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from bot.domain import Owner
from bot.errors import QasidError
from bot.handlers.context import BotContext
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, show
from bot.i18n import Translator
from bot.services.analytics import Stats

MAX_BUTTONS = 10
NO_RATE = "—"  # a rate with nothing to divide by


def _owner(context: BotContext) -> Owner:
    assert context.owner is not None  # the doorkeeper lets only active owners through
    return context.owner


async def stats_command(update: Update, context: BotContext) -> None:
    """/stats, or the st:all button: every message of the owner's."""
    owner = _owner(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await show(update, overall(context.tr, await context.services.analytics.overall(owner.id)))


async def stats_button(update: Update, context: BotContext) -> None:
    """st:all | st:c:C"""
    owner, tr = _owner(context), context.tr
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    if parts == ["st", "all"]:
        await stats_command(update, context)
        return
    try:
        if len(parts) != 3 or parts[1] != "c":
            raise ValueError(query.data)
        stats = await context.services.analytics.campaign(owner.id, int(parts[2]))
    except ValueError:
        await query.answer(tr("help.stale_button"), show_alert=True)
        return
    except QasidError as exc:
        await query.answer(error_text(context, exc)[:200], show_alert=True)
        return
    await query.answer()
    await show(update, campaign(tr, stats))


# --- rendering: pure ---------------------------------------------------------------------

def _kb(*rows: list[tuple[str, str]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row]
         for row in rows if row]
    )


def percent(tr: Translator, rate: float | None) -> str:
    """0.875 -> "87.5%" (in the owner's locale); no rate -> "—"."""
    return NO_RATE if rate is None else tr.number(round(100 * rate, 1)) + "%"


def _counts(tr: Translator, stats: Stats) -> list[str]:
    lines = [tr("stats.counts", total=tr.number(stats.total), queued=tr.number(stats.queued),
                sent=tr.number(stats.sent), delivered=tr.number(stats.delivered),
                delivered_rate=percent(tr, stats.delivered_rate), read=tr.number(stats.read),
                read_rate=percent(tr, stats.read_rate), failed=tr.number(stats.failed),
                failed_rate=percent(tr, stats.failed_rate),
                uncertain=tr.number(stats.uncertain))]
    if stats.skipped:
        lines.append(tr("stats.skipped", n=tr.number(stats.skipped)))
    return lines


def _reasons(tr: Translator, stats: Stats) -> list[str]:
    if not stats.failed:
        return [tr("stats.no_failures")]
    lines = [tr("stats.reasons_title")]
    for n, reason in enumerate(stats.reasons, 1):
        text = tr(f"stats.reason.{reason.category}")
        if reason.detail:
            lines.append(tr("stats.reason_detail", n=n, reason=text,
                            count=tr.number(reason.count), detail=reason.detail))
        else:
            lines.append(tr("stats.reason_line", n=n, reason=text,
                            count=tr.number(reason.count)))
    return lines


def overall(tr: Translator, stats: Stats) -> Screen:
    """All the owner's messages, the top failure reasons, and the recent campaigns, each
    with a button to its own stats."""
    rows = [[(f"📈 #{line.id} {line.name}"[:60], f"st:c:{line.id}")]
            for line in stats.campaigns[:MAX_BUTTONS]]
    rows.append([(tr("menu.back"), "menu:home")])
    if not stats.total and not stats.campaigns:
        return Screen(tr("stats.empty"), _kb(*rows))
    parts = ["\n".join([tr("stats.title"), *_counts(tr, stats)]),
             "\n".join(_reasons(tr, stats))]
    if stats.campaigns:
        parts.append("\n".join([tr("stats.campaigns_title"), *(
            tr("stats.campaign_line", id=line.id, name=line.name, sent=tr.number(line.sent),
               total=tr.number(line.total), delivered_rate=percent(tr, line.delivered_rate))
            for line in stats.campaigns)]))
    return Screen("\n\n".join(parts), _kb(*rows))


def campaign(tr: Translator, stats: Stats) -> Screen:
    """One campaign's messages and top failure reasons."""
    c = stats.campaign
    assert c is not None
    head = tr("stats.campaign_title", id=c.id, name=c.name,
              status=tr(f"status.{c.status.value}"))
    parts = ["\n".join([head, *_counts(tr, stats)]), "\n".join(_reasons(tr, stats))]
    return Screen("\n\n".join(parts), _kb(
        [(tr("campaigns.refresh"), f"st:c:{c.id}"), (tr("campaigns.details"), f"cmp:open:{c.id}")],
        [(tr("stats.all"), "st:all")],
    ))
