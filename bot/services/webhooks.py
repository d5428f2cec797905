"""Outgoing webhooks: an owner's endpoints learn what happened, durably and at least once.

**Emitting.** A service that changes something an integrator may care about calls
``WebhooksService.emit(tx, owner_id, type, data)`` (or ``emit_many`` for a batch: one
``executemany``) inside the transaction that makes the change, so the event is written
(the outbox, ``webhook_events``) if and only if the change is. Nothing is written for an
owner with no endpoint wanting that type (the service keeps who wants what in memory; an
endpoint's change only invalidates it, under the writer lock).

**Delivering.** A worker (``start`` / ``stop``, or ``tick`` in tests) delivers each
endpoint's events in order, one request in flight per endpoint, many endpoints side by
side. Each request is a JSON body
``{"id": "evt_…", "type": …, "created_at": …, "data": {…}}`` signed with the endpoint's
secret: ``Qasid-Signature: t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``,
with ``Qasid-Timestamp`` and ``Qasid-Event-Id`` (the same id on every retry: receivers
de-duplicate by it). A 2xx answer is delivered; anything else (another status, a timeout,
a refused address) is retried after an exponential backoff with jitter (``backoff``:
10 s, 20 s, ... up to an hour), the later events waiting behind it. An event not delivered
within 24 hours of being written is dropped for that endpoint; the endpoint is flagged
``failing`` and its owner told (``WebhookFailing``), once, until it delivers again.

Progress (an endpoint's cursor, its failures in a row and the attempts the owner sees) is
written after a group of deliveries: a crash may send the last few again, never lose one.
The times (the 24 hours, the backoff) come from the injected ``Clock``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.clock import Clock, utcnow
from bot.domain import Campaign, Contact, MessageStatus, Sender
from bot.errors import NotFound, StorageUnavailable, ValidationError
from bot.gateways.webhook_client import (
    DeliveryFailed,
    Resolve,
    UrlPolicy,
    UrlRefused,
    WebhookPoster,
    check_url,
    system_resolve,
)
from bot.metrics import NO_METRICS, Metrics
from bot.services import prompts
from bot.services.notify import Notifier, WebhookFailing
from bot.services.prompts import PromptKind
from bot.storage import webhooks as repo
from bot.storage.db import Connection, Database
from bot.storage.webhooks import (
    ALL_EVENTS,
    Delivery,
    DeliveryRow,
    Endpoint,
    EndpointState,
    Event,
    EventType,
    Outcome,
    Progress,
)

__all__ = ["ALL_EVENTS", "Changed", "CreatedEndpoint", "Delivery", "Endpoint", "EndpointState",
           "EndpointView", "EventType", "MessageChange", "Outcome", "TestResult",
           "WebhooksConfig", "WebhooksService", "backoff", "campaign_data", "contact_data",
           "message_data", "number_data", "reply_data", "sign", "signature_header"]

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
TEST_EVENT = "webhook.test"  # a test event: sent at once, to one endpoint, out of order
USER_AGENT = "Qasid-Webhooks/1"


@dataclass(frozen=True, slots=True)
class WebhooksConfig:
    allow_http: bool = False  # WEBHOOKS_ALLOW_HTTP
    allow_private: bool = False  # WEBHOOKS_ALLOW_PRIVATE
    retry_for: float = 86400.0  # an event undelivered this long after it was written: dropped
    backoff_base: float = 10.0  # the first retry after about this long, doubled each time
    backoff_cap: float = 3600.0
    poll_interval: float = 0.5  # the worker looks for due endpoints at least this often
    batch: int = 200  # events read at once; progress written at least every this many
    flush_every: float = 1.0  # ... and at least every this many seconds
    concurrency: int = 100  # endpoints delivering at once
    max_endpoints: int = 10  # per owner
    keep_deliveries: int = 50  # attempts kept per endpoint for the owner to see
    prune_every: float = 60.0  # seconds between two prunings of events every endpoint did
    prune_chunk: int = 5000  # events deleted per transaction when pruning


@dataclass(frozen=True, slots=True)
class CreatedEndpoint:
    """A new endpoint and its signing secret, shown to the owner this once."""

    endpoint: Endpoint
    secret: str


@dataclass(frozen=True, slots=True)
class EndpointView:
    """An endpoint as the owner's list shows it: with its last attempt."""

    endpoint: Endpoint
    last: Delivery | None = None


@dataclass(frozen=True, slots=True)
class TestResult:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(slots=True)
class _Attempt:
    status_code: int | None
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


# --- signing, backoff and payloads (pure) ------------------------------------------------

def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    return hmac.new(secret.encode(), b"%d." % timestamp + body, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: float = 300) -> bool:
    """What a receiver checks (README, "Webhooks"): a ``v1`` signature of the header's
    timestamp and the body, and a timestamp within ``tolerance`` seconds of ``now``."""
    parts = [item.partition("=") for item in header.split(",")]
    stamps = [value for key, _, value in parts if key.strip() == "t"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit():
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body)
    return any(key.strip() == "v1" and hmac.compare_digest(value.strip(), expected)
               for key, _, value in parts)


def backoff(failures: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before the next try after ``failures`` failed ones in a row: ``base``
    doubled per failure, at most ``cap``, and jittered to between half and all of it (so
    that endpoints that failed together do not all come back at once)."""
    delay = min(cap, base * 2 ** min(max(failures, 1) - 1, 60))
    return delay / 2 + rng.random() * delay / 2


def event_id(number: int) -> str:
    return f"evt_{number}"


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")


def body_of(event: Event) -> bytes:
    """The request body: the same bytes on every retry of the event."""
    return (f'{{"id":"{event_id(event.id)}","type":"{event.type}",'
            f'"created_at":"{_iso(event.created_at)}","data":{event.data}}}').encode()


def _dump(data: Mapping[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"), default=str)


def message_data(message_id: int, status: str, phone: str, *, campaign_id: int | None = None,
                 client_ref: str | None = None, error: str | None = None,
                 at: datetime | None = None) -> dict[str, Any]:
    """The ``data`` of a ``message.*`` event."""
    data: dict[str, Any] = {"message_id": message_id, "campaign_id": campaign_id,
                            "phone": phone, "status": status, "client_ref": client_ref}
    if error is not None:
        data["error"] = error
    if at is not None:
        data["at"] = _iso(at.timestamp())
    return data


# a message's status -> the event that says it reached it
MESSAGE_EVENTS = {MessageStatus.SENT: EventType.MESSAGE_SENT,
                  MessageStatus.DELIVERED: EventType.MESSAGE_DELIVERED,
                  MessageStatus.READ: EventType.MESSAGE_READ,
                  MessageStatus.FAILED: EventType.MESSAGE_FAILED,
                  MessageStatus.UNCERTAIN: EventType.MESSAGE_UNCERTAIN}

# why a campaign paused or finished (``Campaign.status_reason``) -> the event's ``reason``
REASONS = {"failure_spike": "failures", "sender_banned": "ban", "sender_restricted": "ban",
           "sender_removed": "number_removed", "owner": "owner", "no_credits": "credits",
           "no_recipients": "no_recipients"}


class MessageChange(Protocol):
    """A message that reached a status (``receipts.Move`` is one, ``Changed`` another)."""

    @property
    def message_id(self) -> int: ...
    @property
    def owner_id(self) -> int: ...
    @property
    def campaign_id(self) -> int | None: ...
    @property
    def after(self) -> MessageStatus: ...
    @property
    def at(self) -> datetime: ...
    @property
    def error(self) -> str | None: ...


@dataclass(frozen=True, slots=True)
class Changed:
    message_id: int
    owner_id: int
    campaign_id: int | None
    after: MessageStatus
    at: datetime
    error: str | None = None


def campaign_data(campaign: Campaign, reason: str | None = None) -> dict[str, Any]:
    """The ``data`` of a ``campaign.*`` event; ``reason`` (paused, finished) as
    ``REASONS`` says it, the raw one when it has no name there."""
    data: dict[str, Any] = {"campaign_id": campaign.id, "name": campaign.name,
                            "status": campaign.status.value}
    if reason is not None:
        data["reason"] = REASONS.get(reason, reason)
    return data


def number_data(sender: Sender, state: str, until: datetime | None) -> dict[str, Any]:
    """The ``data`` of a ``number.banned`` event (``state``: banned, or restricted until
    a time)."""
    return {"sender_id": sender.id, "phone": sender.phone, "state": state,
            "until": _iso(until.timestamp()) if until else None}


def contact_data(contact: Contact) -> dict[str, Any]:
    """The ``data`` of a ``contact.opted_out`` event."""
    return {"contact_id": contact.id, "phone": contact.phone, "reason": contact.opt_out_reason,
            "opted_out_at": _iso(contact.opted_out_at.timestamp())
            if contact.opted_out_at else None}


def reply_data(sender_id: int, phone: str, text: str, at: datetime) -> dict[str, Any]:
    """The ``data`` of a ``reply.received`` event: who wrote to which of the owner's
    numbers, and what."""
    return {"sender_id": sender_id, "phone": phone, "text": text, "at": _iso(at.timestamp())}


# --- the service ---------------------------------------------------------------------------

@dataclass(slots=True)
class _Run:
    """What an endpoint's worker did and has not written yet."""

    cursor: int
    failures: int
    next_attempt_at: float = 0.0
    last_error: str | None = None
    state: EndpointState = EndpointState.ACTIVE  # as written last (the worker's view)
    failing: bool | None = None  # to flag: failing (True), active again (False), neither
    dropped: int = 0
    dropped_last: Event | None = None
    rows: list[DeliveryRow] = field(default_factory=list)
    delivered: int = 0

    def drop(self, event: Event) -> None:
        """Undelivered for too long: the endpoint is done with it, and failing."""
        self.cursor, self.dropped, self.dropped_last = event.id, self.dropped + 1, event
        self.failing = True

    def attempted(self, event: Event, attempt: _Attempt, at: float) -> None:
        outcome = Outcome.DELIVERED if attempt.ok else Outcome.FAILED
        self.rows.append((event.id, event.type, outcome.value, attempt.status_code,
                          attempt.error, attempt.duration_ms, at))
        if attempt.ok:
            self.cursor, self.failures, self.last_error = event.id, 0, None
            self.next_attempt_at = 0.0
            self.delivered += 1
            if self.failing or self.state is EndpointState.FAILING:
                self.failing = False
        else:
            self.failures += 1
            self.last_error = attempt.error

    def next(self) -> _Run:
        """The run that goes on after this one is written."""
        state = self.state
        if self.failing is True:
            state = EndpointState.FAILING
        elif self.failing is False:
            state = EndpointState.ACTIVE
        return _Run(self.cursor, self.failures, self.next_attempt_at, self.last_error, state)


class WebhooksService:
    def __init__(
        self, db: Database, poster: WebhookPoster, notifier: Notifier,
        config: WebhooksConfig | None = None, clock: Clock = utcnow,
        resolve: Resolve = system_resolve, rng: random.Random | None = None,
        metrics: Metrics = NO_METRICS,
    ) -> None:
        self._db = db
        self._metrics = metrics  # each delivery's outcome, for /metrics
        self._poster = poster
        self._notifier = notifier
        self._config = config or WebhooksConfig()
        self._policy = UrlPolicy(self._config.allow_http, self._config.allow_private)
        self._clock = clock
        self._resolve = resolve
        self._rng = rng or random.Random()
        # owner id -> the types their endpoints want; None: read it again (in a transaction)
        self._wanted: dict[int, frozenset[str]] | None = None
        self._running: dict[int, asyncio.Task[int]] = {}  # endpoint id -> its worker
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._poked = False
        self._stopping = False
        self._pruned_at = 0.0  # time.monotonic() of the last pruning
        self.delivered = 0  # events delivered since start (the bench reads it)

    @property
    def config(self) -> WebhooksConfig:
        return self._config

    # --- emitting (in the caller's transaction) -------------------------------------------

    async def emit(self, tx: Connection, owner_id: int, event_type: EventType | str,
                   data: Mapping[str, Any]) -> None:
        """Write one event in the caller's open transaction (see the module's docstring)."""
        await self.emit_many(tx, [(owner_id, event_type, data)])

    async def emit_many(self, tx: Connection,
                        events: Iterable[tuple[int, EventType | str, Mapping[str, Any]]]) -> int:
        """Write events in the caller's open transaction, in order, with one
        ``executemany``; those no endpoint of their owner wants are left out. How many
        were written."""
        wanted = await self._subscriptions(tx)
        if not wanted:
            return 0
        ts = self._clock().timestamp()
        rows: list[repo.EventRow] = []
        for owner_id, event_type, data in events:
            kind = EventType(event_type)  # an unknown type is a bug: ValueError
            types = wanted.get(owner_id)
            if types and (kind.value in types or ALL_EVENTS in types):
                rows.append((owner_id, kind.value, _dump(data), ts))
        if rows:
            await repo.add_events(tx, rows)
            self._poke()
        return len(rows)

    async def wants(self, owner_id: int, event_type: EventType) -> bool:
        """Whether an endpoint of the owner wants the type now: for a caller that would
        open a transaction only to emit (the answer inside it is ``emit``'s)."""
        wanted = self._wanted
        if wanted is None:  # not kept: only a transaction's reading may be (``emit``)
            wanted = await repo.subscriptions(self._db.reader)
        types = wanted.get(owner_id, frozenset())
        return event_type.value in types or ALL_EVENTS in types

    async def emit_messages(self, tx: Connection, changes: Iterable[MessageChange]) -> int:
        """``message.*`` events for messages that reached a status (a batch of receipts,
        a group of sends), in the caller's transaction, with one read of their phones and
        client references and one ``executemany``; how many were written."""
        wanted = await self._subscriptions(tx)
        if not wanted:
            return 0
        picked: list[tuple[MessageChange, EventType]] = []
        for change in changes:
            kind = MESSAGE_EVENTS.get(change.after)
            types = wanted.get(change.owner_id)
            if kind is not None and types and (kind.value in types or ALL_EVENTS in types):
                picked.append((change, kind))
        if not picked:
            return 0
        refs = await repo.message_refs(tx, [c.message_id for c, _ in picked])
        ts = self._clock().timestamp()
        rows: list[repo.EventRow] = []
        for change, kind in picked:
            phone, client_ref = refs.get(change.message_id, ("", None))
            rows.append((change.owner_id, kind.value, _dump(message_data(
                change.message_id, change.after.value, phone, campaign_id=change.campaign_id,
                client_ref=client_ref, error=change.error, at=change.at)), ts))
        await repo.add_events(tx, rows)
        self._poke()
        return len(rows)

    async def _subscriptions(self, tx: Connection) -> dict[int, frozenset[str]]:
        if self._wanted is None:
            self._wanted = await repo.subscriptions(tx)
        return self._wanted

    def _changed(self) -> None:
        """An endpoint changed, in the open transaction: who wants what is read again by
        the next emit (whose transaction comes after this one's)."""
        self._wanted = None

    def _poke(self) -> None:
        """Wake the worker shortly (after the emitting transaction commits)."""
        if self._poked or self._task is None:
            return
        self._poked = True

        def wake() -> None:
            self._poked = False
            self._wake.set()

        asyncio.get_running_loop().call_later(0.02, wake)

    # --- endpoints -------------------------------------------------------------------------

    async def create(self, owner_id: int, url: str, events: Iterable[str] = (ALL_EVENTS,),
                     *, answers_prompt: bool = False) -> CreatedEndpoint:
        """A new endpoint (https, public addresses only: ``bot.gateways.webhook_client``)
        with a new signing secret. Raises ``ValidationError`` (``where``: url, events).
        ``answers_prompt``: the URL was typed in the chat, its question closes with it."""
        url = url.strip()
        try:
            await check_url(url, self._policy, self._resolve)
        except UrlRefused as exc:
            raise ValidationError(f"webhook_{exc.reason}", where="url") from None
        chosen = _events(events)
        secret = SECRET_PREFIX + secrets.token_urlsafe(32)
        async with self._db.transaction() as tx:
            if await repo.count_of_owner(tx, owner_id) >= self._config.max_endpoints:
                raise ValidationError("webhook_limit", where="url",
                                      limit=self._config.max_endpoints)
            endpoint = await repo.add_endpoint(tx, owner_id, url, secret, chosen,
                                               self._clock())
            if answers_prompt:
                await prompts.close(tx, owner_id, PromptKind.WEBHOOK_URL)
            self._changed()
        log.info("owner %s added webhook endpoint %s", owner_id, endpoint.id)
        return CreatedEndpoint(endpoint, secret)

    async def endpoints(self, owner_id: int) -> list[EndpointView]:
        """The owner's endpoints, oldest first, each with its last attempt."""
        views = []
        for endpoint in await repo.of_owner(self._db.reader, owner_id):
            last = await repo.deliveries(self._db.reader, owner_id, endpoint.id, 1)
            views.append(EndpointView(endpoint, last[0] if last else None))
        return views

    async def get(self, owner_id: int, endpoint_id: int) -> Endpoint:
        endpoint = await repo.get(self._db.reader, owner_id, endpoint_id)
        if endpoint is None:
            raise NotFound("webhook", endpoint_id=endpoint_id)
        return endpoint

    async def delete(self, owner_id: int, endpoint_id: int) -> None:
        async with self._db.transaction() as tx:
            if not await repo.delete(tx, owner_id, endpoint_id):
                raise NotFound("webhook", endpoint_id=endpoint_id)
            self._changed()
        log.info("owner %s deleted webhook endpoint %s", owner_id, endpoint_id)

    async def set_events(self, owner_id: int, endpoint_id: int,
                         events: Iterable[str]) -> Endpoint:
        chosen = _events(events)
        async with self._db.transaction() as tx:
            if not await repo.set_events(tx, owner_id, endpoint_id, chosen, self._clock()):
                raise NotFound("webhook", endpoint_id=endpoint_id)
            self._changed()
        return await self.get(owner_id, endpoint_id)

    async def toggle_event(self, owner_id: int, endpoint_id: int, event_type: str) -> Endpoint:
        """Subscribe to one more type, or to one fewer ("all" becomes every type but it);
        the last one cannot go (an endpoint wants something, or is paused)."""
        kind = EventType(event_type)
        endpoint = await self.get(owner_id, endpoint_id)
        current = ({t.value for t in EventType} if ALL_EVENTS in endpoint.events
                   else set(endpoint.events))
        current ^= {kind.value}
        if not current:
            raise ValidationError("webhook_events_empty", where="events")
        if current >= {t.value for t in EventType}:
            current = {ALL_EVENTS}
        return await self.set_events(owner_id, endpoint_id, current)

    async def set_enabled(self, owner_id: int, endpoint_id: int, enabled: bool) -> Endpoint:
        """Pause an endpoint (no events are kept for it meanwhile) or resume it (with the
        events from now on)."""
        async with self._db.transaction() as tx:
            if await repo.get(tx, owner_id, endpoint_id) is None:
                raise NotFound("webhook", endpoint_id=endpoint_id)
            await repo.set_enabled(tx, owner_id, endpoint_id, enabled, self._clock())
            self._changed()
        return await self.get(owner_id, endpoint_id)

    async def deliveries(self, owner_id: int, endpoint_id: int,
                         limit: int = 10) -> list[Delivery]:
        """The endpoint's last attempts, newest first."""
        await self.get(owner_id, endpoint_id)
        return await repo.deliveries(self._db.reader, owner_id, endpoint_id,
                                     max(1, min(limit, self._config.keep_deliveries)))

    async def send_test(self, owner_id: int, endpoint_id: int) -> TestResult:
        """Send a ``webhook.test`` event to the endpoint now, outside its order (and not
        retried); the attempt is listed with the others."""
        endpoint = await self.get(owner_id, endpoint_id)
        test_id = f"evt_test_{secrets.token_hex(8)}"
        body = _dump({"id": test_id, "type": TEST_EVENT,
                      "created_at": _iso(self._clock().timestamp()),
                      "data": {"endpoint_id": endpoint.id}}).encode()
        attempt = await self._post(endpoint, test_id, body)
        outcome = Outcome.DELIVERED if attempt.ok else Outcome.FAILED
        async with self._db.transaction() as tx:
            await repo.add_delivery(tx, endpoint.id, (
                None, TEST_EVENT, outcome.value, attempt.status_code, attempt.error,
                attempt.duration_ms, self._clock().timestamp()), self._config.keep_deliveries)
        return TestResult(attempt.ok, attempt.status_code, attempt.error, attempt.duration_ms)

    # --- the worker ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Start delivering in the background (the events already waiting first)."""
        if self._task is None:
            self._stopping = False
            self._task = asyncio.create_task(self._loop(), name="qasid-webhooks")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop: each endpoint's worker ends after its request in flight and writes what
        it did; after ``grace`` seconds, what is still running is cancelled (its last
        deliveries are sent again after the restart)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        running = set(self._running.values())
        if running:
            _done, late = await asyncio.wait(running, timeout=grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*running, return_exceptions=True)

    async def close(self) -> None:
        """At shutdown, after ``stop``: the poster's connections closed."""
        await self._poster.close()

    async def tick(self) -> int:
        """Deliver what is due now, each endpoint until it is done or fails, and return
        how many events were delivered (tests drive the worker with it and a fake clock)."""
        delivered, seen = 0, set[int]()
        while True:
            tasks = await self._launch_due()
            launched = {int(t.get_name().rsplit("-", 1)[1]) for t in tasks}
            done = sum(await asyncio.gather(*tasks))
            delivered += done
            if not tasks or (not done and launched <= seen):  # nothing new to do
                return delivered
            seen |= launched

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self._launch_due()
                await self._prune_if_due()
            except StorageUnavailable as exc:
                log.warning("webhooks: the database cannot be read or written now (%s)", exc)
            except Exception:  # logged; the worker goes on at the next poll
                log.exception("webhooks: the worker's poll failed")
            try:
                async with asyncio.timeout(self._config.poll_interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def _launch_due(self) -> list[asyncio.Task[int]]:
        room = self._config.concurrency - len(self._running)
        if room <= 0 or self._stopping:
            return []
        due = await repo.due(self._db.reader, self._clock().timestamp(),
                             room + len(self._running))
        tasks: list[asyncio.Task[int]] = []
        for endpoint in due:
            if endpoint.id in self._running or len(tasks) >= room:
                continue
            task = asyncio.create_task(self._drain(endpoint),
                                       name=f"qasid-webhook-{endpoint.id}")
            self._running[endpoint.id] = task
            task.add_done_callback(functools.partial(self._done, endpoint.id))
            tasks.append(task)
        return tasks

    def _done(self, endpoint_id: int, task: asyncio.Task[int]) -> None:
        if self._running.get(endpoint_id) is task:
            del self._running[endpoint_id]
        if not task.cancelled() and not self._stopping:
            self._wake.set()  # an endpoint with more to do, or room for another one

    async def _drain(self, endpoint: Endpoint) -> int:
        """Deliver one endpoint's events in order until none is left, one fails, or the
        service stops; write the progress as it goes. How many were delivered."""
        run = _Run(endpoint.cursor, endpoint.failures, last_error=endpoint.last_error,
                   state=endpoint.state)
        delivered, written_at = 0, time.monotonic()
        try:
            while not self._stopping:
                events = await repo.events_after(self._db.reader, endpoint.owner_id,
                                                 run.cursor, self._config.batch)
                if not events:
                    break
                failed = False
                for event in events:
                    if not endpoint.wants(event.type):
                        run.cursor = event.id
                        continue
                    now = self._clock().timestamp()
                    if now - event.created_at >= self._config.retry_for:
                        run.drop(event)
                        self._metrics.delivery("dropped")
                        continue
                    attempt = await self._post(endpoint, event_id(event.id), body_of(event))
                    self._metrics.delivery("delivered" if attempt.ok else "failed")
                    run.attempted(event, attempt, self._clock().timestamp())
                    if not attempt.ok:
                        run.next_attempt_at = now + backoff(
                            run.failures, self._config.backoff_base, self._config.backoff_cap,
                            self._rng)
                        failed = True
                        break
                    if self._stopping:
                        break
                    if (len(run.rows) >= self._config.batch
                            or time.monotonic() - written_at >= self._config.flush_every):
                        if not await self._write(endpoint, run):
                            return delivered + run.delivered
                        delivered += run.delivered
                        run, written_at = run.next(), time.monotonic()
                if not await self._write(endpoint, run):
                    return delivered + run.delivered
                delivered += run.delivered
                run, written_at = run.next(), time.monotonic()
                if failed:
                    break
        except StorageUnavailable as exc:  # the last deliveries are sent again later
            log.warning("webhooks: endpoint %s's progress not saved (%s)", endpoint.id, exc)
        except Exception:  # logged; tried again at the next poll
            log.exception("webhooks: endpoint %s's worker failed", endpoint.id)
        return delivered

    async def _write(self, endpoint: Endpoint, run: _Run) -> bool:
        """Write ``run``; False when the endpoint is gone or was paused meanwhile (its
        worker stops)."""
        if run.dropped:
            assert run.dropped_last is not None
            run.rows.append((run.dropped_last.id, run.dropped_last.type, Outcome.DROPPED.value,
                             None, f"{run.dropped} undelivered for 24 h", None,
                             self._clock().timestamp()))
        progress = Progress(run.cursor, run.failures, run.next_attempt_at, run.last_error,
                            run.failing, run.rows)
        async with self._db.transaction() as tx:
            before = await repo.record(tx, endpoint.id, progress, self._clock(),
                                       self._config.keep_deliveries)
        if before is None or before is EndpointState.DISABLED:
            return False
        self.delivered += run.delivered
        if run.dropped and before is EndpointState.ACTIVE:
            log.warning("webhooks: endpoint %s dropped %d events after 24 h", endpoint.id,
                        run.dropped)
            await self._notifier.notify(WebhookFailing(endpoint.owner_id, endpoint.id,
                                                       endpoint.url, run.dropped))
        return True

    async def _post(self, endpoint: Endpoint, event: str, body: bytes) -> _Attempt:
        timestamp = int(self._clock().timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Qasid-Event-Id": event,
            "Qasid-Timestamp": str(timestamp),
            "Qasid-Signature": signature_header(endpoint.secret, timestamp, body),
        }
        started = time.perf_counter()
        status: int | None
        try:  # the poster checks the addresses (bot/gateways/webhook_client.py)
            status = await self._poster.post(endpoint.url, body, headers)
            error = None if 200 <= status < 300 else f"HTTP {status}"
        except DeliveryFailed as exc:
            status, error = None, exc.reason
        return _Attempt(status, error, round((time.perf_counter() - started) * 1000))

    async def _prune_if_due(self) -> None:
        if time.monotonic() - self._pruned_at < self._config.prune_every:
            return
        self._pruned_at = time.monotonic()
        await self.prune()

    async def prune(self) -> int:
        """Delete the events every endpoint of their owner is done with; how many."""
        removed = 0
        for owner_id, upto in await repo.prunable(self._db.reader):
            while True:
                async with self._db.transaction() as tx:
                    gone = await repo.prune(tx, owner_id, upto, self._config.prune_chunk)
                removed += gone
                if gone < self._config.prune_chunk:
                    break
        return removed


def _events(events: Iterable[str]) -> set[str]:
    chosen = {str(e).strip() for e in events}
    if not chosen:
        raise ValidationError("webhook_events_empty", where="events")
    known = {t.value for t in EventType}
    unknown = sorted(chosen - known - {ALL_EVENTS})
    if unknown:
        raise ValidationError("webhook_event_unknown", where="events", event=unknown[0])
    return {ALL_EVENTS} if ALL_EVENTS in chosen or chosen >= known else chosen
