"""Customers' replies over HTTP: WAHA's ``message`` webhooks into the production web app,
routed by the inbox (``bot/services/inbox.py``), and the receipts beside them.

    python bench/inbox_bench.py [REPLIES] [CONNECTIONS]    (defaults 3,000 and 50)

A fresh SQLite database holds a campaign of 2 x REPLIES recipients, every message sent from
a WAHA session (``bench/webhook_bench.py``'s ``prepare``); the owner's inbox is a linked
forum group (topics mode, the recommended one and the heavier: each customer's first
message makes its topic and its conversation). The production web app (``WahaWebhook``,
every body's HMAC checked) is served by uvicorn on 127.0.0.1 beside the database, the
dispatcher and the inbox, as ``python -m bot`` serves them. A load generator in a separate
process (``webhook_bench``'s raw-asyncio HTTP/1.1 client) posts over CONNECTIONS
keep-alive connections, in three steps:

1. receipts alone, at 1,000/s (a ``message.ack`` delivered for REPLIES messages): their
   latency, from when each was due;
2. the same receipts' rate (``ack`` read, for every message) with REPLIES customers'
   replies at the target rate, 500/s, beside them: the receipts' latency again (the
   replies must not delay them) and the replies';
3. the other REPLIES customers' replies alone, as fast as the server takes them: from the
   first request to the last reply *routed* (posted in its new topic), replies/s against
   the target of 500/s, sustained.

Then every reply must be kept (``inbound_messages``), routed and posted once, and every
message read. Telegram's own pace (a group takes about 20 messages a minute) is not
measured: the topics are an in-process outlet that records each post.

Here (2 shared cores, another test suite running beside): 1,370-1,470 replies/s routed;
receipts at 1,000/s p50 0.7 ms / p99 6 ms alone, p50 20-22 ms / p99 60-75 ms beside
500 replies/s (the replies themselves p50 22-24 ms). Before the intake's group commit
(``InboxService.on_incoming``: one transaction per message) it was 680-780 replies/s and
receipts beside the replies queued for seconds.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_load import read_answer  # noqa: E402
from bench.webhook_bench import KEY, SESSION, _request, prepare  # noqa: E402
from bench.webhook_bench import _body as ack_body  # noqa: E402
from bot.__main__ import run_loop  # noqa: E402 (the event loop python -m bot runs on)

TARGET = 500  # replies routed a second
RECEIPT_RATE = 1_000  # receipts a second in steps 1 and 2
GROUP = -1001000000001


def reply_body(chat: str, n: int) -> bytes:
    """A customer's text, as WAHA posts it (see tests/web/test_waha_webhook.py)."""
    return json.dumps({
        "id": f"evt_r{n:025d}", "timestamp": 1_764_061_200_000 + n, "session": SESSION,
        "engine": "WEBJS", "event": "message",
        "payload": {"id": f"false_{chat}_3A{n:018X}", "timestamp": 1_764_061_200,
                    "from": chat, "fromMe": False, "source": "app",
                    "to": "994509990000@c.us", "body": f"Salam! Sabah saat neçədə açıqsınız? #{n}",
                    "participant": None, "hasMedia": False, "mediaUrl": None, "ack": 1,
                    "ackName": "SERVER"},
        "me": {"id": "994509990000@c.us", "pushName": "Shop"},
        "environment": {"version": "2026.9.2", "engine": "WEBJS", "tier": "CORE",
                        "browser": None, "platform": "linux/x64", "worker": {"id": None}},
    }, separators=(",", ":")).encode()


def read_ack(gateway_id: str, n: int) -> bytes:
    body = json.loads(ack_body(gateway_id, n))
    body["payload"].update(ack=3, ackName="READ")
    return json.dumps(body, separators=(",", ":")).encode()


# -- the load generator (a separate process) ----------------------------------------------


async def _load(port: int, requests: list[tuple[str, float, bytes]],
                connections: int) -> dict[str, object]:
    """Each request sent at its due time (seconds after the start; 0: at once), its
    latency counted from then: a server that falls behind makes them late."""
    statuses: dict[int, int] = {}
    latencies: dict[str, list[float]] = {"reply": [], "receipt": []}
    queue = iter(requests)
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]
    begin = time.perf_counter()

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for kind, due, request in queue:  # a shared iterator: each request is taken once
            wait = begin + due - time.perf_counter()
            if wait > 0:
                await asyncio.sleep(wait)
            writer.write(request)
            status = await read_answer(reader)
            latencies[kind].append(time.perf_counter() - max(begin + due, begin))
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    started = time.time()
    await asyncio.gather(*(worker(r, w) for r, w in streams))
    figures: dict[str, object] = {"started": started, "ended": time.time(),
                                  "statuses": statuses}
    for kind, found in latencies.items():
        found.sort()
        if found:
            figures[kind] = {"p50": found[len(found) // 2],
                             "p99": found[max(0, int(len(found) * 0.99) - 1)]}
    return figures


def client_main(port: int, plan_file: Path, connections: int) -> None:
    requests = []
    for line in plan_file.read_text().splitlines():
        kind, due, body = line.split("\t", 2)
        requests.append((kind, float(due), _request(body.encode(), port)))
    print(json.dumps(run_loop(_load(port, requests, connections))), flush=True)


# -- the server side (this process) --------------------------------------------------------


class Topics:
    """The linked group's topics, in process: a topic per customer, each post counted."""

    def __init__(self) -> None:
        self.topics = 0
        self.posts: dict[int, int] = {}  # inbound message id -> times posted
        self.last_post = 0.0

    async def create_topic(self, group_chat_id: int, name: str) -> int | None:
        self.topics += 1
        return self.topics

    async def post(self, notice):  # type: ignore[no-untyped-def]  # the services' CustomerWrote
        self.posts[notice.inbound_id] = self.posts.get(notice.inbound_id, 0) + 1
        self.last_post = time.time()
        return "posted"


async def _serve(app):  # type: ignore[no-untyped-def]  # an ASGI app
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off",
                                           access_log=False, backlog=2048))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (a flag only)
        await asyncio.sleep(0.01)
    return server, serving, sock.getsockname()[1]


async def _client(port: int, plan: list[tuple[str, float, bytes]], tmp: str,
                  connections: int) -> dict:
    plan.sort(key=lambda step: step[1])
    plan_file = Path(tmp) / f"plan-{len(plan)}-{time.time_ns()}.txt"
    plan_file.write_text("\n".join(f"{kind}\t{due}\t{body.decode()}"
                                   for kind, due, body in plan))
    client = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--client", str(port), str(plan_file), str(connections),
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
    out, _ = await client.communicate()
    return json.loads(out)


async def run(replies: int, connections: int) -> float:
    from bot.gateways.router import GatewayRouter
    from bot.gateways.sandbox import SandboxConfig, SandboxGateway
    from bot.services.dispatcher import Dispatcher, DispatcherConfig
    from bot.services.inbox import InboxConfig, InboxService
    from bot.services.replies import RepliesService
    from bot.services.sender_directory import SenderDirectory
    from bot.services.templates import TemplatesService
    from bot.storage import inbox as inbox_repo
    from bot.storage.db import Database
    from bot.web.app import create_web_app
    from bot.web.waha import WahaWebhook
    from tests.fakes import RecordingNotifier

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "inbox.sqlite3")
        await db.connect()
        ids = await prepare(db, 2 * replies)
        async with db.reader.execute("SELECT id FROM owners") as cur:
            (owner_id,) = await cur.fetchone()
        async with db.transaction() as tx:  # the owner's inbox is a linked forum group
            await inbox_repo.link_group(tx, owner_id, GROUP, "bench", datetime.now(UTC))
        gateway = GatewayRouter({"sandbox": SandboxGateway(SandboxConfig())}, "sandbox")
        notifier = RecordingNotifier()
        topics = Topics()
        inbox = InboxService(db, RepliesService(db, notifier=notifier), gateway, notifier,
                             InboxConfig(daily_cap=1000, warmup=()), outlet=topics)
        dispatcher = Dispatcher(db, gateway, TemplatesService(db), notifier,
                                DispatcherConfig(progress_every=3600),
                                replies=inbox.on_incoming)

        async def health() -> dict[str, bool]:
            return {"database": True}

        app = create_web_app(health, waha_webhook=WahaWebhook(SenderDirectory(db),
                                                              dispatcher.events, KEY))
        server, serving, port = await _serve(app)
        chats = [gateway_id.split("_")[1] for gateway_id in ids]
        alone = await _client(port, [("receipt", n / RECEIPT_RATE, ack_body(g, n))
                                     for n, g in enumerate(ids[:replies])], tmp, connections)
        beside = await _client(
            port, [("receipt", n / RECEIPT_RATE, read_ack(g, n))
                   for n, g in enumerate(ids)] +
            [("reply", n / TARGET, reply_body(chats[n], n)) for n in range(replies)],
            tmp, connections)
        await inbox.drain()
        cpu = time.process_time()
        fast = await _client(port, [("reply", 0.0, reply_body(chats[n], n))
                                    for n in range(replies, 2 * replies)], tmp, connections)
        await inbox.drain()
        cpu = time.process_time() - cpu
        seconds = max(fast["ended"], topics.last_post) - fast["started"]
        loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
        server.should_exit = True
        await serving
        await dispatcher.close()
        await inbox.close()
        async with db.reader.execute(
                "SELECT COUNT(*), COUNT(routed_at) FROM inbound_messages") as cur:
            kept, routed = await cur.fetchone()
        async with db.reader.execute(
                "SELECT COUNT(*) FROM messages WHERE status = 'read'") as cur:
            (read,) = await cur.fetchone()
        await gateway.close()
        await db.close()
    rate = replies / seconds
    posted_once = sum(1 for times in topics.posts.values() if times == 1)
    statuses: dict[int, int] = {}
    for step in (alone, beside, fast):
        for status, count in step["statuses"].items():
            statuses[int(status)] = statuses.get(int(status), 0) + count

    def ms(step: dict, kind: str) -> str:
        return (f"p50 {step[kind]['p50'] * 1000:.1f} ms, p99 {step[kind]['p99'] * 1000:.1f} ms")

    print(f"inbox: {replies:,} replies, each a new customer's (a topic each), over "
          f"{connections} connections, routed in {seconds:.2f} s = {rate:,.0f} replies/s "
          f"(target {TARGET:,}); server CPU {cpu / seconds:.0%}; uvicorn "
          f"{server.config.http_protocol_class.__name__} on {loop_name}")
    print(f"  receipts at {RECEIPT_RATE:,}/s: alone {ms(alone, 'receipt')}; beside "
          f"{TARGET:,} replies/s {ms(beside, 'receipt')} (the replies {ms(beside, 'reply')})")
    print(f"  kept {kept:,}, routed {routed:,}, posted once {posted_once:,} in "
          f"{topics.topics:,} topics; messages read {read:,}; answers "
          f"{dict(sorted(statuses.items()))}")
    if not kept == routed == posted_once == 2 * replies or read != 2 * replies:
        print("NOT every reply was kept, routed and posted once", file=sys.stderr)
        raise SystemExit(1)
    return rate


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        client_main(int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return
    replies = int(sys.argv[1]) if len(sys.argv) > 1 else 3_000
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    run_loop(run(replies, connections))


if __name__ == "__main__":
    main()
