"""The recording gateway: the sandbox, keeping a note of every message it was asked to send."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.clock import Clock
from bot.gateways.base import GatewayError, SenderRef, SendResult
from bot.gateways.sandbox import SandboxConfig, SandboxGateway

# receipts at once, every number on WhatsApp: what the gateway was asked is all that varies
QUIET = SandboxConfig(delivery_delay=0, read_delay=0, invalid_share=0)


@dataclass(frozen=True, slots=True)
class Send:
    """One ``send_text`` call: when (by the test's clock), from which number, to whom, what."""

    at: datetime
    sender_id: int
    to: str
    text: str


class RecordingGateway(SandboxGateway):
    """The sandbox gateway, recording each ``send_text`` in ``sends`` (failed ones too).

    ``fail``: the n-th call (1-based) raises this error instead of sending. ``lose_answers``:
    every message is accepted, but the answer is lost (``uncertain``), as after a read
    timeout; ``accepted`` keeps what the gateway really accepted."""

    def __init__(self, clock: Clock, config: SandboxConfig = QUIET, *,
                 fail: Mapping[int, GatewayError] | None = None,
                 lose_answers: GatewayError | None = None) -> None:
        super().__init__(config)
        self.clock = clock
        self.sends: list[Send] = []
        self.accepted: list[SendResult] = []
        self._fail = dict(fail or {})
        self._lost = lose_answers

    @property
    def times(self) -> list[datetime]:
        return [s.at for s in self.sends]

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.sends]

    async def send_text(self, sender: SenderRef, to: str, text: str) -> SendResult:
        self.sends.append(Send(self.clock(), sender.sender_id, to, text))
        error = self._fail.pop(len(self.sends), None)
        if error is not None:
            raise error
        result = await super().send_text(sender, to, text)
        self.accepted.append(result)
        if self._lost is not None:
            raise self._lost
        return result
