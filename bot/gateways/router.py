"""Several gateways at once: each sender is served by the adapter its ``gateway`` names.

An owner may have a sandbox number, a WAHA number and a Cloud API number side by side;
the dispatcher sees one ``Gateway``. ``GatewayRouter`` picks the adapter by
``SenderRef.gateway``; a reference without one (or naming an adapter that is not
configured) goes to the default adapter only if that is its kind, otherwise it is
refused as ``sender_banned``: nothing can send for a number whose gateway is gone.

It hands out what each adapter can do beyond sending, typed: ``capabilities(sender)``
(a gateway that is not configured can do nothing special), ``linker`` (the adapter that
links numbers by QR code or pairing code, WAHA) and ``cloud_numbers`` (the one that adds
Cloud API numbers); ``send_template`` goes to an adapter that is a ``TemplateSender``
and is refused as ``rejected`` for any other, and ``download_media`` to one that is a
``MediaDownloader`` (``rejected`` for any other).
"""

from __future__ import annotations

from collections.abc import Mapping

from bot.gateways.base import (
    Capabilities,
    CloudNumbers,
    ErrorCategory,
    EventHandler,
    GatewayError,
    Linker,
    Media,
    MediaDownloader,
    NumberCheck,
    SenderHealth,
    SenderRef,
    SendResult,
    TemplateSender,
    WhatsAppGateway,
)

NONE = Capabilities()  # what a gateway that is not configured here can do


class GatewayRouter:
    kind = "router"

    def __init__(self, gateways: Mapping[str, WhatsAppGateway], default: str) -> None:
        if default not in gateways:
            raise ValueError(f"default gateway {default!r} is not configured")
        self._gateways = dict(gateways)
        self.default = default
        self.linker: Linker | None = next(
            (g for g in self._gateways.values() if isinstance(g, Linker)), None)
        self.cloud_numbers: CloudNumbers | None = next(
            (g for g in self._gateways.values() if isinstance(g, CloudNumbers)), None)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(self._gateways)

    def get(self, kind: str) -> WhatsAppGateway | None:
        return self._gateways.get(kind)

    def for_sender(self, sender: SenderRef) -> WhatsAppGateway:
        gateway = self._gateways.get(sender.gateway or self.default)
        if gateway is None:
            raise GatewayError(
                ErrorCategory.SENDER_BANNED,
                f"the {sender.gateway} gateway is not configured on this server",
            )
        return gateway

    def capabilities(self, sender: SenderRef) -> Capabilities:
        gateway = self._gateways.get(sender.gateway or self.default)
        return gateway.capabilities(sender) if gateway is not None else NONE

    def set_event_handler(self, handler: EventHandler) -> None:
        for gateway in self._gateways.values():
            gateway.set_event_handler(handler)

    async def send_text(self, sender: SenderRef, to: str, text: str) -> SendResult:
        return await self.for_sender(sender).send_text(sender, to, text)

    async def send_media(
        self, sender: SenderRef, to: str, media: Media, caption: str | None = None
    ) -> SendResult:
        return await self.for_sender(sender).send_media(sender, to, media, caption)

    async def send_template(
        self, sender: SenderRef, to: str, name: str, language: str, body_params: list[str]
    ) -> SendResult:
        """An approved template (Cloud API numbers); other gateways refuse it."""
        gateway = self.for_sender(sender)
        if not isinstance(gateway, TemplateSender):
            raise GatewayError(ErrorCategory.REJECTED,
                               f"the {gateway.kind} gateway sends no approved templates")
        return await gateway.send_template(sender, to, name, language, body_params)

    async def download_media(self, sender: SenderRef, ref: str, *,
                             max_bytes: int = 20 * 1024 * 1024) -> Media:
        """A customer's attachment, from the adapter that serves the number."""
        gateway = self.for_sender(sender)
        if not isinstance(gateway, MediaDownloader):
            raise GatewayError(ErrorCategory.REJECTED,
                               f"the {gateway.kind} gateway gives no attachments")
        return await gateway.download_media(sender, ref, max_bytes=max_bytes)

    async def check_number(self, sender: SenderRef, phone: str) -> NumberCheck:
        return await self.for_sender(sender).check_number(sender, phone)

    async def sender_status(self, sender: SenderRef) -> SenderHealth:
        return await self.for_sender(sender).sender_status(sender)

    async def close(self) -> None:
        for gateway in self._gateways.values():
            await gateway.close()
