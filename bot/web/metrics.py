"""``/metrics``: Prometheus' text format (0.0.4), on a listener of its own.

``PrometheusMetrics`` is the ``bot.metrics.Metrics`` sink the dispatcher, the outgoing
webhooks and the incoming webhooks report to (counters and a histogram kept in this
process), and the ASGI app that answers ``GET /metrics``: at each scrape it first reads
the database's figures (``bot/services/metrics.py``: messages by state and gateway, the
queue, every number's health, the leases), then renders everything with
prometheus-client, so HELP and TYPE lines, label escaping and the histogram's buckets are
the library's.

``MetricsServer`` serves it on ``METRICS_HOST:METRICS_PORT`` (default 127.0.0.1:9464),
apart from the public port (webhooks, the API): the figures name owners' numbers by id
and say how busy the service is, which is nobody else's business. ``METRICS_PORT=0``: no
listener. A port already taken is a warning, not a stop: the bot goes on sending.

The messages-by-state count reads every message (on SQLite a scan of the outbox: seconds
for 1,000,000, ``bench/metrics_bench.py``). So it runs beside the scrape: a scrape waits
for it at most ``OUTBOX_WAIT`` seconds, else answers with the last count
(``qasid_messages_age_seconds`` says how old); and a count that took longer than
``CHEAP`` is kept for ``KEEP_FACTOR`` times as long as it took (at most ``KEEP_MAX``
seconds), so that frequent scrapes cannot keep the database's reader busy. The queue and
the numbers are read afresh at every scrape.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import socket
import time
from collections.abc import Iterable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import uvicorn
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector

from bot.clock import Clock, utcnow
from bot.domain import MessageStatus
from bot.services.metrics import DatabaseFigures, Queue, SenderFigures

log = logging.getLogger(__name__)

disable_created_metrics()  # no ``*_created`` series beside every counter: noise here

SEND_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
OUTBOX_WAIT = 1.0  # seconds a scrape waits for the outbox count before it answers
CHEAP = 0.05  # seconds: an outbox count this quick is read at every scrape
KEEP_FACTOR = 20  # else kept 20 times as long as it took: <= 5% of the reader's time
KEEP_MAX = 300.0
NO_SENDER = "none"  # the gateway label of messages not yet given a number (API, queued)
DELIVERY_RESULTS = ("delivered", "failed", "dropped")


@functools.cache
def _version() -> str:
    try:
        return version("qasid")
    except PackageNotFoundError:  # run from a tree that was not installed
        return "unknown"


class _DatabaseFigures(Collector):
    """The gauges read from the database, from the snapshot the last scrape read."""

    def __init__(self) -> None:
        self.ok = True
        self.outbox: list[tuple[str, int | None, int]] = []
        self.outbox_at: float | None = None  # time.monotonic() the outbox count began
        self.gateways: dict[int, str] = {}
        self.queue = Queue(0, None)
        self.senders: list[SenderFigures] = []
        self.leases: dict[str, int] = {}
        self.now = 0.0
        self.engine = "sqlite"

    def describe(self) -> Iterable[Metric]:
        return []  # what collect() gives depends on the database: nothing to check ahead

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("qasid_database_up",
                               "1 when this scrape could read the database's figures")
        up.add_metric([], 1.0 if self.ok else 0.0)
        yield up
        info = InfoMetricFamily("qasid", "The running Qasid: its version and database engine")
        info.add_metric([], {"version": _version(), "engine": self.engine})
        yield info
        if not self.ok:
            return
        if self.outbox_at is not None:
            yield self._messages()
            age = GaugeMetricFamily("qasid_messages_age_seconds",
                                    "How old the qasid_messages counts are (a big outbox's "
                                    "count is kept a while)")
            age.add_metric([], max(0.0, time.monotonic() - self.outbox_at))
            yield age
        depth = GaugeMetricFamily(
            "qasid_queue_depth",
            "Messages the dispatcher would send now: queued, planned time come, of a "
            "running campaign or sent by API")
        depth.add_metric([], float(self.queue.due))
        yield depth
        lag = GaugeMetricFamily(
            "qasid_queue_lag_seconds",
            "How long the oldest due message has waited past its planned time (0: none)")
        oldest = self.queue.oldest_planned_at
        lag.add_metric([], max(0.0, self.now - oldest) if oldest is not None else 0.0)
        yield lag
        yield from self._senders()
        workers = GaugeMetricFamily(
            "qasid_workers", "Workers alive (python -m bot worker: their heartbeat leases; "
            "0 for the single process)")
        workers.add_metric([], float(self.leases.get("worker", 0)))
        yield workers
        held = GaugeMetricFamily("qasid_leases", "Leases held now, by kind: sender (a number "
                                 "a worker sends from), job (a scheduled job), worker",
                                 labels=["kind"])
        for kind in sorted({"sender", "job", "worker"} | set(self.leases)):
            held.add_metric([kind], float(self.leases.get(kind, 0)))
        yield held

    def _messages(self) -> Metric:
        family = GaugeMetricFamily(
            "qasid_messages", "Messages in the outbox by state and their number's gateway "
            "(\"none\": not yet given a number)", labels=["state", "gateway"])
        counts: dict[tuple[str, str], int] = {}
        for status, sender_id, n in self.outbox:
            gateway = NO_SENDER if sender_id is None else self.gateways.get(sender_id, NO_SENDER)
            counts[(status, gateway)] = counts.get((status, gateway), 0) + n
        kinds = {gateway for _, gateway in counts} | set(self.gateways.values())
        for kind in sorted(kinds):  # every state of every gateway, 0 too: no gaps in graphs
            for status in MessageStatus:
                counts.setdefault((status.value, kind), 0)
        for (status, gateway), n in sorted(counts.items()):
            family.add_metric([status, gateway], float(n))
        return family

    def _senders(self) -> Iterator[Metric]:
        info = GaugeMetricFamily(
            "qasid_sender_info", "1 for every number not removed, with its gateway, status "
            "and health guard mode", labels=["sender_id", "owner_id", "gateway", "status",
                                             "guard_mode"])
        gap = GaugeMetricFamily(
            "qasid_sender_gap_factor",
            "What the health guard multiplies a number's gaps by (1: normal pace)",
            labels=["sender_id"])
        totals = GaugeMetricFamily("qasid_senders", "Numbers by gateway and status",
                                   labels=["gateway", "status"])
        counts: dict[tuple[str, str], int] = {}
        for s in self.senders:
            info.add_metric([str(s.sender_id), str(s.owner_id), s.gateway, s.status,
                             s.guard_mode], 1.0)
            gap.add_metric([str(s.sender_id)], s.gap_factor)
            counts[(s.gateway, s.status)] = counts.get((s.gateway, s.status), 0) + 1
        for (gateway, status), n in sorted(counts.items()):
            totals.add_metric([gateway, status], float(n))
        yield totals
        yield info
        yield gap


class PrometheusMetrics:
    """The ``bot.metrics.Metrics`` sink, and ``app``: the ASGI app of ``GET /metrics``."""

    def __init__(self, figures: DatabaseFigures, clock: Clock = utcnow) -> None:
        self._db = figures  # the database's figures (bot/services/metrics.py)
        self._clock = clock
        self.registry = CollectorRegistry()
        self._sends = Counter(
            "qasid_sends", "Messages handed to a gateway by the dispatcher, by outcome "
            "(sent, or the gateway's error category)", ["gateway", "result"],
            registry=self.registry)
        self._send_seconds = Histogram(
            "qasid_send_seconds", "How long a gateway's send call took for one message",
            ["gateway"], buckets=SEND_BUCKETS, registry=self.registry)
        self._webhooks = Counter(
            "qasid_webhook_requests", "Incoming gateway webhooks by gateway and how they "
            "were answered", ["kind", "result"], registry=self.registry)
        self._webhook_errors = Counter(
            "qasid_webhook_errors", "Incoming gateway webhooks not answered 200 (bad "
            "signature, bad body, too large, overloaded, database unavailable, failed)",
            ["kind"], registry=self.registry)
        self._deliveries = Counter(
            "qasid_outgoing_webhook_deliveries", "Events posted to owners' webhook "
            "endpoints: delivered (2xx), failed, dropped (undelivered for too long)",
            ["result"], registry=self.registry)
        for result in DELIVERY_RESULTS:
            self._deliveries.labels(result)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._figures = _DatabaseFigures()
        self.registry.register(self._figures)
        self._kept_until = 0.0  # time.monotonic() until which the outbox count is kept
        self._counting: asyncio.Task[None] | None = None  # the outbox count running
        self._read_lock = asyncio.Lock()

    # --- the sink (bot.metrics.Metrics) ------------------------------------------------

    def send(self, gateway: str, result: str, seconds: float) -> None:
        self._sends.labels(gateway, result).inc()
        self._send_seconds.labels(gateway).observe(seconds)

    def webhook(self, kind: str, result: str) -> None:
        self._webhooks.labels(kind, result).inc()
        if result != "ok":
            self._webhook_errors.labels(kind).inc()

    def delivery(self, result: str) -> None:
        self._deliveries.labels(result).inc()

    # --- scraping --------------------------------------------------------------------------

    async def scrape(self) -> bytes:
        """The exposition text, the database's figures read now (see the module's
        docstring for the outbox count kept)."""
        async with self._read_lock:  # two scrapes at once read once each, in turn
            await self._read()
            return generate_latest(self.registry)

    async def _read(self) -> None:
        f = self._figures
        f.engine = self._db.engine
        now = self._clock().timestamp()
        try:  # first: on SQLite they would wait behind the outbox count on the reader
            f.gateways = await self._db.gateways()
            f.queue = await self._db.queue(now)
            f.senders = await self._db.senders()
            f.leases = await self._db.leases(now)
        except Exception as exc:  # the process's own figures are still served
            log.warning("metrics: the database's figures could not be read: %s", exc)
            f.ok = False
            self._kept_until = 0.0
            return
        f.ok, f.now = True, now
        if self._counting is None and time.monotonic() >= self._kept_until:
            self._counting = asyncio.create_task(self._count_outbox(),
                                                 name="qasid-metrics-outbox")
        if self._counting is not None:  # not cancelled when the wait ends: it goes on
            await asyncio.wait({self._counting}, timeout=OUTBOX_WAIT)

    async def close(self) -> None:
        """Before the database closes: an outbox count still running is cancelled."""
        task = self._counting
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def _count_outbox(self) -> None:
        started = time.monotonic()
        try:
            rows = await self._db.outbox()
        except Exception as exc:  # tried again at the next scrape
            log.warning("metrics: the outbox could not be counted: %s", exc)
            self._kept_until = 0.0
            return
        finally:
            self._counting = None
        took = time.monotonic() - started
        self._figures.outbox, self._figures.outbox_at = rows, started
        self._kept_until = started + min(KEEP_MAX, took * KEEP_FACTOR) if took >= CHEAP else 0.0

    async def app(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """ASGI: ``GET /metrics`` (and ``HEAD``); 404 elsewhere, 405 for other methods."""
        if scope["type"] != "http":
            return
        if scope["path"] != "/metrics":
            await _answer(send, 404, b"Not Found\n", b"text/plain; charset=utf-8")
            return
        if scope["method"] not in ("GET", "HEAD"):
            await _answer(send, 405, b"", b"text/plain; charset=utf-8", allow=b"GET, HEAD")
            return
        body = await self.scrape()
        await _answer(send, 200, b"" if scope["method"] == "HEAD" else body,
                      CONTENT_TYPE_PLAIN_0_0_4.encode(), length=len(body))


async def _answer(send: Any, status: int, body: bytes, content_type: bytes, *,
                  length: int | None = None, allow: bytes | None = None) -> None:
    headers = [(b"content-type", content_type),
               (b"content-length", str(len(body) if length is None else length).encode())]
    if allow is not None:
        headers.append((b"allow", allow))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class _Server(uvicorn.Server):
    def capture_signals(self):  # untyped as bot/__main__.py's: uvicorn's own type
        return contextlib.nullcontext()  # the process's own handlers stop it


class MetricsServer:
    """``PrometheusMetrics.app`` on its own host and port (uvicorn, in this event loop)."""

    def __init__(self, metrics: PrometheusMetrics, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._server = _Server(uvicorn.Config(metrics.app, host=host, port=port,
                                              interface="asgi3", log_config=None, lifespan="off",
                                              access_log=False))
        self._task: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    async def start(self) -> bool:
        """Listen; False (and a warning) when the address cannot be bound."""
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            log.warning("metrics: cannot listen on %s:%s (%s); /metrics is not served",
                        self.host, self.port, exc)
            return False
        if self.port == 0:
            self.port = sock.getsockname()[1]
        sock.set_inheritable(True)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]),
                                         name="qasid-metrics")
        while not self._server.started and not self._task.done():  # noqa: ASYNC110 (a flag)
            await asyncio.sleep(0.01)
        if self._task.done():
            log.warning("metrics: the server on %s:%s stopped at once", self.host, self.port)
            return False
        log.info("metrics on %s", self.url)
        return True

    async def stop(self) -> None:
        if self._task is None:
            return
        self._server.should_exit = True
        with contextlib.suppress(Exception):
            await self._task
        self._task = None


def metrics_server(metrics: PrometheusMetrics, host: str, port: int) -> MetricsServer | None:
    """The listener ``METRICS_HOST``/``METRICS_PORT`` ask for; None when the port is 0."""
    if port == 0:
        return None
    return MetricsServer(metrics, host, port)
