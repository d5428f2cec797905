"""The integration API over HTTP: requests a second and latency, one figure per scenario.

    python bench/api_bench.py [REQUESTS] [CONNECTIONS] [SCENARIO ...]
        (defaults 20,000 and 50; every scenario)

For each scenario: a fresh SQLite database with an active owner and an API key with every
scope (and what the scenario prepares), then the whole app (``bot.app.Qasid``, its Telegram
side the console's in-process fake Bot API, the dispatcher's own ticks off) served by
uvicorn in a **separate process**, as ``python -m bot`` serves it (httptools on uvloop
when installed; the figures line names both), and ``API_RATE_PER_SECOND`` set out of the
way. This process sends the scenario's REQUESTS requests over CONNECTIONS keep-alive
connections, one at a time on each, timed from the first to the last answer; then the
server stops and the scenario checks the database. Prints requests/s, the answers by
status, p50/p99 latency, the CPU each process used, and the scenario's own check.

The load generator is a minimal HTTP/1.1 client on raw asyncio streams (as in
``bench/webhook_bench.py``): httpx as the client tops out near 430 requests/s here and
would measure itself.

Adding a figure: a ``Scenario`` in ``SCENARIOS``: ``prepare`` writes what it needs into
the database before the server starts, ``requests`` makes the raw requests (``request``
builds one), ``check`` reads the database after the server stopped and says what it found
(None when the figure must not count, e.g. a message in the outbox twice).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.http_load import load  # noqa: E402
from bot.__main__ import freeze_startup, run_loop  # noqa: E402 (as python -m bot runs)

OWNER_TELEGRAM = 4242


# -- what a scenario gets -----------------------------------------------------------------


@dataclass(slots=True)
class Bench:
    """One scenario's run: its database, the owner and key, the server's port."""

    db_path: Path
    owner_id: int = 0
    key: str = ""
    port: int = 0
    notes: dict[str, Any] = field(default_factory=dict)  # the scenario's own

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> bytes:
        """One HTTP/1.1 request to ``/api/v1{path}`` with the key, as bytes."""
        raw = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        lines = [f"{method} /api/v1{path} HTTP/1.1", f"Host: 127.0.0.1:{self.port}",
                 f"Authorization: Bearer {self.key}", f"Content-Length: {len(raw)}"]
        if body is not None:
            lines.append("Content-Type: application/json")
        lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + raw


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    what: str  # e.g. "GET /balance"
    requests: Callable[[Bench, int], list[bytes]]
    prepare: Callable[[Any, Bench], Awaitable[None]] | None = None  # (db, bench)
    check: Callable[[Any, Bench, int], Awaitable[str | None]] | None = None  # (db, ., ok)
    target: float | None = None  # requests (or ``unit``) a second
    p99_ms: float | None = None
    ok_status: int = 200
    per_request: int = 1  # items a request carries (10,000 contacts): the figure is theirs
    unit: str = "requests"
    count: int | None = None  # its own number of requests (None: the command line's)
    connections: int | None = None  # its own number of connections (None: the line's)


# -- the scenarios ------------------------------------------------------------------------


def _balance_requests(bench: Bench, n: int) -> list[bytes]:
    one = bench.request("GET", "/balance")
    return [one] * n


CONTACTS_PER_REQUEST = 10_000


async def _contacts_prepare(db: Any, bench: Bench) -> None:
    from bot.clock import utcnow
    from bot.storage import lists

    async with db.transaction() as tx:
        bench.notes["list_id"] = (await lists.create(tx, bench.owner_id, "Synced",
                                                     utcnow())).id


def _contacts_requests(bench: Bench, n: int) -> list[bytes]:
    """``n`` upserts of 10,000 new contacts each (a name and two variables, into one
    list), as a CRM's first sync sends them; numbers written as people do at home."""
    return [bench.request("POST", "/contacts", {
        "contacts": [{"phone": f"050 {r:03d} {k // 100:02d} {k % 100:02d}",
                      "name": f"Client {r}-{k}",
                      "variables": {"City": "Bakı", "order": r * CONTACTS_PER_REQUEST + k}}
                     for k in range(CONTACTS_PER_REQUEST)],
        "list_ids": [bench.notes["list_id"]]}) for r in range(n)]


async def _contacts_check(db: Any, bench: Bench, ok: int) -> str | None:
    async with db.reader.execute(
        "SELECT COUNT(*), COUNT(DISTINCT phone), SUM(attributes ->> 'city' = 'Bakı')"
        " FROM contacts WHERE owner_id = ?", (bench.owner_id,)) as cur:
        count, distinct, with_city = await cur.fetchone()
    async with db.reader.execute("SELECT COUNT(*) FROM list_members WHERE list_id = ?",
                                 (bench.notes["list_id"],)) as cur:
        (members,) = await cur.fetchone()
    wanted = ok * CONTACTS_PER_REQUEST
    found = (f"{count:,} contacts in the database, {members:,} in the list "
             f"(wanted {wanted:,} each)")
    return found if count == distinct == with_city == members == wanted else None


MESSAGE_CREDITS = 10_000_000


async def _messages_prepare(db: Any, bench: Bench) -> None:
    from bot.clock import utcnow
    from bot.services import billing
    from bot.services.senders import sandbox_default
    from bot.storage import templates

    async with db.transaction() as tx:
        await billing.credit(tx, bench.owner_id, MESSAGE_CREDITS, utcnow(), note="bench")
        bench.notes["template_id"] = (await templates.add(
            tx, bench.owner_id, "Code", ["{Salam|Hello} {{name|friend}}, your code is {{code}}"],
            None, None, utcnow())).id
    await sandbox_default(db, bench.owner_id, utcnow())  # the number they go from


def _messages_requests(bench: Bench, n: int) -> list[bytes]:
    """``n`` single messages to ``n`` phones, a template with a variable each, every one
    with its own Idempotency-Key and client_ref, as a shop's backend sends codes."""
    template = bench.notes["template_id"]
    return [bench.request("POST", "/messages", {
        "phone": f"+99450{k:07d}", "template_id": template,
        "variables": {"code": f"{k % 10_000:04d}"}, "client_ref": f"order-{k}"},
        {"Idempotency-Key": f"bench-{k:08d}"}) for k in range(n)]


async def _messages_check(db: Any, bench: Bench, ok: int) -> str | None:
    """Every accepted message in the outbox exactly once, with its reference, its credit
    reserved and its answer stored under its key."""
    async with db.reader.execute(
        "SELECT COUNT(*), COUNT(DISTINCT client_ref), COUNT(DISTINCT phone),"
        " SUM(status = 'queued') FROM messages WHERE owner_id = ? AND campaign_id IS NULL",
        (bench.owner_id,)) as cur:
        count, refs, phones, queued = await cur.fetchone()
    async with db.reader.execute("SELECT COUNT(*) FROM idempotency_keys WHERE owner_id = ?",
                                 (bench.owner_id,)) as cur:
        (keys,) = await cur.fetchone()
    from bot.storage import ledger

    reserved = (await ledger.balance(db.reader, bench.owner_id)).reserved
    found = (f"{count:,} messages in the outbox ({refs:,} client_refs, {phones:,} phones, "
             f"{queued:,} queued), {keys:,} answers kept, {reserved:,} credits reserved "
             f"(wanted {ok:,} each)")
    return found if count == refs == phones == queued == keys == reserved == ok else None


SCENARIOS: dict[str, Scenario] = {
    "balance": Scenario("balance", "GET /balance", _balance_requests),
    "contacts": Scenario("contacts", "POST /contacts of 10,000", _contacts_requests,
                         prepare=_contacts_prepare, check=_contacts_check, target=50_000,
                         per_request=CONTACTS_PER_REQUEST, unit="contacts", count=20,
                         connections=1),  # measured: 2 and 4 add nothing (server CPU-bound)
    "messages": Scenario("messages", "POST /messages with an Idempotency-Key",
                         _messages_requests, prepare=_messages_prepare,
                         check=_messages_check, target=1_500, p99_ms=50, ok_status=202,
                         unit="messages"),
}


# -- the server (a separate process) ------------------------------------------------------


async def _serve(db_path: Path) -> None:
    import socket

    import uvicorn
    from telegram.request import HTTPXRequest

    from bot.app import Qasid
    from bot.config import Settings
    from bot.console.botapi import FakeBotApi

    settings = Settings(_env_file=None, database_path=db_path,  # type: ignore[call-arg]  # _env_file is pydantic-settings' own
                        dispatch_interval=0, api_rate_per_second=10**9, api_burst=10**9,
                        log_level="WARNING")
    api = FakeBotApi()
    qasid = Qasid(settings, request=HTTPXRequest(httpx_kwargs={"transport": api.transport()}),
                  token=api.token, rate_limit=False)
    await qasid.start()

    class _Server(uvicorn.Server):
        def capture_signals(self) -> contextlib.AbstractContextManager[None]:
            return contextlib.nullcontext()  # SIGTERM is this process's own (below)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(qasid.web, log_config=None, lifespan="off",
                                    access_log=False, backlog=2048))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:  # noqa: ASYNC110 (a flag only)
        await asyncio.sleep(0.01)
    freeze_startup()  # as python -m bot does once it serves
    loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
    print(json.dumps({"port": sock.getsockname()[1], "loop": loop,
                      "http": server.config.http_protocol_class.__name__}), flush=True)
    await stop.wait()
    server.should_exit = True
    await serving
    await qasid.stop()


def _cpu_seconds(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the load generator (this process) ----------------------------------------------------


# -- one run ------------------------------------------------------------------------------


async def _prepare(bench: Bench, scenario: Scenario) -> None:
    from bot.clock import utcnow
    from bot.domain import Scope
    from bot.services.api_keys import ApiKeysService
    from bot.storage.db import Database
    from tests.fakes.owners import add_active_owner

    db = Database(bench.db_path)
    await db.connect()
    try:
        async with db.transaction() as tx:
            owner = await add_active_owner(tx, OWNER_TELEGRAM, utcnow())
        bench.owner_id = owner.id
        bench.key = (await ApiKeysService(db).create(owner.id, "bench", tuple(Scope))).secret
        if scenario.prepare is not None:
            await scenario.prepare(db, bench)
    finally:
        await db.close()


async def _check(bench: Bench, scenario: Scenario, ok: int) -> str | None:
    if scenario.check is None:
        return ""
    from bot.storage.db import Database

    db = Database(bench.db_path)
    await db.connect()
    try:
        return await scenario.check(db, bench, ok)
    finally:
        await db.close()


async def run(scenario: Scenario, n: int, connections: int) -> bool:
    n = scenario.count or n
    connections = scenario.connections or connections
    with tempfile.TemporaryDirectory() as tmp:
        bench = Bench(Path(tmp) / "api.sqlite3")
        await _prepare(bench, scenario)
        server = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--server", str(bench.db_path),
            stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT),
                                                 "PTB_TIMEDELTA": "1"})
        assert server.stdout is not None
        ready = json.loads(await server.stdout.readline())
        bench.port = ready["port"]
        requests = scenario.requests(bench, n)
        server_cpu = _cpu_seconds(server.pid)
        result = await load(bench.port, requests, connections)
        after = _cpu_seconds(server.pid)
        server.send_signal(signal.SIGTERM)
        await server.wait()
        statuses = {int(k): v for k, v in result["statuses"].items()}
        ok = statuses.get(scenario.ok_status, 0)
        found = await _check(bench, scenario, ok)
    seconds = result["seconds"]
    rate = len(requests) / seconds
    figure = f"{rate:,.0f} requests/s"
    if scenario.per_request > 1:
        figure += f" = {rate * scenario.per_request:,.0f} {scenario.unit}/s"
    target = (f" (target {scenario.target:,.0f} {scenario.unit}/s"
              + (f", p99 <= {scenario.p99_ms:g} ms" if scenario.p99_ms else "") + ")"
              if scenario.target else "")
    busy = (f"server {(after - server_cpu) / seconds:.0%}, "
            if server_cpu is not None and after is not None else "")
    print(f"{scenario.name}: {len(requests):,} x {scenario.what} over {connections} "
          f"connections in {seconds:.2f} s = {figure}{target}; answers "
          f"{dict(sorted(statuses.items()))}; latency p50 {result['p50'] * 1000:.1f} ms, "
          f"p99 {result['p99'] * 1000:.1f} ms (uvicorn {ready['http']} on {ready['loop']}, "
          f"another process; CPU busy: {busy}load generator {result['cpu'] / seconds:.0%})"
          + (f"; {found}" if found else ""), flush=True)
    if found is None or ok != len(requests):
        print(f"{scenario.name}: NOT every request was answered {scenario.ok_status} and "
              "checked", file=sys.stderr)
        return False
    return True


def main(argv: list[str]) -> int:
    if argv[:1] == ["--server"]:
        run_loop(_serve(Path(argv[1])))
        return 0
    numbers = [a for a in argv if a.isdigit()]
    names = [a for a in argv if not a.isdigit()] or list(SCENARIOS)
    n = int(numbers[0]) if numbers else 20_000
    connections = int(numbers[1]) if len(numbers) > 1 else 50
    unknown = [name for name in names if name not in SCENARIOS]
    if unknown:
        print(f"unknown scenario {unknown[0]!r}; there are: {', '.join(SCENARIOS)}",
              file=sys.stderr)
        return 2
    good = True
    for name in names:
        good = run_loop(run(SCENARIOS[name], n, connections)) and good
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
