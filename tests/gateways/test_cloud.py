"""The Cloud API adapter against a fake Cloud API over real HTTP: requests, every mapping."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
import ssl
from collections.abc import AsyncIterator, Iterator
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
from bot.gateways.cloud import CloudConfig, CloudGateway
from bot.gateways.http import AiohttpTransport
from tests.fakes import FakeClock
from tests.gateways.fake_cloud import FakeCloud, FakeCloudServer, graph_error

TOKEN = "EAAGqasidTestToken7f3c9a51d2ZZ"
OTHER_TOKEN = "EAAGotherNumberTokenX91"
NUMBER_ID = "106853218861309"
SHOP = SenderRef(sender_id=7, phone="+994500000001", external_id=NUMBER_ID)
TO = "+994501234567"
TO_DIGITS = "994501234567"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
MESSAGES = f"/v23.0/{NUMBER_ID}/messages"
MEDIA = f"/v23.0/{NUMBER_ID}/media"

Category = ErrorCategory


@pytest.fixture(scope="module")
def cloud_server() -> Iterator[FakeCloud]:
    with FakeCloudServer() as fake:
        yield fake


@pytest.fixture
def cloud(cloud_server: FakeCloud) -> FakeCloud:
    cloud_server.reset()
    cloud_server.add_number(NUMBER_ID, TOKEN)
    return cloud_server


@functools.cache
def tls() -> ssl.SSLContext:
    return ssl.create_default_context()


TRANSPORTS = ("httpcore", "aiohttp")  # httpx's own stack; the default client's


def new_client(kind: str = "httpcore", **options: Any) -> httpx.AsyncClient:
    """A client on httpx's own transport or on the aiohttp one the adapters default to."""
    if kind == "aiohttp":
        limits = options.pop("limits", httpx.Limits(max_connections=100))
        options["transport"] = AiohttpTransport(verify=tls(), limits=limits)
    return httpx.AsyncClient(verify=tls(), **options)


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
async def client(transport: str) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(transport) as http:
        yield http


def make_gateway(
    url: str, client: httpx.AsyncClient | None, clock: FakeClock, *,
    tokens: Any = None, timeout: float = 2.0, throughput: float = 10_000.0,
    spaced_by_clock: bool = False,
) -> CloudGateway:
    config = CloudConfig(base_url=url, timeout=timeout, throughput=throughput)
    spacing = {"monotonic": clock.monotonic, "sleep": clock.sleep} if spaced_by_clock else {}
    return CloudGateway(config, client, tokens=tokens if tokens is not None else {7: TOKEN},
                        clock=clock, **spacing)


@pytest.fixture
def gateway(cloud: FakeCloud, client: httpx.AsyncClient, clock: FakeClock) -> CloudGateway:
    return make_gateway(cloud.url, client, clock)


async def failure(call: Any) -> GatewayError:
    with pytest.raises(GatewayError) as caught:
        await call
    return caught.value


# -- sending ---------------------------------------------------------------------------


async def test_implements_the_gateway_protocol(gateway: CloudGateway) -> None:
    assert isinstance(gateway, WhatsAppGateway)
    assert gateway.kind == "cloud"


async def test_send_text_posts_the_message_with_the_senders_bearer_token(
    gateway: CloudGateway, cloud: FakeCloud, clock: FakeClock
) -> None:
    result = await gateway.send_text(SHOP, TO, "Salam, Aysel!")

    [request] = cloud.requests
    assert (request.method, request.path) == ("POST", MESSAGES)
    assert request.body == {"messaging_product": "whatsapp", "recipient_type": "individual",
                            "to": TO_DIGITS, "type": "text", "text": {"body": "Salam, Aysel!"}}
    assert request.headers["authorization"] == f"Bearer {TOKEN}"
    assert result.message_id == request.response["messages"][0]["id"]
    assert result.message_id.startswith("wamid.")
    assert result.accepted_at == clock.now


async def test_each_sender_uses_its_own_number_id_and_token_from_a_callable(
    cloud: FakeCloud, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cloud.add_number("222", OTHER_TOKEN)
    tokens = {7: TOKEN, 8: OTHER_TOKEN}
    gateway = make_gateway(cloud.url, client, clock, tokens=tokens.__getitem__)
    await gateway.send_text(SHOP, TO, "a")
    await gateway.send_text(SenderRef(8, "+994500000002", "222"), TO, "b")
    assert [(r.path, r.headers["authorization"]) for r in cloud.requests] == [
        (MESSAGES, f"Bearer {TOKEN}"), ("/v23.0/222/messages", f"Bearer {OTHER_TOKEN}")]


async def test_template_maps_variables_to_body_parameters_in_order(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    result = await gateway.send_template(SHOP, TO, "spring_sale", "az", ["Aysel", "20%"])

    body = cloud.requests[-1].body
    assert body["type"] == "template"
    assert body["template"] == {
        "name": "spring_sale", "language": {"code": "az"},
        "components": [{"type": "body", "parameters": [
            {"type": "text", "text": "Aysel"}, {"type": "text", "text": "20%"}]}],
    }
    assert result.message_id.startswith("wamid.")

    await gateway.send_template(SHOP, TO, "hello_world", "en_US", [])
    assert "components" not in cloud.requests[-1].body["template"]


async def test_image_by_link_sends_the_link_and_caption_without_upload(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    url = "https://cdn.example.az/promo.jpg"
    await gateway.send_media(SHOP, TO, Media("image", url=url), caption="Endirim 20%")
    [request] = cloud.requests
    assert request.path == MESSAGES
    assert request.body["type"] == "image"
    assert request.body["image"] == {"link": url, "caption": "Endirim 20%"}


async def test_document_bytes_are_uploaded_then_sent_by_media_id_with_filename(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    pdf = b"%PDF-1.7 price list"
    await gateway.send_media(SHOP, TO, Media("document", data=pdf, filename="qiymet.pdf"),
                             caption="Qiymətlər")

    upload, message = cloud.requests
    assert (upload.method, upload.path) == ("POST", MEDIA)
    assert upload.headers["authorization"] == f"Bearer {TOKEN}"
    assert upload.form == {"messaging_product": "whatsapp", "type": "application/pdf"}
    assert upload.files["file"] == ("qiymet.pdf", "application/pdf", pdf)
    assert message.body["type"] == "document"
    assert message.body["document"] == {"id": upload.response["id"], "caption": "Qiymətlər",
                                        "filename": "qiymet.pdf"}


async def test_image_bytes_type_is_recognised_and_images_carry_no_filename(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    await gateway.send_media(SHOP, TO, Media("image", data=PNG, filename="a.png"))
    upload, message = cloud.requests
    assert upload.files["file"][1] == "image/png"
    assert set(message.body["image"]) == {"id"}


async def test_a_failed_upload_sends_no_message_and_is_safe_to_retry(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    cloud.drop_next(path=MEDIA)
    error = await failure(gateway.send_media(SHOP, TO, Media("image", data=PNG)))
    assert error.category is Category.TRANSIENT  # an upload puts nothing on WhatsApp
    assert cloud.sent() == []


@pytest.mark.parametrize("style", ["empty", "garbage", "no_id"])
async def test_accepted_without_a_readable_id_is_uncertain_never_success(
    gateway: CloudGateway, cloud: FakeCloud, style: str
) -> None:
    cloud.id_style = style
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert error.category is Category.UNCERTAIN
    assert len(cloud.sent()) == 1


@pytest.mark.parametrize("phone", ["", "+", "0501234567", "+9945012", "not a number"])
async def test_a_number_that_is_not_e164_is_refused_before_any_request(
    gateway: CloudGateway, cloud: FakeCloud, phone: str
) -> None:
    assert (await failure(gateway.send_text(SHOP, phone, "hi"))).category is (
        Category.RECIPIENT_INVALID)
    assert cloud.requests == []


async def test_unsendable_requests_fail_before_any_request(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    assert (await failure(gateway.send_text(SHOP, TO, " "))).category is Category.REJECTED
    for media in (Media("video", data=PNG), Media("image"), Media("document", data=b"")):
        assert (await failure(gateway.send_media(SHOP, TO, media))).category is (
            Category.REJECTED)
    unlinked = SenderRef(7, "+994500000001")
    assert (await failure(gateway.send_text(unlinked, TO, "hi"))).category is (
        Category.SENDER_BANNED)
    tokenless = SenderRef(9, "+994500000009", NUMBER_ID)
    error = await failure(gateway.send_text(tokenless, TO, "hi"))
    assert (error.category, error.detail.startswith("auth")) == (Category.REJECTED, True)
    assert cloud.requests == []


# -- check_number and sender_status ----------------------------------------------------


async def test_check_number_cannot_ask_so_every_valid_number_is_assumed(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    assert (await gateway.check_number(SHOP, TO)).on_whatsapp is True
    assert (await gateway.check_number(SHOP, "call me")).on_whatsapp is False
    assert cloud.requests == []


@pytest.mark.parametrize(
    ("status", "quality", "state"),
    [("CONNECTED", "GREEN", SenderState.WORKING), ("CONNECTED", "YELLOW", SenderState.WORKING),
     ("CONNECTED", "RED", SenderState.RESTRICTED), ("FLAGGED", "GREEN", SenderState.RESTRICTED),
     ("RESTRICTED", "YELLOW", SenderState.RESTRICTED), ("BANNED", "RED", SenderState.BANNED),
     ("DISCONNECTED", "GREEN", SenderState.BANNED), ("PENDING", "NA", SenderState.LINKING)],
)
async def test_sender_status_maps_number_status_and_quality(
    gateway: CloudGateway, cloud: FakeCloud, status: str, quality: str, state: SenderState
) -> None:
    cloud.numbers[NUMBER_ID].status, cloud.numbers[NUMBER_ID].quality = status, quality
    assert (await gateway.sender_status(SHOP)).state is state
    [request] = cloud.requests
    assert (request.method, request.path) == ("GET", f"/v23.0/{NUMBER_ID}")
    assert set(request.query["fields"].split(",")) >= {"quality_rating", "status"}


async def test_sender_status_reports_quality_and_tier_as_they_change(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    number = cloud.numbers[NUMBER_ID]
    health = await gateway.sender_status(SHOP)
    assert (health.quality, health.tier) == ("GREEN", 1000)
    assert "messaging_limit_tier" in cloud.requests[-1].query["fields"].split(",")
    number.quality, number.tier = "YELLOW", "TIER_250"
    health = await gateway.sender_status(SHOP)
    assert (health.state, health.quality, health.tier) == (SenderState.WORKING, "YELLOW", 250)
    number.quality, number.tier = "RED", "TIER_UNLIMITED"
    health = await gateway.sender_status(SHOP)
    assert (health.state, health.quality, health.tier) == (SenderState.RESTRICTED, "RED", None)
    number.quality, number.tier = "UNKNOWN", "TIER_100K"
    health = await gateway.sender_status(SHOP)
    assert (health.quality, health.tier) == (None, 100_000)


async def test_sender_status_turns_ban_codes_into_health_and_raises_the_rest(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    cloud.fail_code(368, 403)
    assert (await gateway.sender_status(SHOP)).state is SenderState.BANNED
    cloud.fail_next(200, b"<html>")
    assert (await failure(gateway.sender_status(SHOP))).category is Category.TRANSIENT
    cloud.fail_code(190, 401)
    error = await failure(gateway.sender_status(SHOP))
    assert (error.category, error.detail[:4]) == (Category.REJECTED, "auth")


# -- Meta's errors -> categories -------------------------------------------------------

CODES: list[tuple[int, int, ErrorCategory]] = [
    (368, 403, Category.SENDER_BANNED), (131031, 400, Category.SENDER_BANNED),
    (130497, 400, Category.SENDER_BANNED), (131048, 400, Category.SENDER_RESTRICTED),
    (131026, 400, Category.RECIPIENT_INVALID), (130429, 400, Category.RATE_LIMITED),
    (131056, 400, Category.RATE_LIMITED), (4, 400, Category.RATE_LIMITED),
    (80007, 400, Category.RATE_LIMITED), (133016, 400, Category.RATE_LIMITED),
    (131049, 400, Category.RATE_LIMITED), (131064, 400, Category.RATE_LIMITED),
    (1, 500, Category.TRANSIENT), (2, 503, Category.TRANSIENT),
    (131000, 500, Category.TRANSIENT), (131016, 503, Category.TRANSIENT),
    (131047, 400, Category.REJECTED), (131050, 400, Category.REJECTED),
    (132000, 400, Category.REJECTED), (132001, 404, Category.REJECTED),
    (132016, 400, Category.REJECTED), (131008, 400, Category.REJECTED),
    (131009, 400, Category.REJECTED), (131051, 400, Category.REJECTED),
    (131052, 400, Category.REJECTED), (131053, 400, Category.REJECTED),
    (131030, 400, Category.REJECTED), (190, 401, Category.REJECTED),
    (10, 403, Category.REJECTED), (200, 403, Category.REJECTED),
    (299, 403, Category.REJECTED), (100, 400, Category.REJECTED),
]


@pytest.mark.parametrize(("code", "status", "category"), CODES,
                         ids=[f"{c[0]}" for c in CODES])
async def test_every_error_code_maps_to_its_category(
    gateway: CloudGateway, cloud: FakeCloud, code: int, status: int, category: ErrorCategory
) -> None:
    cloud.fail_code(code, status, path=MESSAGES, details="why it failed")
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert error.category is category
    assert str(code) in error.detail and "why it failed" in error.detail
    if code in (190, 10, 200, 299):
        assert error.detail.startswith("auth")
    if code in (131049, 131064):
        assert error.retry_after is not None and error.retry_after >= 86_400


async def test_a_wrong_token_is_rejected_as_auth(
    cloud: FakeCloud, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    gateway = make_gateway(cloud.url, client, clock, tokens={7: "EAAGexpired"})
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert (error.category, error.detail[:4]) == (Category.REJECTED, "auth")
    assert "190" in error.detail


async def test_rate_limit_carries_retry_after(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    cloud.fail_code(130429, 400, headers={"Retry-After": "3"})
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert (error.category, error.retry_after) == (Category.RATE_LIMITED, 3.0)
    cloud.fail_code(130429, 400)
    assert (await failure(gateway.send_text(SHOP, TO, "hi"))).retry_after is None


@pytest.mark.parametrize(
    ("status", "body", "category"),
    [(400, graph_error(999999, is_transient=True), Category.TRANSIENT),
     (500, b"<html>oops</html>", Category.TRANSIENT),
     (502, graph_error(999999), Category.TRANSIENT),
     (429, {"error": {"message": "slow"}}, Category.RATE_LIMITED),
     (401, b"", Category.REJECTED),
     (404, None, Category.REJECTED)],
)
async def test_answers_without_a_known_code_map_by_is_transient_and_status(
    gateway: CloudGateway, cloud: FakeCloud, status: int, body: Any, category: ErrorCategory
) -> None:
    cloud.fail_next(status, body)
    assert (await failure(gateway.send_text(SHOP, TO, "hi"))).category is category


# -- the network -----------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_connection_refused_is_transient_nothing_was_sent(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    gateway = make_gateway(f"http://127.0.0.1:{_closed_port()}", client, clock)
    for call in (gateway.send_text(SHOP, TO, "hi"), gateway.sender_status(SHOP)):
        error = await failure(call)
        assert error.category is Category.TRANSIENT
        assert "ConnectError" in error.detail


async def test_read_timeout_after_sending_is_uncertain_and_the_request_did_arrive(
    cloud: FakeCloud, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    gateway = make_gateway(cloud.url, client, clock, timeout=0.5)
    cloud.delay_next(1.5, path=MESSAGES)
    error = await failure(gateway.send_text(SHOP, TO, "hi"))
    assert error.category is Category.UNCERTAIN
    assert "ReadTimeout" in error.detail
    assert len(cloud.sent()) == 1
    cloud.delay_next(1.5)
    assert (await failure(gateway.sender_status(SHOP))).category is Category.TRANSIENT


async def test_connection_dropped_without_answer_is_uncertain_for_a_send(
    gateway: CloudGateway, cloud: FakeCloud
) -> None:
    cloud.drop_next(path=MESSAGES)
    error = await failure(gateway.send_template(SHOP, TO, "t", "az", ["x"]))
    assert error.category is Category.UNCERTAIN
    assert "RemoteProtocolError" in error.detail
    assert len(cloud.sent()) == 1


TRANSPORT = [
    (httpx.ConnectTimeout, Category.TRANSIENT, Category.TRANSIENT),
    (httpx.ConnectError, Category.TRANSIENT, Category.TRANSIENT),
    (httpx.PoolTimeout, Category.TRANSIENT, Category.TRANSIENT),
    (httpx.WriteTimeout, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.ReadTimeout, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.RemoteProtocolError, Category.UNCERTAIN, Category.TRANSIENT),
    (httpx.LocalProtocolError, Category.REJECTED, Category.REJECTED),
]


@pytest.mark.parametrize(("exc", "on_send", "on_read"), TRANSPORT,
                         ids=[e[0].__name__ for e in TRANSPORT])
async def test_every_transport_failure_maps_to_its_category(
    clock: FakeClock, exc: type[httpx.HTTPError], on_send: ErrorCategory,
    on_read: ErrorCategory,
) -> None:
    def explode(request: httpx.Request) -> httpx.Response:
        raise exc("simulated", request=request)  # type: ignore[call-arg]

    async with new_client(transport=httpx.MockTransport(explode)) as mocked:
        gateway = make_gateway("http://graph.invalid", mocked, clock)
        sent = await failure(gateway.send_text(SHOP, TO, "hi"))
        read = await failure(gateway.sender_status(SHOP))
    assert (sent.category, read.category) == (on_send, on_read)
    assert isinstance(sent.__cause__, exc)


# -- throughput ------------------------------------------------------------------------


async def test_sends_from_one_number_are_spaced_by_the_configured_throughput(
    cloud: FakeCloud, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    gateway = make_gateway(cloud.url, client, clock, throughput=50.0,  # 20 ms apart
                           spaced_by_clock=True)
    await asyncio.gather(*(gateway.send_text(SHOP, TO, f"#{i}") for i in range(6)))
    # the first goes at once; each of the other five waits for its slot, 20 ms after the
    # one before (the fake clock notes the wake-ups asked for instead of waiting)
    assert clock.woken_at == pytest.approx([0.02, 0.04, 0.06, 0.08, 0.10])
    assert len(cloud.sent()) == 6


async def test_numbers_do_not_wait_on_each_other(
    cloud: FakeCloud, client: httpx.AsyncClient, clock: FakeClock
) -> None:
    cloud.add_number("222", OTHER_TOKEN)
    gateway = make_gateway(cloud.url, client, clock, throughput=2.0,  # 500 ms apart
                           tokens={7: TOKEN, 8: OTHER_TOKEN})
    other = SenderRef(8, "+994500000002", "222")
    await gateway.send_text(SHOP, TO, "first")
    done: list[str] = []

    async def send(sender: SenderRef, label: str) -> None:
        await gateway.send_text(sender, TO, label)
        done.append(label)

    # SHOP's next slot is 500 ms away; the other number's first send does not queue
    # behind it (asserted by order, not by wall time, so a loaded machine cannot flake it)
    await asyncio.gather(send(SHOP, "shop"), send(other, "other"))
    assert done == ["other", "shop"]
    assert len(cloud.sent()) == 3


def test_config_refuses_nonsense() -> None:
    assert CloudConfig().throughput == 80.0
    for bad in ({"base_url": "graph.facebook.com"}, {"version": "23"}, {"timeout": 0},
                {"throughput": 0}):
        with pytest.raises(ValueError):
            CloudConfig(**bad)


# -- secrets, logs, lifecycle ----------------------------------------------------------


async def test_the_token_is_never_in_logs_errors_or_repr(
    cloud: FakeCloud, client: httpx.AsyncClient, clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = make_gateway(cloud.url, client, clock)
    wrong = make_gateway(cloud.url, client, clock, tokens={7: TOKEN[::-1]})
    cloud.fail_code(190, 401, message=f"Error validating access token {TOKEN}")
    cloud.fail_next(500, {"error": {"message": f"Bearer {TOKEN} broke", "code": 2}})

    errors = [await failure(gateway.send_text(SHOP, TO, "secret offer for Aysel")),
              await failure(gateway.send_text(SHOP, TO, "secret offer for Aysel")),
              await failure(wrong.send_text(SHOP, TO, "secret offer for Aysel"))]
    await gateway.send_template(SHOP, TO, "offer", "az", ["secret param"])

    assert [e.category for e in errors] == [Category.REJECTED, Category.TRANSIENT,
                                            Category.REJECTED]
    assert "***" in errors[0].detail
    for text in (*map(str, errors), *(e.detail for e in errors), repr(gateway), caplog.text):
        assert TOKEN not in text and TOKEN[::-1] not in text
    assert "secret" not in caplog.text
    assert f"Cloud API POST {MESSAGES}: HTTP 401 -> rejected" in caplog.text


async def test_close_leaves_an_injected_client_open_and_refuses_later_calls(
    gateway: CloudGateway, client: httpx.AsyncClient, cloud: FakeCloud
) -> None:
    await gateway.close()
    assert not client.is_closed
    assert (await failure(gateway.send_text(SHOP, TO, "hi"))).category is Category.TRANSIENT
    assert cloud.requests == []


async def test_a_gateway_without_a_client_makes_one_and_closes_it(
    cloud: FakeCloud, clock: FakeClock
) -> None:
    gateway = make_gateway(cloud.url, None, clock)
    assert (await gateway.send_text(SHOP, TO, "hi")).message_id
    await gateway.close()
    assert gateway._client.is_closed


# -- customers' attachments ------------------------------------------------------------


async def test_a_customers_attachment_is_fetched_by_its_media_id_with_the_numbers_token(
    cloud: FakeCloud, gateway: CloudGateway,
) -> None:
    voice = b"OggS\x00\x02" + b"\x01" * 40
    cloud.add_media("1003383421387256", voice, "audio/ogg", number_id=NUMBER_ID)
    media = await gateway.download_media(SHOP, "1003383421387256")
    assert (media.data, media.mimetype) == (voice, "audio/ogg")
    lookup, fetch = [r for r in cloud.requests if r.method == "GET"]
    assert lookup.path == "/v23.0/1003383421387256"
    assert lookup.query == {"phone_number_id": NUMBER_ID}  # Meta checks it is this number's
    assert fetch.path == "/lookaside/1003383421387256"
    assert {lookup.headers["authorization"], fetch.headers["authorization"]} == {
        f"Bearer {TOKEN}"}


async def test_an_attachment_of_another_number_or_too_big_or_not_a_media_id_is_refused(
    cloud: FakeCloud, gateway: CloudGateway,
) -> None:
    cloud.add_number("106999999999999", OTHER_TOKEN)
    cloud.add_media("2000", b"x" * 100, "image/jpeg", number_id="106999999999999")
    error = await failure(gateway.download_media(SHOP, "2000"))
    assert error.category is Category.REJECTED  # the media id is another number's
    cloud.add_media("3000", b"x" * 100, "image/jpeg", number_id=NUMBER_ID)
    error = await failure(gateway.download_media(SHOP, "3000", max_bytes=99))
    assert error.category is Category.REJECTED and "more than 99 bytes" in error.detail
    for ref in ("../me", "https://evil.example/x", ""):
        error = await failure(gateway.download_media(SHOP, ref))
        assert error.category is Category.REJECTED
    assert len([r for r in cloud.requests if r.method == "GET"]) == 3  # nothing asked for those


async def test_a_media_url_off_metas_hosts_never_gets_the_token(
    cloud: FakeCloud, gateway: CloudGateway,
) -> None:
    cloud.fail_next(200, {"url": "https://evil.example/steal", "mime_type": "image/jpeg",
                          "id": "4000"}, path="/v23.0/4000")
    error = await failure(gateway.download_media(SHOP, "4000"))
    assert error.category is Category.TRANSIENT  # unreadable: nothing fetched
    assert [r.path for r in cloud.requests] == ["/v23.0/4000"]
