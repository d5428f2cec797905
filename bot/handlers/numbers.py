"""/numbers: the owner's WhatsApp numbers; link by QR code or pairing code (WAHA), add a
Cloud API number, remove one.

The QR code is a photo in the chat, refreshed by a job while WAHA waits for the scan
(``num-link-<sender>``); the job says when the number is linked, or that the code
expired (one tap for a new one). Typed answers (the phone for a pairing code, a Cloud
API id and token) are prompts (``PromptKind.PAIR_PHONE``, ``CLOUD_NUMBER``), so they
survive a restart; the message holding a token is deleted as soon as it is read.
"""

from __future__ import annotations

import hashlib
import logging
import time

from telegram import InputMediaPhoto, Update
from telegram.error import TelegramError
from telegram.ext import ContextTypes

from bot.domain import Language, SenderStatus
from bot.errors import GatewayFailed, QasidError
from bot.gateways.base import SenderState
from bot.handlers import render_campaigns as rc
from bot.handlers import render_numbers as rn
from bot.handlers import render_post_mortem as rpm
from bot.handlers.context import BotContext, active_owner, owner_zone
from bot.handlers.render import Screen, keyboard
from bot.handlers.replies import error_text, refuse, reply, show
from bot.i18n import translator
from bot.services.prompts import Prompt, PromptKind

log = logging.getLogger(__name__)


async def numbers_command(update: Update, context: BotContext) -> None:
    owner, service = active_owner(context), context.services.senders
    if update.callback_query is not None:
        await update.callback_query.answer()
    await service.provide_default(owner.id)  # the sandbox number the wizard would use
    views = await service.overview(owner.id)
    await show(update, rn.numbers_screen(context.tr, views, service.kinds, owner_zone(context)))


async def _view(context: BotContext, sender_id: int):
    owner, service = active_owner(context), context.services.senders
    await service.get(owner.id, sender_id)  # the owner's own, or NotFound
    for view in await service.overview(owner.id):
        if view.sender.id == sender_id:
            return view
    raise AssertionError("listed sender vanished")


async def number_button(update: Update, context: BotContext) -> None:
    """num:all | num:open:S | num:add:<kind> | num:qr:S | num:code:S | num:relink:S |
    num:rm:S (ask) | num:rmm:S (remove, move its queue) | num:rmp:S (remove, pause) |
    num:pm:S (its latest post-mortem)"""
    query = update.callback_query
    assert query is not None
    owner, tr, service = active_owner(context), context.tr, context.services.senders
    parts = (query.data or "").split(":")
    action = parts[1] if len(parts) > 1 else ""
    try:
        if action == "all":
            await numbers_command(update, context)
            return
        if action == "add":
            await _add(update, context, parts[2])
            return
        sender_id = int(parts[2])
        if action == "open":
            view = await _view(context, sender_id)
            await query.answer()
            await show(update, rn.number_card(tr, view, owner_zone(context),
                                              "waha" in service.kinds))
        elif action == "pm":
            view = await _view(context, sender_id)  # the owner's own, or NotFound
            report = await context.services.dispatcher.sender_events.post_mortems.latest(
                owner.id, sender_id)
            await query.answer()
            await show(update, rpm.no_post_mortem(tr) if report is None
                       else rpm.post_mortem_screen(tr, rn.label(tr, view.sender), report,
                                                   owner_zone(context), sender_id))
        elif action == "qr":
            await service.get(owner.id, sender_id)
            await query.answer()
            await _send_qr(update, context, sender_id)
        elif action == "code":
            await service.get(owner.id, sender_id)
            await context.services.prompts.ask(owner.id, PromptKind.PAIR_PHONE,
                                               sender_id=sender_id)
            await query.answer()
            await reply(update, Screen(tr("numbers.ask_pair_phone")))
        elif action == "relink":
            await _start_waha(update, context, replaces=sender_id)
            await query.answer()
        elif action == "rm":
            view = await _view(context, sender_id)
            others = [v for v in await service.overview(owner.id, live=False)
                      if v.sender.id != sender_id and v.sender.status is SenderStatus.ACTIVE]
            await query.answer()
            await show(update, rn.remove_confirm(tr, view, bool(others)))
        elif action in ("rmm", "rmp"):
            _stop_link_job(context, sender_id)
            removed, target, campaigns = await service.remove(owner.id, sender_id,
                                                              move=action == "rmm")
            await query.answer()
            name = rn.label(tr, removed)
            if target is not None:
                text = tr("numbers.removed_moved", number=name, other=rn.label(tr, target))
            elif campaigns:
                text = tr("numbers.removed_paused", number=name, count=len(campaigns))
            else:
                text = tr("numbers.removed_plain", number=name)
            await reply(update, Screen(text, keyboard([(tr("numbers.all"), "num:all")])))
        else:
            raise ValueError(action)
    except (ValueError, IndexError) as exc:
        log.info("stale numbers button %r: %s", query.data, exc)
        await query.answer(tr("help.stale_button")[:200], show_alert=True)
    except GatewayFailed as exc:
        log.warning("numbers: gateway %s (%s)", exc.reason, query.data)
        await query.answer()
        await reply(update, Screen(tr("numbers.gateway_down")))
    except QasidError as exc:
        await query.answer(error_text(context, exc)[:200], show_alert=True)


async def _add(update: Update, context: BotContext, kind: str) -> None:
    owner, tr, service = active_owner(context), context.tr, context.services.senders
    query = update.callback_query
    assert query is not None
    if kind not in service.kinds:
        raise ValueError(kind)
    # the press is answered only once it worked: a refusal answers it with the reason
    if kind == "sandbox":
        added = await service.add_sandbox(owner.id)
        await query.answer()
        await reply(update, Screen(tr("numbers.linked", number=rn.label(tr, added)),
                                   keyboard([(tr("numbers.all"), "num:all")])))
    elif kind == "cloud":
        await context.services.prompts.ask(owner.id, PromptKind.CLOUD_NUMBER)
        await query.answer()
        await reply(update, Screen(tr("numbers.ask_cloud")))
    else:
        await _start_waha(update, context)
        await query.answer()


async def link_new(update: Update, context: BotContext, replaces: int | None = None) -> None:
    """"Link a new number" under a ban alert: the first kind this server offers (a WAHA
    number then takes over the lost one's queue once linked)."""
    query = update.callback_query
    assert query is not None
    tr, service = context.tr, context.services.senders
    kinds = service.kinds
    try:
        if kinds and kinds[0] == "waha":
            await _start_waha(update, context, replaces=replaces)
            await query.answer()
        elif kinds:
            await _add(update, context, kinds[0])
        else:
            await query.answer(tr("help.stale_button")[:200], show_alert=True)
    except GatewayFailed as exc:
        log.warning("numbers: gateway %s while linking", exc.reason)
        await query.answer()
        await reply(update, Screen(tr("numbers.gateway_down")))
    except QasidError as exc:
        await query.answer(error_text(context, exc)[:200], show_alert=True)


async def sender_button(update: Update, context: BotContext) -> None:
    """Under a "number lost" alert: snd:move:S (its campaigns to another number) | snd:rm:S |
    snd:new[:S] (link another number, which takes over S's queue when it is a WAHA number
    linked by QR code)"""
    owner, tr, service = active_owner(context), context.tr, context.services.senders
    query = update.callback_query
    assert query is not None
    parts = (query.data or "").split(":")
    action = parts[1] if len(parts) > 1 else ""
    try:
        if action == "move":
            target, resumed = await service.move_campaigns(owner.id, int(parts[2]))
            text = tr("numbers.moved", other=rc.sender_label(target), count=len(resumed))
        elif action == "rm":
            removed, _, _ = await service.remove(owner.id, int(parts[2]))
            text = tr("numbers.removed", number=rc.sender_label(removed))
        elif action == "new":
            lost = int(parts[2]) if len(parts) > 2 else None
            await link_new(update, context, replaces=lost)
            return
        else:
            raise ValueError(action)
    except (ValueError, IndexError, QasidError) as exc:
        await refuse(query, context, exc)
        return
    await query.answer()
    await reply(update, Screen(text, keyboard([(tr("campaigns.all"), "cmp:all")])))


async def _start_waha(update: Update, context: BotContext, replaces: int | None = None) -> None:
    owner, service = active_owner(context), context.services.senders
    sender = await service.start_waha(owner.id, replaces=replaces)
    await _send_qr(update, context, sender.id)


# --- the QR code and its refresh job ------------------------------------------------------

def _job_name(sender_id: int) -> str:
    return f"num-link-{sender_id}"


def _stop_link_job(context: BotContext, sender_id: int) -> None:
    if context.job_queue is None:
        return
    for job in context.job_queue.get_jobs_by_name(_job_name(sender_id)):
        job.schedule_removal()


async def _send_qr(update: Update, context: BotContext, sender_id: int) -> None:
    owner, tr, service = active_owner(context), context.tr, context.services.senders
    chat = update.effective_chat
    assert chat is not None
    try:
        png = await service.waha_qr(owner.id, sender_id)
    except GatewayFailed:
        # already scanned (or WAHA between states): the job tells which
        png = None
    _stop_link_job(context, sender_id)
    message_id = None
    if png is not None:
        message = await chat.send_photo(png, caption=rn.qr_caption(tr),
                                        reply_markup=rn.qr_keyboard(tr, sender_id))
        message_id = message.message_id
    else:
        await reply(update, Screen(tr("numbers.waiting")))
    config = service.config
    assert context.job_queue is not None
    context.job_queue.run_repeating(
        link_job, interval=config.link_poll, first=config.link_poll,
        name=_job_name(sender_id),
        data={"owner_id": owner.id, "sender_id": sender_id, "chat_id": chat.id,
              "message_id": message_id, "language": owner.language.value,
              "qr": hashlib.sha256(png).hexdigest() if png else None,
              "deadline": time.monotonic() + config.link_timeout})


async def link_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every few seconds while a number links: done? new QR? expired?"""
    job = context.job
    assert job is not None and isinstance(job.data, dict)
    data = job.data
    service = context.application.bot_data["services"].senders
    tr = translator(Language(data["language"]))
    chat_id, message_id = data["chat_id"], data["message_id"]
    try:
        sender, state = await service.waha_poll(data["owner_id"], data["sender_id"])
        if state is SenderState.WORKING:
            job.schedule_removal()
            await _finish_qr(context, chat_id, message_id, tr("numbers.qr_done"))
            await context.bot.send_message(
                chat_id, tr("numbers.linked", number=rn.label(tr, sender)),
                reply_markup=keyboard([(tr("numbers.all"), "num:all")]))
            return
        if state in (SenderState.BANNED, SenderState.STOPPED):
            job.schedule_removal()
            await _finish_qr(context, chat_id, message_id, tr("numbers.link_failed"))
            return
        if time.monotonic() > data["deadline"]:
            job.schedule_removal()
            if message_id is not None:
                await context.bot.edit_message_caption(
                    chat_id, message_id, caption=rn.qr_caption(tr, expired=True),
                    reply_markup=rn.qr_keyboard(tr, data["sender_id"], expired=True))
            return
        if message_id is None:
            return
        png = await service.waha_qr(data["owner_id"], data["sender_id"])
        digest = hashlib.sha256(png).hexdigest()
        if digest != data["qr"]:
            await context.bot.edit_message_media(
                InputMediaPhoto(png, caption=rn.qr_caption(tr)),
                chat_id=chat_id, message_id=message_id,
                reply_markup=rn.qr_keyboard(tr, data["sender_id"]))
            data["qr"] = digest
    except (GatewayFailed, TelegramError) as exc:
        log.warning("linking sender %s: %s", data["sender_id"], exc)  # next round tries again
    except QasidError:  # removed meanwhile
        job.schedule_removal()


async def _finish_qr(context, chat_id: int, message_id: int | None, caption: str) -> None:
    if message_id is None:
        return
    try:
        await context.bot.edit_message_caption(chat_id, message_id, caption=caption,
                                               reply_markup=None)
    except TelegramError as exc:
        log.info("QR message not updated: %s", exc)


# --- typed answers ------------------------------------------------------------------------

async def pair_phone_typed(update: Update, context: BotContext, prompt: Prompt,
                           text: str) -> None:
    """The phone a WAHA pairing code is for (``PromptKind.PAIR_PHONE``)."""
    owner, tr, service = active_owner(context), context.tr, context.services.senders
    try:
        code = await service.waha_pairing_code(owner.id, prompt.id("sender_id"), text.strip(),
                                               owner.region)
    except GatewayFailed as exc:
        log.warning("pairing code: gateway %s", exc.reason)
        await reply(update, Screen(tr("numbers.gateway_down")))
        return
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc)))
        return
    await context.services.prompts.drop(owner.id, PromptKind.PAIR_PHONE)
    await reply(update, Screen(tr("numbers.pair_code", code=code)))


async def cloud_number_typed(update: Update, context: BotContext, prompt: Prompt,
                             text: str) -> None:
    """A Cloud API number's id and token (``PromptKind.CLOUD_NUMBER``)."""
    owner, tr, service = active_owner(context), context.tr, context.services.senders
    assert update.message is not None
    try:  # the token must not stay in the chat, whatever happens next
        await update.message.delete()
    except TelegramError as exc:
        log.warning("could not delete the message with a token: %s", exc)
    words = text.split()
    if len(words) != 2:
        await reply(update, Screen(tr("numbers.cloud_format")))
        return
    try:
        sender = await service.add_cloud(owner.id, words[0], words[1])
    except QasidError as exc:
        await reply(update, Screen(error_text(context, exc) + "\n" + tr("numbers.cloud_again")))
        return
    await context.services.prompts.drop(owner.id, PromptKind.CLOUD_NUMBER)
    await reply(update, Screen(tr("numbers.linked", number=rn.label(tr, sender)),
                               keyboard([(tr("numbers.all"), "num:all")])))
