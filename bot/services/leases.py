"""Several processes on one database: who sends from which number, who runs which job.

``python -m bot worker`` runs N times (on one machine or several) beside one
``python -m bot web``. They agree through lease rows (``bot/storage/leases.py``):

- ``sender:<id>``: one worker sends from a number at a time, so its pace (the gap
  between two sends) and its daily cap hold across workers. A worker takes its share of
  the numbers with due work (at most ceil(numbers / workers alive), free ones in random
  order), renews its leases every ``seconds / 6`` and sends from a number only while its
  lease has more than a margin left; it gives back the numbers beyond its share once they
  are idle (a worker that just started gets some) and all of them when it stops.
- ``job:<name>``: a scheduled job runs in one process, whoever is up: the first to ask
  takes the job's lease for its interval plus ``seconds`` and keeps it by running it.
- ``worker:<holder>``: each worker's heartbeat; how many are alive.

A worker that dies keeps its leases until they run out (``LEASE_SECONDS``, 30 s by
default); then another takes its numbers over, and turns that number's messages left
``sending`` into ``uncertain``, exactly as a restart's recovery does: they may have
reached the gateway, and are never sent again by themselves. Only those of the numbers it
takes over from a holder that is gone: the other workers' messages in flight are theirs.

The single process (``python -m bot``) has no leases: it is alone, sends from every
number, recovers every claim at start-up and runs every job.
"""

from __future__ import annotations

import logging
import math
import os
import random
import secrets
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.clock import Clock, utcnow
from bot.storage import leases as repo
from bot.storage import outbox
from bot.storage.db import Database

log = logging.getLogger(__name__)

LEASE_SECONDS = 30.0
SENDER = "sender:"
JOB = "job:"
WORKER = "worker:"


def make_holder() -> str:
    """``<hostname>:<pid>:<random>``: unique per process start, readable in the table."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def sender_id_of(name: str) -> int | None:
    return int(name[len(SENDER):]) if name.startswith(SENDER) else None


@dataclass(frozen=True, slots=True)
class Taken:
    """A number this worker has just taken; ``recovered`` of its claims became uncertain
    (left by ``previous``, whose lease ran out at ``previous_until``)."""

    sender_id: int
    previous: str | None
    previous_until: float | None
    recovered: int


class Leases:
    def __init__(self, db: Database, clock: Clock = utcnow, *,
                 seconds: float = LEASE_SECONDS, holder: str | None = None,
                 rng: random.Random | None = None) -> None:
        self._db = db
        self._clock = clock
        self.seconds = seconds
        self.holder = holder or make_holder()
        self._rng = rng or random.Random()
        self._until: dict[str, float] = {}  # name -> when our lease runs out (as written)
        self._round_at = -math.inf  # when the last round renewed
        self.workers = 1  # workers alive at the last round (this one included)

    @property
    def margin(self) -> float:
        """A number is sent from only while its lease has more than this left."""
        return self.seconds / 5

    def holds(self, name: str, now: float | None = None) -> bool:
        if now is None:
            now = self._clock().timestamp()
        return self._until.get(name, -math.inf) - self.margin > now

    def holds_sender(self, sender_id: int, now: float | None = None) -> bool:
        return self.holds(f"{SENDER}{sender_id}", now)

    def holds_job(self, name: str, now: float | None = None) -> bool:
        return self.holds(f"{JOB}{name}", now)

    def senders(self, now: float | None = None) -> list[int]:
        """The numbers this worker may send from now."""
        if now is None:
            now = self._clock().timestamp()
        return sorted(sid for name in self._until
                      if (sid := sender_id_of(name)) is not None and self.holds(name, now))

    def due(self, now: float) -> bool:
        """Whether a round is due (every ``seconds / 6``)."""
        return now - self._round_at >= self.seconds / 6

    # --- jobs -------------------------------------------------------------------------------

    async def job(self, name: str, every: float = 0.0) -> bool:
        """Whether this process runs the job ``name`` now: it has or takes its lease, for
        ``every`` (the job's interval) plus ``seconds``."""
        now = self._clock().timestamp()
        key = f"{JOB}{name}"
        until = now + every + self.seconds
        async with self._db.transaction() as tx:
            taken = await repo.acquire(tx, key, self.holder, until, now)
        if taken:
            self._until[key] = until
        else:
            self._until.pop(key, None)
        return taken

    # --- numbers ----------------------------------------------------------------------------

    async def round(self, horizon: float, idle: Callable[[int], bool],
                    jobs: Iterable[str] = ()) -> list[Taken]:
        """Renew this worker's leases (and its heartbeat), take its share of the numbers
        with work due by ``horizon`` and give back what is beyond it (the numbers
        ``idle`` says have nothing in flight here); also take or keep the ``jobs``
        (names) the worker's tick runs. The numbers taken, for their pace to be read."""
        now = self._clock().timestamp()
        until = now + self.seconds
        self._round_at = now
        async with self._db.transaction() as tx:
            await repo.acquire(tx, f"{WORKER}{self.holder}", self.holder, until, now)
            await repo.renew(tx, self.holder, until)
            self._until = await repo.held_by(tx, self.holder, now)
            self.workers = max(1, len(await repo.live(tx, WORKER, now)))
            await repo.purge(tx, WORKER, now - self.seconds)  # workers long gone
            for job in jobs:
                key = f"{JOB}{job}"
                if key not in self._until and await repo.acquire(tx, key, self.holder,
                                                                  until, now):
                    self._until[key] = until
        busy = await outbox.busy_senders(self._db.reader, horizon)
        share = math.ceil(len(busy) / self.workers)
        mine = set(self.senders(now))
        taken: list[Taken] = []
        free = [sid for sid in busy if sid not in mine]
        if len(mine & set(busy)) < share and free:
            self._rng.shuffle(free)
            taken = await self._take(free, share - len(mine & set(busy)), now, until)
            mine.update(t.sender_id for t in taken)
        # beyond the share (another worker started): the idle ones go back, the numbers
        # without due work first
        extra = len(mine) - share
        if extra > 0:
            order = sorted(mine, key=lambda sid: (sid in busy, self._rng.random()))
            back = [sid for sid in order if idle(sid)][:extra]
            if back:
                names = [f"{SENDER}{sid}" for sid in back]
                async with self._db.transaction() as tx:
                    await repo.release(tx, self.holder, names)
                for name in names:
                    self._until.pop(name, None)
        return taken

    async def _take(self, candidates: list[int], wanted: int, now: float,
                    until: float) -> list[Taken]:
        taken: list[Taken] = []
        async with self._db.transaction() as tx:
            for sid in candidates:
                if len(taken) >= wanted:
                    break
                name = f"{SENDER}{sid}"
                before = await repo.get(tx, name)
                if before is not None and before.holder != self.holder \
                        and before.expires_at >= now:
                    continue  # another worker's, alive
                if not await repo.acquire(tx, name, self.holder, until, now):
                    continue
                recovered = 0
                if before is None or before.holder != self.holder:
                    # from a holder that is gone (or gave it back): what it left being
                    # sent may have reached the gateway
                    counts = await outbox.expire_claims_of(tx, sid, now)
                    recovered = sum(n for _, n in counts)
                self._until[name] = until
                taken.append(Taken(sid, before.holder if before else None,
                                   before.expires_at if before else None, recovered))
        for t in taken:
            if t.recovered:
                log.warning("number %d taken over from %s: %d messages it was sending are"
                            " now uncertain", t.sender_id, t.previous or "a stopped process",
                            t.recovered)
            elif t.previous is not None and t.previous != self.holder:
                log.info("number %d taken over from %s (its lease ran out)", t.sender_id,
                         t.previous)
        return taken

    async def close(self) -> None:
        """At shutdown (the sends drained): every lease given back, for the others."""
        try:
            async with self._db.transaction() as tx:
                await repo.release(tx, self.holder)
        finally:
            self._until.clear()
