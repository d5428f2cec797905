"""Contacts in chat: file uploads and imports, /lists, /optout, /optin."""

from __future__ import annotations

import asyncio
import logging
import tempfile
import time
from pathlib import Path

from telegram import Update
from telegram.error import BadRequest, TelegramError

from bot.domain import Owner
from bot.errors import Interrupted, QasidError, StorageUnavailable
from bot.handlers import render_contacts as rc
from bot.handlers.context import BotContext, active_owner
from bot.handlers.render import Screen
from bot.handlers.replies import error_text, reply, show
from bot.i18n import Translator
from bot.services.contacts import ImportReport, Progress
from bot.services.prompts import Prompt, PromptKind
from bot.storage.imports import ImportRecord

log = logging.getLogger(__name__)

PROGRESS_EVERY = 1.5  # seconds between edits of the progress message


def _parts(update: Update) -> list[str]:
    assert update.callback_query is not None
    return (update.callback_query.data or "").split(":")


# --- uploads and imports ----------------------------------------------------------------

async def document_received(update: Update, context: BotContext) -> None:
    owner, tr = active_owner(context), context.tr
    assert update.message is not None and update.message.document is not None
    document = update.message.document
    contacts = context.services.contacts
    try:
        record = await contacts.receive_file(owner.id, document.file_id,
                                             document.file_name or "contacts.csv",
                                             document.file_size)
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, rc.import_target(tr, record, await contacts.lists(owner.id)))


async def import_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None and query.message is not None
    owner, tr, contacts = active_owner(context), context.tr, context.services.contacts
    parts = _parts(update)
    try:
        import_id = int(parts[2])
        if parts[1] == "cancel":
            await contacts.cancel_import(owner.id, import_id)
            await query.answer()
            await show(update, Screen(tr("import.cancelled")))
            return
        list_id = int(parts[3]) if parts[1] == "to" else None
        record = await contacts.claim_import(owner.id, import_id, list_id)
    except Interrupted:  # the bot is stopping: the button works again after the restart
        await query.answer(tr("import.restarting"), show_alert=True)
        return
    except (QasidError, ValueError, IndexError) as exc:
        text = error_text(context, exc) if isinstance(exc, QasidError) else tr("error.generic")
        await query.answer(text, show_alert=True)
        return
    await query.answer()
    await show(update, rc.import_progress(tr, record.file_name, None))
    context.application.create_task(
        run_import(context, owner, record, query.message.chat.id, query.message.message_id),
        update=update,
        name=f"import-{record.id}",
    )


async def run_import(
    context: BotContext, owner: Owner, record: ImportRecord, chat_id: int, message_id: int
) -> None:
    """Download, import with a live progress message, then the report (a background task).

    The progress message always ends in a last word: the report, why the file was not
    imported, or (the bot stopping meanwhile) that it was interrupted and nothing saved."""
    tr, contacts, bot = context.tr, context.services.contacts, context.bot
    last_edit = time.monotonic()
    showing: asyncio.Task | None = None  # the progress edit under way

    async def edit(screen: Screen) -> None:
        try:
            await bot.edit_message_text(chat_id=chat_id, message_id=message_id, **screen.kwargs)
        except BadRequest as exc:
            if "not modified" not in str(exc).lower():
                log.warning("could not edit the import message: %s", exc)
        except TelegramError as exc:
            log.warning("could not edit the import message: %s", exc)

    def on_progress(progress: Progress) -> None:
        nonlocal last_edit, showing
        if showing is not None and not showing.done():
            return
        if time.monotonic() - last_edit >= PROGRESS_EVERY:
            last_edit = time.monotonic()
            # not awaited here: the import's transaction never waits for Telegram; awaited
            # before the last word (``finish``), so it never lands after it
            showing = asyncio.get_running_loop().create_task(
                edit(rc.import_progress(tr, record.file_name, progress)))

    async def finish(screen: Screen) -> None:
        if showing is not None:
            await showing
        await edit(screen)

    with tempfile.TemporaryDirectory(prefix="qasid-import-") as folder:
        path = Path(folder) / ("upload" + Path(record.file_name).suffix.lower())
        try:
            telegram_file = await bot.get_file(record.file_id)
            await telegram_file.download_to_drive(path)
        except TelegramError as exc:
            log.warning("owner %s: download of import %s failed: %s", owner.id, record.id, exc)
            await contacts.fail_import(owner.id, record.id, "download_failed")
            await edit(Screen(tr("import.download_failed", file=record.file_name)))
            return
        rejected_path = Path(folder) / "rejected.csv"
        try:
            report = await contacts.run_import(
                owner.id, record, path, region=owner.region, progress=on_progress,
                rejected_path=rejected_path, reason_text=_reason_text(tr),
                rejected_headings=(tr("import.col_line"), tr("import.col_reason")),
            )
        except Interrupted:
            await finish(Screen(tr("import.interrupted", file=record.file_name)))
            return
        except QasidError as exc:
            await finish(Screen(tr("import.failed", file=record.file_name,
                                   reason=error_text(context, exc))))
            return
        except StorageUnavailable as exc:
            log.warning("owner %s: import %s not saved: %s", owner.id, record.id, exc)
            await finish(Screen(tr("import.storage_unavailable", file=record.file_name)))
            return
        except Exception:
            await finish(Screen(tr("import.crashed", file=record.file_name)))
            raise  # logged with context by the error handler
        await finish(rc.import_report(tr, record.file_name, report))
        if report.invalid and rejected_path.exists():
            await _send_rejected(context, chat_id, record.file_name, report, rejected_path)


def _reason_text(tr: Translator):
    return lambda code: tr(f"import.reason.{code}")


async def _send_rejected(
    context: BotContext, chat_id: int, file_name: str, report: ImportReport, path: Path
) -> None:
    name = f"{Path(file_name).stem}_rejected.csv"
    with path.open("rb") as fh:
        await context.bot.send_document(
            chat_id, fh, filename=name,
            caption=context.tr("import.rejected_caption", count=report.invalid),
        )


# --- lists ------------------------------------------------------------------------------

async def lists_command(update: Update, context: BotContext) -> None:
    lists = await context.services.contacts.lists(active_owner(context).id)
    await reply(update, rc.lists_overview(context.tr, lists))


async def list_button(update: Update, context: BotContext) -> None:
    query = update.callback_query
    assert query is not None
    owner, tr, contacts = active_owner(context), context.tr, context.services.contacts
    parts = _parts(update)
    action = parts[1] if len(parts) > 1 else "all"
    try:
        list_id = int(parts[2]) if len(parts) > 2 else 0
        if action == "all":
            screen = rc.lists_overview(tr, await contacts.lists(owner.id))
        elif action == "open":
            item = await contacts.get_list(owner.id, list_id)
            # "Cancel" of a rename lands here
            await context.services.prompts.drop(owner.id, PromptKind.RENAME_LIST)
            screen = rc.list_card(tr, item)
        elif action == "sample":
            item = await contacts.get_list(owner.id, list_id)
            screen = rc.list_sample(tr, item, await contacts.sample(owner.id, list_id))
        elif action == "rename":
            item = await contacts.get_list(owner.id, list_id)
            await context.services.prompts.ask(owner.id, PromptKind.RENAME_LIST, list_id=list_id)
            screen = rc.rename_prompt(tr, item)
        elif action in ("csv", "xlsx"):
            await contacts.get_list(owner.id, list_id)
            await query.answer(tr("lists.exporting"))
            await _export(update, context, list_id, action)
            return
        elif action == "del":
            screen = rc.delete_confirm(tr, *await contacts.delete_preview(owner.id, list_id))
        elif action == "delok":
            item = await contacts.get_list(owner.id, list_id)
            screen = rc.list_deleted(tr, item.name, await contacts.delete_list(owner.id, list_id))
        else:
            await query.answer()
            return
    except (QasidError, ValueError) as exc:
        text = error_text(context, exc) if isinstance(exc, QasidError) else tr("error.generic")
        await query.answer(text, show_alert=True)
        return
    await query.answer()
    await show(update, screen)


async def _export(update: Update, context: BotContext, list_id: int, fmt: str) -> None:
    owner, tr = active_owner(context), context.tr
    headings = {"phone": tr("export.phone"), "name": tr("export.name"),
                "opted_out": tr("export.opted_out"), "yes": tr("export.yes")}
    with tempfile.TemporaryDirectory(prefix="qasid-export-") as folder:
        path, rows = await context.services.contacts.export(
            owner.id, list_id, fmt, Path(folder), headings  # type: ignore[arg-type]  # "csv" or "xlsx": checked by the caller
        )
        assert update.effective_chat is not None
        with path.open("rb") as fh:
            await update.effective_chat.send_document(
                fh, filename=path.name, caption=tr("lists.exported", count=rows))


async def rename_typed(update: Update, context: BotContext, prompt: Prompt, text: str) -> None:
    """A list's new name, typed after Rename (``PromptKind.RENAME_LIST``)."""
    owner, tr = active_owner(context), context.tr
    try:
        item = await context.services.contacts.rename_list(owner.id, prompt.id("list_id"), text)
    except QasidError as exc:  # e.g. the name is taken: the question stays open
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, Screen(tr("lists.renamed", name=item.name)))
    await reply(update, rc.list_card(tr, item))


# --- opt-outs ---------------------------------------------------------------------------

async def optout_command(update: Update, context: BotContext) -> None:
    owner, tr = active_owner(context), context.tr
    args = context.args or []
    if not args:
        await reply(update, Screen(tr("optout.usage")))
        return
    phone, reason = _phone_and_rest(args)
    try:
        contact = await context.services.contacts.opt_out(owner.id, phone, reason, owner.region)
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, Screen(tr("optout.done", phone=contact.phone,
                                  reason=contact.opt_out_reason or "—")))


async def optin_command(update: Update, context: BotContext) -> None:
    owner, tr = active_owner(context), context.tr
    args = context.args or []
    if not args:
        await reply(update, Screen(tr("optin.usage")))
        return
    phone, _ = _phone_and_rest(args)
    try:
        contact = await context.services.contacts.opt_in(owner.id, phone, owner.region)
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    await reply(update, Screen(tr("optin.done", phone=contact.phone)))


def _phone_and_rest(args: list[str]) -> tuple[str, str]:
    """'/optout +994 50 123 45 67 asked by phone': the phone may contain spaces."""
    taken: list[str] = []
    for word in args:
        if any(ch.isalpha() for ch in word) and taken:
            break
        taken.append(word)
    return " ".join(taken), " ".join(args[len(taken):])
