"""The WAHA adapter against a fake WAHA over real HTTP: requests, answers, every mapping."""

from __future__ import annotations

import asyncio
import base64
import functools
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from bot.gateways.base import (
    ErrorCategory,
    GatewayError,
    Media,
    SenderRef,
    SenderState,
    WhatsAppGateway,
)
from bot.gateways.http import AiohttpTransport
from bot.gateways.waha import WahaConfig, WahaGateway
from tests.fakes import FakeClock
from tests.gateways.fake_waha import FakeWaha, FakeWahaServer, serve_fake_waha

KEY = "waha-key-7f3c9a51d2"
SHOP = SenderRef(sender_id=7, phone="+994500000001", external_id="shop")
TO = "+994501234567"
TO_CHAT = "994501234567@c.us"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32

Category = ErrorCategory


@pytest.fixture(scope="module")
def waha_server() -> Iterator[FakeWaha]:
    with FakeWahaServer(FakeWaha(api_key=KEY)) as fake:
        yield fake


@pytest.fixture
def waha(waha_server: FakeWaha) -> FakeWaha:
    waha_server.reset()
    waha_server.add_session("shop")
    return waha_server


@functools.cache
def tls() -> ssl.SSLContext:
    """One TLS context for every client: building one costs ~50 ms (the CA bundle)."""
    return ssl.create_default_context()


TRANSPORTS = ("httpcore", "aiohttp")  # httpx's own stack; the default client's


def new_client(kind: str = "httpcore", **options: Any) -> httpx.AsyncClient:
    """A client on httpx's own transport or on the aiohttp one the adapters default to."""
    if kind == "aiohttp":
        limits = options.pop("limits", httpx.Limits(max_connections=100))
        options["transport"] = AiohttpTransport(verify=tls(), limits=limits)
    return httpx.AsyncClient(verify=tls(), **options)


# aiohttp sends an idempotent request (GET, DELETE) once more when a reused keep-alive
# connection is dropped without an answer (RFC 9112, 9.3.1): a read fails on two drops.
READ_DROPS = {"httpcore": 1, "aiohttp": 2}


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def client(transport: str) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(transport) as http:
        yield http


def make_gateway(
    url: str, client: httpx.AsyncClient | None, clock: FakeClock, *,
    key: str | None = KEY, timeout: float = 2.0,
) -> WahaGateway:
    return WahaGateway(WahaConfig(url, key, timeout=timeout), client, clock=clock)


@pytest.fixture
def gateway(waha: FakeWaha, client: httpx.AsyncClient, clock: FakeClock) -> WahaGateway:
    return make_gateway(waha.url, client, clock)


async def failure(call: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await call
    return caught.value


def epoch(clock: FakeClock, **delta: float) -> int:
    return int((clock.now + timedelta(**delta)).timestamp())


# -- sending ---------------------------------------------------------------------------


async def test_implements_the_gateway_protocol(gateway: WahaGateway) -> None:
    assert isinstance(gateway, WhatsAppGateway)
    assert gateway.kind == "waha"


async def test_send_text_posts_session_chat_id_and_text_with_the_api_key(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock
) -> None:
    result = await gateway.send_text(SHOP, TO, "Salam, Aysel!")

    [request] = waha.requests
    assert (request.method, request.path) == ("POST", "/api/sendText")
    assert request.body == {"session": "shop", "chatId": TO_CHAT, "text": "Salam, Aysel!"}
    assert request.headers["x-api-key"] == KEY
    assert result.message_id == request.response["id"]
    assert result.message_id.startswith(f"true_{TO_CHAT}_")
    assert result.accepted_at == clock.now


@pytest.mark.parametrize("style", ["gows", "webjs", "noweb"])
async def test_message_id_is_the_one_webhooks_will_use_whatever_the_engine(
    gateway: WahaGateway, waha: FakeWaha, style: str
) -> None:
    waha.id_style = style
    first = await gateway.send_text(SHOP, TO, "one")
    second = await gateway.send_text(SHOP, TO, "two")
    assert first.message_id == f"true_{TO_CHAT}_3EB0{1:018X}"
    assert second.message_id == f"true_{TO_CHAT}_3EB0{2:018X}"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (201, None),  # WEBJS 2025.6: 201 and an empty body
        (201, b"<html>ok</html>"),
        (201, {"status": "PENDING"}),
        (201, {"id": ""}),
        (200, {"id": {"fromMe": True}}),
        (201, ["true_994501234567@c.us_X"]),
    ],
)
async def test_accepted_without_a_readable_id_is_uncertain_never_success(
    gateway: WahaGateway, waha: FakeWaha, status: int, body: Any
) -> None:
    waha.fail_next(status, body)
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert error.category is Category.UNCERTAIN
    assert len(waha.sent()) == 1  # it did reach WAHA: that is why it is not retried


@pytest.mark.parametrize(
    ("phone", "expected"),
    [("+994501234567", "994501234567@c.us"), ("+14155550123", "14155550123@c.us"),
     (" +447911123456 ", "447911123456@c.us"), ("994501234567", "994501234567@c.us")],
)
async def test_chat_id_is_the_international_number_without_plus_at_c_us(
    gateway: WahaGateway, waha: FakeWaha, phone: str, expected: str
) -> None:
    await gateway.send_text(SHOP, phone, "hi")
    assert waha.requests[-1].body["chatId"] == expected


@pytest.mark.parametrize("phone", ["", "+", "0501234567", "+9945012", "+994 50 123 45 67",
                                   "+9945012345678901", "not a number"])
async def test_a_number_that_is_not_e164_is_refused_before_any_request(
    gateway: WahaGateway, waha: FakeWaha, phone: str
) -> None:
    error = await failure(gateway.send_text(SHOP, phone, "hi"))
    assert error.category is Category.RECIPIENT_INVALID
    assert waha.requests == []


async def test_empty_text_and_a_sender_without_session_send_nothing(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    assert (await failure(gateway.send_text(SHOP, TO, "  \n"))).category is Category.REJECTED
    unlinked = SenderRef(sender_id=8, phone="+994500000002")
    error = await failure(gateway.send_text(unlinked, TO, "hi"))
    assert error.category is Category.SENDER_BANNED
    assert "not linked" in error.detail
    assert waha.requests == []


async def test_image_bytes_go_to_send_image_as_base64_with_caption(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    result = await gateway.send_media(
        SHOP, TO, Media("image", data=PNG, filename="promo.png"), caption="Endirim 20%"
    )

    [request] = waha.requests
    assert request.path == "/api/sendImage"
    assert request.body["session"] == "shop"
    assert request.body["chatId"] == TO_CHAT
    assert request.body["caption"] == "Endirim 20%"
    file = request.body["file"]
    assert base64.b64decode(file["data"], validate=True) == PNG
    assert file["mimetype"] == "image/png"  # recognised from the bytes
    assert file["filename"] == "promo.png"
    assert "url" not in file
    assert result.message_id.startswith("true_")


async def test_document_url_goes_to_send_file_with_name_and_type_from_the_url(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    url = "https://cdn.example.az/files/price-list.pdf"
    await gateway.send_media(SHOP, TO, Media("document", url=url))

    [request] = waha.requests
    assert request.path == "/api/sendFile"
    assert request.body["file"] == {
        "url": url, "mimetype": "application/pdf", "filename": "price-list.pdf",
    }
    assert "caption" not in request.body


async def test_media_prefers_bytes_over_url_and_keeps_a_given_mimetype(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    media = Media("document", url="https://x.example/menu", data=b"a;b\n1;2\n",
                  mimetype="text/csv", filename="menu.csv")
    await gateway.send_media(SHOP, TO, media, caption="")

    body = waha.requests[-1].body
    assert set(body["file"]) == {"data", "mimetype", "filename"}  # never both url and data
    assert body["file"]["mimetype"] == "text/csv"
    assert "caption" not in body


async def test_media_type_is_guessed_from_the_file_name_when_bytes_say_nothing(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    await gateway.send_media(SHOP, TO, Media("document", data=b"PK\x03\x04...",
                                             filename="menu.xlsx"))
    assert waha.requests[-1].body["file"]["mimetype"] == (
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@pytest.mark.parametrize("media", [Media("video", data=PNG), Media("image"),
                                   Media("document", data=b"")])
async def test_unsendable_media_is_rejected_before_any_request(
    gateway: WahaGateway, waha: FakeWaha, media: Media
) -> None:
    error = await failure(gateway.send_media(SHOP, TO, media, caption="x"))
    assert error.category is Category.REJECTED
    assert waha.requests == []


# -- checking numbers ------------------------------------------------------------------


async def test_check_number_asks_check_exists_with_digits_and_session(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.not_on_whatsapp.add("994507654321")

    yes = await gateway.check_number(SHOP, TO)
    no = await gateway.check_number(SHOP, "+994507654321")

    assert (yes.phone, yes.on_whatsapp) == (TO, True)
    assert (no.phone, no.on_whatsapp) == ("+994507654321", False)
    assert [(r.method, r.path, r.query) for r in waha.requests] == [
        ("GET", "/api/contacts/check-exists", {"phone": "994501234567", "session": "shop"}),
        ("GET", "/api/contacts/check-exists", {"phone": "994507654321", "session": "shop"}),
    ]


async def test_check_number_of_a_non_number_is_false_without_asking(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    assert (await gateway.check_number(SHOP, "call me")).on_whatsapp is False
    assert waha.requests == []


@pytest.mark.parametrize("body", [{"chatId": "x@c.us"}, {"numberExists": "yes"}, b"<html>",
                                  None])
async def test_check_number_with_an_unreadable_answer_is_transient_not_a_guess(
    gateway: WahaGateway, waha: FakeWaha, body: Any
) -> None:
    waha.fail_next(200, body)
    assert (await failure(gateway.check_number(SHOP, TO))).category is Category.TRANSIENT


async def test_check_number_through_a_failed_session_says_the_sender_is_banned(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.sessions["shop"].status = "FAILED"
    error = await failure(gateway.check_number(SHOP, TO))
    assert error.category is Category.SENDER_BANNED


# -- sender status ---------------------------------------------------------------------


async def test_a_working_session_without_restrictions_is_working(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    health = await gateway.sender_status(SHOP)
    assert health.state is SenderState.WORKING
    assert health.until is None
    assert [r.path for r in waha.requests] == [
        "/api/sessions/shop", "/api/sessions/shop/capping", "/api/sessions/shop/timelock",
    ]


async def test_capped_session_is_restricted_until_the_cycle_ends(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock
) -> None:
    waha.sessions["shop"].capping_status = "CAPPED"
    waha.sessions["shop"].cycle_end = epoch(clock, days=3)

    health = await gateway.sender_status(SHOP)

    assert health.state is SenderState.RESTRICTED
    assert health.until == clock.now + timedelta(days=3)
    assert "CAPPED" in health.detail


async def test_an_active_timelock_is_restricted_and_the_later_end_wins(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock
) -> None:
    session = waha.sessions["shop"]
    session.timelock_active, session.timelock_ends = True, epoch(clock, hours=2)
    assert (await gateway.sender_status(SHOP)).until == clock.now + timedelta(hours=2)

    session.capping_status, session.cycle_end = "CAPPED", epoch(clock, hours=5)
    health = await gateway.sender_status(SHOP)
    assert health.state is SenderState.RESTRICTED
    assert health.until == clock.now + timedelta(hours=5)

    session.timelock_ends = None  # WhatsApp did not say when: the end is unknown
    health = await gateway.sender_status(SHOP)
    assert (health.state, health.until) == (SenderState.RESTRICTED, None)


async def test_restrictions_that_already_ended_do_not_restrict(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock
) -> None:
    session = waha.sessions["shop"]
    session.capping_status, session.cycle_end = "CAPPED", epoch(clock, minutes=-1)
    session.timelock_active, session.timelock_ends = True, epoch(clock, seconds=-5)
    assert (await gateway.sender_status(SHOP)).state is SenderState.WORKING


async def test_a_capping_warning_is_still_working_with_the_quota_in_the_detail(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.sessions["shop"].capping_status = "SECOND_WARNING"
    waha.sessions["shop"].used_quota = 940
    health = await gateway.sender_status(SHOP)
    assert health.state is SenderState.WORKING
    assert "SECOND_WARNING" in health.detail and "940/1000" in health.detail


async def test_the_capping_status_is_reported_as_it_moves_mid_campaign(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock
) -> None:
    session = waha.sessions["shop"]
    assert (await gateway.sender_status(SHOP)).capping == "NONE"
    for level in ("FIRST_WARNING", "SECOND_WARNING"):
        session.capping_status = level
        health = await gateway.sender_status(SHOP)
        assert (health.state, health.capping) == (SenderState.WORKING, level)
    session.capping_status, session.cycle_end = "CAPPED", epoch(clock, hours=6)
    health = await gateway.sender_status(SHOP)
    assert (health.state, health.capping, health.until) == (
        SenderState.RESTRICTED, "CAPPED", clock.now + timedelta(hours=6))


async def test_without_capping_endpoints_the_session_info_is_used(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock
) -> None:
    session = waha.sessions["shop"]
    session.capping_supported = False  # an older WAHA: 404 "Cannot GET"
    session.capping_status, session.cycle_end = "CAPPED", epoch(clock, days=1)

    health = await gateway.sender_status(SHOP)

    assert health.state is SenderState.RESTRICTED
    assert health.until == clock.now + timedelta(days=1)


@pytest.mark.parametrize(
    ("status", "state"),
    [("FAILED", SenderState.BANNED), ("STOPPED", SenderState.STOPPED),
     ("STARTING", SenderState.LINKING), ("SCAN_QR_CODE", SenderState.LINKING),
     ("PASSKEY_REQUIRED", SenderState.LINKING), ("SOMETHING_NEW", SenderState.STOPPED)],
)
async def test_session_status_maps_to_sender_state(
    gateway: WahaGateway, waha: FakeWaha, status: str, state: SenderState
) -> None:
    waha.sessions["shop"].status = status
    health = await gateway.sender_status(SHOP)
    assert health.state is state
    assert [r.path for r in waha.requests] == ["/api/sessions/shop"]  # no restriction calls


async def test_qr_asked_again_for_a_session_that_worked_means_logged_out(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    assert (await gateway.sender_status(SHOP)).state is SenderState.WORKING
    waha.sessions["shop"].status = "SCAN_QR_CODE"
    health = await gateway.sender_status(SHOP)
    assert health.state is SenderState.BANNED
    assert "logged out" in health.detail


async def test_a_session_that_sent_or_is_remembered_counts_as_linked(
    waha: FakeWaha, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    sent = make_gateway(waha.url, client, clock)
    await sent.send_text(SHOP, TO, "hi")
    restarted = make_gateway(waha.url, client, clock)
    restarted.remember_linked("shop")
    waha.sessions["shop"].status = "SCAN_QR_CODE"
    for gateway in (sent, restarted):
        assert (await gateway.sender_status(SHOP)).state is SenderState.BANNED


async def test_an_unknown_session_is_banned_because_the_number_is_not_linked(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    health = await gateway.sender_status(SenderRef(9, "+994500000009", "gone"))
    assert health.state is SenderState.BANNED
    assert "not linked" in health.detail


async def test_sender_status_raises_what_it_cannot_read(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.fail_next(200, {"name": "shop"}, path="/api/sessions/shop")
    assert (await failure(gateway.sender_status(SHOP))).category is Category.TRANSIENT
    waha.fail_next(503, {"message": "busy"}, path="/api/sessions/shop/capping")
    assert (await failure(gateway.sender_status(SHOP))).category is Category.TRANSIENT
    waha.fail_next(200, b"[1, 2]", path="/api/sessions/shop/timelock")
    assert (await failure(gateway.sender_status(SHOP))).category is Category.TRANSIENT


# -- WAHA's answers -> error categories ------------------------------------------------


async def test_failed_session_send_is_sender_banned(
    gateway: WahaGateway, waha: FakeWaha
) -> None:
    waha.sessions["shop"].status = "FAILED"
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert error.category is Category.SENDER_BANNED
    assert "FAILED" in error.detail


async def test_error_463_is_restricted_with_the_time_it_lifts(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock
) -> None:
    session = waha.sessions["shop"]
    session.timelock_active, session.timelock_ends = True, epoch(clock, hours=6)

    error = await failure(gateway.send_text(SHOP, TO, "hi"))

    assert error.category is Category.SENDER_RESTRICTED
    assert "463" in error.detail
    assert error.retry_after == pytest.approx(6 * 3600)
    assert [r.path for r in waha.requests] == [
        "/api/sendText", "/api/sessions/shop/capping", "/api/sessions/shop/timelock",
    ]


async def test_capped_send_is_restricted_and_the_lift_time_is_best_effort(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock, transport: str
) -> None:
    waha.sessions["shop"].capping_status = "CAPPED"
    waha.sessions["shop"].cycle_end = epoch(clock, days=2)
    error = await failure(gateway.send_media(SHOP, TO, Media("image", data=PNG)))
    assert error.category is Category.SENDER_RESTRICTED
    assert error.retry_after == pytest.approx(2 * 86400)

    # cannot learn when: still restricted
    waha.drop_next(path="/api/sessions/shop/capping", times=READ_DROPS[transport])
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert (error.category, error.retry_after) == (Category.SENDER_RESTRICTED, None)


def _422(status: str) -> dict[str, Any]:
    return {"error": "Session status is not as expected. Try again later or restart the "
            "session", "session": "shop", "status": status, "expected": ["WORKING"]}


ANSWERS: list[tuple[int, Any, dict[str, str], ErrorCategory, ErrorCategory]] = [
    # status, body, headers, category for a send, category for a read (check_number)
    (400, {"statusCode": 400, "message": "Invalid chatId '994501234567@c.us'"}, {},
     Category.RECIPIENT_INVALID, Category.RECIPIENT_INVALID),
    (400, {"statusCode": 400, "message": "The number is not on WhatsApp"}, {},
     Category.RECIPIENT_INVALID, Category.RECIPIENT_INVALID),
    (400, {"statusCode": 400, "message": ["text must be a string"]}, {},
     Category.REJECTED, Category.REJECTED),
    (401, {"message": "Unauthorized", "statusCode": 401}, {},
     Category.REJECTED, Category.REJECTED),
    (403, {"message": "Forbidden resource"}, {}, Category.REJECTED, Category.REJECTED),
    (404, {"message": "We didn't find a session with name 'shop'."}, {},
     Category.SENDER_BANNED, Category.SENDER_BANNED),
    (404, {"message": "Cannot POST /api/sendText", "error": "Not Found"}, {},
     Category.REJECTED, Category.REJECTED),
    (408, None, {}, Category.TRANSIENT, Category.TRANSIENT),
    (409, {"message": "conflict"}, {}, Category.REJECTED, Category.REJECTED),
    (413, b"request entity too large", {}, Category.REJECTED, Category.REJECTED),
    (422, _422("FAILED"), {}, Category.SENDER_BANNED, Category.SENDER_BANNED),
    (422, _422("STOPPED"), {}, Category.SENDER_BANNED, Category.SENDER_BANNED),
    (422, _422("SCAN_QR_CODE"), {}, Category.SENDER_BANNED, Category.SENDER_BANNED),
    (422, _422("STARTING"), {}, Category.TRANSIENT, Category.TRANSIENT),
    (422, {"statusCode": 422, "message": "The session under FAILED status. Please try to "
           "restart it.", "error": "Unprocessable Entity"}, {},
     Category.SENDER_BANNED, Category.SENDER_BANNED),
    (429, {"message": "Too Many Requests"}, {"Retry-After": "7"},
     Category.RATE_LIMITED, Category.RATE_LIMITED),
    (500, {"statusCode": 500, "exception": {"message": "2 UNKNOWN: server returned error 463"}},
     {}, Category.SENDER_RESTRICTED, Category.SENDER_RESTRICTED),
    (500, {"statusCode": 500, "exception": {"message": "Evaluation failed: t"}}, {},
     Category.TRANSIENT, Category.TRANSIENT),
    (502, b"<html>Bad Gateway</html>", {}, Category.TRANSIENT, Category.TRANSIENT),
    (503, {"message": "Service Unavailable"}, {}, Category.TRANSIENT, Category.TRANSIENT),
    (504, b"Gateway Time-out", {}, Category.UNCERTAIN, Category.TRANSIENT),
    (302, None, {"Location": "/login"}, Category.REJECTED, Category.REJECTED),
]


@pytest.mark.parametrize(
    ("status", "body", "headers", "on_send", "on_read"), ANSWERS,
    ids=[f"{a[0]}-{i}" for i, a in enumerate(ANSWERS)],
)
async def test_every_waha_answer_maps_to_its_category(
    gateway: WahaGateway, waha: FakeWaha, status: int, body: Any, headers: dict[str, str],
    on_send: ErrorCategory, on_read: ErrorCategory,
) -> None:
    waha.fail_next(status, body, headers=headers, path="/api/sendText")
    waha.fail_next(status, body, headers=headers, path="/api/contacts/check-exists")

    sent = await failure(gateway.send_text(SHOP, TO, "hi"))
    read = await failure(gateway.check_number(SHOP, TO))

    assert (sent.category, read.category) == (on_send, on_read)
    assert str(sent).startswith(str(on_send))
    if status in (401, 403):
        assert sent.detail.startswith("auth")


async def test_rate_limit_carries_retry_after_in_seconds_or_as_a_date(
    gateway: WahaGateway, waha: FakeWaha, clock: FakeClock
) -> None:
    waha.fail_next(429, {"message": "slow down"}, headers={"Retry-After": "12"})
    assert (await failure(gateway.send_text(SHOP, TO, "hi"))).retry_after == 12.0

    date = "Wed, 25 Nov 2026 09:01:30 GMT"  # the fake clock is 09:00:00 UTC
    waha.fail_next(429, {"message": "slow down"}, headers={"Retry-After": date})
    assert (await failure(gateway.send_text(SHOP, TO, "hi"))).retry_after == 90.0

    waha.fail_next(429, {"message": "slow down"})
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert (error.category, error.retry_after) == (Category.RATE_LIMITED, None)


# -- the network -----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_is_transient_nothing_was_sent(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    gateway = make_gateway(f"http://127.0.0.1:{_closed_port()}", client, clock)
    for call in (gateway.send_text(SHOP, TO, "hi"), gateway.check_number(SHOP, TO),
                 gateway.sender_status(SHOP)):
        error = await failure(call)
        assert error.category is Category.TRANSIENT
        assert "ConnectError" in error.detail


async def test_read_timeout_after_sending_is_uncertain_and_the_request_did_arrive(
    waha: FakeWaha, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    gateway = make_gateway(waha.url, client, clock, timeout=0.5)
    waha.delay_next(1.5, path="/api/sendText")

    error = await failure(gateway.send_text(SHOP, TO, "hi"))

    assert error.category is Category.UNCERTAIN
    assert "ReadTimeout" in error.detail
    assert len(waha.sent()) == 1


async def test_read_timeout_on_a_read_is_transient(
    waha: FakeWaha, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    gateway = make_gateway(waha.url, client, clock, timeout=0.5)
    waha.delay_next(1.5)
    assert (await failure(gateway.check_number(SHOP, TO))).category is Category.TRANSIENT
    waha.delay_next(1.5)
    assert (await failure(gateway.sender_status(SHOP))).category is Category.TRANSIENT


async def test_connection_dropped_without_answer_is_uncertain_for_a_send(
    gateway: WahaGateway, waha: FakeWaha, transport: str
) -> None:
    waha.drop_next(path="/api/sendImage")
    error = await failure(gateway.send_media(SHOP, TO, Media("image", data=PNG)))
    assert error.category is Category.UNCERTAIN
    assert "RemoteProtocolError" in error.detail
    assert len(waha.sent()) == 1

    waha.drop_next(times=READ_DROPS[transport])  # a POST is never sent again by itself
    assert (await failure(gateway.check_number(SHOP, TO))).category is Category.TRANSIENT


# aiohttp warns that a body of more than 1 MB given as bytes is written in one go
@pytest.mark.filterwarnings("ignore:Sending a large body:ResourceWarning")
async def test_a_send_whose_upload_stalls_times_out_as_uncertain(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    """A WAHA that accepts the connection but stops reading the request: the send ends
    (aiohttp has no write timeout of its own) and may have arrived."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)  # the kernel accepts; nobody reads
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        gateway = make_gateway(url, client, clock, timeout=0.2)
        big = Media("image", data=PNG + bytes(12_000_000))
        async with asyncio.timeout(5):
            error = await failure(gateway.send_media(SHOP, TO, big))
    assert error.category is Category.UNCERTAIN
    assert "WriteTimeout" in error.detail


async def test_waiting_for_a_pooled_connection_times_out_as_transient(
    waha: FakeWaha, clock: FakeClock, transport: str
) -> None:
    limits = httpx.Limits(max_connections=1)
    async with new_client(transport, limits=limits) as shared:
        slow = make_gateway(waha.url, shared, clock, timeout=3.0)
        hasty = make_gateway(waha.url, shared, clock, timeout=0.1)
        waha.delay_next(0.3, path="/api/sendText")
        first = asyncio.create_task(slow.send_text(SHOP, TO, "first"))
        async with asyncio.timeout(2):
            # the server's thread records it: no event of this loop to wait on
            while not waha.sent():  # noqa: ASYNC110
                await asyncio.sleep(0.01)

        error = await failure(hasty.send_text(SHOP, TO, "second"))

        assert error.category is Category.TRANSIENT
        # aiohttp's one "connect" timeout covers the pool wait: ConnectTimeout, same category
        assert ("PoolTimeout" if transport == "httpcore" else "ConnectTimeout") in error.detail
        assert "nothing sent" in error.detail
        assert (await first).message_id
        assert [r.body["text"] for r in waha.sent()] == ["first"]  # "second" never left


SEND_SIDE = [
    (httpx.ConnectTimeout, Category.TRANSIENT, Category.TRANSIENT),
    (httpx.ConnectError, Category.TRANSIENT, Category.TRANSIENT),
    (httpx.PoolTimeout, Category.TRANSIENT, Category.TRANSIENT),
    (httpx.ProxyError, Category.TRANSIENT, Category.TRANSIENT),
    (httpx.WriteTimeout, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.ReadTimeout, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.WriteError, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.ReadError, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.RemoteProtocolError, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.CloseError, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.DecodingError, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.LocalProtocolError, Category.REJECTED, Category.REJECTED),
    (httpx.UnsupportedProtocol, Category.REJECTED, Category.REJECTED),
]


@pytest.mark.parametrize(("exc", "on_send", "on_read"), SEND_SIDE,
                         ids=[e[0].__name__ for e in SEND_SIDE])
async def test_every_transport_failure_maps_to_its_category(
    clock: FakeClock, exc: type[httpx.HTTPError], on_send: ErrorCategory,
    on_read: ErrorCategory,
) -> None:
    """The failures a real socket cannot be made to produce on cue, via a transport."""

    def explode(request: httpx.Request) -> httpx.Response:
        raise exc("simulated", request=request)  # type: ignore[call-arg]

    async with new_client(transport=httpx.MockTransport(explode)) as mocked:
        gateway = make_gateway("http://waha.invalid", mocked, clock)
        sent = await failure(gateway.send_text(SHOP, TO, "hi"))
        read = await failure(gateway.check_number(SHOP, TO))
    assert (sent.category, read.category) == (on_send, on_read)
    assert isinstance(sent.__cause__, exc)


# -- secrets, logs, lifecycle ----------------------------------------------------------


async def test_the_api_key_is_never_in_logs_errors_or_the_config_repr(
    waha: FakeWaha, client: httpx.AsyncClient, clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    config = WahaConfig(waha.url, KEY, timeout=2.0)
    gateway = WahaGateway(config, client, clock=clock)
    wrong = make_gateway(waha.url, client, clock, key=KEY[::-1])
    waha.fail_next(500, {"message": f"header X-Api-Key={KEY} refused"})

    errors = [await failure(gateway.send_text(SHOP, TO, "secret offer for Aysel")),
              await failure(wrong.send_text(SHOP, TO, "secret offer for Aysel"))]
    await gateway.send_text(SHOP, TO, "secret offer for Aysel")

    assert [e.category for e in errors] == [Category.TRANSIENT, Category.REJECTED]
    assert errors[0].detail.endswith("header X-Api-Key=*** refused")
    for text in (*map(str, errors), *(e.detail for e in errors), repr(config), caplog.text):
        assert KEY not in text and KEY[::-1] not in text
    assert "secret offer" not in caplog.text
    assert "WAHA POST /api/sendText: HTTP 401 -> rejected" in caplog.text


async def test_without_an_api_key_no_header_is_sent(
    waha: FakeWaha, client: httpx.AsyncClient, clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(waha, "api_key", None)
    await make_gateway(waha.url, client, clock, key=None).send_text(SHOP, TO, "hi")
    assert "x-api-key" not in waha.requests[-1].headers


async def test_a_base_url_with_a_prefix_and_slash_is_joined_cleanly(
    waha: FakeWaha, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await make_gateway(waha.url + "/", client, clock).send_text(SHOP, TO, "hi")
    assert waha.requests[-1].path == "/api/sendText"
    with pytest.raises(ValueError, match="http"):
        WahaConfig("waha:3000")
    with pytest.raises(ValueError, match="timeout"):
        WahaConfig("http://waha:3000", timeout=0)


async def test_close_leaves_an_injected_client_open_and_refuses_later_calls(
    gateway: WahaGateway, client: httpx.AsyncClient, waha: FakeWaha
) -> None:
    await gateway.close()
    assert not client.is_closed
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert error.category is Category.TRANSIENT
    assert waha.requests == []


async def test_a_gateway_without_a_client_makes_one_and_closes_it(
    waha: FakeWaha, clock: FakeClock
) -> None:
    gateway = make_gateway(waha.url, None, clock)
    assert (await gateway.send_text(SHOP, TO, "hi")).message_id
    await gateway.close()
    assert gateway._client.is_closed  # its own client: released


async def test_serve_fake_waha_fast_mode_counts_without_recording(
    clock: FakeClock, transport: str
) -> None:
    async with serve_fake_waha(record=False) as fake, new_client(transport) as http:
        fake.add_session("shop")
        gateway = make_gateway(fake.url, http, clock, key=None)
        results = await asyncio.gather(*(gateway.send_text(SHOP, TO, f"#{i}")
                                         for i in range(20)))
    assert len({r.message_id for r in results}) == 20
    assert fake.counts["/api/sendText"] == 20
    assert fake.requests == []


# -- customers' attachments ------------------------------------------------------------


async def test_a_customers_attachment_is_fetched_from_the_configured_waha_with_the_key(
    waha: FakeWaha, gateway: WahaGateway,
) -> None:
    url = waha.add_file("shop/false_994501234567@c.us_3A01.jpeg", PNG, "image/png")
    assert url.startswith("http://localhost:3000/")  # WAHA's own idea of its address
    media = await gateway.download_media(SHOP, url)
    assert (media.data, media.mimetype, media.kind) == (PNG, "image/png", "image")
    [fetch] = waha.requests
    assert fetch.path == "/api/files/shop/false_994501234567@c.us_3A01.jpeg"
    assert fetch.headers["x-api-key"] == KEY


async def test_a_media_url_outside_waha_files_is_refused_before_any_request(
    waha: FakeWaha, gateway: WahaGateway,
) -> None:
    for ref in ("http://evil.example/steal", "http://localhost:3000/api/sessions/shop",
                "http://localhost:3000/api/files/../sessions", "geo:40.4,49.8"):
        error = await failure(gateway.download_media(SHOP, ref))
        assert error.category is Category.REJECTED
    assert waha.requests == []
    gone = await failure(gateway.download_media(SHOP, "http://x/api/files/shop/none.jpg"))
    assert gone.category is Category.REJECTED and "gone" in gone.detail
