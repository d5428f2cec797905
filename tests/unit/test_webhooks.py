"""Outgoing webhooks: signatures, the backoff, where a URL may point (SSRF), and the
service delivering to a receiver on 127.0.0.1 over real HTTP, driven by a fake clock."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
from collections.abc import AsyncIterator

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from bot.domain import Language
from bot.errors import NotFound, ValidationError
from bot.gateways.webhook_client import (
    AddressRefused,
    AiohttpPoster,
    GuardedResolver,
    UrlPolicy,
    UrlRefused,
    check_url,
    refused_address,
)
from bot.services.notify import WebhookFailing
from bot.services.webhooks import (
    EndpointState,
    EventType,
    WebhooksConfig,
    WebhooksService,
    backoff,
    signature_header,
    verify,
)
from bot.storage import contacts, owners
from bot.storage.db import Database
from tests.fakes import FakeClock, RecordingNotifier
from tests.fakes.webhook_receiver import Receiver

LOCAL = UrlPolicy(allow_http=True, allow_private=True)  # what the tests' settings allow


# --- signatures -------------------------------------------------------------------------

def test_the_signature_is_hmac_sha256_of_timestamp_dot_body_under_the_secret() -> None:
    body = b'{"id":"evt_1","type":"message.sent"}'
    header = signature_header("whsec_abc", 1_760_000_000, body)
    expected = hmac.new(b"whsec_abc", b"1760000000." + body, hashlib.sha256).hexdigest()
    assert header == f"t=1760000000,v1={expected}"
    assert verify("whsec_abc", header, body, now=1_760_000_100)


@pytest.mark.parametrize("change", ["body", "secret", "timestamp", "too_old"])
def test_a_changed_body_secret_or_timestamp_or_an_old_request_does_not_verify(
        change: str) -> None:
    body = b'{"id":"evt_1"}'
    header = signature_header("whsec_abc", 1_760_000_000, body)
    now = 1_760_000_000.0
    if change == "body":
        body = b'{"id":"evt_2"}'
    elif change == "secret":
        header = signature_header("whsec_abd", 1_760_000_000, body)
    elif change == "timestamp":
        header = header.replace("t=1760000000", "t=1760000001")
    else:
        now += 301
    assert not verify("whsec_abc", header, body, now=now)


# --- backoff ----------------------------------------------------------------------------

def test_retries_back_off_exponentially_with_jitter_up_to_an_hour() -> None:
    rng = random.Random(7)
    for failures, full in [(1, 10), (2, 20), (3, 40), (6, 320), (9, 2560), (10, 3600),
                           (40, 3600)]:
        delays = [backoff(failures, 10, 3600, rng) for _ in range(200)]
        assert all(full / 2 <= d <= full for d in delays), failures
        assert max(delays) - min(delays) > full / 4  # jittered, not all at once


def test_a_day_of_failures_is_a_few_dozen_attempts() -> None:
    rng, waited, attempts = random.Random(1), 0.0, 1
    while waited < 86400:
        waited += backoff(attempts, 10, 3600, rng)
        attempts += 1
    assert 25 <= attempts <= 60


# --- where a URL may point --------------------------------------------------------------

@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "loopback"), ("127.8.9.10", "loopback"), ("::1", "loopback"),
    ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("fc00::1", "private"), ("fd12:3456::1", "private"),
    ("169.254.169.254", "link_local"), ("fe80::1", "link_local"), ("fe80::1%eth0", "link_local"),
    ("224.0.0.1", "multicast"), ("ff02::1", "multicast"),
    ("0.0.0.0", "reserved"), ("::", "reserved"), ("240.0.0.1", "private"),
    ("100.64.0.1", "reserved"), ("192.0.2.1", "private"),
    ("::ffff:127.0.0.1", "loopback"), ("::ffff:10.0.0.1", "private"),
    ("2002:7f00:1::1", "loopback"),  # 6to4 around 127.0.0.1
    ("93.184.216.34", None), ("8.8.8.8", None), ("2606:4700:4700::1111", None),
])
def test_addresses_that_are_not_public_are_refused(address: str, reason: str | None) -> None:
    assert refused_address(address) == reason


def resolver_of(table: dict[str, list[str]]):
    async def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise socket.gaierror(socket.EAI_NONAME, "not known")
        return table[host]
    return resolve


@pytest.mark.parametrize("url, reason", [
    ("http://hooks.example.com/x", "scheme"),
    ("ftp://hooks.example.com/x", "scheme"),
    ("https:///x", "host"),
    ("https://127.0.0.1/x", "loopback"),
    ("https://[::1]:8443/x", "loopback"),
    ("https://[::ffff:192.168.0.1]/x", "private"),
    ("https://10.0.0.7/x", "private"),
    ("https://169.254.169.254/latest/meta-data", "link_local"),
    ("https://internal.example.com/x", "private"),  # a name resolving to 10.0.0.5
    ("https://mixed.example.com/x", "loopback"),  # one public, one loopback address
    ("https://v6.example.com/x", "link_local"),
    ("https://hooks.example.com/a b", "url"),
])
async def test_urls_to_the_bots_own_network_are_refused(url: str, reason: str) -> None:
    resolve = resolver_of({"hooks.example.com": ["93.184.216.34"],
                           "internal.example.com": ["10.0.0.5"],
                           "mixed.example.com": ["93.184.216.34", "127.0.0.1"],
                           "v6.example.com": ["fe80::5"]})
    with pytest.raises(UrlRefused) as refused:
        await check_url(url, UrlPolicy(), resolve)
    assert refused.value.reason == reason


async def test_a_public_https_url_is_accepted_and_the_settings_open_http_and_private() -> None:
    resolve = resolver_of({"hooks.example.com": ["93.184.216.34", "2606:2800:220:1::1"]})
    await check_url("https://hooks.example.com/qasid?x=1", UrlPolicy(), resolve)
    # a name that does not resolve (yet) reaches nothing; each connection checks again
    await check_url("https://nowhere.example.com/x", UrlPolicy(), resolve)
    await check_url("http://hooks.example.com/x", UrlPolicy(allow_http=True), resolve)
    await check_url("https://127.0.0.1:9/x", UrlPolicy(allow_private=True), resolve)


async def test_a_name_the_system_resolves_to_127_0_0_1_is_refused() -> None:
    with pytest.raises(UrlRefused) as refused:
        await check_url("https://localhost:8443/hook", UrlPolicy())
    assert refused.value.reason == "loopback"


class Rebinding(AbstractResolver):
    """DNS that answered a public address when the endpoint was made and 127.0.0.1 now."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        return [{"hostname": host, "host": "127.0.0.1", "port": port, "family": family,
                 "proto": 0, "flags": 0}]

    async def close(self) -> None:
        return None


async def test_the_guarded_resolver_refuses_a_name_that_now_resolves_to_loopback() -> None:
    with pytest.raises(AddressRefused):
        await GuardedResolver(UrlPolicy(), Rebinding()).resolve("hooks.example.com", 443)
    [allowed] = await GuardedResolver(LOCAL, Rebinding()).resolve("hooks.example.com", 443)
    assert allowed["host"] == "127.0.0.1"


# --- the service, over real HTTP ------------------------------------------------------------

async def add_owner(db: Database, clock, telegram_id: int) -> int:
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                 language=Language.EN, now=clock())
    return owner.id


@pytest.fixture
async def receiver(clock: FakeClock) -> AsyncIterator[Receiver]:
    found = await Receiver(now=lambda: clock().timestamp()).start()
    yield found
    await found.stop()


@pytest.fixture
async def http() -> AsyncIterator[AiohttpPoster]:
    poster = AiohttpPoster(LOCAL, timeout=5.0)
    yield poster
    await poster.close()


@pytest.fixture
def notifier() -> RecordingNotifier:
    return RecordingNotifier()


def make_service(db: Database, http: AiohttpPoster, notifier, clock,
                 **config: object) -> WebhooksService:
    settings = {"allow_http": True, "allow_private": True, **config}
    return WebhooksService(db, http, notifier, WebhooksConfig(**settings),  # type: ignore[arg-type] (test values)
                           clock, rng=random.Random(3))


@pytest.fixture
def service(db: Database, http: AiohttpPoster, notifier, clock) -> WebhooksService:
    return make_service(db, http, notifier, clock)


async def endpoint_for(service: WebhooksService, receiver: Receiver, owner_id: int,
                       path: str = "/hook", events=("*",)):
    created = await service.create(owner_id, receiver.url(path), events)
    receiver.secrets[path] = created.secret
    return created.endpoint


async def opt_out(db: Database, service: WebhooksService, clock, owner_id: int,
                  phone: str) -> None:
    """A change and its event, in one transaction (as ContactsService.opt_out does)."""
    async with db.transaction() as tx:
        await contacts.opt_out(tx, owner_id, phone, "replied STOP", clock())
        await service.emit(tx, owner_id, EventType.CONTACT_OPTED_OUT, {"phone": phone})


async def test_an_event_is_delivered_signed_with_its_payload(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    owner = await add_owner(db, clock, 1)
    endpoint = await endpoint_for(service, receiver, owner)
    await opt_out(db, service, clock, owner, "+994501234567")
    assert await service.tick() == 1
    [received] = receiver.accepted
    event = received.event
    assert event["type"] == "contact.opted_out"
    assert event["id"].startswith("evt_") and received.headers["qasid-event-id"] == event["id"]
    assert event["data"] == {"phone": "+994501234567"}
    assert event["created_at"] == "2026-11-25T09:00:00.000Z"
    assert received.headers["content-type"] == "application/json"
    assert receiver.bad_signatures == []
    [attempt] = await service.deliveries(owner, endpoint.id)
    assert (attempt.status_code, attempt.outcome.value) == (200, "delivered")


async def test_an_event_is_written_only_with_the_change_it_reports(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    owner = await add_owner(db, clock, 1)
    await endpoint_for(service, receiver, owner)
    with pytest.raises(RuntimeError):
        async with db.transaction() as tx:
            await service.emit(tx, owner, EventType.CONTACT_OPTED_OUT, {"phone": "+1"})
            raise RuntimeError("the change failed")
    assert await service.tick() == 0
    assert receiver.accepted == []


async def test_only_the_types_an_endpoint_subscribed_to_reach_it_and_only_its_owners(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    alice, bob = await add_owner(db, clock, 1), await add_owner(db, clock, 2)
    await endpoint_for(service, receiver, alice, "/alice", ["reply.received"])
    await endpoint_for(service, receiver, alice, "/alice-all")
    await endpoint_for(service, receiver, bob, "/bob")
    async with db.transaction() as tx:
        await service.emit_many(tx, [
            (alice, EventType.MESSAGE_SENT, {"n": 1}),
            (alice, EventType.REPLY_RECEIVED, {"n": 2}),
            (bob, EventType.MESSAGE_READ, {"n": 3}),
            (alice, EventType.MESSAGE_FAILED, {"n": 4}),
        ])
    await service.tick()
    assert [e["data"]["n"] for e in receiver.events("/alice")] == [2]
    assert [e["data"]["n"] for e in receiver.events("/alice-all")] == [1, 2, 4]
    assert [e["data"]["n"] for e in receiver.events("/bob")] == [3]


async def test_nothing_is_written_for_an_owner_without_endpoints(
        db: Database, service: WebhooksService, clock) -> None:
    owner = await add_owner(db, clock, 1)
    async with db.transaction() as tx:
        written = await service.emit_many(tx, [(owner, EventType.MESSAGE_SENT, {})] * 100)
    assert written == 0


async def test_a_receiver_failing_for_a_while_gets_every_event_late_and_in_order(
        db: Database, service: WebhooksService, receiver: Receiver, clock: FakeClock) -> None:
    owner = await add_owner(db, clock, 1)
    endpoint = await endpoint_for(service, receiver, owner)
    down = {"until": clock().timestamp() + 3 * 3600}
    receiver.failing = lambda _r: 503 if clock().timestamp() < down["until"] else None
    phones = [f"+99450100{n:04d}" for n in range(30)]
    for n, phone in enumerate(phones):
        await opt_out(db, service, clock, owner, phone)
        if n % 10 == 9:
            await service.tick()
            clock.advance(minutes=7)
    rounds = 0
    while len(receiver.accepted) < len(phones):
        rounds += 1
        assert rounds < 500, "never delivered"
        clock.advance(minutes=5)
        await service.tick()
    assert [e["data"]["phone"] for e in receiver.events()] == phones  # in order, none lost
    assert len(set(receiver.ids())) == len(phones)  # none twice
    assert receiver.refused and all(r.event["data"]["phone"] == phones[0]
                                    for r in receiver.refused[:1])
    # a later event never got ahead of an earlier one still failing
    assert {r.event["data"]["phone"] for r in receiver.refused} <= set(phones)
    stored = await service.get(owner, endpoint.id)
    assert (stored.state, stored.failures) == (EndpointState.ACTIVE, 0)
    assert receiver.bad_signatures == []


async def test_retries_wait_for_the_backoff(
        db: Database, service: WebhooksService, receiver: Receiver, clock: FakeClock) -> None:
    owner = await add_owner(db, clock, 1)
    endpoint = await endpoint_for(service, receiver, owner)
    receiver.failing = lambda _r: 500
    await opt_out(db, service, clock, owner, "+994501112233")
    await service.tick()
    await service.tick()  # too early: no second attempt
    assert len(receiver.refused) == 1
    clock.advance(seconds=10)  # the first backoff is 5 to 10 s
    await service.tick()
    assert len(receiver.refused) == 2
    [latest, first] = await service.deliveries(owner, endpoint.id)
    assert (latest.status_code, latest.error, first.outcome.value) == (500, "HTTP 500", "failed")


async def test_after_24_hours_the_event_is_dropped_the_endpoint_flagged_and_the_owner_told(
        db: Database, service: WebhooksService, receiver: Receiver, clock: FakeClock,
        notifier: RecordingNotifier) -> None:
    owner = await add_owner(db, clock, 1)
    endpoint = await endpoint_for(service, receiver, owner)
    receiver.failing = lambda _r: 500
    await opt_out(db, service, clock, owner, "+994500000001")
    await opt_out(db, service, clock, owner, "+994500000002")
    for _ in range(30):  # 25 hours
        await service.tick()
        clock.advance(hours=1)
    await service.tick()
    stored = await service.get(owner, endpoint.id)
    assert stored.state is EndpointState.FAILING
    [told] = notifier.of(WebhookFailing)
    assert (told.owner_id, told.endpoint_id, told.dropped) == (owner, endpoint.id, 2)
    assert {r.event["data"]["phone"] for r in receiver.refused} == {"+994500000001"}
    receiver.failing = lambda _r: None  # back up: the next event is delivered, flag lifted
    await opt_out(db, service, clock, owner, "+994500000003")
    await service.tick()
    assert [e["data"]["phone"] for e in receiver.events()] == ["+994500000003"]
    assert (await service.get(owner, endpoint.id)).state is EndpointState.ACTIVE
    assert len(notifier.of(WebhookFailing)) == 1


async def test_a_crash_between_the_change_and_its_delivery_loses_no_event(
        db_path, http: AiohttpPoster, receiver: Receiver, clock: FakeClock,
        notifier: RecordingNotifier) -> None:
    db = Database(db_path)
    await db.connect()
    service = make_service(db, http, notifier, clock)
    owner = await add_owner(db, clock, 1)
    await endpoint_for(service, receiver, owner)
    await receiver.stop()  # the receiver is down: the first attempt fails
    await opt_out(db, service, clock, owner, "+994501230001")
    await service.start()
    await service.tick()
    await opt_out(db, service, clock, owner, "+994501230002")
    # the process dies here: the worker never stops cleanly, nothing more is written
    await db.close()

    await receiver.start()  # the same port
    restarted = Database(db_path)
    await restarted.connect()
    again = make_service(restarted, http, notifier, clock)
    clock.advance(minutes=1)
    await again.tick()
    await again.stop()
    await service.stop()
    await restarted.close()
    assert [e["data"]["phone"] for e in receiver.events()] == ["+994501230001",
                                                               "+994501230002"]


async def test_the_worker_delivers_by_itself_once_started(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    from tests.fakes import wait_until

    owner = await add_owner(db, clock, 1)
    await endpoint_for(service, receiver, owner)
    await service.start()
    try:
        for n in range(5):
            await opt_out(db, service, clock, owner, f"+99450999000{n}")
        await wait_until(lambda: len(receiver.accepted) == 5, what="5 events delivered")
    finally:
        await service.stop()
    assert [e["data"]["phone"] for e in receiver.events()] == [
        f"+99450999000{n}" for n in range(5)]


async def test_a_paused_endpoint_keeps_nothing_and_resumes_with_new_events(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    owner = await add_owner(db, clock, 1)
    endpoint = await endpoint_for(service, receiver, owner)
    await service.set_enabled(owner, endpoint.id, False)
    await opt_out(db, service, clock, owner, "+994501110001")
    await service.set_enabled(owner, endpoint.id, True)
    await opt_out(db, service, clock, owner, "+994501110002")
    await service.tick()
    assert [e["data"]["phone"] for e in receiver.events()] == ["+994501110002"]


async def test_a_test_event_reaches_the_endpoint_at_once_and_is_listed(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    owner = await add_owner(db, clock, 1)
    endpoint = await endpoint_for(service, receiver, owner)
    result = await service.send_test(owner, endpoint.id)
    assert (result.ok, result.status_code) == (True, 200)
    [received] = receiver.events()
    assert received["type"] == "webhook.test" and received["id"].startswith("evt_test_")
    [listed] = await service.deliveries(owner, endpoint.id)
    assert (listed.event_type, listed.status_code) == ("webhook.test", 200)
    receiver.failing = lambda _r: 418
    failed = await service.send_test(owner, endpoint.id)
    assert (failed.ok, failed.status_code, failed.error) == (False, 418, "HTTP 418")


async def test_another_owner_can_neither_see_nor_change_an_endpoint(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    alice, bob = await add_owner(db, clock, 1), await add_owner(db, clock, 2)
    endpoint = await endpoint_for(service, receiver, alice)
    assert await service.endpoints(bob) == []
    for attempt in (service.get(bob, endpoint.id), service.delete(bob, endpoint.id),
                    service.send_test(bob, endpoint.id), service.deliveries(bob, endpoint.id),
                    service.set_enabled(bob, endpoint.id, False),
                    service.toggle_event(bob, endpoint.id, "message.sent")):
        with pytest.raises(NotFound):
            await attempt
    assert receiver.accepted == []
    assert (await service.get(alice, endpoint.id)).state is EndpointState.ACTIVE


async def test_creating_refuses_private_urls_unknown_events_and_too_many(
        db: Database, http: AiohttpPoster, notifier, clock) -> None:
    strict = make_service(db, http, notifier, clock, allow_http=False, allow_private=False,
                          max_endpoints=2)
    owner = await add_owner(db, clock, 1)
    for url, reason in [("http://93.184.216.34/x", "webhook_scheme"),
                        ("https://127.0.0.1/x", "webhook_loopback"),
                        ("https://localhost/x", "webhook_loopback"),
                        ("https://192.168.0.10/x", "webhook_private")]:
        with pytest.raises(ValidationError) as refused:
            await strict.create(owner, url)
        assert (refused.value.reason, refused.value.where) == (reason, "url")
    with pytest.raises(ValidationError) as refused:
        await strict.create(owner, "https://93.184.216.34/x", ["message.exploded"])
    assert refused.value.reason == "webhook_event_unknown"
    await strict.create(owner, "https://93.184.216.34/a")
    await strict.create(owner, "https://93.184.216.34/b")
    with pytest.raises(ValidationError) as refused:
        await strict.create(owner, "https://93.184.216.34/c")
    assert refused.value.reason == "webhook_limit"


async def test_delivery_to_a_name_now_resolving_to_loopback_is_refused(
        db: Database, notifier, clock, receiver: Receiver) -> None:
    """Made while the name was public; DNS now says 127.0.0.1 (where the receiver is)."""
    client = AiohttpPoster(UrlPolicy(allow_http=True), timeout=5.0, resolver=Rebinding())

    async def public(host: str, port: int) -> list[str]:
        return ["93.184.216.34"]

    service = WebhooksService(db, client, notifier, WebhooksConfig(allow_http=True), clock,
                              resolve=public)
    owner = await add_owner(db, clock, 1)
    created = await service.create(owner, f"http://hooks.example.com:{receiver.port}/hook")
    receiver.secrets["/hook"] = created.secret
    await opt_out(db, service, clock, owner, "+994501234567")
    await service.tick()
    await client.close()
    assert receiver.accepted == [] and receiver.refused == []
    [attempt] = await service.deliveries(owner, created.endpoint.id)
    assert attempt.error == "address not allowed (loopback)"


async def test_toggling_events_keeps_at_least_one(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    owner = await add_owner(db, clock, 1)
    endpoint = await endpoint_for(service, receiver, owner, events=["message.sent"])
    endpoint = await service.toggle_event(owner, endpoint.id, "reply.received")
    assert endpoint.events == {"message.sent", "reply.received"}
    endpoint = await service.toggle_event(owner, endpoint.id, "message.sent")
    with pytest.raises(ValidationError):
        await service.toggle_event(owner, endpoint.id, "reply.received")
    everything = await service.set_events(owner, endpoint.id, ["*"])
    trimmed = await service.toggle_event(owner, everything.id, "message.read")
    assert trimmed.events == {t.value for t in EventType} - {"message.read"}


def test_payload_bodies_are_the_same_bytes_on_every_retry() -> None:
    from bot.services.webhooks import body_of
    from bot.storage.webhooks import Event

    event = Event(7, 1, "message.sent", json.dumps({"a": "ə"}), 1_764_061_200.25)
    assert body_of(event) == body_of(event)
    assert json.loads(body_of(event)) == {"id": "evt_7", "type": "message.sent",
                                          "created_at": "2025-11-25T09:00:00.250Z",
                                          "data": {"a": "ə"}}


# --- what the services emit ------------------------------------------------------------------

async def add_sender(db: Database, clock, owner_id: int) -> int:
    from bot.domain import SenderStatus
    from bot.storage import senders

    async with db.transaction() as tx:
        sender = await senders.add(tx, owner_id=owner_id, gateway="sandbox",
                                   phone="+994550000001", status=SenderStatus.ACTIVE,
                                   now=clock())
    return sender.id


async def test_a_stop_reply_is_a_reply_event_then_an_opt_out_event(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    from bot.services.replies import RepliesService

    owner = await add_owner(db, clock, 1)
    sender = await add_sender(db, clock, owner)
    await endpoint_for(service, receiver, owner)
    replies = RepliesService(db, clock=clock, webhooks=service)
    assert await replies.handle(sender, "+994501234567", "Hello, when do you open?") == "ignored"
    assert await replies.handle(sender, "+994501234567", "STOP") == "opted_out"
    assert await replies.handle(sender, "+994501234567", "stop") == "opted_out"  # again
    await service.tick()
    events = receiver.events()
    assert [e["type"] for e in events] == ["reply.received", "reply.received",
                                           "contact.opted_out", "reply.received"]
    assert events[0]["data"] | {"at": None} == {"sender_id": sender, "phone": "+994501234567",
                                                "text": "Hello, when do you open?", "at": None}
    assert events[2]["data"]["reason"] == "replied STOP"


async def test_replies_write_nothing_for_an_owner_without_endpoints(
        db: Database, service: WebhooksService, clock) -> None:
    from bot.services.replies import RepliesService

    owner = await add_owner(db, clock, 1)
    sender = await add_sender(db, clock, owner)
    replies = RepliesService(db, clock=clock, webhooks=service)
    commits = db.commits
    assert await replies.handle(sender, "+994501234567", "Thanks!") == "ignored"
    assert db.commits == commits + 1  # one transaction: the reply kept (issue 19), no event
    async with db.reader.execute("SELECT COUNT(*) FROM webhook_events WHERE owner_id = ?",
                                 (owner,)) as cur:
        assert (await cur.fetchone())[0] == 0


async def test_an_opt_out_in_the_chat_or_by_api_is_an_event_once(
        db: Database, service: WebhooksService, receiver: Receiver, clock) -> None:
    from bot.services.contacts import ContactsConfig, ContactsService

    owner = await add_owner(db, clock, 1)
    await endpoint_for(service, receiver, owner)
    contacts_service = ContactsService(db, ContactsConfig(default_region="AZ"), clock,
                                       webhooks=service)
    await contacts_service.opt_out(owner, "050 123 45 67", "asked by phone")
    await contacts_service.opt_out(owner, "+994501234567", "again")  # already out
    await service.tick()
    [event] = receiver.events()
    assert event["type"] == "contact.opted_out"
    assert (event["data"]["phone"], event["data"]["reason"]) == ("+994501234567",
                                                                 "asked by phone")


def test_a_signing_secret_never_reaches_a_log() -> None:
    from bot.logs import Redactor

    secret = "whsec_" + "A1b2C3d4" * 5
    assert secret not in Redactor()(f"created endpoint with {secret} for owner 3")


# --- README's checks of a signature, run against ours ---------------------------------------

def readme_snippet(language: str) -> str:
    import re
    import textwrap
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")
    section = text[text.index("### Webhooks"):text.index("## Reliability and security")]
    found = re.search(rf"```{language}\n(.*?)```", section, re.S)
    assert found is not None, f"README's Webhooks has no {language} block"
    return textwrap.dedent(found.group(1))


def test_the_readmes_python_check_accepts_our_signature_and_nothing_else() -> None:
    import time

    namespace: dict = {}
    exec(readme_snippet("python"), namespace)
    verified = namespace["verified"]
    body = b'{"id":"evt_1","type":"message.sent","data":{"phone":"+994501234567"}}'
    now = int(time.time())
    header = signature_header("whsec_abc", now, body)
    assert verified("whsec_abc", header, body)
    assert not verified("whsec_abc", header, body + b" ")
    assert not verified("whsec_abd", header, body)
    assert not verified("whsec_abc", signature_header("whsec_abc", now - 3600, body), body)
    assert not verified("whsec_abc", "v1=" + "0" * 64, body)


def test_the_readmes_javascript_check_accepts_our_signature_and_nothing_else() -> None:
    import shutil
    import subprocess
    import time

    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    body = '{"id":"evt_1","type":"message.sent","data":{"text":"Salam, ə"}}'
    header = signature_header("whsec_abc", int(time.time()), body.encode())
    script = readme_snippet("js") + f"""
const body = Buffer.from({json.dumps(body)}, "utf8");
const header = {json.dumps(header)};
process.stdout.write(JSON.stringify([
  verified("whsec_abc", header, body),
  verified("whsec_abc", header, Buffer.concat([body, Buffer.from(" ")])),
  verified("whsec_abd", header, body),
  verified("whsec_abc", "v1=abc", body),
]));
"""
    shown = subprocess.run([node, "-e", script], capture_output=True, text=True, timeout=60,
                           check=True)
    assert json.loads(shown.stdout) == [True, False, False, False]
