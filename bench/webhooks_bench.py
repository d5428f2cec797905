"""Outgoing webhooks to a local receiver: events delivered and signed a second.

    python bench/webhooks_bench.py [EVENTS] [ENDPOINTS]   (defaults 20,000 and 20)

A fresh SQLite database with ENDPOINTS owners, each with one endpoint (all events) at a
receiver on 127.0.0.1 in a **separate process**: a minimal HTTP/1.1 server on raw asyncio
that checks every request's ``Qasid-Signature`` (HMAC-SHA256 of ``timestamp.body`` under
that endpoint's secret, as README's *Webhooks* says) and that each endpoint's event ids
only grow. EVENTS ``message.delivered`` events, spread over the owners, are written as a
receipts batch writes them (``emit_messages`` inside a transaction, 1,000 a batch), then
``WebhooksService`` delivers them (its worker, as the bot runs it: ``AiohttpPoster``, one
request in flight per endpoint, endpoints side by side), timed from its start until the
last one is delivered (its progress written). Then the same with one endpoint: in order,
one at a time, what a single integrator gets.

Last, what writing events costs a receipts batch: EVENTS receipts applied without an
endpoint and with one (receipts/s, and the events written in their transactions).

Prints events/s, what the receiver checked (signatures, order, duplicates), and the CPU
both processes used. The figure counts only when every event arrived once, in order, with
a good signature.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import ClassVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.__main__ import run_loop  # noqa: E402 (the event loop python -m bot runs on)

TARGET = 2_000  # events a second (issue 17)
BATCH = 1_000  # events per transaction, as a receipts batch writes them


# -- the receiver (a separate process) -----------------------------------------------------


class _Receiver(asyncio.Protocol):
    """HTTP/1.1 with Content-Length and keep-alive; checks and counts each request."""

    secrets: ClassVar[dict[str, bytes]] = {}  # path -> the endpoint's secret
    last: ClassVar[dict[str, int]] = {}  # path -> the last event id accepted
    stats: ClassVar[dict[str, int]] = {"ok": 0, "bad_signature": 0, "out_of_order": 0,
                                       "duplicate": 0}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.WriteTransport = transport  # type: ignore[assignment]  # a TCP transport writes (uvloop's is no asyncio.Transport subclass)
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = {}
            for line in head[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length", "0"))
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.buffer = self.buffer[end + 4 + length:]
            self._check(head[0].split(" ")[1], headers, body)
            self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    def _check(self, path: str, headers: dict[str, str], body: bytes) -> None:
        parts = dict(p.split("=", 1) for p in headers.get("qasid-signature", "").split(","))
        secret = self.secrets.get(path, b"")
        expected = hmac.new(secret, parts.get("t", "").encode() + b"." + body,
                            hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts.get("v1", "")):
            self.stats["bad_signature"] += 1
            return
        number = int(headers["qasid-event-id"].removeprefix("evt_"))
        last = self.last.get(path, 0)
        if number == last:
            self.stats["duplicate"] += 1
        elif number < last:
            self.stats["out_of_order"] += 1
        else:
            self.last[path] = number
            self.stats["ok"] += 1


async def _receive() -> None:
    """Reads {path: secret} on stdin, serves, prints its port; on a line "stats" prints
    what it checked and its CPU."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(_Receiver, "127.0.0.1", 0, backlog=1024)
    print(json.dumps({"port": server.sockets[0].getsockname()[1]}), flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        command = json.loads(line)
        if "secrets" in command:
            _Receiver.secrets = {k: v.encode() for k, v in command["secrets"].items()}
            _Receiver.last = {}
            _Receiver.stats = dict.fromkeys(_Receiver.stats, 0)
            print(json.dumps({"ready": True}), flush=True)
        else:
            print(json.dumps({**_Receiver.stats, "cpu": time.process_time()}), flush=True)


# -- the bot's side (this process) ---------------------------------------------------------


async def _ask(process: asyncio.subprocess.Process, command: dict) -> dict:
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write((json.dumps(command) + "\n").encode())
    await process.stdin.drain()
    return json.loads(await process.stdout.readline())


async def run(events: int, endpoints: int, receiver: asyncio.subprocess.Process,
              port: int) -> bool:
    from bot.clock import utcnow
    from bot.domain import Language, MessageStatus
    from bot.gateways.webhook_client import AiohttpPoster, UrlPolicy
    from bot.services.webhooks import Changed, WebhooksConfig, WebhooksService
    from bot.storage import owners
    from bot.storage.db import Database
    from tests.fakes import RecordingNotifier

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "webhooks.sqlite3")
        await db.connect()
        policy = UrlPolicy(allow_http=True, allow_private=True)
        client = AiohttpPoster(policy, timeout=10.0)
        service = WebhooksService(db, client, RecordingNotifier(),
                                  WebhooksConfig(allow_http=True, allow_private=True))
        secrets: dict[str, str] = {}
        owner_ids = []
        for n in range(endpoints):
            async with db.transaction() as tx:
                owner = await owners.add(tx, telegram_id=9000 + n, chat_id=9000 + n,
                                         language=Language.EN, now=utcnow())
            owner_ids.append(owner.id)
            made = await service.create(owner.id, f"http://127.0.0.1:{port}/o{owner.id}")
            secrets[f"/o{owner.id}"] = made.secret
        await _ask(receiver, {"secrets": secrets})
        # the events, as receipts batches write them (message ids need not exist: their
        # phone and client_ref are read, and absent ones are empty)
        at = utcnow()
        written = time.perf_counter()
        for start in range(0, events, BATCH):
            async with db.transaction() as tx:
                await service.emit_messages(tx, [
                    Changed(k, owner_ids[k % endpoints], 1, MessageStatus.DELIVERED, at)
                    for k in range(start, min(events, start + BATCH))])
        written = time.perf_counter() - written
        before = await _ask(receiver, {"stats": True})
        cpu, started = time.process_time(), time.perf_counter()
        await service.start()
        while service.delivered < events:  # noqa: ASYNC110 (the worker's own counter)
            await asyncio.sleep(0.005)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu
        await service.stop()
        await service.close()
        await db.close()
    after = await _ask(receiver, {"stats": True})
    got = {k: after[k] - (before[k] if k == "cpu" else 0) for k in after}
    rate = events / seconds
    print(f"{endpoints} endpoint{'s' if endpoints > 1 else ''}: {events:,} events written "
          f"in {written:.2f} s ({events / written:,.0f}/s in transactions of {BATCH:,}), "
          f"delivered and signed in {seconds:.2f} s = {rate:,.0f} events/s"
          f" (target {TARGET:,}/s); the receiver checked {got['ok']:,} signatures good and "
          f"in order, {got['bad_signature']} bad, {got['out_of_order']} out of order, "
          f"{got['duplicate']} twice; CPU busy: worker {cpu / seconds:.0%}, receiver "
          f"{got['cpu'] / seconds:.0%}", flush=True)
    good = got["ok"] == events and not (got["bad_signature"] or got["out_of_order"]
                                        or got["duplicate"])
    if not good:
        print("NOT every event arrived once, in order, signed", file=sys.stderr)
    return good


async def receipts(count: int) -> None:
    """What writing the events costs the receipts: ``count`` delivered receipts applied
    in batches of 500 (as the gateways' webhooks bring them), once for an owner without
    an endpoint and once for one whose endpoint wants every event."""
    from bot.clock import utcnow
    from bot.domain import Language, SenderStatus
    from bot.gateways.base import Receipt, ReceiptStatus
    from bot.gateways.webhook_client import AiohttpPoster, UrlPolicy
    from bot.services.receipts import ReceiptsService
    from bot.services.webhooks import WebhooksConfig, WebhooksService
    from bot.storage import owners, senders
    from bot.storage.db import Database
    from tests.fakes import RecordingNotifier

    figures = []
    for hooked in (False, True):
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(Path(tmp) / "receipts.sqlite3")
            await db.connect()
            now = utcnow()
            async with db.transaction() as tx:
                owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                         now=now)
                sender = await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                           phone="+994550000001", status=SenderStatus.ACTIVE,
                                           now=now)
                await tx.executemany(
                    "INSERT INTO messages (owner_id, sender_id, phone, planned_at, status,"
                    " gateway_message_id, sent_at, updated_at)"
                    " VALUES (?, ?, ?, ?, 'sent', ?, ?, ?)",
                    [(owner.id, sender.id, f"+99450{k:07d}", now.timestamp(), f"g{k}",
                      now.timestamp(), now.timestamp()) for k in range(count)])
            poster = AiohttpPoster(UrlPolicy(allow_private=True), timeout=10.0)
            service = WebhooksService(db, poster, RecordingNotifier(),
                                      WebhooksConfig(allow_private=True))
            if hooked:
                await service.create(owner.id, "https://127.0.0.1/hook")
            applier = ReceiptsService(db, webhooks=service)
            started = time.perf_counter()
            for start in range(0, count, 500):
                await applier.apply([Receipt(f"g{k}", ReceiptStatus.DELIVERED, now,
                                             sender_id=sender.id)
                                     for k in range(start, min(count, start + 500))])
            seconds = time.perf_counter() - started
            async with db.reader.execute("SELECT COUNT(*) FROM webhook_events") as cur:
                (written,) = await cur.fetchone()  # type: ignore[misc]  # COUNT(*) is a row
            await poster.close()
            await db.close()
        figures.append((count / seconds, written))
    (plain, _), (with_events, written) = figures
    print(f"receipts: {count:,} delivered receipts applied in batches of 500: "
          f"{plain:,.0f}/s for an owner without endpoints, {with_events:,.0f}/s with their "
          f"{written:,} events written in the same transactions", flush=True)


async def main_async(events: int, endpoints: int) -> bool:
    receiver = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--receiver", stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert receiver.stdout is not None
    port = json.loads(await receiver.stdout.readline())["port"]
    try:
        good = await run(events, endpoints, receiver, port)
        if endpoints > 1:
            good = await run(max(events // 4, 1), 1, receiver, port) and good
    finally:
        receiver.terminate()
        await receiver.wait()
    await receipts(events)
    return good


def main(argv: list[str]) -> int:
    if argv[:1] == ["--receiver"]:
        run_loop(_receive())
        return 0
    numbers = [int(a) for a in argv if a.isdigit()]
    events = numbers[0] if numbers else 20_000
    endpoints = numbers[1] if len(numbers) > 1 else 20
    return 0 if run_loop(main_async(events, endpoints)) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
