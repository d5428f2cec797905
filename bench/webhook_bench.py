"""Receipts over HTTP: WAHA's ``message.ack`` webhooks into the production web app.

    python bench/webhook_bench.py [WEBHOOKS] [CONNECTIONS]    (defaults 20,000 and 50)

A fresh SQLite database holds WEBHOOKS messages in state ``sent`` with WAHA-style ids, on
a sender whose gateway is WAHA (session ``shop``). The production Starlette app
(``create_web_app`` with ``WahaWebhook``, a signing key set so every body's HMAC is
checked) is served by uvicorn on 127.0.0.1 in this process, beside the database and the
dispatcher, as ``python -m bot`` serves it. A load generator in a separate process posts one
signed ``message.ack`` (ack 2, delivered) per message over CONNECTIONS keep-alive
connections. Timed: from the first request to the last 200; then every message must be
``delivered`` in the database. Prints webhooks/s, how many were applied, and p50/p99
latency. Target: 3,000 webhooks/s, every one applied.

The load generator is a minimal HTTP/1.1 client on raw asyncio streams: httpx as the
client tops out near 430 requests/s on a small machine and would measure itself.
Both processes run their event loop as ``python -m bot`` does (``bot.__main__.run_loop``:
uvloop when installed), and uvicorn picks its parser as in production (httptools when
installed, else h11); the figures line names both.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_load import load  # noqa: E402
from bot.__main__ import run_loop  # noqa: E402 (the event loop python -m bot runs on)

KEY = "bench-webhook-key"
SESSION = "shop"
TARGET = 3_000


# -- the load generator (a separate process) ----------------------------------------------


def _body(gateway_id: str, n: int) -> bytes:
    """A ``message.ack`` as WAHA posts it (see tests/web/test_waha_webhook.py)."""
    chat = gateway_id.split("_")[1]
    return json.dumps({
        "id": f"evt_{n:026d}", "timestamp": 1_764_061_200_000 + n, "session": SESSION,
        "engine": "WEBJS", "event": "message.ack",
        "payload": {"id": gateway_id, "from": "994509990000@c.us", "to": chat,
                    "participant": None, "fromMe": True, "ack": 2, "ackName": "DEVICE"},
        "me": {"id": "994509990000@c.us", "pushName": "Shop"},
        "environment": {"version": "2026.9.2", "engine": "WEBJS", "tier": "CORE",
                        "browser": None, "platform": "linux/x64", "worker": {"id": None}},
    }, separators=(",", ":")).encode()


def _request(body: bytes, port: int) -> bytes:
    signature = hmac.new(KEY.encode(), body, hashlib.sha512).hexdigest()
    return (f"POST /webhooks/waha HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
            f"Content-Type: application/json\r\nX-Webhook-Hmac: {signature}\r\n"
            f"X-Webhook-Hmac-Algorithm: sha512\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode() + body


def client_main(port: int, ids_file: Path, connections: int) -> None:
    ids = ids_file.read_text().split()
    requests = [_request(_body(gateway_id, n), port) for n, gateway_id in enumerate(ids)]
    print(json.dumps(run_loop(load(port, requests, connections))), flush=True)


# -- the server side (this process): database, dispatcher, web app ------------------------


async def prepare(db, messages: int) -> list[str]:
    """An owner, a WAHA sender and a campaign whose ``messages`` messages are all sent."""
    from bench.dispatch_bench import confirm, setup
    from bot.services.campaigns import CampaignsConfig, CampaignsService

    now = datetime.now(UTC) - timedelta(hours=1)
    service = CampaignsService(db, CampaignsConfig(advice_max=10**7), lambda: now)
    owner_id, list_id, template_id = await setup(db, messages, 1, now)
    await confirm(service, owner_id, list_id, template_id, None)
    async with db.transaction() as tx:
        await tx.execute("UPDATE senders SET gateway = 'waha', external_id = ?", (SESSION,))
        await tx.execute(
            "UPDATE messages SET status = 'sent', attempts = 1, sent_at = ?, updated_at = ?,"
            " gateway_message_id = 'true_' || substr(phone, 2) || '@c.us_3EB0'"
            " || printf('%016X', id)", (now.timestamp(), now.timestamp()))
    async with db.reader.execute(
            "SELECT gateway_message_id FROM messages WHERE status = 'sent'") as cur:
        return [row[0] async for row in cur]


async def run(messages: int, connections: int) -> float:
    import uvicorn

    from bot.gateways.sandbox import SandboxConfig, SandboxGateway
    from bot.services.dispatcher import Dispatcher, DispatcherConfig
    from bot.services.sender_directory import SenderDirectory
    from bot.services.templates import TemplatesService
    from bot.storage.db import Database
    from bot.web.app import create_web_app
    from bot.web.waha import WahaWebhook
    from tests.fakes import RecordingNotifier

    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "w.sqlite3")
        await db.connect()
        ids = await prepare(db, messages)
        ids_file = Path(tmp) / "ids.txt"
        ids_file.write_text("\n".join(ids))
        gateway = SandboxGateway(SandboxConfig())  # never called: receipts only
        dispatcher = Dispatcher(db, gateway, TemplatesService(db), RecordingNotifier(),
                                DispatcherConfig(progress_every=3600))

        async def health() -> dict[str, bool]:
            return {"database": True}

        app = create_web_app(health, waha_webhook=WahaWebhook(SenderDirectory(db),
                                                              dispatcher.events, KEY))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off",
                                               access_log=False, backlog=2048))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 (a flag only)
            await asyncio.sleep(0.01)
        client = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--client", str(port), str(ids_file), str(connections),
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)})
        cpu = time.process_time()
        out, _ = await client.communicate()
        cpu = time.process_time() - cpu
        result = json.loads(out)
        loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
        server.should_exit = True
        await serving
        await dispatcher.close()
        async with db.reader.execute(
                "SELECT COUNT(*) FROM messages WHERE status = 'delivered'") as cur:
            applied = (await cur.fetchone())[0]
        await gateway.close()
        await db.close()
    seconds = result["seconds"]
    statuses = {int(k): v for k, v in result["statuses"].items()}
    rate = messages / seconds
    ok = statuses.get(200, 0)
    print(f"webhooks: {messages:,} signed message.ack over {connections} connections in "
          f"{seconds:.2f} s = {rate:,.0f} webhooks/s (target {TARGET:,}); "
          f"answers {dict(sorted(statuses.items()))}; applied {applied:,} of {messages:,}; "
          f"latency p50 {result['p50'] * 1000:.1f} ms, p99 {result['p99'] * 1000:.1f} ms "
          f"(uvicorn {server.config.http_protocol_class.__name__} on {loop_name}; CPU busy: server "
          f"{cpu / seconds:.0%}, load generator {result['cpu'] / seconds:.0%})")
    if applied != messages or ok != messages:
        print("NOT every webhook was applied", file=sys.stderr)
        raise SystemExit(1)
    return rate


def main() -> None:
    if sys.argv[1:2] == ["--client"]:
        client_main(int(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4]))
        return
    messages = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    connections = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    run_loop(run(messages, connections))


if __name__ == "__main__":
    main()
