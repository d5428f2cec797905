"""A bare HTTP/1.1 load generator for the benches that measure our server (httpx would
measure itself: about 430 requests/s on this machine, see webhook_bench.py): requests
written as raw bytes over keep-alive connections, answers read by their Content-Length."""

from __future__ import annotations

import asyncio
import time
from typing import Any


async def read_answer(reader: asyncio.StreamReader) -> int:
    """Read one answer (head and body); its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = 0
    for line in lines[1:]:
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    if length:
        await reader.readexactly(length)
    return status


async def load(port: int, requests: list[bytes], connections: int) -> dict[str, Any]:
    """Send every request once over ``connections`` connections to 127.0.0.1:``port``, each
    waiting for its answer: seconds, statuses, this process's CPU seconds, p50 and p99."""
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    queue = iter(requests)
    streams = [await asyncio.open_connection("127.0.0.1", port) for _ in range(connections)]

    async def worker(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        for request in queue:  # a shared iterator: each request is taken once
            sent = time.perf_counter()
            writer.write(request)
            status = await read_answer(reader)
            latencies.append(time.perf_counter() - sent)
            statuses[status] = statuses.get(status, 0) + 1
        writer.close()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker(r, w) for r, w in streams))
    seconds = time.perf_counter() - started
    latencies.sort()
    return {"seconds": seconds, "statuses": statuses, "cpu": time.process_time() - cpu,
            "p50": latencies[len(latencies) // 2],
            "p99": latencies[max(0, int(len(latencies) * 0.99) - 1)]}
