"""/stats: delivery statistics, overall and per campaign, as text, and as a chart; a
campaign's per-recipient report.

Buttons: ``st:all`` (the overall stats), ``st:c:<campaign id>`` (one campaign's),
``st:g:all`` and ``st:g:c:<campaign id>`` (their chart, sent as a photo),
``st:rep:csv:<campaign id>`` and ``st:rep:xlsx:<campaign id>`` (its report, a document:
written by a task, a big one showing its progress in one edited message),
``st:fu:<campaign id>`` (*New campaign to...*: its audiences, each a ``wiz:fu:<id>:<who>``
button the campaign wizard takes), ``st:retry:<campaign id>`` (*Retry failed*) and
*Run again* (``wiz:again:<id>``, the wizard's too).
"""

from __future__ import annotations

import asyncio
import html
import logging
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, TelegramError

from bot.domain import MessageStatus
from bot.errors import QasidError
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen, keyboard
from bot.handlers.replies import error_text, show
from bot.i18n import Safe, Translator
from bot.services.analytics import REASONS, Chart, Stats
from bot.services.charts import ChartText, render
from bot.services.followups import Audience, Audiences
from bot.services.reports import FORMATS, ReportFormat, ReportText

log = logging.getLogger(__name__)

MAX_BUTTONS = 10
NO_RATE = "—"  # a rate with nothing to divide by
BIG_REPORT = 5_000  # rows from which a report shows its progress while it is written
PROGRESS_EVERY = 2.0  # seconds between two edits of a report's progress


async def stats_command(update: Update, context: BotContext) -> None:
    """/stats, or the st:all button: every message of the owner's."""
    owner = active_owner(context)
    if update.callback_query is not None:
        await update.callback_query.answer()
    await show(update, overall(context.tr, await context.services.analytics.overall(owner.id)))


async def stats_button(update: Update, context: BotContext) -> None:
    """st:all | st:c:C | st:g:all | st:g:c:C"""
    owner, tr = active_owner(context), context.tr
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    if parts == ["st", "all"]:
        await stats_command(update, context)
        return
    if parts[:2] == ["st", "rep"]:
        await _report(update, context, parts)
        return
    if parts[:2] in (["st", "fu"], ["st", "retry"]):
        await _follow_ups(update, context, parts)
        return
    analytics = context.services.analytics
    try:
        if parts[:2] == ["st", "g"]:
            if parts[2:] != ["all"] and (len(parts) != 4 or parts[2] != "c"):
                raise ValueError(query.data)
            chart = await analytics.chart(owner.id, None if parts[2:] == ["all"]
                                          else int(parts[3]))
        else:
            if len(parts) != 3 or parts[1] != "c":
                raise ValueError(query.data)
            stats = await analytics.campaign(owner.id, int(parts[2]))
    except ValueError:
        await query.answer(tr("help.stale_button"), show_alert=True)
        return
    except QasidError as exc:
        await query.answer(error_text(context, exc)[:200], show_alert=True)
        return
    if parts[1] == "g":
        await _send_chart(update, context, chart)
        return
    await query.answer()
    await show(update, campaign(tr, stats))


async def _send_chart(update: Update, context: BotContext, chart: Chart | None) -> None:
    """The chart as a photo under the stats message (an alert while there is none)."""
    tr, query, chat = context.tr, update.callback_query, update.effective_chat
    assert query is not None and chat is not None
    if chart is None:
        await query.answer(tr("stats.chart_empty"), show_alert=True)
        return
    await query.answer()
    await chat.send_chat_action(ChatAction.UPLOAD_PHOTO)
    png = await asyncio.to_thread(render, chart, chart_text(tr, chart))
    await chat.send_photo(png, caption=chart_caption(tr, chart))


async def _follow_ups(update: Update, context: BotContext, parts: list[str]) -> None:
    """st:fu:C (the audiences to follow up) | st:retry:C (failures that may pass, sent
    again: the owner told how many, then the stats as they are now)."""
    owner, tr, query = active_owner(context), context.tr, update.callback_query
    assert query is not None
    followups = context.services.followups
    try:
        if len(parts) != 3:
            raise ValueError(query.data)
        campaign_id = int(parts[2])
        if parts[1] == "fu":
            screen = follow_up_menu(tr, await followups.audiences(owner.id, campaign_id))
        else:
            count = await followups.retry_failed(owner.id, campaign_id)
            screen = campaign(tr, await context.services.analytics.campaign(owner.id,
                                                                            campaign_id))
    except ValueError:
        await query.answer(tr("help.stale_button"), show_alert=True)
        return
    except QasidError as exc:
        await query.answer(error_text(context, exc)[:200], show_alert=True)
        return
    if parts[1] == "fu":
        await query.answer()
    else:
        await query.answer(tr("retry.done", count=count) if count else tr("retry.none"),
                           show_alert=True)
    await show(update, screen)


async def _report(update: Update, context: BotContext, parts: list[str]) -> None:
    """st:rep:<csv|xlsx>:C: the campaign's report, written by a task (the update loop
    goes on); the owner's campaign only (anyone else's: not found)."""
    owner, tr, query = active_owner(context), context.tr, update.callback_query
    assert query is not None and query.message is not None
    try:
        if len(parts) != 4 or parts[2] not in FORMATS:
            raise ValueError(query.data)
        fmt: ReportFormat = "csv" if parts[2] == "csv" else "xlsx"
        campaign_id = int(parts[3])
        size = await context.services.reports.size(owner.id, campaign_id)
    except ValueError:
        await query.answer(tr("help.stale_button"), show_alert=True)
        return
    except QasidError as exc:
        await query.answer(error_text(context, exc)[:200], show_alert=True)
        return
    await query.answer(tr("report.preparing"))
    context.application.create_task(
        _write_report(context, owner.id, campaign_id, fmt, query.message.chat.id, size),
        update=update, name=f"report-{campaign_id}-{fmt}")


async def _write_report(context: BotContext, owner_id: int, campaign_id: int,
                        fmt: ReportFormat, chat_id: int, size: int) -> None:
    """Write the report and send it; a big one edits one message with its progress."""
    tr, bot = context.tr, context.bot
    progress_id: int | None = None
    last = time.monotonic()
    showing: asyncio.Task | None = None  # the progress edit under way

    async def edit(text: str) -> None:
        if progress_id is None:
            return
        try:
            await bot.edit_message_text(text, chat_id=chat_id, message_id=progress_id)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.warning("could not edit the report's progress: %s", exc)
        except TelegramError as exc:
            log.warning("could not edit the report's progress: %s", exc)

    async def progress(done: int, total: int) -> None:
        nonlocal last, showing
        if progress_id is None or (showing is not None and not showing.done()):
            return
        if time.monotonic() - last >= PROGRESS_EVERY:
            last = time.monotonic()
            # not awaited: the report never waits for Telegram (awaited before the end)
            showing = asyncio.get_running_loop().create_task(edit(tr(
                "report.progress", id=campaign_id, done=tr.number(done),
                total=tr.number(total))))

    if size >= BIG_REPORT:
        sent = await bot.send_message(chat_id, tr("report.progress", id=campaign_id, done="0",
                                                  total=tr.number(size)))
        progress_id = sent.message_id
    with tempfile.TemporaryDirectory(prefix="qasid-report-") as folder:
        try:
            report = await context.services.reports.write(
                owner_id, campaign_id, fmt, report_text(tr), Path(folder), progress=progress)
        except QasidError as exc:
            if showing is not None:
                await showing
            await edit(error_text(context, exc))
            if progress_id is None:
                await bot.send_message(chat_id, error_text(context, exc))
            return
        if showing is not None:
            await showing
        await edit(tr("report.ready", id=campaign_id, count=report.rows))
        with report.path.open("rb") as fh:
            await bot.send_document(chat_id, fh, filename=report.path.name, caption=tr(
                "report.caption", id=campaign_id, name=report.campaign.name,
                count=report.rows, zone=owner_zone(context)))


# --- rendering: pure ---------------------------------------------------------------------


_STATUS_WORDS = {
    MessageStatus.QUEUED: "report.status.queued", MessageStatus.SENDING: "report.status.sending",
    MessageStatus.SENT: "report.status.sent", MessageStatus.DELIVERED: "report.status.delivered",
    MessageStatus.READ: "report.status.read", MessageStatus.FAILED: "report.status.failed",
    MessageStatus.UNCERTAIN: "report.status.uncertain",
    MessageStatus.SKIPPED: "report.status.skipped",
}
_REPORT_COLUMNS = (
    "report.col_name", "report.col_phone", "report.col_number", "report.col_variant",
    "report.col_text", "report.col_status", "report.col_sent", "report.col_delivered",
    "report.col_read", "report.col_reason", "report.col_detail", "report.col_replied",
    "report.col_reply")


def report_text(tr: Translator) -> ReportText:
    """The report's words in the owner's language: plain text (the catalogs' HTML escapes
    undone), the failure reasons those of /stats."""
    def plain(key: str, **params: object) -> str:
        return html.unescape(tr(key, **params))

    return ReportText(
        columns=tuple(plain(key) for key in _REPORT_COLUMNS),
        statuses={status.value: plain(key) for status, key in _STATUS_WORDS.items()},
        reasons={reason: plain(f"stats.reason.{reason}") for reason in REASONS},
        attachment=plain("report.attachment", kind=Safe("{kind}")),
        sheet=plain("report.sheet"),
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
        return Screen(tr("stats.empty"), keyboard(*rows))
    rows.insert(0, [(tr("stats.chart_button"), "st:g:all")])
    parts = ["\n".join([tr("stats.title"), *_counts(tr, stats)]),
             "\n".join(_reasons(tr, stats))]
    if stats.campaigns:
        parts.append("\n".join([tr("stats.campaigns_title"), *(
            tr("stats.campaign_line", id=line.id, name=line.name, sent=tr.number(line.sent),
               total=tr.number(line.total), delivered_rate=percent(tr, line.delivered_rate))
            for line in stats.campaigns)]))
    return Screen("\n\n".join(parts), keyboard(*rows))


def campaign(tr: Translator, stats: Stats) -> Screen:
    """One campaign's messages and top failure reasons."""
    c = stats.campaign
    assert c is not None
    head = tr("stats.campaign_title", id=c.id, name=c.name,
              status=tr(f"status.{c.status.value}"))
    counts = _counts(tr, stats)
    counts.append(tr("stats.replied", n=tr.number(stats.replied),
                     rate=percent(tr, stats.replied / stats.sent if stats.sent else None)))
    parts = ["\n".join([head, *counts]), "\n".join(_reasons(tr, stats))]
    follow = [(tr("stats.follow_up"), f"st:fu:{c.id}")]
    if stats.failed:
        follow.append((tr("stats.retry"), f"st:retry:{c.id}"))
    return Screen("\n\n".join(parts), keyboard(
        [(tr("campaigns.refresh"), f"st:c:{c.id}"), (tr("stats.chart_button"), f"st:g:c:{c.id}")],
        [(tr("stats.report_xlsx"), f"st:rep:xlsx:{c.id}"),
         (tr("stats.report_csv"), f"st:rep:csv:{c.id}")],
        follow,
        [(tr("stats.run_again"), f"wiz:again:{c.id}")],
        [(tr("campaigns.details"), f"cmp:open:{c.id}"), (tr("stats.all"), "st:all")],
    ))


_AUDIENCE_BUTTONS = {  # each audience's button, in the order shown
    Audience.NOT_READ: "followup.unread", Audience.FAILED: "followup.failed",
    Audience.REPLIED: "followup.replied", Audience.NOT_REPLIED: "followup.silent",
}


def follow_up_menu(tr: Translator, found: Audiences) -> Screen:
    """*New campaign to...*: each audience with someone in it, and its size."""
    c = found.campaign
    rows = [[(tr(key, n=tr.number(found.sizes[audience])),
              f"wiz:fu:{c.id}:{audience.value}")]
            for audience, key in _AUDIENCE_BUTTONS.items() if found.sizes[audience]]
    text = tr("followup.title", id=c.id, name=c.name)
    if not rows:
        text += "\n\n" + tr("followup.nobody")
    rows.append([(tr("wizard.back"), f"st:c:{c.id}")])
    return Screen(text, keyboard(*rows))


def _title(tr: Translator, chart: Chart) -> str:
    c = chart.stats.campaign
    return (tr("stats.chart_title_all") if c is None
            else tr("stats.chart_title_campaign", id=c.id, name=c.name))


def chart_text(tr: Translator, chart: Chart) -> ChartText:
    """The chart's words: plain text (the catalogs' HTML escapes undone)."""
    def plain(key: str, **params: object) -> str:
        return html.unescape(tr(key, **params))

    return ChartText(
        title=html.unescape(_title(tr, chart)), per_hour=plain("stats.chart_per_hour"),
        per_day=plain("stats.chart_per_day"), sent=plain("stats.chart_sent"),
        delivered=plain("stats.chart_delivered"), read=plain("stats.chart_read"),
        failed=plain("stats.chart_failed"), pending=plain("stats.chart_pending"),
        numbers=plain("stats.chart_numbers"),
        delivered_share=plain("stats.chart_delivered_share", rate=Safe("{rate}")),
    )


def chart_caption(tr: Translator, chart: Chart) -> str:
    stats, series = chart.stats, chart.series
    zone = series.starts[0].tzinfo if series.starts else None
    return tr("stats.chart_caption", title=_title(tr, chart), sent=tr.number(stats.sent),
              delivered_rate=percent(tr, stats.delivered_rate),
              failed=tr.number(stats.failed), zone=str(zone or ""))
