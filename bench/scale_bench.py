"""Issue 22's figures on PostgreSQL, one part a sub-command:

    python bench/scale_bench.py import [--rows N] [--url URL]

``import``: a 1,000,000-row CSV (``tests/data/samples/make_samples.py big N``, cached in
bench/data/ as import_bench.py's) imported end to end through ``ContactsService`` into a
fresh PostgreSQL database (the COPY writer, ``bot/storage/bulk_pg.py``), then again (all
known): rows/s, and where the CPU went (the parser's child process, the bot's process,
PostgreSQL's processes). Then the split: parsing alone (read + normalise + encode, in a
child process as an import parses), the normaliser alone, and the writer alone on the
parsed chunks (COPY vs the merge statements). Target: >= 150,000 rows/s end to end.

The server: ``--url`` or ``QASID_BENCH_PG`` (a libpq URL of a server where the bench may
create a database), else a throwaway cluster of its own started with
``scripts/pg-test-cluster`` on port 54341 (fsync off, as for the tests) and stopped after.
Other parts (dispatch, claims) are functions of their own beside ``import_part``.

    python bench/scale_bench.py claim [--messages N] [--seconds S] [--url URL]
    python bench/scale_bench.py dispatch [--messages N] [--numbers N] [--workers 1,2,4]

``claim`` and ``dispatch`` (``bench/scale_outbox.py``, which says what they measure): the
outbox's claims with 1,000,000 queued messages (p50/p95 a batch, claims/s, one claimer
and four; none claimed twice), and 1, 2 and 4 ``python -m bot worker`` processes sending
through the WAHA adapter over HTTP (messages/s, the ratio to one; none sent twice).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
from bigfiles import make_csv  # noqa: E402

CLUSTER = ROOT / "scripts" / "pg-test-cluster"
BENCH_PORT = "54341"
TICKS = os.sysconf("SC_CLK_TCK")


# --- the server -------------------------------------------------------------------------

@contextmanager
def pg_server(url: str | None) -> Iterator[str]:
    """A server URL: the one given, or a throwaway cluster of the bench's own."""
    url = url or os.environ.get("QASID_BENCH_PG", "").strip() or None
    if url:
        yield url
        return
    env = {**os.environ, "PGTEST_PORT": BENCH_PORT}
    running = subprocess.run([str(CLUSTER), "status"], env=env, check=False,
                             capture_output=True, text=True)
    if running.returncode == 0:  # another run's (bench parts may run at once): left to it
        yield running.stdout.strip()
        return
    started = subprocess.run([str(CLUSTER), "start"], env=env, check=True,
                             capture_output=True, text=True)
    try:
        yield started.stdout.strip()
    finally:
        subprocess.run([str(CLUSTER), "stop"], env=env, check=False, capture_output=True)


def database_url(server: str, name: str) -> str:
    """A fresh database ``name`` on ``server`` (dropped first if there)."""
    import psycopg

    with psycopg.connect(server, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    return urlsplit(server)._replace(path=f"/{name}").geturl()


class ServerCpu:
    """CPU seconds of the PostgreSQL server's processes (the postmaster, its children, and
    the children it has reaped), read from /proc: the server must run on this machine."""

    def __init__(self, url: str) -> None:
        import psycopg

        with psycopg.connect(url) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        assert row is not None
        pid_file = Path(row[0]) / "postmaster.pid"
        self.pid = int(pid_file.read_text().split()[0])

    def seconds(self) -> float:
        ticks = 0
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # gone meanwhile
            pid, ppid = int(entry.name), int(fields[1])
            if pid == self.pid:  # utime, stime, cutime, cstime
                ticks += sum(int(f) for f in fields[11:15])
            elif ppid == self.pid:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / TICKS


def own_cpu() -> tuple[float, float]:
    """CPU seconds of this process and of its children that ended (the parser)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, children.ru_utime + children.ru_stime


# --- import -----------------------------------------------------------------------------

@dataclass
class Run:
    rows: int
    seconds: float
    imported: int
    updated: int
    duplicates: int
    invalid: int
    cpu_parser: float
    cpu_bot: float
    cpu_server: float

    def line(self, label: str) -> str:
        busy = self.cpu_parser + self.cpu_bot + self.cpu_server
        return (f"{label}: {self.rows:,} rows in {self.seconds:.2f} s = "
                f"{self.rows / self.seconds:,.0f} rows/s (new {self.imported:,}, updated "
                f"{self.updated:,}, duplicates {self.duplicates:,}, rejected {self.invalid:,})"
                f"\n    CPU s: parser process {self.cpu_parser:.2f}, bot process "
                f"{self.cpu_bot:.2f}, PostgreSQL {self.cpu_server:.2f} = {busy:.2f} over "
                f"{self.seconds:.2f} s wall ({busy / self.seconds:.2f} cores busy)"
                f"\n    on these cores idle at most {self.rows / self.bound():,.0f} rows/s (the"
                f" parser runs beside the writer; the bot's writer waits for PostgreSQL)")

    def bound(self) -> float:
        """The seconds this CPU would take with the machine to itself: the parser's
        process beside the writer, whose thread and PostgreSQL take turns."""
        cores = os.cpu_count() or 1
        busy = self.cpu_parser + self.cpu_bot + self.cpu_server
        return max(self.cpu_parser, self.cpu_bot + self.cpu_server, busy / cores)


async def end_to_end(url: str, file: Path, repeat: int = 2) -> list[Run]:
    """``file`` imported through ContactsService ``repeat`` times into one list."""
    from bot.domain import Language
    from bot.services.contacts import ContactsConfig, ContactsService
    from bot.storage import owners
    from bot.storage.db import Database

    db = Database(url)
    await db.connect()
    server = ServerCpu(url)
    service = ContactsService(db, ContactsConfig(default_region="AZ", max_file_bytes=1 << 30))
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                 now=datetime.now(UTC))
    runs: list[Run] = []
    list_id = None
    size = file.stat().st_size  # noqa: ASYNC240 - once, before the clock starts
    for _ in range(repeat):
        record = await service.receive_file(owner.id, "file-id", file.name, size)
        record = await service.claim_import(owner.id, record.id, list_id)
        with tempfile.TemporaryDirectory() as tmp:
            bot_cpu, child_cpu = own_cpu()
            server_cpu = server.seconds()
            started = time.perf_counter()
            report = await service.run_import(
                owner.id, record, file, rejected_path=Path(tmp) / "rejected.csv",
                reason_text=str, rejected_headings=("line", "reason"))
            seconds = time.perf_counter() - started
            bot_after, child_after = own_cpu()
            runs.append(Run(report.rows_read, seconds, report.imported, report.updated,
                            report.duplicates, report.invalid, child_after - child_cpu,
                            bot_after - bot_cpu, server.seconds() - server_cpu))
        list_id = report.list_id
    await db.close()
    return runs


def parse_alone(file: Path) -> tuple[float, list[str]]:
    """The file parsed in a child process as an import parses it, nothing written: the
    seconds until the last batch arrived, and the batches (for ``writer_alone``)."""
    from bot.services.imports.worker import ParseOptions, ParseRun

    chunks = []
    started = time.perf_counter()
    with ParseRun(ParseOptions(file, file.name, "AZ", False, 10**8), in_process=True) as run:
        for parsed in run:
            chunks.append(parsed.rows)
    return time.perf_counter() - started, chunks


def normaliser_alone(file: Path) -> tuple[int, float]:
    """The phone column of ``file`` through the importer's normaliser: (numbers, s)."""
    from bot.services.imports.phones import PhoneNormaliser

    with file.open(encoding="utf-8", newline="") as stream:
        reader = csv.reader(stream)
        next(reader)
        phones = [row[1] for row in reader]
    normalise = PhoneNormaliser("AZ").normalise
    started = time.perf_counter()
    for phone in phones:
        normalise(phone)
    return len(phones), time.perf_counter() - started


def writer_alone(url: str, chunks: list[str]) -> list[tuple[str, int, float, dict, float]]:
    """The parsed chunks written by the PostgreSQL writer alone into a fresh owner's new
    list, then again (all known): (label, contacts, s, writer's timings, server CPU s)."""
    import psycopg

    from bot.storage.bulk_pg import PgImportWriter
    from bot.storage.db import Database

    async def migrate() -> None:
        db = Database(url)
        await db.connect()
        await db.close()

    asyncio.run(migrate())
    server = ServerCpu(url)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "INSERT INTO owners (telegram_id, chat_id, created_at, updated_at)"
            " VALUES (2, 2, 0, 0) RETURNING id").fetchone()
    assert row is not None
    owner_id = int(row[0])
    count = sum(text.count('],["') + 1 for text in chunks)
    results = []
    for label in ("first write", "again (all known)"):
        cpu = server.seconds()
        started = time.perf_counter()
        with PgImportWriter(url) as writer:
            list_id = writer.create_list(owner_id, label, datetime.now(UTC))
            for text in chunks:
                writer.write_chunk(owner_id, list_id, text, datetime.now(UTC))
        seconds = time.perf_counter() - started
        results.append((label, count, seconds, dict(writer.timings),
                        server.seconds() - cpu))
    return results


def import_part(rows: int, url: str | None, split: bool = True) -> None:
    file = make_csv(rows)
    with pg_server(url) as server:
        target = database_url(server, "qasid_scale_import")
        print(f"import: {file.name} ({file.stat().st_size / 1e6:.0f} MB) into PostgreSQL "
              f"({urlsplit(server).netloc}), {os.cpu_count()} cores, load "
              f"{os.getloadavg()[0]:.1f}")
        runs = asyncio.run(end_to_end(target, file))
        for n, run in enumerate(runs):
            print(run.line("  end to end, " + ("first import" if n == 0
                                                else "re-import (all known)")))
        rate = runs[0].rows / runs[0].seconds
        print(f"  target >= 150,000 rows/s end to end: {'met' if rate >= 150_000 else 'NOT met'}"
              f" ({rate:,.0f})")
        if not split:
            return
        print("  where the time goes (each alone, nothing else running):")
        seconds, chunks = parse_alone(file)
        print(f"    parse + normalise + encode (child process): {seconds:.2f} s = "
              f"{rows / seconds:,.0f} rows/s")
        numbers, seconds = normaliser_alone(file)
        print(f"    of which the normaliser: {numbers:,} numbers in {seconds:.2f} s "
              f"({seconds / numbers * 1e6:.1f} us each)")
        for label, count, seconds, timings, cpu in writer_alone(
                database_url(server, "qasid_scale_writer"), chunks):
            print(f"    PostgreSQL writer alone, {label}: {count:,} contacts in {seconds:.2f} s"
                  f" = {count / seconds:,.0f} rows/s (COPY {timings['copy']:.2f} s, merge "
                  f"{timings['merge']:.2f} s; server CPU {cpu:.2f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = parser.add_subparsers(dest="part", required=True)
    part = parts.add_parser("import", help="contact import into PostgreSQL with COPY")
    part.add_argument("--rows", type=int, default=1_000_000)
    part.add_argument("--url", help="a server where the bench may create a database")
    part.add_argument("--no-split", action="store_true", help="end to end only")
    # claim and dispatch: bench/scale_outbox.py (its docstring says what they measure)
    part = parts.add_parser("claim", help="outbox claims with 1M queued messages")
    part.add_argument("--messages", type=int, default=1_000_000)
    part.add_argument("--seconds", type=float, default=10.0, help="each round's length")
    part.add_argument("--url", help="a server where the bench may create a database")
    part = parts.add_parser("dispatch", help="N workers sending through the WAHA adapter")
    part.add_argument("--messages", type=int, default=20_000)
    part.add_argument("--numbers", type=int, default=40)
    part.add_argument("--workers", default="1,2,4", help="the worker counts, one round each")
    part.add_argument("--url", help="a server where the bench may create a database")
    args = parser.parse_args()
    if args.part == "import":
        import_part(args.rows, args.url, split=not args.no_split)
    elif args.part in ("claim", "dispatch"):
        import scale_outbox

        with pg_server(args.url) as server:
            if args.part == "claim":
                scale_outbox.claim_part(server, args.messages, args.seconds)
            else:
                scale_outbox.dispatch_part(server, args.messages, args.numbers,
                                           [int(n) for n in args.workers.split(",")])


if __name__ == "__main__":
    main()
