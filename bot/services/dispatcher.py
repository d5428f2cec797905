"""The dispatcher: sends the outbox on its plan, and never twice.

Each ``tick`` (a short repeating job on the bot's scheduler):

1. starts the scheduled campaigns whose time has come;
2. picks the due messages of running campaigns, keeping each sender's pace: never two
   sends closer than the campaign's minimum delay, and no more than the sender's daily
   cap (a newly linked sender warms up: 20, 20, 20, 40, ... a day up to the cap); a
   campaign whose pace holds the night in the recipient's zone (``Pacing.recipient_night``)
   moves a message due at night there (22:00-08:00 local, from the phone's country) to
   the recipient's next morning plus a random spread of up to an hour (one batched
   update), and so do the messages of sequences and date-based automations; single
   messages by API and keyword replies are transactional and never held;
3. **claims** them (``sending``, with a lease) in a committed transaction, *then* calls
   the gateway, one sender's messages in order, the senders side by side;
4. records each outcome, always:

   ==================================  ===============================================
   accepted                            ``sent``, the gateway's id kept, credit charged
   ``recipient_invalid``, ``rejected`` ``failed`` with the reason, credit released
   ``rate_limited``, ``transient``     ``queued`` again after a backoff (``retry_after``
                                       when the gateway says); ``failed`` after
                                       ``max_attempts``
   ``uncertain``                       ``uncertain``: never resent by itself; the owner
                                       decides, or a later receipt resolves it
   ``sender_banned`` / ``restricted``  the message back to ``queued``; the sender marked,
                                       its campaigns paused (or moved to another number:
                                       failover), the owner alerted (``sender_events``)
   ==================================  ===============================================

5. completes the campaigns with nothing left to send, and pauses one whose recent sends
   mostly failed (a failure spike).

``recover`` runs at start-up: a ``sending`` claim left by a dead process may have reached
the gateway, so it becomes ``uncertain``, never ``queued``.

Beside it, built with it (they share its outage log and its campaigns' progress messages):
``receipts`` (``bot/services/receipts.py``: delivered, read, failed, forward only, flushed
first at every tick; an ``uncertain`` message that gets one is resolved and charged),
``sender_events`` (``bot/services/sender_events.py``: bans, restrictions, failover,
customers' replies) and ``events``, the one entry point for what the gateways report
(``bot/services/gateway_events.py``).

When the database cannot save (``StorageUnavailable``: the disk is full, another process
holds it locked), nothing is lost and nothing is sent twice: a tick that cannot claim
sends nothing; outcomes of sends already made are kept in memory (the rest of that
sender's claimed messages held back, unsent) and written at the first tick that can;
receipts are kept until they can be applied. One warning line says so (again at most every
``OUTAGE_LOG_EVERY`` seconds while it lasts), one line when the writes go through again.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.clock import Clock, utcnow
from bot.domain import (
    Campaign,
    CampaignStatus,
    CloudTemplate,
    GuardMode,
    MessageStatus,
    Sender,
    SenderGuard,
    SenderStatus,
)
from bot.errors import StorageUnavailable, ValidationError
from bot.gateways.base import (
    ErrorCategory,
    Gateway,
    GatewayError,
    Media,
    SenderRef,
)
from bot.metrics import NO_METRICS, Metrics
from bot.services import billing, zones
from bot.services.billing import CREDITS_PER_MESSAGE
from bot.services.campaigns import CampaignsService, SampleMessage
from bot.services.gateway_calls import gateway_call
from bot.services.gateway_events import GatewayEvents
from bot.services.health_guard import GuardConfig, HealthGuard, Tried
from bot.services.leases import Leases, Taken
from bot.services.messages import MESSAGE_PACING, MessageContents
from bot.services.notify import CampaignUpdate, LowBalance, Notifier
from bot.services.number_checks import NOT_ON_WHATSAPP, NumberChecks
from bot.services.planning import NIGHT_SPREAD, Pacing, night_end, quiet_end
from bot.services.post_mortem import PostMortems
from bot.services.receipts import ReceiptsService, settle
from bot.services.risk import UNKNOWN_ZONE, phone_zone
from bot.services.sender_events import ReplyHandler, SenderEvents
from bot.services.senders import sender_ref
from bot.services.sending import DAILY_CAP, WARMUP, SendingPolicy
from bot.services.templates import TemplatesService, contact_values
from bot.services.webhooks import Changed, EventType, WebhooksService, campaign_data
from bot.storage import campaigns as campaigns_repo
from bot.storage import contacts as contacts_repo
from bot.storage import health as health_repo
from bot.storage import ledger, outbox, owners, senders, templates
from bot.storage.db import Connection, Database

log = logging.getLogger(__name__)

MediaSource = Callable[[str, str], Awaitable[Media]]  # (kind, file id) -> the attachment


_TOLD = (MessageStatus.SENT, MessageStatus.FAILED, MessageStatus.UNCERTAIN)  # webhook events
# a recipient's zone is looked up once per this many leading characters of the phone
# ("+" and country code and area: "+1212555...", "+7495...", "+81 3..." each their own)
ZONE_PREFIX = 7
# Automations whose messages keep the recipients' night (22:00-08:00 where they arrive)
# as a campaign's do; a keyword reply answers someone who has just written: at once.
NIGHT_HELD_AUTOMATIONS = frozenset({"sequence", "date"})
CAMPAIGNS_JOB = "campaigns"  # starting and completing campaigns: one worker (its lease)
OUTAGE_LOG_EVERY = 300.0  # seconds between two warnings while the database refuses writes
# why a sender's remaining claims are held back: its outcomes could not be written
_STORAGE_DOWN = GatewayError(ErrorCategory.TRANSIENT, "the database cannot save")


@dataclass(frozen=True, slots=True)
class DispatcherConfig:
    lease_seconds: float = 300.0
    max_attempts: int = 5
    backoff_seconds: float = 30.0  # doubled per attempt
    backoff_cap: float = 3600.0
    claim_limit: int = 2000  # messages looked at per tick
    daily_cap: int = DAILY_CAP  # per sender, unless the sender has its own
    warmup: tuple[int, ...] = WARMUP  # a new sender's first days (bot/services/sending.py)
    spike_window: int = 20  # the last N sends of a campaign ...
    spike_share: float = 0.5  # ... of which more than this share failed: pause it
    progress_every: float = 5.0  # seconds between two progress notices of a campaign
    record_every: int = 50  # outcomes written per transaction (a crash leaves claims)
    low_balance: int = 100  # tell the owner when their credits fall below this
    lookahead: float = 0.0  # claim messages due this many seconds ahead, send each on time
    receipt_delay: float = 0.05  # receipts are applied in batches gathered this long
    default_timezone: str = "Asia/Baku"  # for owners who did not choose one
    # numbers whose gateway ``checks_numbers`` ask "is this phone on WhatsApp?" before a
    # first message; the answer is trusted this long
    check_valid_for: float = 30 * 86400.0  # an answer is trusted this long
    # the live health guard (bot/services/health_guard.py): warnings' and feedback's factors
    guard: GuardConfig = field(default_factory=GuardConfig)


@dataclass(slots=True)
class TickReport:
    started: list[int] = field(default_factory=list)
    claimed: int = 0
    sent: int = 0
    failed: int = 0
    retried: int = 0
    uncertain: int = 0
    completed: list[int] = field(default_factory=list)


class _Outage:
    """The dispatcher's word on a database that refuses writes: a warning when it begins
    (then at most every ``OUTAGE_LOG_EVERY`` seconds), a line when a write of the
    dispatcher's went through again; never a traceback a tick."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._warned_at: float | None = None  # time.monotonic() of the last warning
        self._down = False
        self._told = False  # a warning was logged during this outage
        self._mark = 0  # the database's commits when a write was last refused
        self.refused = 0  # writes refused in this outage

    def failed(self, what: str, exc: StorageUnavailable) -> None:
        self.refused += 1
        self._down, self._mark = True, self._db.commits
        now = time.monotonic()
        if self._warned_at is None or now - self._warned_at >= OUTAGE_LOG_EVERY:
            self._warned_at, self._told = now, True
            log.warning("dispatcher: %s could not be saved (%s); kept and tried again at the "
                        "next ticks (%d refused so far)", what, exc, self.refused)

    def check(self) -> None:
        """After a tick: the outage is over once the database committed since it refused."""
        if self._down and self._db.commits > self._mark:
            if self._told:
                log.info("dispatcher: the database saves again (%d writes had been refused)",
                         self.refused)
            self._down = self._told = False
            self.refused = 0


@dataclass(slots=True)
class _Outcome:
    due: outbox.Due
    status: MessageStatus  # sent | failed | queued (again) | uncertain
    gateway_id: str | None = None
    category: str | None = None
    detail: str | None = None
    retry_at: float | None = None
    held: bool = False  # queued again unsent, the attempt not counted (its number was lost)


_BAD = frozenset({ErrorCategory.TRANSIENT, ErrorCategory.RATE_LIMITED,
                  ErrorCategory.UNCERTAIN})


def _tried(outcomes: list[_Outcome]) -> list[Tried]:
    """Per number, its attempts of a recorded batch and how many failed or timed out (a
    phone found not on WhatsApp before the send never reached the gateway: not counted)."""
    counts: dict[tuple[int, int], list[int]] = defaultdict(lambda: [0, 0])
    for o in outcomes:
        if o.held or o.category == NOT_ON_WHATSAPP:
            continue
        count = counts[(o.due.owner_id, o.due.sender_id)]
        count[0] += 1
        if o.status in (MessageStatus.FAILED, MessageStatus.UNCERTAIN) or o.category in _BAD:
            count[1] += 1
    return [Tried(owner, sender, a, b) for (owner, sender), (a, b) in counts.items()]


class Dispatcher:
    def __init__(
        self, db: Database, gateway: Gateway, templates_service: TemplatesService,
        notifier: Notifier, config: DispatcherConfig | None = None,
        clock: Clock = utcnow, media: MediaSource | None = None,
        campaigns_service: CampaignsService | None = None,
        replies: ReplyHandler | None = None,
        webhooks: WebhooksService | None = None,
        number_checks: NumberChecks | None = None,
        metrics: Metrics = NO_METRICS,
        leases: Leases | None = None,
    ) -> None:
        self._campaigns = campaigns_service
        # a worker among several (``python -m bot worker``): it sends only from the numbers
        # it holds a lease on, and starts and completes campaigns only while it holds the
        # job's lease (bot/services/leases.py); None: the single process, every number
        self._leases = leases
        self._sending_from: dict[int, int] = {}  # sender id -> its send tasks running
        self._metrics = metrics  # each send's latency and outcome, for /metrics
        # the ahead-of-send checks (bot/services/number_checks.py): the inline check below
        # takes its turn on the number with them (one at a time, paced)
        self._number_checks = number_checks
        self._webhooks = webhooks  # events of messages, campaigns and numbers, in their txs
        self._db = db
        self._gateway = gateway
        self._templates = templates_service
        self._notifier = notifier
        self._config = config or DispatcherConfig()
        self._sending = SendingPolicy(self._config.daily_cap, self._config.warmup)
        self._clock = clock
        self._media = media
        self._last_sent: dict[int, float] = {}
        self._last_progress: dict[int, float] = {}
        # campaign id -> owner id: receipts moved its messages since its last progress notice
        self._progress_owed: dict[int, int] = {}
        self._lock = asyncio.Lock()
        self._media_cache: dict[str, Media] = {}
        self._zones: dict[int, ZoneInfo] = {}
        self._phone_zones: dict[str, ZoneInfo] = {}  # a phone's first digits -> its zone
        self._spread = random.Random()  # held messages' spread past the recipient's morning
        self._tick_cache: dict[int, tuple] = {}  # campaign id -> (campaign, template)
        self._contents = MessageContents(db, templates_service)  # single messages' (by API)
        self._send_at: dict[int, float] = {}  # message id -> when to send it (lookahead)
        self._booked: dict[int, float] = {}  # sender id -> the latest send time claimed
        self._sender_locks: dict[int, asyncio.Lock] = {}
        self._inflight: set[asyncio.Task[None]] = set()
        self._outcomes_kept: list[_Outcome] = []  # sent, but the database refused them
        self._outage = _Outage(db)
        # delivered / read / failed, gathered and applied in batches (bot/services/receipts.py)
        self.receipts = ReceiptsService(db, clock, delay=self._config.receipt_delay,
                                        refused=self._outage.failed,
                                        moved=self._progress_owed.update, webhooks=webhooks)
        # bans, restrictions and failover, customers' replies (bot/services/sender_events.py)
        self.sender_events = SenderEvents(
            db, notifier, self._pause, clock, replies=replies, webhooks=webhooks,
            post_mortems=PostMortems(db, self._sending, clock,
                                     self._config.default_timezone))
        # capping / quality / tier warnings and feedback pacing (bot/services/health_guard.py)
        self.guard = HealthGuard(db, notifier, gateway, clock, self._config.guard)
        self._gaps = random.Random()  # a guarded number's widened gaps, random as before
        # the gap drawn for a sender's next send, kept (with what it was drawn for) until
        # that send is booked: a draw each tick would let the first short one win, so the
        # gaps would crowd the pace's floor instead of spreading over its range
        self._drawn: dict[int, tuple[tuple[float, float, float, float], float]] = {}
        # what the gateways report enters here: the web's webhooks, the sandbox's events
        self.events = GatewayEvents(self.receipts, self.sender_events, self.guard)
        self.guard.report = self.events.on_event  # the guard's poll of numbers' health

    @property
    def config(self) -> DispatcherConfig:
        return self._config

    async def recover(self) -> int:
        """At start-up: claims of a dead process become ``uncertain`` (the single process;
        a worker recovers a number's claims when it takes the number over)."""
        now = self._clock().timestamp()
        async with self._db.transaction() as tx:
            counts = await outbox.expire_claims(tx, now)
        self._last_sent = await outbox.last_sent(self._db.reader)
        total = sum(n for _, n in counts)
        if total:
            log.warning("%d messages were being sent when the bot stopped: now uncertain", total)
        return total

    # --- the tick ---------------------------------------------------------------------------

    async def tick(self) -> TickReport:
        if self._lock.locked():  # the previous tick is still sending
            return TickReport()
        async with self._lock:
            report = TickReport()
            self._tick_cache = {}
            self._contents.forget()
            booked, picked = dict(self._booked), []
            try:
                await self._record_kept(report)  # first: what was sent and not yet written
                await self.receipts.flush()
                await self._owed_progress()
                now = self._clock()
                numbers = await self._hold_numbers(now)  # None: every number (alone)
                leads = self._leases is None or self._leases.holds_job(CAMPAIGNS_JOB)
                # a campaign starts a little ahead, so its first messages are claimed on time
                if leads:
                    report.started = await self._start_due(
                        now + timedelta(seconds=self._config.lookahead))
                picked = await self._pick(now, numbers)
                if not picked:
                    if leads:
                        await self._finish_campaigns(report, now)
                    return report
                if self._config.lookahead > 0 and leads:
                    await self._finish_campaigns(report, now)
                lease = now.timestamp() + self._config.lease_seconds
                # PostgreSQL: not behind the writers' shared lock; the claim skips rows
                # another process has locked (SKIP LOCKED), each claimed once
                async with self._db.transaction(shared=True) as tx:
                    report.claimed = await outbox.claim(tx, [d.id for d in picked], lease,
                                                        now.timestamp())
            except StorageUnavailable as exc:  # nothing claimed: nothing sent this tick
                self._booked = booked
                for due in picked:
                    self._send_at.pop(due.id, None)
                self._outage.failed("the tick", exc)
                return report
            finally:
                self._outage.check()
            by_sender: dict[int, list[outbox.Due]] = defaultdict(list)
            for due in picked:
                by_sender[due.sender_id].append(due)
            tasks = [asyncio.create_task(self._send_in_turn(sender_id, items, report),
                                         name=f"qasid-send-{sender_id}")
                     for sender_id, items in by_sender.items()]
            self._inflight.update(tasks)
            for task in tasks:
                task.add_done_callback(self._inflight.discard)
            for sender_id, task in zip(by_sender, tasks, strict=True):
                self._sending_from[sender_id] = self._sending_from.get(sender_id, 0) + 1
                task.add_done_callback(functools.partial(self._sent_from, sender_id))
        if self._config.lookahead <= 0:  # nothing claimed ahead: the tick waits for its sends
            await asyncio.gather(*tasks)
            if self._leases is None or self._leases.holds_job(CAMPAIGNS_JOB):
                await self._finish_campaigns(report, self._clock())
        # else the sends go on, each on its planned time, while later ticks claim more;
        # a campaign completes at a later tick, once nothing of it is queued or in flight
        return report

    def _sent_from(self, sender_id: int, _task: asyncio.Task[None]) -> None:
        left = self._sending_from.get(sender_id, 0) - 1
        if left > 0:
            self._sending_from[sender_id] = left
        else:
            self._sending_from.pop(sender_id, None)

    def _idle(self, sender_id: int) -> bool:
        """Nothing of the number's in flight here, nor kept unwritten: it may be given
        back to the other workers."""
        return sender_id not in self._sending_from and not any(
            o.due.sender_id == sender_id for o in self._outcomes_kept)

    async def _hold_numbers(self, now: datetime) -> list[int] | None:
        """A worker's numbers this tick: its leases renewed and its share taken every few
        seconds (``Leases.round``); a number taken over gets its pace from the outbox."""
        if self._leases is None:
            return None
        ts = now.timestamp()
        if self._leases.due(ts):
            taken = await self._leases.round(ts + self._config.lookahead, self._idle,
                                             jobs=(CAMPAIGNS_JOB,))
            for number in taken:
                await self._took(number, ts)
        return self._leases.senders(ts)

    async def _took(self, number: Taken, now: float) -> None:
        """A number this worker took: its last send read from the outbox (another worker
        sent from it); the claims a dead holder left count as sent when its lease ran out,
        the latest they can have gone (a worker sends only while its lease lasts)."""
        sid = number.sender_id
        if self._leases is not None and number.previous == self._leases.holder:
            return  # ours again: what this process knows is newer than the outbox
        last = await outbox.last_sent_of(self._db.reader, sid)
        if number.recovered:
            gone = number.previous_until if number.previous_until is not None else now
            last = max(last if last is not None else gone, gone)
        if last is None:
            self._last_sent.pop(sid, None)
        else:
            self._last_sent[sid] = last
        self._booked.pop(sid, None)
        self._drawn.pop(sid, None)

    async def _send_in_turn(self, sender_id: int, items: list[outbox.Due],
                            report: TickReport) -> None:
        """A sender's messages after the ones it already has in flight, never beside them."""
        lock = self._sender_locks.setdefault(sender_id, asyncio.Lock())
        async with lock:
            try:
                await self._send_all(sender_id, items, report)
            except StorageUnavailable as exc:  # its outcomes are kept (``_send_all``)
                self._outage.failed(f"sending from number {sender_id}", exc)
            except Exception:  # the claims stay; a restart makes them uncertain
                log.exception("sending from sender %d failed", sender_id)

    async def drain(self, grace: float = 10.0) -> None:
        """Let the sends in flight finish (at shutdown); cancel what is still waiting."""
        pending = set(self._inflight)
        if not pending:
            return
        _done, late = await asyncio.wait(pending, timeout=grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)

    async def _start_due(self, now: datetime) -> list[int]:
        started = []
        for campaign in await campaigns_repo.due_to_start(self._db.reader, now):
            async with self._db.transaction() as tx:
                current = await campaigns_repo.get(tx, campaign.owner_id, campaign.id)
                if current is None or current.status is not CampaignStatus.SCHEDULED:
                    continue
                current.start(now)
                await campaigns_repo.save(tx, current, now)
                await self._campaign_event(tx, current, EventType.CAMPAIGN_STARTED)
            started.append(campaign.id)
            await self._update(campaign.owner_id, campaign.id, "started", name=campaign.name)
        return started

    async def _pick(self, now: datetime, numbers: list[int] | None = None) -> list[outbox.Due]:
        """Due messages that each sender's pace and cap allow now (of ``numbers`` only,
        when given: a worker's)."""
        ts = now.timestamp()
        horizon = ts + self._config.lookahead
        candidates = await outbox.due(self._db.reader, horizon, self._config.claim_limit,
                                      numbers)
        if not candidates:
            return []
        pacing: dict[int | None, Pacing] = {None: MESSAGE_PACING}  # None: single messages
        sender_rows: dict[int, Sender | None] = {}
        allowed: dict[int, int] = {}
        deferred: set[int | None] = set()
        paced: set[int] = set()
        picked: list[outbox.Due] = []
        held: list[tuple[float, int]] = []  # (the recipient's morning, message id)
        numbered = {d.sender_id for d in candidates if d.sender_id is not None}  # (may be none)
        guards = await health_repo.guards(self._db.reader, sorted(numbered))
        chats: dict[int, set[str]] = {}  # no_new_chats numbers: the phones they have chats with
        for sender_id, guard in guards.items():
            if guard.mode == GuardMode.NO_NEW_CHATS:
                chats[sender_id] = await outbox.chats_of(
                    self._db.reader, sender_id,
                    [d.phone for d in candidates if d.sender_id == sender_id])
        for due in candidates:
            sender = sender_rows.get(due.sender_id)
            if sender is None:
                sender = sender_rows[due.sender_id] = await senders.get(
                    self._db.reader, due.owner_id, due.sender_id)
            if sender is None or sender.status is not SenderStatus.ACTIVE:
                continue
            guard = guards.get(due.sender_id) or SenderGuard(due.sender_id)
            if guard.mode == GuardMode.PAUSED or (
                    due.sender_id in chats and due.phone not in chats[due.sender_id]):
                continue  # the health guard: paused, or a new chat while they are stopped
            if due.campaign_id not in pacing and due.campaign_id is not None:
                campaign = await campaigns_repo.get(self._db.reader, due.owner_id,
                                                    due.campaign_id)
                pacing[due.campaign_id] = Pacing.from_json(campaign.pacing if campaign else {})
            campaign_pacing = pacing[due.campaign_id]
            gap = campaign_pacing.delay_min
            behind = due.planned_at < self._last_of(due.sender_id) + gap  # a backlog
            if guard.gap_factor > 1.0 or (behind and gap > 0):
                # widened by the guard, or messages waiting past their planned times (held
                # at night, deferred, after a restart): a fresh random gap from the pace's
                # range, never the floor over and over
                gap = self._drawn_gap(due.sender_id, max(1.0, guard.gap_factor),
                                      campaign_pacing.delay_min,
                                      max(campaign_pacing.delay_min,
                                          campaign_pacing.delay_max))
            if campaign_pacing.quiet is not None and due.campaign_id not in deferred:
                zone = await self._zone(due.owner_id)
                end = quiet_end(campaign_pacing.quiet, zone, ts)
                if end is not None:  # quiet hours now: the rest waits until they end
                    deferred.add(due.campaign_id)
                    await self._defer(due.owner_id, due.campaign_id, None, end, ts)
            if due.campaign_id in deferred:
                continue
            if ((campaign_pacing.recipient_night and due.campaign_id is not None)
                    or due.automation_kind in NIGHT_HELD_AUTOMATIONS):
                morning = night_end(await self._recipient_zone(due),
                                    max(ts, due.planned_at))
                if morning is not None:  # night where it arrives: held to the morning
                    held.append((morning + self._spread.uniform(0, NIGHT_SPREAD), due.id))
                    continue
            if due.sender_id not in allowed:
                allowed[due.sender_id] = await self._room(sender, ts)
                if allowed[due.sender_id] <= 0:  # the cap: move its messages past the window
                    free_at = await outbox.cap_frees_at(self._db.reader, sender.id, ts)
                    await self._defer(due.owner_id, None, sender.id, free_at, ts)
            if allowed[due.sender_id] <= 0:
                continue
            last = self._last_of(due.sender_id)
            send_at = max(ts, due.planned_at)
            if gap > 0:
                if due.sender_id in paced:
                    continue  # one message per sender and tick when paced
                if last >= 0:
                    send_at = max(send_at, last + gap)
                if send_at > horizon:
                    continue
                paced.add(due.sender_id)
            self._send_at[due.id] = send_at
            self._booked[due.sender_id] = max(send_at, self._booked.get(due.sender_id, send_at))
            picked.append(due)
            allowed[due.sender_id] -= 1
        if held:
            async with self._db.transaction() as tx:
                await outbox.hold_until(tx, held, ts)
        return picked

    def _drawn_gap(self, sender_id: int, factor: float, low: float, high: float) -> float:
        """A random gap from ``low``-``high`` (times ``factor``) before the sender's next
        send, drawn once for that send: the same draw on every tick until it is booked,
        a new one after (the sender's last send moved) or when the pace or factor change."""
        key = (self._last_of(sender_id), factor, low, high)
        drawn = self._drawn.get(sender_id)
        if drawn is not None and drawn[0] == key:
            return drawn[1]
        gap = factor * self._gaps.uniform(low, high)
        self._drawn[sender_id] = (key, gap)
        return gap

    def _last_of(self, sender_id: int) -> float:
        """When the sender last sent or is booked to send (below 0: never yet)."""
        return max(self._last_sent.get(sender_id, -1.0), self._booked.get(sender_id, -1.0))

    async def _recipient_zone(self, due: outbox.Due) -> ZoneInfo:
        """The recipient's zone from the phone's country and area (``risk.phone_zone``),
        cached by its first digits (``ZONE_PREFIX``): a tick looks it up once per prefix,
        not per message; a number it cannot place: the owner's zone."""
        key = due.phone[:ZONE_PREFIX]
        zone = self._phone_zones.get(key)
        if zone is None:
            name = phone_zone(due.phone)
            zone = (await self._zone(due.owner_id) if name == UNKNOWN_ZONE
                    else ZoneInfo(name))
            self._phone_zones[key] = zone
        return zone

    async def _room(self, sender: Sender, ts: float) -> int:
        """How many more messages the sender may send in the current 24 hours."""
        used = await outbox.sent_since(self._db.reader, sender.id, ts - 86400)
        return self._sending.room(sender, ts, used)

    async def _defer(self, owner_id: int, campaign_id: int | None, sender_id: int | None,
                     until: float, now: float) -> None:
        """Re-plan due messages (of a campaign in its quiet hours, or of a sender at its
        cap) to start at ``until``, keeping their spacing; tell the owners the new end."""
        async with self._db.transaction() as tx:
            moved = await outbox.postpone(tx, until, now, campaign_id=campaign_id,
                                          sender_id=sender_id)
        for moved_owner, moved_campaign in moved:
            if moved_campaign is None:  # single messages: no campaign to tell about
                continue
            finish = await campaigns_repo.finish_time(self._db.reader, moved_campaign)
            await self._update(moved_owner, moved_campaign, "replanned", finish=finish)
        del owner_id

    async def _zone(self, owner_id: int) -> ZoneInfo:
        zone = self._zones.get(owner_id)
        if zone is None:
            owner = await owners.get(self._db.reader, owner_id)
            name = zones.owner_zone(owner, self._config.default_timezone)
            zone = self._zones[owner_id] = ZoneInfo(name)
        return zone

    async def _send_all(self, sender_id: int, items: list[outbox.Due],
                        report: TickReport) -> None:
        """One sender's claimed messages, in order; outcomes written in small groups."""
        sender = await senders.get(self._db.reader, items[0].owner_id, sender_id)
        assert sender is not None
        ref = SenderRef(sender_id=sender.id, phone=sender.phone, external_id=sender.external_id,
                        gateway=sender.gateway)
        people = await contacts_repo.by_ids(
            self._db.reader, items[0].owner_id, [d.contact_id for d in items if d.contact_id])
        values = {cid: contact_values(c) for cid, c in people.items()}
        known: dict[str, bool] | None = None
        if self._checks_numbers(ref):
            known = await contacts_repo.whatsapp_known(
                self._db.reader, sender.owner_id, [d.phone for d in items],
                self._clock().timestamp() - self._config.check_valid_for)
        outcomes: list[_Outcome] = []
        lost: GatewayError | None = None
        for due in items:
            if lost is not None:  # the number is gone: the rest goes back unsent
                outcomes.append(_Outcome(due, MessageStatus.QUEUED, held=True))
                continue
            if known is not None and not await self._on_whatsapp(ref, due, known):
                outcomes.append(_Outcome(due, MessageStatus.FAILED, category=NOT_ON_WHATSAPP,
                                         detail="not on WhatsApp (checked before sending)"))
                continue
            outcome = await self._send_one(ref, due, values.get(due.contact_id or 0, {}))
            if outcome.category in (ErrorCategory.SENDER_BANNED, ErrorCategory.SENDER_RESTRICTED):
                lost = GatewayError(ErrorCategory(outcome.category), outcome.detail or "")
            outcomes.append(outcome)
            if len(outcomes) >= self._config.record_every:
                if not await self._record_or_keep(outcomes, report):
                    lost = lost or _STORAGE_DOWN
                outcomes = []
        if outcomes and not await self._record_or_keep(outcomes, report):
            return
        if lost is _STORAGE_DOWN:
            return
        if lost is not None:
            state = (SenderStatus.BANNED if lost.category is ErrorCategory.SENDER_BANNED
                     else SenderStatus.RESTRICTED)
            if state is SenderStatus.RESTRICTED:  # a send refused: new chats locked (463)
                await self.guard.record(sender, "timelock", {"detail": lost.detail})
            await self.sender_events.lost(sender.owner_id, sender.id, state, None,
                                          sender.label or sender.phone)

    async def _record_or_keep(self, outcomes: list[_Outcome], report: TickReport) -> bool:
        """Write the outcomes; when the database refuses, keep them for a later tick (the
        sender's remaining claims are then held back, unsent: see ``_send_all``)."""
        try:
            await self._record(outcomes, report)
        except StorageUnavailable as exc:
            self._outcomes_kept.extend(outcomes)
            self._outage.failed(f"{len(outcomes)} outcomes of sends", exc)
            return False
        return True

    async def _record_kept(self, report: TickReport) -> None:
        """The outcomes the database refused earlier, written before anything else."""
        if self._outcomes_kept:
            kept, self._outcomes_kept = self._outcomes_kept, []
            try:
                await self._record(kept, report)
            except BaseException:
                self._outcomes_kept[:0] = kept
                raise

    def _checks_numbers(self, ref: SenderRef) -> bool:
        return self._gateway.capabilities(ref).checks_numbers

    async def _on_whatsapp(self, ref: SenderRef, due: outbox.Due, known: dict[str, bool]) -> bool:
        """Ask the gateway once whether the phone is on WhatsApp (the answer is kept for
        ``check_valid_for``): a number that is not fails without a send that counts
        against the sender. A check that fails says nothing: the message is sent."""
        found = known.get(due.phone)
        if found is not None:
            return found
        if self._number_checks is not None:  # what the ahead checks have not reached yet
            answer = await self._number_checks.check(ref, due.owner_id, due.phone)
            if answer is None:
                return True
            known[due.phone] = answer
            return answer
        try:
            check = await self._gateway.check_number(ref, due.phone)
        except GatewayError as exc:
            log.info("number check skipped (%s)", exc.category)
            return True
        known[due.phone] = check.on_whatsapp
        try:
            async with self._db.transaction() as tx:
                await contacts_repo.remember_whatsapp(
                    tx, [(due.owner_id, due.phone, check.on_whatsapp, self._clock().timestamp())])
        except StorageUnavailable as exc:  # only a cache: asked again next time
            self._outage.failed("a number check", exc)
        return check.on_whatsapp

    async def _send_one(self, ref: SenderRef, due: outbox.Due, values: dict[str, str]) -> _Outcome:
        wait = self._send_at.pop(due.id, 0.0) - self._clock().timestamp()
        if wait > 0:  # claimed ahead (lookahead): on its planned time, not before
            await asyncio.sleep(wait)
        if self._leases is not None and not self._leases.holds_sender(ref.sender_id):
            # the number's lease is running out (the database did not let it be renewed):
            # given back unsent, for whoever holds the number next
            return _Outcome(due, MessageStatus.QUEUED, held=True)
        if due.campaign_id is None:  # a single message: its own values over the contact's
            values = self._contents.of(due).values(values)
        try:
            text, media = await self._render(due, values)
        except Exception as exc:  # a template gone or broken: that message fails, not the tick
            log.exception("message %d could not be rendered", due.id)
            return _Outcome(due, MessageStatus.FAILED, category=ErrorCategory.REJECTED,
                            detail=f"render: {type(exc).__name__}")
        approved = self._approved(ref, due)
        started = time.perf_counter()
        try:
            if approved is not None:  # a Cloud API number: the template Meta approved
                result = await self._gateway.send_template(
                    ref, due.phone, approved.name, approved.language,
                    [values.get(p) or "-" for p in approved.params])
            elif media is not None:
                result = await self._gateway.send_media(ref, due.phone, media, caption=text)
            else:
                result = await self._gateway.send_text(ref, due.phone, text)
        except GatewayError as exc:
            self._metrics.send(ref.gateway, exc.category.value, time.perf_counter() - started)
            return self._failure(due, exc)
        except Exception as exc:  # an adapter bug: the request may have left
            self._metrics.send(ref.gateway, "error", time.perf_counter() - started)
            log.exception("gateway failed on message %d", due.id)
            return _Outcome(due, MessageStatus.UNCERTAIN, category=ErrorCategory.UNCERTAIN,
                            detail=type(exc).__name__)
        self._metrics.send(ref.gateway, "sent", time.perf_counter() - started)
        self._last_sent[ref.sender_id] = self._clock().timestamp()
        return _Outcome(due, MessageStatus.SENT, gateway_id=result.message_id)

    def _approved(self, ref: SenderRef, due: outbox.Due) -> CloudTemplate | None:
        """The approved twin of the campaign's template, when the number's gateway may not
        open a conversation with free text (a Cloud API number)."""
        if not self._gateway.capabilities(ref).needs_approved_template:
            return None
        if due.campaign_id is None:  # a single message: its template, read by _render
            template = self._contents.read(due)
        else:
            found = self._tick_cache.get(due.campaign_id)
            template = found[1] if found is not None else None
        return template.cloud if template is not None else None

    def _failure(self, due: outbox.Due, exc: GatewayError) -> _Outcome:
        category = exc.category
        detail = exc.detail[:300] or category.value
        if category in (ErrorCategory.RECIPIENT_INVALID, ErrorCategory.REJECTED):
            return _Outcome(due, MessageStatus.FAILED, category=category, detail=detail)
        if category in (ErrorCategory.RATE_LIMITED, ErrorCategory.TRANSIENT):
            if due.attempts + 1 >= self._config.max_attempts:
                return _Outcome(due, MessageStatus.FAILED, category=category, detail=detail)
            wait = exc.retry_after if exc.retry_after is not None else min(
                self._config.backoff_cap, self._config.backoff_seconds * 2 ** due.attempts)
            return _Outcome(due, MessageStatus.QUEUED, category=category, detail=detail,
                            retry_at=self._clock().timestamp() + wait)
        if category is ErrorCategory.UNCERTAIN:
            return _Outcome(due, MessageStatus.UNCERTAIN, category=category, detail=detail)
        return _Outcome(due, MessageStatus.QUEUED, category=category, detail=detail,
                        held=True)  # banned, restricted

    async def _render(self, due: outbox.Due, values: dict[str, str]) -> tuple[str, Media | None]:
        if due.campaign_id is None:  # a single message sent by API (bot/services/messages.py)
            text = await self._contents.render(due, values)
            template = self._contents.read(due)
            media = self._contents.of(due).media  # by URL, else the template's own below
            if media is not None or template is None:
                return text, media
        else:
            found = self._tick_cache.get(due.campaign_id)
            if found is None:  # read once per tick: a campaign's messages share them
                campaign = await campaigns_repo.get(self._db.reader, due.owner_id,
                                                    due.campaign_id)
                template = (await templates.get(self._db.reader, due.owner_id,
                                                campaign.template_id)
                            if campaign is not None and campaign.template_id is not None
                            else None)
                found = self._tick_cache[due.campaign_id] = (campaign, template)
            campaign, template = found
            if campaign is None or template is None:
                raise LookupError("campaign or template")
            # the same text on a retry (and in the campaign's report)
            text = self._templates.message_text(template, due.variant, campaign.seed, due.id,
                                                values)
        media = None
        if template.media_file_id and self._media is not None:
            media = self._media_cache.get(template.media_file_id)
            if media is None:
                media = await self._media(template.media_kind or "document",
                                          template.media_file_id)
                self._media_cache[template.media_file_id] = media
        return text, media

    async def send_test(self, test: SampleMessage) -> None:
        """*Send a test to me*: the campaign's first message, now, to the owner's own phone,
        from the chosen number; written to the outbox as sent (it counts against the
        number's daily cap) and charged 1 credit. A gateway that refuses raises
        ``GatewayFailed`` (its error category the reason): nothing is charged."""
        sender, template = test.sender, test.template
        ref = sender_ref(sender)
        if await self._room(sender, self._clock().timestamp()) <= 0:
            raise ValidationError("cap_reached", where="senders")
        text = self._templates.compiled(template, 0).render(test.values, random.Random())
        approved = (template.cloud
                    if self._gateway.capabilities(ref).needs_approved_template else None)
        with gateway_call():
            if approved is not None:
                result = await self._gateway.send_template(
                    ref, test.to, approved.name, approved.language,
                    [test.values.get(p) or "-" for p in approved.params])
            elif template.media_file_id and self._media is not None:
                media = await self._media(template.media_kind or "document",
                                          template.media_file_id)
                result = await self._gateway.send_media(ref, test.to, media, caption=text)
            else:
                result = await self._gateway.send_text(ref, test.to, text)
        now = self._clock()
        async with self._db.transaction() as tx:
            await outbox.record_test(tx, test.owner_id, sender.id, test.to, result.message_id,
                                     now.timestamp())
            await billing.reserve(tx, test.owner_id, CREDITS_PER_MESSAGE, now,
                                  note="test message")
            await billing.charge(tx, test.owner_id, CREDITS_PER_MESSAGE, now,
                                 note="test message")
        self._last_sent[sender.id] = now.timestamp()

    async def _record(self, outcomes: list[_Outcome], report: TickReport) -> None:
        now = self._clock().timestamp()
        charged = {o.due.owner_id for o in outcomes if o.status is MessageStatus.SENT}
        before = {owner_id: (await ledger.balance(self._db.reader, owner_id)).total
                  for owner_id in charged}
        charge: dict[tuple[int, int | None], int] = defaultdict(int)
        release: dict[tuple[int, int | None], int] = defaultdict(int)
        sent: dict[tuple[int, int | None], list[tuple[str, int]]] = defaultdict(list)
        failed: dict[tuple[int, int | None], list[tuple[str | None, str | None, int]]] = \
            defaultdict(list)
        others: list[tuple[str, str | None, str | None, float | None, int]] = []
        held: list[int] = []
        for o in outcomes:
            key = (o.due.owner_id, o.due.campaign_id)
            if o.status is MessageStatus.SENT:
                sent[key].append((o.gateway_id or "", o.due.id))
            elif o.status is MessageStatus.FAILED:
                failed[key].append((o.category, o.detail, o.due.id))
            else:  # queued again (retry or held back), or uncertain
                others.append((o.status, o.category, o.detail, o.retry_at, o.due.id))
                if o.held:
                    held.append(o.due.id)
                elif o.status is MessageStatus.QUEUED:
                    report.retried += 1
                else:
                    report.uncertain += 1
        async with self._db.transaction() as tx:
            for key, rows in sent.items():
                charge[key] = await outbox.mark_sent_many(tx, rows, now)
                report.sent += charge[key]
            for key, failures in failed.items():
                release[key] = await outbox.mark_many(
                    tx, [(MessageStatus.FAILED, c, d, None, i) for c, d, i in failures], now)
                report.failed += release[key]
            if others:
                await outbox.mark_many(tx, others, now)
            if held:
                await outbox.uncount_attempts(tx, held)
            await settle(tx, charge, release, self._clock(), "")
            if self._webhooks is not None:  # sent, failed, uncertain: one executemany
                at = self._clock()
                await self._webhooks.emit_messages(tx, [
                    Changed(o.due.id, o.due.owner_id, o.due.campaign_id, o.status, at,
                            o.category if o.status is not MessageStatus.SENT else None)
                    for o in outcomes if not o.held and o.status in _TOLD])
        try:  # feedback pacing: in memory, a write only when a number's factor changes
            await self.guard.feedback(_tried(outcomes))
        except StorageUnavailable as exc:  # the outcomes are written: never kept again
            log.warning("feedback pacing not written: %s", exc)
        for owner_id, campaign_id in {(o.due.owner_id, o.due.campaign_id) for o in outcomes}:
            if campaign_id is not None:  # single messages have no progress message
                await self._maybe_progress(owner_id, campaign_id)
        threshold = self._config.low_balance
        for owner_id, total in before.items():
            after = await ledger.balance(self._db.reader, owner_id)
            if total >= threshold > after.total:
                await self._notifier.notify(LowBalance(owner_id, after.available, threshold))

    async def _finish_campaigns(self, report: TickReport, now: datetime) -> None:
        for campaign in await campaigns_repo.running(self._db.reader):
            if await self._spike(campaign.id):
                await self._pause(campaign.owner_id, campaign.id, "failure_spike")
                continue
            if await outbox.open_count(self._db.reader, campaign.id):
                continue
            async with self._db.transaction() as tx:
                current = await campaigns_repo.get(tx, campaign.owner_id, campaign.id)
                if current is None or current.status is not CampaignStatus.RUNNING:
                    continue
                if await outbox.open_count(tx, campaign.id):
                    continue
                if not current.recurrence:
                    current.complete(now)
                    await campaigns_repo.save(tx, current, now)
                    await self._campaign_event(tx, current, EventType.CAMPAIGN_FINISHED)
            if campaign.recurrence and self._campaigns is not None:
                starts = await self._campaigns.schedule_next_run(campaign.owner_id, campaign.id)
                kind = "run_finished" if starts is not None else "finished"
                await self._update(campaign.owner_id, campaign.id, kind, name=campaign.name,
                                   finish=starts)
                if starts is None:
                    report.completed.append(campaign.id)
                continue
            report.completed.append(campaign.id)
            await self._update(campaign.owner_id, campaign.id, "finished", name=campaign.name)

    async def _spike(self, campaign_id: int) -> bool:
        window = self._config.spike_window
        recent = await outbox.recent_outcomes(self._db.reader, campaign_id, window)
        if len(recent) < window:
            return False
        return recent.count(MessageStatus.FAILED) / window > self._config.spike_share

    async def _pause(self, owner_id: int, campaign_id: int, reason: str) -> bool:
        async with self._db.transaction() as tx:
            campaign = await campaigns_repo.get(tx, owner_id, campaign_id)
            if campaign is None or campaign.status not in (CampaignStatus.RUNNING,
                                                           CampaignStatus.SCHEDULED):
                return False
            campaign.pause(reason)
            await campaigns_repo.save(tx, campaign, self._clock())
            await self._campaign_event(tx, campaign, EventType.CAMPAIGN_PAUSED, reason)
        await self._update(owner_id, campaign_id, "paused", name=campaign.name, reason=reason)
        return True

    async def _campaign_event(self, tx: Connection, campaign: Campaign, kind: EventType,
                              reason: str | None = None) -> None:
        if self._webhooks is not None:
            await self._webhooks.emit(tx, campaign.owner_id, kind,
                                      campaign_data(campaign, reason))

    async def _update(self, owner_id: int, campaign_id: int, kind: str, *, name: str = "",
                      reason: str | None = None, finish: datetime | None = None) -> None:
        self._progress_owed.pop(campaign_id, None)  # the counts read next include them
        progress = (await campaigns_repo.progress(self._db.reader, owner_id, [campaign_id]))[
            campaign_id]
        self._last_progress[campaign_id] = self._clock().timestamp()
        await self._notifier.notify(CampaignUpdate(owner_id, campaign_id, kind, progress,
                                                   name=name, reason=reason, finish=finish))

    async def _maybe_progress(self, owner_id: int, campaign_id: int) -> None:
        now = self._clock().timestamp()
        if now - self._last_progress.get(campaign_id, 0.0) < self._config.progress_every:
            return
        await self._update(owner_id, campaign_id, "progress")

    async def progress(self) -> None:
        """The progress notices that receipts owe, without a tick: the ``web`` process's
        job when workers send (its receipts come by webhook; it never ticks)."""
        await self.receipts.flush()
        await self._owed_progress()

    async def _owed_progress(self) -> None:
        """Campaigns whose messages receipts moved (while sending, or after they finished)
        get their progress message updated, at most once per ``progress_every``: the last
        receipts of a finished campaign show there too, a tick or so after they settle."""
        now = self._clock().timestamp()
        for campaign_id, owner_id in list(self._progress_owed.items()):
            if now - self._last_progress.get(campaign_id, 0.0) >= self._config.progress_every:
                await self._update(owner_id, campaign_id, "progress")

    async def close(self) -> None:
        """Apply the receipts still gathered (at shutdown)."""
        await self.receipts.close()
