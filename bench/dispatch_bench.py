"""Sending speed: the dispatcher end to end (claim, render, send, record) on the sandbox.

    python bench/dispatch_bench.py [MESSAGES] [SENDERS] [--httpcore] [--h11] [--http-only]
    (defaults 20,000 and 10; --httpcore: step 4's client on httpx's own transport instead
    of the adapters' default aiohttp one; --h11: the fake WAHA on h11 and asyncio's loop;
    --http-only: step 4 and the HTTP baselines alone)

1. Pacing off: one campaign of MESSAGES recipients over SENDERS numbers, zero delays;
   ticks until everything is sent; prints messages/s. Target: 1,500 messages/s.
2. Receipts: a "delivered" receipt for every sent message, applied as the gateway's
   events are (gathered, one transaction per batch); prints receipts/s. Target: 5,000/s.
3. Pacing on: 50 campaigns sharing 10 numbers (the "fast" preset's delays), real clock,
   a tick every 0.2 s claiming 0.2 s ahead; prints how late sends were against their
   planned time (worst and 99th percentile). Target: every send within 100 ms.

4. Over HTTP: step 1 again through the production WAHA adapter (real httpx client on the
   transport the adapters make by default, ``bot.gateways.http.default_client``: aiohttp)
   to a fake WAHA server on 127.0.0.1 in another process (``tests/gateways/fake_waha.py``,
   serving with httptools on uvloop as a production WAHA would). Target: 1,500/s.

Steps 1-3 use the in-process sandbox gateway, so their figures are the dispatcher's and
the database's; step 4 adds the HTTP round trips. This process runs its event loop as
``python -m bot`` does (``bot.__main__.run_loop``: uvloop when installed); so do the
trivial HTTP server of the last line and the fake WAHA (uvicorn, httptools, in a thread).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from bot.__main__ import run_loop  # noqa: E402 (the event loop python -m bot runs on)
from bot.domain import Language, LedgerKind, SenderStatus  # noqa: E402
from bot.gateways.base import Receipt, ReceiptStatus  # noqa: E402
from bot.gateways.http import default_client  # noqa: E402
from bot.gateways.sandbox import SandboxConfig, SandboxGateway  # noqa: E402
from bot.gateways.waha import WahaConfig, WahaGateway  # noqa: E402
from bot.services.campaigns import CampaignsConfig, CampaignsService  # noqa: E402
from bot.services.dispatcher import Dispatcher, DispatcherConfig  # noqa: E402
from bot.services.templates import TemplatesService  # noqa: E402
from bot.storage import contacts, ledger, lists, owners, senders, templates  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from tests.fakes import RecordingNotifier  # noqa: E402


async def setup(db: Database, recipients: int, n_senders: int, now: datetime,
                telegram_id: int = 1) -> tuple[int, int, int]:
    async with db.transaction() as tx:
        owner = await owners.get_by_telegram(tx, telegram_id)
        if owner is None:
            owner = await owners.add(tx, telegram_id=telegram_id, chat_id=telegram_id,
                                     language=Language.EN, now=now)
            for n in range(n_senders):
                await senders.add(tx, owner_id=owner.id, gateway="sandbox",
                                  phone=f"+9945000000{n:02d}", status=SenderStatus.ACTIVE,
                                  now=now - timedelta(days=30))
            await ledger.add(tx, owner.id, LedgerKind.CREDIT, 10_000_000, now)
        people = await lists.create(tx, owner.id, f"list {now.timestamp()}", now)
        base = len(await lists.for_owner(tx, owner.id)) * 100_000
        rows = [(f"+99450{base + n:07d}", f"Name {n}", '{"city": "Bakı"}')
                for n in range(recipients)]
        await contacts.upsert(tx, owner.id, rows, now)
        await contacts.add_to_list(tx, owner.id, people.id, [r[0] for r in rows], now)
        template = await templates.add(tx, owner.id, f"t {now.timestamp()}",
                                       ["{Salam|Hello} {{name}} from {{city}}"], None, None, now)
    return owner.id, people.id, template.id


async def confirm(db: Database, service: CampaignsService, owner_id: int, list_id: int,
                  template_id: int, preset: str | None) -> int:
    await service.begin(owner_id)
    await service.choose_list(owner_id, list_id)
    await service.choose_template(owner_id, template_id)
    await service.senders_chosen(owner_id)
    await service.start_now(owner_id)
    if preset is None:
        await service.custom_pacing(owner_id)
        for answer in ("0-0", "1000", "0-0", None):
            await service.custom_value(owner_id, answer)
    else:
        await service.use_preset(owner_id, preset)
    campaign_id = (await service.confirm(owner_id, big_ok=True)).campaign.id
    # the owner's own pace holds the recipients' night (22:00-08:00 in Baku here): at
    # night the bench would send nothing; it measures the dispatcher, at any hour
    async with db.transaction() as tx:
        async with tx.execute("SELECT pacing FROM campaigns WHERE id = ?",
                              (campaign_id,)) as cur:
            row = await cur.fetchone()
        pacing = json.loads(row[0]) | {"recipient_night": False}
        await tx.execute("UPDATE campaigns SET pacing = ? WHERE id = ?",
                         (json.dumps(pacing), campaign_id))
    return campaign_id


def new_client(n_senders: int, transport: str) -> httpx.AsyncClient:
    """Step 4's client: the adapters' default (aiohttp) or httpx's own httpcore + h11."""
    limits = httpx.Limits(max_connections=2 * n_senders)
    return httpx.AsyncClient(limits=limits) if transport == "httpcore" else default_client(limits)


async def unpaced(messages: int, n_senders: int, waha_url: str | None = None,
                  transport: str = "aiohttp", checked: bool = False) -> None:
    """``checked``: the recipients' WhatsApp checks are already on record (a list sent to
    before), so each message is one request; otherwise each new recipient is first
    checked (``GET /api/contacts/check-exists``): two requests per message."""
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "d.sqlite3")
        await db.connect()
        clock = [datetime.now(UTC)]
        client = None
        if waha_url is None:
            gateway = SandboxGateway(SandboxConfig(delivery_delay=3600, invalid_share=0))
        else:
            client = new_client(n_senders, transport)
            gateway = WahaGateway(WahaConfig(waha_url), client)
        dispatcher = Dispatcher(db, gateway, TemplatesService(db), RecordingNotifier(),
                                DispatcherConfig(progress_every=3600, claim_limit=5000,
                                                 daily_cap=10**7, warmup=()),
                                lambda: clock[0])
        service = CampaignsService(db, CampaignsConfig(advice_max=10**7), lambda: clock[0])
        owner_id, list_id, template_id = await setup(db, messages, n_senders, clock[0])
        if waha_url is not None:  # each number is a WAHA session
            async with db.transaction() as tx:
                await tx.execute("UPDATE senders SET external_id = 's' || (id - 1)")
                if checked:
                    await tx.execute(
                        "INSERT INTO whatsapp_checks (owner_id, phone, on_whatsapp, checked_at)"
                        " SELECT owner_id, phone, 1, ? FROM contacts", (clock[0].timestamp(),))
        await confirm(db, service, owner_id, list_id, template_id, None)
        clock[0] += timedelta(seconds=10)
        started = time.perf_counter()
        sent = 0
        while sent < messages:
            report = await dispatcher.tick()
            sent += report.sent + report.failed
            if not report.claimed:
                break
        seconds = time.perf_counter() - started
        loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
        path = (f"sandbox, in process, {loop_name}" if waha_url is None
                else f"WAHA adapter over HTTP, httpx on {transport}, {loop_name}, "
                + ("recipients checked before" if checked
                   else "each new recipient checked first: two requests a message"))
        print(f"pacing off ({path}): {sent:,} messages over {n_senders} numbers in "
              f"{seconds:.2f} s = {sent / seconds:,.0f} messages/s (claim, render, send, "
              f"record; target 1,500)")
        if waha_url is not None:
            await gateway.close()
            assert client is not None
            await client.aclose()
            await dispatcher.close()
            await db.close()
            return

        async with db.reader.execute(
                "SELECT gateway_message_id, sender_id FROM messages WHERE status = 'sent'"
        ) as cur:
            ids = [(row[0], row[1]) async for row in cur]
        at = clock[0]
        # each from the number that sent it, as the gateways report them
        receipts = [Receipt(i, ReceiptStatus.DELIVERED, at, sender_id=s) for i, s in ids]
        started = time.perf_counter()
        applied = 0
        for n in range(0, len(receipts), 500):
            for receipt in receipts[n:n + 500]:
                await dispatcher.events.on_event(receipt)
            applied += await dispatcher.events.flush_receipts()
        seconds = time.perf_counter() - started
        print(f"receipts: {applied:,} of {len(receipts):,} applied in {seconds:.2f} s = "
              f"{applied / seconds:,.0f} receipts/s (target 5,000)")
        if applied != len(receipts):
            raise SystemExit("NOT every receipt was applied")
        await gateway.close()
        await dispatcher.close()
        await db.close()


async def paced(campaigns: int = 50, n_senders: int = 10, per_campaign: int = 2) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "p.sqlite3")
        await db.connect()
        gateway = SandboxGateway(SandboxConfig(delivery_delay=3600, invalid_share=0))
        dispatcher = Dispatcher(db, gateway, TemplatesService(db), RecordingNotifier(),
                                DispatcherConfig(progress_every=3600, lookahead=0.5,
                                                 daily_cap=10**7, warmup=()))
        service = CampaignsService(db, CampaignsConfig(advice_max=10**7))
        for n in range(campaigns):  # one owner per 5 campaigns, each owner its 2 numbers
            telegram_id = 1 + n // (campaigns // n_senders * 2 or 1)
            owner_id, list_id, template_id = await setup(
                db, per_campaign, 2, datetime.now(UTC), telegram_id=telegram_id)
            await confirm(db, service, owner_id, list_id, template_id, "fast")
        async with db.reader.execute("SELECT COUNT(*) FROM messages") as cur:
            total = (await cur.fetchone())[0]
        lateness: list[float] = []
        original_send = gateway.send_text

        async def timed_send(sender, to, text):
            return await original_send(sender, to, text)

        gateway.send_text = timed_send  # type: ignore[method-assign]
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            await dispatcher.tick()
            async with db.reader.execute(
                    "SELECT COUNT(*) FROM messages WHERE status IN ('queued', 'sending')") as cur:
                if (await cur.fetchone())[0] == 0:
                    break
            await asyncio.sleep(0.2)
        async with db.reader.execute(
                "SELECT sent_at - planned_at FROM messages WHERE sent_at IS NOT NULL") as cur:
            lateness = sorted([row[0] async for row in cur])
        await gateway.close()
        await dispatcher.close()
        await db.close()
    if not lateness:
        print("pacing on: nothing was sent")
        return
    p99 = lateness[int(len(lateness) * 0.99) - 1]
    print(f"pacing on: {len(lateness):,} of {total:,} messages, {campaigns} campaigns on "
          f"{n_senders} numbers: lateness worst {lateness[-1] * 1000:.0f} ms, 99th percentile "
          f"{p99 * 1000:.0f} ms, median {lateness[len(lateness) // 2] * 1000:.0f} ms "
          f"(target: all within 100 ms)")


async def http_baseline(url: str, n_senders: int, requests: int = 2000,
                        server: str = "fake WAHA", transport: str = "aiohttp") -> None:
    """The HTTP stack alone (httpx to the fake server), with no dispatcher and no database:
    the ceiling for step 4 on this machine."""
    async with new_client(n_senders, transport) as client:
        async def one_sender(n: int) -> None:
            for _ in range(requests // n_senders):
                answer = await client.post(url + "/api/sendText", json={
                    "session": f"s{n}", "chatId": "994501234567@c.us", "text": "Salam"})
                answer.raise_for_status()

        started = time.perf_counter()
        await asyncio.gather(*(one_sender(n) for n in range(n_senders)))
        seconds = time.perf_counter() - started
    print(f"  the HTTP stack alone (httpx on {transport} -> {server}, {n_senders} connections, "
          f"no dispatcher): {requests / seconds:,.0f} requests/s")


async def _raw_server() -> None:
    """A trivial HTTP/1.1 server (no framework) answering every request with a WAHA-like
    id: to tell the client's cost from the fake WAHA's. Stops when stdin closes."""
    import itertools
    import json as _json

    counter = itertools.count(1)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                if length:
                    await reader.readexactly(length)
                body = _json.dumps({"id": f"true_994501234567@c.us_{next(counter)}"}).encode()
                writer.write(b"HTTP/1.1 201 Created\r\ncontent-type: application/json\r\n"
                             b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    print(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


def main() -> None:
    if sys.argv[1:2] == ["--raw-server"]:
        run_loop(_raw_server())
        return
    flags = {a for a in sys.argv[1:] if a.startswith("--")}
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    messages = int(args[0]) if args else 20_000
    n_senders = int(args[1]) if len(args) > 1 else 10
    transport = "httpcore" if "--httpcore" in flags else "aiohttp"
    if "--http-only" not in flags:
        run_loop(unpaced(messages, n_senders))
        run_loop(paced())
    server = subprocess.Popen(
        [sys.executable, "-m", "tests.gateways.fake_waha", str(n_senders),
         *(["--h11"] if "--h11" in flags else [])],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    fake = "fake WAHA (h11)" if "--h11" in flags else "fake WAHA (httptools, uvloop)"
    try:
        assert server.stdout is not None
        url = server.stdout.readline().strip()
        print(f"step 4: {fake}, client httpx on {transport}")
        run_loop(unpaced(messages, n_senders, waha_url=url, transport=transport))
        run_loop(unpaced(messages, n_senders, waha_url=url, transport=transport,
                         checked=True))
        run_loop(http_baseline(url, n_senders, server=fake, transport=transport))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    raw = subprocess.Popen([sys.executable, __file__, "--raw-server"], stdin=subprocess.PIPE,
                           stdout=subprocess.PIPE, text=True)
    try:
        assert raw.stdout is not None
        url = raw.stdout.readline().strip()
        run_loop(http_baseline(url, n_senders, transport=transport,
                               server="a trivial HTTP server: the client's own ceiling"))
    finally:
        assert raw.stdin is not None
        raw.stdin.close()
        raw.wait(timeout=10)


if __name__ == "__main__":
    main()
