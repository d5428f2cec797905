"""Contact import, end to end: parse, normalise, write to a fresh SQLite database.

    python bench/import_bench.py [CSV_ROWS] [XLSX_ROWS]     (defaults 1,000,000 and 100,000)

Data comes from ``tests/data/samples/make_samples.py big N FILE`` (cached in bench/data/);
the XLSX holds the first XLSX_ROWS rows of that CSV (see ``bigfiles.py``). Each measurement
runs in a fresh process, so the peak RSS printed is that import's own. Targets on this machine:
>= 100,000 rows/s for CSV and XLSX, peak RSS < 200 MB, a re-import at least as fast.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bigfiles import make_csv, make_xlsx


async def one_import(file: Path, database: Path, repeat: int) -> dict:
    """Import ``file`` ``repeat`` times into ``database``; figures of each run."""
    from bot.domain import Language
    from bot.services.contacts import ContactsConfig, ContactsService
    from bot.storage import owners
    from bot.storage.db import Database

    db = Database(database)
    await db.connect()
    # a file this big needs a self-hosted Bot API server (Telegram's own serves 20 MB)
    service = ContactsService(db, ContactsConfig(default_region="AZ", max_file_bytes=1 << 30))
    async with db.transaction() as tx:
        owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                 now=datetime.now(UTC))
    runs = []
    list_id = None
    size = file.stat().st_size  # noqa: ASYNC240 - once, before the clock starts
    for _ in range(repeat):
        record = await service.receive_file(owner.id, "file-id", file.name, size)
        record = await service.claim_import(owner.id, record.id, list_id)
        started = time.perf_counter()
        with tempfile.TemporaryDirectory() as tmp:
            report = await service.run_import(
                owner.id, record, file, rejected_path=Path(tmp) / "rejected.csv",
                reason_text=str, rejected_headings=("line", "reason"),
            )
        elapsed = time.perf_counter() - started
        list_id = report.list_id
        runs.append({"rows": report.rows_read, "seconds": elapsed,
                     "imported": report.imported, "updated": report.updated,
                     "duplicates": report.duplicates, "invalid": report.invalid})
    await db.close()
    return {"runs": runs, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def measure(file: Path, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(file), str(Path(tmp) / "b.sqlite3"),
             str(repeat)], check=True, capture_output=True, text=True,
        )
    return json.loads(out.stdout)


def report(label: str, figures: dict) -> None:
    for n, run in enumerate(figures["runs"]):
        kind = "first import" if n == 0 else "re-import (all known)"
        print(f"{label}, {kind}: {run['rows']:,} rows in {run['seconds']:.2f} s = "
              f"{run['rows'] / run['seconds']:,.0f} rows/s  (new {run['imported']:,}, "
              f"updated {run['updated']:,}, duplicates {run['duplicates']:,}, "
              f"rejected {run['invalid']:,})")
    print(f"{label}: peak RSS {figures['peak_rss_mb']:.0f} MB")


def writer_alone(file: Path, rows: int = 200_000) -> None:
    """The SQLite writer alone: the first ``rows`` rows of ``file``, parsed beforehand,
    written as an import writes them (upsert, list, one transaction) into a fresh database,
    then again (all known). With parsing alone (``parse_bench.py``) it bounds the pipeline."""
    from bot.domain import Language
    from bot.services.imports.worker import ParseOptions, ParseRun
    from bot.storage import owners
    from bot.storage.bulk import ImportWriter
    from bot.storage.db import Database

    chunks = []
    with ParseRun(ParseOptions(file, file.name, "AZ", False, 10**8), in_process=False) as run:
        for parsed in run:
            chunks.append((parsed.rows, parsed.count))
            if parsed.rows_read >= rows:
                break
    count = sum(n for _, n in chunks)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "w.sqlite3"

        async def new_owner() -> int:
            db = Database(path)
            await db.connect()
            async with db.transaction() as tx:
                owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                         now=datetime.now(UTC))
            await db.close()
            return owner.id

        owner_id = asyncio.run(new_owner())
        for label in ("first write", "again (all known)"):
            started = time.perf_counter()
            with ImportWriter(path) as writer:
                list_id = writer.create_list(owner_id, label, datetime.now(UTC))
                for text, _ in chunks:
                    writer.write_chunk(owner_id, list_id, text, datetime.now(UTC))
            seconds = time.perf_counter() - started
            print(f"SQLite writer alone, {label}: {count:,} contacts in {seconds:.2f} s = "
                  f"{count / seconds:,.0f} rows/s")


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        figures = asyncio.run(one_import(Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])))
        print(json.dumps(figures))
        return
    csv_rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    xlsx_rows = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
    big_csv = make_csv(csv_rows)
    big_xlsx = make_xlsx(big_csv, xlsx_rows)
    report(f"CSV {csv_rows:,} rows", measure(big_csv, repeat=2))
    report(f"XLSX {xlsx_rows:,} rows", measure(big_xlsx, repeat=2))
    writer_alone(big_csv, csv_rows)


if __name__ == "__main__":
    main()
