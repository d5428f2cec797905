"""Per key: a request rate and a burst (a token bucket), 429 with ``Retry-After`` beyond.

Each key has a bucket of ``burst`` tokens, refilled at ``rate`` per second; a request
takes one. Buckets live in memory (one process serves the API); a key unseen for a
while is forgotten (its bucket would be full anyway).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from bot.web.api.problems import ApiProblem

Monotonic = Callable[[], float]
FORGET_AFTER = 600.0  # seconds


@dataclass(slots=True)
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    def __init__(self, rate: float, burst: int, monotonic: Monotonic = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("the rate must be > 0 and the burst >= 1")
        self.rate = rate
        self.burst = burst
        self._monotonic = monotonic
        self._buckets: dict[int, _Bucket] = {}
        self._swept = monotonic()

    def take(self, key_id: int) -> None:
        """One request of the key: 429 ``rate-limited`` when its bucket is empty."""
        now = self._monotonic()
        bucket = self._buckets.get(key_id)
        if bucket is None:
            bucket = self._buckets[key_id] = _Bucket(float(self.burst), now)
        else:
            bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.at) * self.rate)
            bucket.at = now
        if bucket.tokens < 1:
            wait = max(1, math.ceil((1 - bucket.tokens) / self.rate))
            raise ApiProblem(429, "rate-limited",
                             f"This key may make {self.rate:g} requests a second "
                             f"(bursts of {self.burst}); try again in {wait} s.",
                             headers={"Retry-After": str(wait)})
        bucket.tokens -= 1
        if now - self._swept > FORGET_AFTER:
            self._swept = now
            self._buckets = {k: b for k, b in self._buckets.items()
                             if now - b.at < FORGET_AFTER}
