"""``python -m bot web`` and ``python -m bot worker`` in one process each: which jobs each
runs (the web's control jobs, the worker's sending), and that only a process among
several writes leases; ``run`` (role "all") stays the whole service, without any."""

from __future__ import annotations

from telegram.request import HTTPXRequest

from bot.app import Qasid, Role
from bot.console.botapi import FakeBotApi, FakeUser
from tests.e2e.conftest import ADMIN_ID

SENDING = {"dispatcher", "number-checks", "health-guard"}
CONTROL = {"transfer-orders", "automations", "credits"}


async def started(make_settings, role: Role) -> tuple[Qasid, set[str]]:
    api = FakeBotApi()
    api.add_user(FakeUser(id=ADMIN_ID, first_name="Admin"))
    request = HTTPXRequest(httpx_kwargs={"transport": api.transport()})
    qasid = Qasid(make_settings(), request=request, token=api.token, rate_limit=False,
                  role=role)
    await qasid.start()
    assert qasid.application.job_queue is not None
    return qasid, {job.name for job in qasid.application.job_queue.jobs() if job.name}


async def leases(qasid: Qasid) -> list[str]:
    async with qasid.db.reader.execute("SELECT name FROM leases ORDER BY name") as cur:
        return [row[0] for row in await cur.fetchall()]


async def test_each_role_runs_its_own_jobs(make_settings) -> None:
    for role, expected in (("all", SENDING | CONTROL), ("web", CONTROL | {"progress"}),
                           ("worker", SENDING)):
        qasid, jobs = await started(make_settings, role)  # type: ignore[arg-type]
        try:
            assert jobs & (SENDING | CONTROL | {"progress"}) == expected, role
            assert (qasid.leases is None) == (role == "all")
        finally:
            await qasid.stop()


async def test_a_worker_holds_its_heartbeat_and_jobs_while_it_runs_and_gives_them_back(
        make_settings) -> None:
    worker, _ = await started(make_settings, "worker")
    try:
        await worker.services.dispatcher.tick()  # its first round
        assert worker.leases is not None
        holder = worker.leases.holder
        assert await leases(worker) == ["job:campaigns", f"worker:{holder}"]
    finally:
        await worker.stop()
    check, _ = await started(make_settings, "all")
    try:
        assert await leases(check) == []  # given back at the stop
        await check.services.dispatcher.tick()
        assert await leases(check) == []  # the single process writes none
    finally:
        await check.stop()
