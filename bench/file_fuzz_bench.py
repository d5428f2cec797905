"""File fuzz, bigger than the test's: generated files, the 20 MB worst cases per format, and a
part of them through the whole import into SQLite.

    python bench/file_fuzz_bench.py [--files 20000] [--seed 1] [--imports 500] [--megabytes 20]

The files come from ``tests/unit/imports/fuzzfiles.py`` (with ``--big``: some of several MB).
They are parsed as an import parses them (``ParseRun``) in a process of their own, so the
peak RSS printed is the parse's; each worst case gets a fresh process, so its figure is its
own. A crash is anything but the importer's refusal (another exception, the process dying or
hanging); a partial write is a refused file that left something behind, or an imported one
that wrote other than its contacts. Prints: inputs tried, crashes, partial writes, peak RSS
of the parsing process, the slowest file and its time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.unit.imports.fuzzfiles import (  # noqa: E402 - after the path
    generated,
    run,
    whole_imports,
    worst_cases,
)


def fuzz(seed: int, files: int) -> dict:
    stats = run(generated(seed, range(files), big=True))
    print(f"fuzz, seed {seed}: {stats.inputs:,} files in {stats.seconds:.0f} s "
          f"({', '.join(f'{k} {v:,}' for k, v in sorted(stats.families.items()))})")
    print(f"  outcomes: {', '.join(f'{k} {v:,}' for k, v in stats.outcomes.most_common())}")
    print(f"  crashes: {len(stats.crashes)}")
    for crash in stats.crashes[:20]:
        print(f"    {crash}")
    print(f"  peak RSS of the parsing process: {stats.peak_rss_mb:.0f} MB "
          f"({stats.base_rss_mb:.0f} MB before the first file), reached with {stats.peak_file}")
    print(f"  slowest: {stats.slowest[0]:.2f} s, {stats.slowest[1]}")
    return {"inputs": stats.inputs, "crashes": len(stats.crashes), "rss": stats.peak_rss_mb,
            "slowest": stats.slowest}


def worst(megabytes: int) -> dict:
    print(f"worst cases, about {megabytes} MB each (a fresh parsing process for each):")
    peak, slowest, crashes, inputs = 0.0, (0.0, ""), 0, 0
    for label, name, data in worst_cases(megabytes):
        stats = run([(label, "worst", name, data)], timeout=600)
        inputs += 1
        crashes += len(stats.crashes)
        outcome = (stats.crashes[0]["outcome"] if stats.crashes
                   else next(iter(stats.outcomes)))
        print(f"  {label:<48} {len(data) / 1e6:6.1f} MB  {outcome:<20} "
              f"{stats.slowest[0]:6.2f} s  {stats.peak_rss_mb:5.0f} MB")
        peak = max(peak, stats.peak_rss_mb)
        if stats.slowest[0] > slowest[0]:
            slowest = (stats.slowest[0], f"{label} ({len(data) / 1e6:.1f} MB)")
    return {"inputs": inputs, "crashes": crashes, "rss": peak, "slowest": slowest}


async def imports(seed: int, files: int, count: int) -> dict:
    from bot.domain import Language
    from bot.services.contacts import ContactsConfig, ContactsService
    from bot.storage import owners
    from bot.storage.db import Database

    with tempfile.TemporaryDirectory() as folder:
        db = Database(Path(folder) / "fuzz.sqlite3")
        await db.connect()
        service = ContactsService(db, ContactsConfig(default_region="AZ"))
        async with db.transaction() as tx:
            owner = await owners.add(tx, telegram_id=1, chat_id=1, language=Language.EN,
                                     now=datetime.now(UTC))
        started = time.perf_counter()
        step = max(1, files // count)
        stats = await whole_imports(service, db, owner.id,
                                    generated(seed, range(0, step * count, step), big=True),
                                    Path(folder))
        await db.close()
    print(f"whole imports into SQLite: {stats.files:,} files in "
          f"{time.perf_counter() - started:.0f} s, {stats.imported:,} imported, "
          f"{stats.refused:,} refused, {len(stats.crashes)} crashes, "
          f"{len(stats.partial)} partial writes")
    for line in (stats.crashes + stats.partial)[:20]:
        print(f"    {line}")
    return {"inputs": stats.files, "crashes": len(stats.crashes), "partial": len(stats.partial)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--imports", type=int, default=500)
    parser.add_argument("--megabytes", type=int, default=20)
    options = parser.parse_args()
    results = [fuzz(options.seed, options.files), worst(options.megabytes)]
    whole = asyncio.run(imports(options.seed, options.files, options.imports))
    slowest = max((r["slowest"] for r in results), key=lambda s: s[0])
    print(f"in all: {sum(r['inputs'] for r in results):,} inputs tried "
          f"(+{whole['inputs']:,} whole imports), "
          f"{sum(r['crashes'] for r in results) + whole['crashes']} crashes, "
          f"{whole['partial']} partial writes, peak RSS of the parsing process "
          f"{max(r['rss'] for r in results):.0f} MB, slowest file {slowest[0]:.2f} s "
          f"({slowest[1]})")


if __name__ == "__main__":
    main()
