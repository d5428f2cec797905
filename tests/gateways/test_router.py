"""The router: one gateway for the dispatcher, each sender served by its own adapter, and
what the adapters can do beyond sending handed out typed (no ``getattr``, no gateway
names compared in the services)."""

from __future__ import annotations

import pytest

from bot.gateways.base import (
    Capabilities,
    CloudNumbers,
    ErrorCategory,
    Gateway,
    GatewayError,
    IncomingKind,
    IncomingMessage,
    Linker,
    Media,
    MediaDownloader,
    SenderRef,
    TemplateSender,
    WhatsAppGateway,
)
from bot.gateways.cloud import CloudConfig, CloudGateway
from bot.gateways.router import GatewayRouter
from bot.gateways.sandbox import SandboxConfig, SandboxGateway
from bot.gateways.waha import WahaConfig, WahaGateway

SANDBOX = SenderRef(1, "+994500000001", None, "sandbox")
WAHA = SenderRef(2, "+994500000002", "qasid-1-2", "waha")
CLOUD = SenderRef(3, "+994500000003", "106540352242922", "cloud")


@pytest.fixture
async def adapters():
    # no request is made: nothing here sends
    sandbox = SandboxGateway(SandboxConfig())
    waha = WahaGateway(WahaConfig(base_url="http://127.0.0.1:9"))
    cloud = CloudGateway(CloudConfig(base_url="http://127.0.0.1:9"), tokens={})
    yield sandbox, waha, cloud
    for adapter in (sandbox, waha, cloud):
        await adapter.close()


async def test_each_adapter_implements_the_protocols_of_what_it_can_do(adapters) -> None:
    sandbox, waha, cloud = adapters
    assert all(isinstance(a, WhatsAppGateway) for a in adapters)
    assert isinstance(waha, Linker) and not isinstance(sandbox, Linker) \
        and not isinstance(cloud, Linker)
    assert isinstance(cloud, CloudNumbers) and isinstance(cloud, TemplateSender)
    assert not isinstance(waha, CloudNumbers) and not isinstance(waha, TemplateSender)
    assert all(isinstance(a, MediaDownloader) for a in adapters)  # customers' attachments


async def test_the_router_hands_out_the_linker_and_the_cloud_numbers(adapters) -> None:
    sandbox, waha, cloud = adapters
    every = GatewayRouter({"sandbox": sandbox, "waha": waha, "cloud": cloud}, "sandbox")
    assert isinstance(every, Gateway)
    assert every.linker is waha and every.cloud_numbers is cloud
    alone = GatewayRouter({"sandbox": sandbox}, "sandbox")
    assert alone.linker is None and alone.cloud_numbers is None


async def test_capabilities_are_those_of_the_senders_gateway(adapters) -> None:
    sandbox, waha, cloud = adapters
    every = GatewayRouter({"sandbox": sandbox, "waha": waha, "cloud": cloud}, "sandbox")
    assert every.capabilities(CLOUD).needs_approved_template
    reply_window = every.capabilities(CLOUD).reply_window
    assert reply_window is not None and reply_window.total_seconds() == 24 * 3600
    assert every.capabilities(WAHA).reply_window is None  # WAHA answers at any time
    assert not every.capabilities(CLOUD).checks_numbers  # Meta has no cheap check
    assert every.capabilities(WAHA) == Capabilities(checks_numbers=True)
    assert every.capabilities(SANDBOX) == Capabilities()
    # a sender naming a gateway this server does not have: it can do nothing special
    alone = GatewayRouter({"sandbox": sandbox}, "sandbox")
    assert alone.capabilities(CLOUD) == Capabilities()


async def test_a_template_for_a_gateway_without_templates_is_rejected(adapters) -> None:
    sandbox, waha, _ = adapters
    router = GatewayRouter({"sandbox": sandbox, "waha": waha}, "sandbox")
    for sender in (SANDBOX, WAHA):
        with pytest.raises(GatewayError) as refused:
            await router.send_template(sender, "+994501234567", "spring_sale", "az", [])
        assert refused.value.category is ErrorCategory.REJECTED
    with pytest.raises(GatewayError) as gone:  # a Cloud number on a server without Cloud
        await router.send_template(CLOUD, "+994501234567", "spring_sale", "az", [])
    assert gone.value.category is ErrorCategory.SENDER_BANNED


async def test_a_customers_attachment_comes_from_the_adapter_of_the_number_it_was_sent_to(
    adapters,
) -> None:
    sandbox, waha, _ = adapters
    router = GatewayRouter({"sandbox": sandbox, "waha": waha}, "sandbox")
    seen: list[IncomingMessage] = []

    async def keep(event: object) -> None:
        if isinstance(event, IncomingMessage):
            seen.append(event)

    router.set_event_handler(keep)
    photo = Media("image", data=b"\xff\xd8 shop front", mimetype="image/jpeg")
    await sandbox.simulate_incoming(1, "+994501234567", "Bu?", kind=IncomingKind.IMAGE,
                                    media=photo)
    [message] = seen
    assert message.kind is IncomingKind.IMAGE and message.media_ref
    assert await router.download_media(SANDBOX, message.media_ref) == photo
    with pytest.raises(GatewayError) as other:  # another number's attachment: not given
        await router.download_media(SenderRef(9, "+994500000009", None, "sandbox"),
                                    message.media_ref)
    assert other.value.category is ErrorCategory.REJECTED
