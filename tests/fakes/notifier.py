"""The recording notifier: what services told people, kept for the test to read."""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.services.notify import Notice


@dataclass(slots=True)
class RecordingNotifier:
    """A ``bot.services.notify.Notifier`` that keeps what it was given."""

    notices: list[Notice] = field(default_factory=list)

    async def notify(self, notice: Notice) -> None:
        self.notices.append(notice)

    def of(self, kind: type) -> list:
        """The notices of one type, in order."""
        return [n for n in self.notices if isinstance(n, kind)]
