"""The fake clock: the time moves only when a test says so."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

START = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)


class FakeClock:
    """A ``bot.clock.Clock`` (call it for the time, aware UTC) that only moves when told to.

    ``monotonic`` and ``sleep`` stand in for ``time.monotonic`` and ``asyncio.sleep`` in
    code that spaces calls out: ``sleep`` does not wait, it notes the moment it was asked
    to wake at (``woken_at``, on the monotonic scale) and lets other tasks run."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or START
        self._epoch = self.now
        self.woken_at: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)

    def monotonic(self) -> float:
        """Seconds since the clock was made, moving with ``now``."""
        return (self.now - self._epoch).total_seconds()

    async def sleep(self, seconds: float) -> None:
        self.woken_at.append(self.monotonic() + seconds)
        await asyncio.sleep(0)
