"""The composition root: settings -> database -> gateway -> services -> application -> web.

Nothing here connects at import time: ``Qasid(settings)`` only wires objects together;
``await qasid.start()`` opens the database and starts the Telegram application (and its
job queue, the scheduler); ``await qasid.stop()`` closes everything in reverse.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote, urlsplit

from telegram.constants import ParseMode
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes, Defaults
from telegram.request import BaseRequest, HTTPXRequest

from bot import handlers, logs
from bot.clock import Clock, utcnow
from bot.config import GatewayKind, RegistrationMode, Settings
from bot.errors import StorageUnavailable
from bot.gateways.base import WhatsAppGateway
from bot.gateways.router import GatewayRouter
from bot.gateways.webhook_client import AiohttpPoster, UrlPolicy
from bot.handlers.context import BotContext
from bot.handlers.inbox_outlet import TelegramInbox
from bot.handlers.media import telegram_media
from bot.handlers.notifier import TelegramNotifier
from bot.handlers.persistence import DraftPersistence
from bot.services.accounts import AccountsConfig, AccountsService
from bot.services.alerts import Alerts
from bot.services.analytics import AnalyticsService
from bot.services.api_keys import ApiKeysService
from bot.services.automations import AUTOMATIONS_EVERY, AutomationsEngine, AutomationsService
from bot.services.automations_dates import DatesEngine
from bot.services.automations_sequences import SequenceEngine
from bot.services.billing import CREDITS_CHECK_EVERY, BillingService
from bot.services.campaigns import CampaignsConfig, CampaignsService
from bot.services.campaigns_api import CampaignsApiConfig, CampaignsApiService
from bot.services.contact_card import ContactCardService
from bot.services.contacts import ContactsConfig, ContactsService
from bot.services.contacts_api import ContactsApiService
from bot.services.dispatcher import Dispatcher, DispatcherConfig
from bot.services.followups import FollowUpsService
from bot.services.idempotency import IdempotencyService
from bot.services.inbox import InboxConfig, InboxService
from bot.services.invoices import InvoicesService, Platform
from bot.services.keyword_replies import KeywordReplies
from bot.services.leases import Leases
from bot.services.messages import MessagesConfig, MessagesService
from bot.services.metrics import DatabaseFigures
from bot.services.number_checks import NumberChecks, NumberChecksConfig
from bot.services.orders import OrdersService
from bot.services.packages import PackagesService
from bot.services.prompts import PromptsService
from bot.services.replies import (
    DEFAULT_START_WORDS,
    DEFAULT_STOP_WORDS,
    OptOutWords,
    RepliesService,
)
from bot.services.reports import ReportsService
from bot.services.sales import SalesService
from bot.services.sender_directory import SenderDirectory
from bot.services.senders import SendersConfig, SendersService
from bot.services.statements import StatementsService
from bot.services.templates import TemplatesService
from bot.services.transfers import ORDERS_CHECK_EVERY, TransferConfig, TransfersService
from bot.services.webhooks import WebhooksConfig, WebhooksService
from bot.storage.db import Database
from bot.web.api import ApiConfig, ApiServices, api_app
from bot.web.app import WebLimits, create_web_app
from bot.web.cloud import CloudWebhook
from bot.web.metrics import PrometheusMetrics
from bot.web.waha import WahaWebhook

log = logging.getLogger(__name__)

# Which part of the service a process runs (``python -m bot run | web | worker``).
Role = Literal["all", "web", "worker"]

# Stands in when no token is configured (a fake Bot API usually passes its own).
OFFLINE_TOKEN = "7000000001:no-token-configured"


@dataclass(slots=True)
class Services:
    accounts: AccountsService
    contacts: ContactsService
    templates: TemplatesService
    billing: BillingService
    campaigns: CampaignsService
    dispatcher: Dispatcher
    analytics: AnalyticsService
    alerts: Alerts
    senders: SendersService
    prompts: PromptsService
    api_keys: ApiKeysService
    webhooks: WebhooksService
    messages: MessagesService  # single messages (POST /messages)
    transfers: TransfersService  # paying by bank transfer, confirmed by admins
    invoices: InvoicesService  # receipts as PDF
    statements: StatementsService  # monthly statements of the ledger
    sales: SalesService  # /sales and /owner, for admins
    packages: PackagesService  # what owners can buy, defined by admins (/packages)
    orders: OrdersService  # orders of packages; paying them with Telegram Stars
    inbox: InboxService  # customers' messages in Telegram, and the owners' answers
    contact_card: ContactCardService  # /contact
    reports: ReportsService  # a campaign's per-recipient report (CSV, XLSX)
    followups: FollowUpsService  # a campaign's follow-ups: new campaign to..., retry failed
    automations: AutomationsService  # sequences, date messages, keyword replies (issue 21)
    automation_engine: AutomationsEngine  # their repeating job's round
    automation_dates: DatesEngine  # date messages' columns, figures and days (issue 21)
    number_checks: NumberChecks  # "on WhatsApp?" asked ahead of the send, paced


def build_gateways(settings: Settings, tokens: dict[int, str]) -> GatewayRouter:
    """Every adapter this server offers, behind one router (each sender names its own)."""
    adapters: dict[str, WhatsAppGateway] = {}
    if settings.gateway is GatewayKind.SANDBOX:
        from bot.gateways.sandbox import SandboxConfig, SandboxGateway

        adapters["sandbox"] = SandboxGateway(
            SandboxConfig(
                delivery_delay=settings.sandbox_delivery_delay,
                read_delay=settings.sandbox_read_delay,
                read_share=settings.sandbox_read_share,
                invalid_share=settings.sandbox_invalid_share,
                ban_after=settings.sandbox_ban_after,
                seed=settings.sandbox_seed,
                journal=str(settings.sandbox_journal) if settings.sandbox_journal else None,
                # message ids stay unique across restarts of the process, and between
                # processes (workers) started in the same millisecond
                run_id=f"{time.time_ns() // 1_000_000:x}p{os.getpid():x}",
            )
        )
    if settings.waha_enabled:
        from bot.gateways.waha import WahaConfig, WahaGateway

        key = settings.waha_api_key
        adapters["waha"] = WahaGateway(WahaConfig(
            base_url=settings.waha_base_url or "", timeout=settings.waha_timeout,
            api_key=key.get_secret_value() if key else None))
    if settings.cloud_enabled:
        from bot.gateways.cloud import CloudConfig, CloudGateway

        adapters["cloud"] = CloudGateway(
            CloudConfig(base_url=settings.cloud_graph_url, version=settings.cloud_api_version,
                        throughput=settings.cloud_throughput),
            tokens=tokens)
    return GatewayRouter(adapters, default=settings.gateway.value)


class Qasid:
    def __init__(
        self,
        settings: Settings,
        *,
        request: BaseRequest | None = None,
        token: str | None = None,
        clock: Clock = utcnow,
        rate_limit: bool = True,
        role: Role = "all",
    ) -> None:
        self.settings = settings
        # "all": everything in this one process (``python -m bot``); "web": Telegram, HTTP
        # and the control jobs; "worker": sending, number checks and the health poll, one
        # of N sharing the numbers by leases (bot/services/leases.py)
        self.role = role
        logs.install()  # secrets, phones and bodies never reach a log
        logs.REDACTOR.add(token, *(secret.get_secret_value() for secret in (
            settings.telegram_bot_token, settings.waha_api_key, settings.waha_webhook_key,
            settings.cloud_app_secret, settings.cloud_verify_token) if secret is not None))
        if settings.database_url:  # PostgreSQL's password, should a driver's error carry it
            logs.REDACTOR.add(unquote(urlsplit(settings.database_url).password or ""))
        self.db = Database(settings.database_url or settings.database_path)
        # with several processes: who sends from which number, who runs which job
        self.leases = (Leases(self.db, clock, seconds=settings.lease_seconds)
                       if role != "all" else None)
        # /metrics' figures (served on METRICS_PORT by __main__, apart from the public port)
        self.metrics = PrometheusMetrics(DatabaseFigures(self.db), clock)
        # Cloud API access tokens by sender id, each kept out of the logs as it is stored
        self.tokens: dict[int, str] = logs.SecretTokens()
        self.gateway = build_gateways(settings, self.tokens)
        webhook_key = settings.waha_webhook_key
        self.persistence = DraftPersistence()
        self.application = self._build_application(request, token, rate_limit)
        self.notifier = notifier = TelegramNotifier(self.application)
        templates = TemplatesService(self.db, clock)
        alerts = Alerts(self.db, notifier, clock)
        # outgoing webhooks: events are written by the services below, in their transactions
        hooks = WebhooksConfig(allow_http=settings.webhooks_allow_http,
                               allow_private=settings.webhooks_allow_private)
        webhooks = WebhooksService(
            self.db, AiohttpPoster(UrlPolicy(hooks.allow_http, hooks.allow_private),
                                   settings.webhooks_timeout),
            notifier, hooks, clock, metrics=self.metrics)
        words = OptOutWords.of(stop=settings.opt_out_words or DEFAULT_STOP_WORDS,
                               start=settings.opt_in_words or DEFAULT_START_WORDS)
        replies = RepliesService(self.db, words, clock=clock, notifier=notifier,
                                 webhooks=webhooks)
        # customers' messages reach the owners (their chat, or a forum group's topics)
        inbox = InboxService(
            self.db, replies, self.gateway, notifier,
            InboxConfig(daily_cap=settings.sender_daily_cap, warmup=settings.sender_warmup),
            clock, words=words, outlet=TelegramInbox(self.application))
        campaigns = CampaignsService(
            self.db,
            CampaignsConfig(
                advice_max=settings.campaign_advice_max,
                gateway=settings.gateway.value,
                default_timezone=settings.default_timezone,
                daily_cap=settings.sender_daily_cap,
                warmup=settings.sender_warmup,
            ),
            clock,
            gateway=self.gateway,
            webhooks=webhooks,
        )
        orders = OrdersService(self.db, settings.admin_ids, notifier, clock)
        billing = BillingService(self.db, settings.admin_ids, notifier, clock)
        number_checks = NumberChecks(
            self.db, self.gateway,
            NumberChecksConfig(
                horizon=settings.number_check_horizon_hours * 3600,
                batch=settings.number_check_batch,
                gap_min=settings.number_check_gap_min,
                gap_max=max(settings.number_check_gap_min, settings.number_check_gap_max),
                rest_min=settings.number_check_rest_min,
                rest_max=max(settings.number_check_rest_min, settings.number_check_rest_max),
            ),
            clock, webhooks=webhooks)
        messages = MessagesService(
            self.db, templates,
            MessagesConfig(settings.gateway.value, settings.default_region,
                           settings.import_allow_landlines), clock, gateway=self.gateway)
        # automations (issue 21): standing rules producing outbox messages; the engine's
        # job runs each kind's engine (bot/services/automations.py)
        automations = AutomationsService(self.db, templates, messages, notifier, clock,
                                         default_timezone=settings.default_timezone)
        automation_engine = AutomationsEngine(clock)
        automation_engine.add(SequenceEngine(self.db, automations, clock,
                                             default_timezone=settings.default_timezone))
        automation_dates = DatesEngine(self.db, automations, clock,
                                       default_timezone=settings.default_timezone)
        automation_engine.add(automation_dates)
        # keyword replies: a customer's message with a keyword answered at once (issue 21)
        replies.answer_keywords_with(KeywordReplies(automations, messages))
        self.services = Services(
            accounts=AccountsService(
                self.db,
                AccountsConfig(
                    admin_ids=settings.admin_ids,
                    needs_approval=settings.registration_mode is RegistrationMode.APPROVAL,
                    default_region=settings.default_region,
                    default_timezone=settings.default_timezone,
                    support_contact=settings.support_contact,
                ),
                notifier,
                clock,
            ),
            contacts=ContactsService(
                self.db,
                ContactsConfig(
                    default_region=settings.default_region,
                    allow_landlines=settings.import_allow_landlines,
                    max_rows=settings.import_max_rows,
                    max_file_bytes=settings.import_max_file_mb * 1024 * 1024,
                ),
                clock,
                webhooks=webhooks,
            ),
            templates=templates,
            billing=billing,
            campaigns=campaigns,
            dispatcher=Dispatcher(
                self.db, self.gateway, templates, alerts,
                DispatcherConfig(
                    daily_cap=settings.sender_daily_cap,
                    warmup=settings.sender_warmup,
                    spike_window=settings.failure_spike_window,
                    spike_share=settings.failure_spike_share,
                    low_balance=settings.low_balance_credits,
                    lookahead=2 * settings.dispatch_interval,  # a tick may run late
                    default_timezone=settings.default_timezone,
                ),
                clock,
                media=telegram_media(self.application),
                campaigns_service=campaigns,
                replies=inbox.on_incoming,
                webhooks=webhooks,
                number_checks=number_checks,
                metrics=self.metrics,
                leases=self.leases if role == "worker" else None,
            ),
            alerts=alerts,
            senders=SendersService(
                self.db,
                SendersConfig(
                    default_gateway=settings.gateway.value,
                    daily_cap=settings.sender_daily_cap,
                    warmup=settings.sender_warmup,
                    webhook_url=(settings.public_url.rstrip("/") + "/webhooks/waha"
                                 if settings.public_url else None),
                    webhook_key=webhook_key.get_secret_value() if webhook_key else None,
                    default_region=settings.default_region,
                    link_poll=settings.link_poll_interval,
                    link_timeout=settings.link_timeout,
                ),
                clock,
                gateway=self.gateway,
                waha=self.gateway.linker,
                cloud=self.gateway.cloud_numbers,
                tokens=self.tokens,
            ),
            analytics=AnalyticsService(self.db, settings.default_timezone),
            reports=ReportsService(self.db, templates, settings.default_timezone),
            followups=FollowUpsService(self.db, campaigns, clock),
            number_checks=number_checks,
            prompts=PromptsService(self.db, clock),
            api_keys=ApiKeysService(self.db, clock),
            webhooks=webhooks,
            messages=messages,
            transfers=TransfersService(
                self.db,
                TransferConfig(bank=settings.payment_bank, iban=settings.payment_iban,
                               recipient=settings.payment_recipient,
                               note=settings.payment_note,
                               expiry_days=settings.order_expiry_days),
                settings.admin_ids, orders, notifier, clock),
            invoices=InvoicesService(
                self.db, Platform(settings.platform_name, settings.platform_details),
                settings.default_timezone),
            statements=StatementsService(self.db, clock),
            sales=SalesService(self.db, billing, settings.admin_ids,
                               default_timezone=settings.default_timezone,
                               default_region=settings.default_region, clock=clock),
            packages=PackagesService(self.db, settings.admin_ids, clock, settings.currency),
            orders=orders,
            inbox=inbox,
            contact_card=ContactCardService(self.db, settings.default_region, clock),
            automations=automations,
            automation_engine=automation_engine,
            automation_dates=automation_dates,
        )
        # receipts and sender events, the one entry point (bot/services/gateway_events.py)
        events = self.services.dispatcher.events
        self.gateway.set_event_handler(events.on_event)
        self.persistence.services = self.services
        self.application.bot_data["services"] = self.services
        handlers.register(self.application)
        app_secret, verify_token = settings.cloud_app_secret, settings.cloud_verify_token
        directory = SenderDirectory(self.db)  # which sender a webhook's session / id is
        contacts_api = ContactsApiService(self.db, self.services.contacts, clock, webhooks)
        self.api = api_app(
            ApiServices(
                keys=self.services.api_keys,
                idempotency=IdempotencyService(self.db, clock),
                templates=templates,
                analytics=self.services.analytics,
                billing=self.services.billing,
                contacts=contacts_api,
                messages=self.services.messages,
                campaigns=self.services.campaigns,
                campaigns_api=CampaignsApiService(
                    self.db, self.services.campaigns, contacts_api,
                    CampaignsApiConfig(settings.default_region,
                                       settings.import_allow_landlines), clock),
                webhooks=webhooks,
                automations=self.services.automations,
            ),
            ApiConfig(rate=settings.api_rate_per_second, burst=settings.api_burst,
                      max_body=settings.api_max_body_mb * 1024 * 1024),
        )
        self.web = create_web_app(
            self.health,
            waha_webhook=WahaWebhook(
                directory, events,
                webhook_key.get_secret_value() if webhook_key else None, clock=clock,
            ),
            cloud_webhook=CloudWebhook(
                directory, events,
                app_secret.get_secret_value() if app_secret else None,
                verify_token.get_secret_value() if verify_token else None, clock=clock,
            ) if settings.cloud_enabled else None,
            limits=WebLimits(inflight_bytes=settings.webhook_inflight_mb * 1024 * 1024,
                             per_client=settings.webhook_per_client,
                             body_seconds=settings.webhook_body_seconds),
            api=self.api,
            metrics=self.metrics,
        )
        self._started = False
        self._linking: asyncio.Task | None = None

    def _build_application(
        self, request: BaseRequest | None, token: str | None, rate_limit: bool
    ) -> Application:
        secret = self.settings.telegram_bot_token
        builder = (
            ApplicationBuilder()
            .token(token or (secret.get_secret_value() if secret else OFFLINE_TOKEN))
            .base_url(self.settings.telegram_api_url)
            .base_file_url(self.settings.telegram_file_url)
            .context_types(ContextTypes(context=BotContext))
            # every text and caption is HTML (bot/i18n.py escapes what goes into it)
            .defaults(Defaults(parse_mode=ParseMode.HTML))
            .persistence(self.persistence)
        )
        if request is not None:
            builder = builder.request(request).get_updates_request(request)
        else:
            builder = builder.request(HTTPXRequest(connection_pool_size=16)).get_updates_request(
                HTTPXRequest(read_timeout=40)
            )
        if rate_limit:  # the builder's bot type changes with a rate limiter: built here
            return builder.rate_limiter(AIORateLimiter(max_retries=2)).build()
        return builder.build()

    async def start(self) -> None:
        """Open the database, initialise and start the application (and the job queue).
        A worker starts the application without polling Telegram: it still sends the
        owners' notices through the Bot API."""
        control, sending = self.role != "worker", self.role != "web"
        await self.db.connect()
        await self.application.initialize()
        if control:
            await handlers.publish_commands(self.application, self.settings.admin_ids)
        await self.application.start()
        self._started = True
        if control:  # imports run in the process that takes the files: web's
            await self.services.contacts.recover(self.notifier)
        if self.role == "all":  # alone: every claim left is a dead process's; a worker
            await self.services.dispatcher.recover()  # recovers the numbers it takes over
        await self.services.senders.load_tokens()
        if control:
            await self.services.webhooks.start()  # the events left undelivered first
            await self.services.inbox.start()  # customers' messages not yet routed
            # in the background: a WAHA that hangs must not hold the start-up
            self._linking = asyncio.create_task(self._resume_linking(), name="qasid-linking")
        linker = self.gateway.linker
        if linker is not None:
            linker.remember_linked(*await self.services.senders.linked_sessions())
        jobs = self.application.job_queue
        if jobs is None:
            return
        repeat = {"max_instances": 1, "coalesce": True}
        if sending and self.settings.dispatch_interval > 0:
            jobs.run_repeating(
                self._dispatch, interval=self.settings.dispatch_interval, first=0.5,
                name="dispatcher", job_kwargs=repeat)
        if sending and self.settings.number_check_interval > 0:
            jobs.run_repeating(  # phones of soon-due messages, paced
                self._number_checks, interval=self.settings.number_check_interval,
                first=self.settings.number_check_interval, name="number-checks",
                job_kwargs=repeat)
        if sending and self.settings.health_poll_interval > 0:
            jobs.run_repeating(  # the health guard asks busy numbers
                self._health_poll, interval=self.settings.health_poll_interval,
                first=self.settings.health_poll_interval, name="health-guard",
                job_kwargs=repeat)
        if self.role == "web" and self.settings.dispatch_interval > 0:
            jobs.run_repeating(  # campaigns' progress messages after receipts (webhooks)
                self._progress, interval=max(1.0, self.settings.dispatch_interval),
                first=1, name="progress", job_kwargs=repeat)
        if control:  # transfer orders left without a receipt
            jobs.run_repeating(
                self._transfer_orders, interval=ORDERS_CHECK_EVERY, first=30,
                name="transfer-orders", job_kwargs=repeat)
        if control and self.settings.dispatch_interval > 0:
            jobs.run_repeating(  # automations' due messages made
                self._automations, interval=AUTOMATIONS_EVERY, first=1, name="automations",
                job_kwargs=repeat)
        if control:  # credits past their end lapse, owners warned
            jobs.run_repeating(
                self._credits, interval=CREDITS_CHECK_EVERY, first=60, name="credits",
                job_kwargs=repeat)
        log.info("Qasid started as @%s (%s; gateways: %s)", self.application.bot.username,
                 {"all": "everything", "web": "web", "worker": "worker"}[self.role],
                 ", ".join(sorted(self.gateway.kinds)))

    async def _once(self, name: str, every: float) -> bool:
        """Whether this process runs the scheduled job now: always when alone, else when
        it holds the job's lease (one process of several runs it, whoever is up)."""
        if self.leases is None:
            return True
        try:
            return await self.leases.job(name, every)
        except StorageUnavailable as exc:  # tried again at the job's next run
            log.warning("job %s skipped: its lease could not be written (%s)", name, exc)
            return False

    async def _resume_linking(self) -> None:
        try:
            await self.services.senders.resume_linking()
        except Exception:  # logged, never fatal: /numbers shows the number as linking
            log.exception("could not resume linking numbers")

    async def _dispatch(self, _context: object) -> None:
        await self.services.dispatcher.tick()

    async def _progress(self, _context: object) -> None:
        await self.services.dispatcher.progress()

    async def _number_checks(self, _context: object) -> None:
        if await self._once("number-checks", self.settings.number_check_interval):
            await self.services.number_checks.run()

    async def _health_poll(self, _context: object) -> None:
        if await self._once("health-guard", self.settings.health_poll_interval):
            await self.services.dispatcher.guard.poll()

    async def _automations(self, _context: object) -> None:
        if await self._once("automations", AUTOMATIONS_EVERY):
            await self.services.automation_engine.tick()

    async def _transfer_orders(self, _context: object) -> None:
        if await self._once("transfer-orders", ORDERS_CHECK_EVERY.total_seconds()):
            await self.services.transfers.expire_due()

    async def _credits(self, _context: object) -> None:
        if not await self._once("credits", CREDITS_CHECK_EVERY.total_seconds()):
            return
        await self.services.billing.expire_due()
        await self.services.billing.expiry_warnings()

    async def stop(self) -> None:
        # first: a running import rolls back now and says so in its progress message,
        # while the application still awaits it (``Application.stop``) and can edit it
        self.services.contacts.interrupt_imports()
        if self._linking is not None and not self._linking.done():
            self._linking.cancel()
        if self._started:
            if self.application.updater and self.application.updater.running:
                await self.application.updater.stop()
            await self.application.stop()
            await self.application.shutdown()
            self._started = False
        await self.services.dispatcher.drain()
        await self.services.inbox.close()  # what is left is routed at the next start
        await self.gateway.close()
        await self.services.dispatcher.close()
        if self.leases is not None:  # the sends drained: the numbers and jobs given back
            try:
                await self.leases.close()
            except Exception:  # the leases run out by themselves
                log.exception("leases not given back")
        await self.services.messages.close()  # the single messages being written
        await self.services.automations.settle()  # notices being told
        await self.services.webhooks.stop()
        await self.services.webhooks.close()
        await self.metrics.close()  # an outbox count of /metrics still running
        await self.db.close()

    async def health(self) -> dict[str, bool]:
        try:
            async with self.db.reader.execute("SELECT 1") as cur:
                database = (await cur.fetchone()) is not None
        except Exception:  # reported as unhealthy, not raised
            database = False
        job_queue = self.application.job_queue
        scheduler = bool(job_queue and job_queue.scheduler.running)
        return {"database": database, "scheduler": scheduler, "telegram": self.application.running}
