"""The Telegram side of the services' ``Notifier``: renders each notice and sends it."""

from __future__ import annotations

import logging

from telegram.error import TelegramError
from telegram.ext import Application

from bot.domain import Language, OwnerStatus
from bot.errors import StorageUnavailable
from bot.handlers import (
    inbox_outlet,
    invoices,
    render,
    render_automations,
    render_balance,
    render_buy,
    render_numbers,
    render_post_mortem,
    render_webhooks,
    transfers,
)
from bot.handlers import render_campaigns as rc
from bot.i18n import translator
from bot.services.notify import (
    AutomationPaused,
    BalanceChanged,
    CampaignUpdate,
    CreditsExpiring,
    CustomerWrote,
    ImportInterrupted,
    LowBalance,
    Notice,
    OwnerStatusChanged,
    PaymentReceived,
    PostMortemReady,
    RegistrationRequested,
    ReplyToDecide,
    SenderLost,
    SenderWarned,
    StarsRefunded,
    TransferExpired,
    TransferRejected,
    WebhookFailing,
)

log = logging.getLogger(__name__)


class TelegramNotifier:
    def __init__(self, application: Application) -> None:
        self._app = application

    async def _language_of(self, telegram_id: int) -> Language:
        owner = await self._app.bot_data["services"].accounts.find(telegram_id)
        return owner.language if owner else Language.EN

    async def _send(self, chat_id: int, screen: render.Screen) -> int | None:
        try:
            message = await self._app.bot.send_message(chat_id, **screen.kwargs)
        except TelegramError as exc:
            log.warning("could not notify chat %s: %s", chat_id, exc)
            return None
        return message.message_id

    async def _campaign(self, notice: CampaignUpdate) -> None:
        """One progress message per campaign, edited as it sends; alerts beside it."""
        services = self._app.bot_data["services"]
        owner = await services.accounts.get(notice.owner_id)
        tr = translator(owner.language)
        zone = services.accounts.zone(owner)
        view = await services.campaigns.view(notice.owner_id, notice.campaign_id)
        screen = rc.campaign_progress(tr, view, zone)
        message_id = await services.campaigns.progress_message(notice.owner_id,
                                                               notice.campaign_id)
        edited = False
        if message_id is not None and notice.kind != "started":
            try:
                await self._app.bot.edit_message_text(chat_id=owner.chat_id,
                                                      message_id=message_id, **screen.kwargs)
                edited = True
            except TelegramError as exc:
                edited = "not modified" in str(exc).lower()
                if not edited:
                    log.info("progress message of campaign %d not edited: %s",
                             notice.campaign_id, exc)
        if not edited:
            new_id = await self._send(owner.chat_id, screen)
            if new_id is not None:
                await services.campaigns.set_progress_message(notice.owner_id,
                                                              notice.campaign_id, new_id)
        if not notice.alert:
            return
        if notice.kind == "paused" and notice.reason and notice.reason != "owner":
            await self._send(owner.chat_id, rc.campaign_paused_alert(
                tr, notice.campaign_id, view.campaign.name, notice.reason))
        elif notice.kind == "finished":
            await self._send(owner.chat_id, rc.campaign_finished_alert(tr, view))
        elif notice.kind in ("replanned", "run_finished") and notice.finish is not None:
            await self._send(owner.chat_id, render.Screen(tr(
                f"alert.{notice.kind}", id=notice.campaign_id, name=view.campaign.name,
                at=tr.datetime(notice.finish, zone))))

    async def notify(self, notice: Notice) -> None:
        if isinstance(notice, RegistrationRequested):
            if not notice.admin_ids:
                log.warning("owner %s waits for approval but ADMIN_IDS is empty", notice.owner.id)
            for admin_id in sorted(notice.admin_ids):
                tr = translator(await self._language_of(admin_id))
                await self._send(admin_id, render.registration_request(tr, notice.owner))
        elif isinstance(notice, OwnerStatusChanged):
            owner = notice.owner
            tr = translator(owner.language)
            if owner.status is OwnerStatus.ACTIVE:
                await self._send(owner.chat_id, render.Screen(tr("status.approved")))
                await self._send(owner.chat_id, render.main_menu(tr, owner))
            else:
                support = self._app.bot_data["services"].accounts.support_contact
                await self._send(owner.chat_id, render.status_explained(tr, owner, support))
        elif isinstance(notice, CampaignUpdate):
            try:
                await self._campaign(notice)
            except StorageUnavailable as exc:  # its message id not kept: a new one next time
                log.warning("campaign %d: progress shown, not remembered: %s",
                            notice.campaign_id, exc)
            except Exception:  # a notice never undoes the sending that produced it
                log.exception("campaign %d: could not show its progress", notice.campaign_id)
        elif isinstance(notice, ReplyToDecide):
            owner = await self._app.bot_data["services"].accounts.get(notice.owner_id)
            tr = translator(owner.language)
            await self._send(owner.chat_id, rc.reply_decision(tr, notice.phone, notice.text))
        elif isinstance(notice, LowBalance):
            owner = await self._app.bot_data["services"].accounts.get(notice.owner_id)
            tr = translator(owner.language)
            support = self._app.bot_data["services"].accounts.support_contact
            await self._send(owner.chat_id,
                             render_balance.low_balance_alert(tr, notice.available, support))
        elif isinstance(notice, SenderLost):
            services = self._app.bot_data["services"]
            owner = await services.accounts.get(notice.owner_id)
            tr = translator(owner.language)
            zone = services.accounts.zone(owner)
            until = tr.datetime(notice.until, zone) if notice.until else None
            await self._send(owner.chat_id, rc.sender_lost_alert(
                tr, notice.sender_label, notice.state, len(notice.campaign_ids), until,
                notice.moved_to, notice.sender_id))
        elif isinstance(notice, PostMortemReady):
            services = self._app.bot_data["services"]
            owner = await services.accounts.get(notice.owner_id)
            await self._send(owner.chat_id, render_post_mortem.post_mortem_screen(
                translator(owner.language), notice.sender_label, notice.report,
                services.accounts.zone(owner), notice.sender_id))
        elif isinstance(notice, SenderWarned):
            owner = await self._app.bot_data["services"].accounts.get(notice.owner_id)
            await self._send(owner.chat_id, render_numbers.guard_alert(
                translator(owner.language), notice.sender_label, notice.kind,
                notice.gap_factor, notice.tier, notice.tier_before, notice.sender_id))
        elif isinstance(notice, BalanceChanged):
            tr = translator(notice.owner.language)
            await self._send(notice.owner.chat_id,
                             render_balance.balance_changed(tr, notice.amount,
                                                            notice.available))
        elif isinstance(notice, CreditsExpiring):
            tr = translator(notice.owner.language)
            zone = self._app.bot_data["services"].accounts.zone(notice.owner)
            await self._send(notice.owner.chat_id, render_balance.credits_expiring_alert(
                tr, notice.credits, notice.at, zone))
        elif isinstance(notice, WebhookFailing):
            owner = await self._app.bot_data["services"].accounts.get(notice.owner_id)
            await self._send(owner.chat_id, render_webhooks.failing_alert(
                translator(owner.language), notice.url, notice.dropped))
        elif isinstance(notice, ImportInterrupted):
            tr = translator(notice.owner.language)
            await self._send(notice.owner.chat_id,
                             render.Screen(tr("import.interrupted", file=notice.file_name)))
        elif isinstance(notice, PaymentReceived):
            await invoices.payment_received(self._app, notice)
        elif isinstance(notice, TransferRejected | TransferExpired):
            await transfers.tell_owner(self._app, notice)
        elif isinstance(notice, CustomerWrote):
            await inbox_outlet.to_chat(self._app, notice)
        elif isinstance(notice, AutomationPaused):
            owner = await self._app.bot_data["services"].accounts.get(notice.owner_id)
            await self._send(owner.chat_id, render_automations.paused_alert(
                translator(owner.language), notice.automation_id, notice.name))
        elif isinstance(notice, StarsRefunded):
            await self._send(notice.owner.chat_id, render_buy.refunded_alert(
                translator(notice.owner.language), notice.order, notice.taken,
                notice.available))
