"""``python -m bot web`` beside ``python -m bot worker`` as an operator starts them, real
processes on one database: the web answers Telegram and HTTP and sends nothing, the
worker (no polling, no HTTP) sends the campaign and tells the owner through the Bot API,
and both stop cleanly on SIGTERM, the worker giving its leases back."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import httpx
import pytest

from bot.console.botapi import FakeBotApi, FakeUser
from bot.console.http import serving
from bot.storage.db import Database
from tests.e2e.conftest import database_env
from tests.e2e.test_workers_crash import OWNER_TELEGRAM_ID, prepare

RECIPIENTS = 6


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def rows(db: Database, sql: str, *args: object) -> list[tuple]:
    async with db.reader.execute(sql, args) as cur:
        return [tuple(row) for row in await cur.fetchall()]


@pytest.mark.engines("sqlite", "postgres")
async def test_web_and_a_worker_share_the_work_and_stop_cleanly(
        tmp_path: Path, db_target: Path | str) -> None:
    campaign_id = await prepare(db_target, recipients=RECIPIENTS, numbers=2, pace=0.2)
    api = FakeBotApi()
    owner = FakeUser(id=OWNER_TELEGRAM_ID, first_name="Aysel")
    api.add_user(owner)
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
            "METRICS_PORT": "0",
            "PTB_TIMEDELTA": "1",
            "DISPATCH_INTERVAL": "0.1",
            "SENDER_WARMUP": str(RECIPIENTS),
            "SANDBOX_INVALID_SHARE": "0",
        }
        procs = {}
        for role in ("web", "worker"):
            procs[role] = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bot", role, cwd=tmp_path, env=env,
                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        db = Database(db_target)
        await db.connect()
        try:
            for role, proc in procs.items():
                assert proc.stdout is not None
                line = await asyncio.wait_for(proc.stdout.readline(), timeout=120)
                assert line.startswith(b"ready: worker " if role == "worker"
                                       else b"ready: @qasid_bot"), (role, line)
            async with httpx.AsyncClient() as client:  # the web's HTTP; the worker has none
                health = await client.get(f"http://127.0.0.1:{http_port}/healthz")
            assert health.status_code == 200
            loop = asyncio.get_running_loop()
            deadline = loop.time() + 120
            while await rows(db, "SELECT status FROM campaigns WHERE id = ?",
                             campaign_id) != [("completed",)]:
                assert loop.time() < deadline, "the worker did not send the campaign"
                await asyncio.sleep(0.1)
            gateway_ids = await rows(db, "SELECT gateway_message_id FROM messages"
                                     " WHERE campaign_id = ?", campaign_id)
            api.push_update(api.text_update(owner, "/start"))  # the web answers Telegram
            while len(api.messages(owner.id)) < 2:
                assert loop.time() < deadline, "the web did not answer"
                await asyncio.sleep(0.05)
        finally:
            for proc in procs.values():
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
            errors = {role: (await asyncio.wait_for(proc.communicate(), timeout=60))[1]
                      for role, proc in procs.items()}
            left = await rows(db, "SELECT name FROM leases")
            sent = await rows(db, "SELECT COUNT(*) FROM messages WHERE campaign_id = ?"
                              " AND sent_at IS NOT NULL", campaign_id)
            await db.close()
    for role, proc in procs.items():
        assert proc.returncode == 0, errors[role].decode()
        assert b"Traceback" not in errors[role], errors[role].decode()
    assert sent == [(RECIPIENTS,)]
    # every message went out from the worker (the sandbox's ids carry the process's pid)
    assert {gid.split("-")[1].rsplit("p", 1)[1] for (gid,) in gateway_ids} == {
        f"{procs['worker'].pid:x}"}
    assert left == []  # both gave theirs back
    texts = [m.text for m in api.messages(owner.id)]
    assert any("Promo" in t or "campaign" in t.lower() for t in texts), texts  # progress
