"""Cold start of ``python -m bot``: from process spawn to "ready" (polling + HTTP up).

The bot talks to an in-process fake Bot API served on 127.0.0.1, so the figure is the
bot's own start-up (imports, settings, migrations on a fresh database, Telegram
initialisation, scheduler, HTTP server), not Telegram's latency.

    python bench/startup.py [RUNS]
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bot.console.botapi import FakeBotApi
from bot.console.http import serving

TARGET = 1.5


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def one_start(url: str, token: str, folder: Path, fresh_db: bool) -> float:
    db = folder / (f"fresh-{time.time_ns()}.sqlite3" if fresh_db else "warm.sqlite3")
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(folder), "TELEGRAM_BOT_TOKEN": token,
        "TELEGRAM_API_URL": f"{url}/bot", "TELEGRAM_FILE_URL": f"{url}/file/bot",
        "DATABASE_PATH": str(db), "HTTP_PORT": str(free_port()), "LOG_LEVEL": "WARNING",
    }
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", cwd=folder, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    line = await asyncio.wait_for(proc.stdout.readline(), timeout=60)
    elapsed = time.perf_counter() - started
    if not line.startswith(b"ready:"):
        raise SystemExit(f"the bot did not start: {(await proc.stderr.read()).decode()}")
    proc.send_signal(signal.SIGTERM)
    await proc.communicate()
    return elapsed


async def main(runs: int) -> None:
    api = FakeBotApi()
    with tempfile.TemporaryDirectory() as tmp:
        async with serving(api) as url:
            await one_start(url, api.token, Path(tmp), fresh_db=True)  # warm the OS file cache
            fresh = [await one_start(url, api.token, Path(tmp), True) for _ in range(runs)]
            warm = [await one_start(url, api.token, Path(tmp), False) for _ in range(runs)]
    for label, times in (("fresh database", fresh), ("existing database", warm)):
        print(f"cold start to ready, {label}: median {statistics.median(times):.3f} s, "
              f"best {min(times):.3f} s, worst {max(times):.3f} s ({runs} runs)")
    verdict = "OK" if statistics.median(fresh) < TARGET else "OVER"
    print(f"target < {TARGET} s: {verdict}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 5))
