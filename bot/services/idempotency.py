"""Idempotency keys: a POST repeated with the same ``Idempotency-Key`` gets the first answer.

The rules, in one place:

- keyed by (owner, key); what is kept is the SHA-256 of the request (method, path and the
  body's bytes: ``fingerprint``) and the first successful answer (status and JSON body),
  for ``TTL`` (24 hours). An answer that is an error is not kept: nothing was done, and
  the same key may be tried again;
- a repeat within the day with the same fingerprint is answered what was stored; with
  another fingerprint it is refused (``IdempotencyMismatch``, 409) and not done;
- while a request of a key is at work, another of the same key waits for it (at most
  ``wait`` seconds, then ``Conflict("idempotency_in_progress")``, 409) and is then
  answered from what the first stored (``claim``: in memory, the process is the only
  writer of its SQLite file);
- the stored answer costs one row and no transaction of its own when the work's service
  takes ``on_commit`` (an ``InTransaction``): the row is written inside the work's own
  transaction (``store_in``), so the work and its answer commit together and a crash
  between them cannot leave work done with no answer to replay. Routes whose service does
  not take it store the answer in a small transaction right after the work (``store``);
- rows older than the TTL are swept by the writes themselves (at most every
  ``SWEEP_EVERY``, ``SWEEP_BATCH`` rows at a time): no job, no scan on the read path, which
  ignores an expired row anyway.

The cost of a POST with a key: one read by primary key before the work, one row written
with it. (Batching the rows apart from the work was the other way to make it cheap; it
would leave a window in which the work is committed and its answer not, so a retry
after a crash would do the work again.)
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeAlias, TypeVar

from bot.clock import Clock, utcnow
from bot.errors import Conflict, IdempotencyMismatch
from bot.storage import idempotency as repo
from bot.storage.db import Connection, Database

T = TypeVar("T")

# What a service that takes ``on_commit`` calls inside its transaction with its result.
InTransaction: TypeAlias = Callable[[Connection, T], Awaitable[None]]

TTL = timedelta(hours=24)
SWEEP_EVERY = timedelta(minutes=10)
SWEEP_BATCH = 1000
KEY_MAX = 255  # characters of an Idempotency-Key


def fingerprint(method: str, path: str, body: bytes) -> bytes:
    """What makes two requests the same one: the method, the path and the body's bytes."""
    digest = hashlib.sha256(method.encode("ascii"))
    digest.update(b" ")
    digest.update(path.encode("utf-8"))
    digest.update(b"\n")
    digest.update(body)
    return digest.digest()


def valid_key(key: str) -> bool:
    """1 to 255 printable ASCII characters (a UUID is the usual choice)."""
    return 0 < len(key) <= KEY_MAX and key.isascii() and key.isprintable()


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes  # JSON, as it was sent


class IdempotencyService:
    def __init__(self, db: Database, clock: Clock = utcnow, *, ttl: timedelta = TTL,
                 wait: float = 10.0) -> None:
        self._db = db
        self._clock = clock
        self._ttl = ttl
        self._wait = wait
        self._inflight: dict[tuple[int, str], asyncio.Event] = {}
        self._last_sweep: datetime | None = None

    @asynccontextmanager
    async def claim(self, owner_id: int, key: str) -> AsyncIterator[None]:
        """Hold the key while its request is at work: a second request of the same key
        waits here until the first ends (then reads what it stored), at most ``wait``
        seconds: then ``Conflict("idempotency_in_progress")``."""
        slot = (owner_id, key)
        while (busy := self._inflight.get(slot)) is not None:
            try:
                await asyncio.wait_for(busy.wait(), self._wait)
            except TimeoutError:
                raise Conflict("idempotency_in_progress") from None
        done = self._inflight[slot] = asyncio.Event()
        try:
            yield
        finally:
            del self._inflight[slot]
            done.set()

    async def stored(self, owner_id: int, key: str, request: bytes) -> Answer | None:
        """The answer stored for the key (None: none within the TTL); a stored one of
        another request (``request`` is its ``fingerprint``) raises IdempotencyMismatch."""
        row = await repo.get(self._db.reader, owner_id, key)
        if row is None or self._clock() - row.created_at >= self._ttl:
            return None
        if not hmac.compare_digest(row.fingerprint, request):
            raise IdempotencyMismatch()
        return Answer(row.status, row.body)

    async def store_in(self, tx: Connection, owner_id: int, key: str, request: bytes,
                       answer: Answer) -> None:
        """Keep the answer, inside the caller's transaction (the work's)."""
        now = self._clock()
        await repo.put(tx, owner_id, key, request, answer.status, answer.body, now)
        if self._last_sweep is None or now - self._last_sweep >= SWEEP_EVERY:
            self._last_sweep = now
            await repo.sweep(tx, now - self._ttl, SWEEP_BATCH)

    async def store(self, owner_id: int, key: str, request: bytes, answer: Answer) -> None:
        """Keep the answer, in a transaction of its own (after work that did not take
        ``on_commit``)."""
        async with self._db.transaction() as tx:
            await self.store_in(tx, owner_id, key, request, answer)

    async def sweep(self) -> int:
        """Delete every expired row now; how many went."""
        gone = 0
        while True:
            async with self._db.transaction() as tx:
                n = await repo.sweep(tx, self._clock() - self._ttl, SWEEP_BATCH)
            gone += n
            if n < SWEEP_BATCH:
                return gone
