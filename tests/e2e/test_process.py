"""``python -m bot`` as a user starts it: a real process polling a Bot API over HTTP."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx

from bot.console.botapi import FakeBotApi, FakeUser
from bot.console.http import serving
from tests.e2e.conftest import database_env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def wait_for(predicate, seconds: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not predicate():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_the_bot_starts_answers_start_and_stops_cleanly(
    tmp_path: Path, db_target: Path | str,
) -> None:
    api = FakeBotApi()
    user = FakeUser(id=4242, first_name="Nigar", language_code="az")
    api.add_user(user)
    http_port = free_port()
    async with serving(api) as url:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_API_URL": f"{url}/bot",
            "TELEGRAM_FILE_URL": f"{url}/file/bot",
            **database_env(db_target),
            "HTTP_PORT": str(http_port),
            "PTB_TIMEDELTA": "1",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", cwd=tmp_path, env=env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            line = await asyncio.wait_for(proc.stdout.readline(), timeout=30)
            assert line.startswith(b"ready: @qasid_bot"), line
            async with httpx.AsyncClient() as client:
                health = await client.get(f"http://127.0.0.1:{http_port}/healthz")
            assert health.status_code == 200
            assert health.json()["checks"] == {"database": True, "scheduler": True,
                                               "telegram": True}

            api.push_update(api.text_update(user, "/start"))
            await wait_for(lambda: len(api.messages(user.id)) >= 2)
            assert api.messages(user.id)[-1].text == "Adınız nədir?"
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0, stderr.decode()
    assert api.token.split(":")[1] not in stderr.decode()  # the token is never logged
    assert b"Traceback" not in stderr
