"""The one clock: what time it is, for every layer.

A ``Clock`` is a function that returns the current time, timezone-aware and in UTC.
``utcnow`` is the real one. Services, the web handlers and the gateways take a
``clock: Clock = utcnow`` and never read the time any other way, so a test can hand them
a clock that moves only when told to (``tests/fakes/clock.py``). Times are converted to an
owner's zone only when shown (``bot/services/zones.py`` says which zone is theirs).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)
