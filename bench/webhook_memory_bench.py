"""Slow, large webhook bodies against the production web app: does memory stay bounded?

    python bench/webhook_memory_bench.py [CONNECTIONS] [BODY_KB]    (defaults 1,000 and 900)

The production web app (``create_web_app`` with ``CloudWebhook``, a secret set, and the
``WebLimits`` of the default settings) is served by uvicorn in a child process, on an
empty database, as ``python -m bot`` serves it. This process opens CONNECTIONS
connections to ``POST /webhooks/cloud``, each announcing a body of BODY_KB kilobytes (under
the 1 MB limit), sends all of it but the last byte, and waits: the slow clients of an
attack. Meanwhile ``GET /healthz`` is asked; then the child's peak memory (VmHWM) is read
and every connection is closed. Prints the answers the slow clients got (503: refused for
the budget), the health answers, and the child's resident memory before and at its peak.
Target: peak under 200 MB, health 200 throughout.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.__main__ import run_loop  # noqa: E402 (the event loop python -m bot runs on)

TARGET_MB = 200


def _memory(pid: int) -> tuple[float, float]:
    """(resident, peak resident) MB of a process."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


async def serve() -> None:
    import uvicorn

    from bot.config import Settings
    from bot.gateways.sandbox import SandboxConfig, SandboxGateway
    from bot.services.dispatcher import Dispatcher, DispatcherConfig
    from bot.services.sender_directory import SenderDirectory
    from bot.services.templates import TemplatesService
    from bot.storage.db import Database
    from bot.web.app import WebLimits, create_web_app
    from bot.web.cloud import CloudWebhook
    from tests.fakes import RecordingNotifier

    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(Path(tmp) / "m.sqlite3")
        await db.connect()
        dispatcher = Dispatcher(db, SandboxGateway(SandboxConfig()), TemplatesService(db),
                                RecordingNotifier(), DispatcherConfig(progress_every=3600))

        async def health() -> dict[str, bool]:
            return {"database": True}

        app = create_web_app(
            health, cloud_webhook=CloudWebhook(SenderDirectory(db), dispatcher.events,
                                               "bench-secret", "token"),
            limits=WebLimits(inflight_bytes=settings.webhook_inflight_mb * 1024 * 1024,
                             per_client=settings.webhook_per_client,
                             body_seconds=settings.webhook_body_seconds))
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off",
                                               access_log=False, backlog=4096))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:  # noqa: ASYNC110 (a flag only)
            await asyncio.sleep(0.01)
        print(sock.getsockname()[1], flush=True)  # the port, for the attacker
        await serving


async def health(port: int) -> int:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: q\r\nConnection: close\r\n\r\n")
    line = await asyncio.wait_for(reader.readline(), 10)
    writer.close()
    return int(line.split()[1])


async def attack(connections: int, body_kb: int) -> None:
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert child.stdout is not None
    port = int(await child.stdout.readline())
    before, _ = _memory(child.pid)
    size = body_kb * 1024
    head = (f"POST /webhooks/cloud HTTP/1.1\r\nHost: q\r\nContent-Type: application/json"
            f"\r\nContent-Length: {size}\r\n\r\n").encode()
    chunk = b"x" * 65536
    answers: dict[int | str, int] = {}
    healths: list[int] = []
    streams = []
    started = time.perf_counter()

    async def slow_client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        streams.append(writer)
        writer.write(head)
        sent = 0
        try:
            while sent < size - 1 and not reader.at_eof():
                part = chunk[: min(len(chunk), size - 1 - sent)]
                writer.write(part)
                await writer.drain()
                sent += len(part)
                await asyncio.sleep(0.01)  # slow
        except (ConnectionError, RuntimeError):  # the server answered and closed
            pass
        try:
            line = await asyncio.wait_for(reader.readline(), 5)
            status: int | str = int(line.split()[1]) if line else "closed"
        except TimeoutError:
            status = "held"  # still waiting for its last byte
        except ConnectionError:
            status = "closed"  # refused, and the rest of its body cut off
        answers[status] = answers.get(status, 0) + 1

    clients = [asyncio.create_task(slow_client()) for _ in range(connections)]
    while not all(c.done() for c in clients):
        healths.append(await health(port))
        await asyncio.sleep(0.5)
    healths.append(await health(port))
    now, peak = _memory(child.pid)
    seconds = time.perf_counter() - started
    for writer in streams:
        writer.close()
    child.terminate()
    await child.wait()
    held, closed = answers.pop("held", 0), answers.pop("closed", 0)
    print(f"webhook memory: {connections:,} slow connections with {body_kb:,} KB bodies in "
          f"{seconds:.1f} s: {held:,} held open waiting for their last byte, {closed:,} "
          f"refused and cut off, answered {dict(sorted(answers.items()))}; "
          f"/healthz {sorted(set(healths))} "
          f"({len(healths)} asks); server RSS {before:.0f} MB before, {now:.0f} MB after, "
          f"peak {peak:.0f} MB (target < {TARGET_MB} MB)")


def main() -> None:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # a socket each, both sides
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    if sys.argv[1:2] == ["--serve"]:
        run_loop(serve())
        return
    connections = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    body_kb = int(sys.argv[2]) if len(sys.argv) > 2 else 900
    run_loop(attack(connections, body_kb))


if __name__ == "__main__":
    main()
