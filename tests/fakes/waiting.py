"""Waiting for something to happen, with a limit: never sleep-then-assert."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

LIMIT = 10.0  # seconds; far above what any awaited thing takes, so only a bug reaches it


async def wait_until(done: Callable[[], object], within: float = LIMIT,
                     what: str = "the condition") -> object:
    """Return ``done()`` as soon as it is true, looking after every turn of the event loop
    (then every few milliseconds); AssertionError naming ``what`` after ``within`` seconds."""
    turns = 0
    try:
        async with asyncio.timeout(within):
            while not (found := done()):
                turns += 1
                await asyncio.sleep(0 if turns < 50 else 0.005)
    except TimeoutError:
        raise AssertionError(f"{what} did not hold within {within} s") from None
    return found
