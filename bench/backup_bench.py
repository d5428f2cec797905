"""``python -m bot backup`` on a big database while another connection keeps writing.

    python bench/backup_bench.py [MB]     (default 500)

A migrated Qasid file on a temp folder, filled with MB of 1 KB rows; a writer thread (the
bot) commits one row at a time in WAL mode all along. Timed: the backup (SQLite's online
backup from one snapshot, 1024 pages a step, then the copy's integrity check), the rows
the writer committed meanwhile and its slowest commit (the backup must not stop it), then
the restore of that copy (the writer stopped).
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.clock import utcnow  # noqa: E402
from bot.storage import backup as backups  # noqa: E402
from bot.storage.db import Database  # noqa: E402


async def _migrate(path: Path) -> None:
    db = Database(path)
    await db.connect()
    await db.close()


def main(megabytes: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        database = Path(tmp) / "qasid.sqlite3"
        asyncio.run(_migrate(database))
        conn = sqlite3.connect(database, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        rows = megabytes * 1000
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO probe (body) VALUES (?)",
                         (("x" * 1000,) for _ in range(rows)))
        conn.execute("COMMIT")
        conn.close()
        size = database.stat().st_size / 1e6

        stop, writes, worst = threading.Event(), [0], [0.0]

        def writer() -> None:
            c = sqlite3.connect(database, isolation_level=None, timeout=30)
            while not stop.is_set():
                began = time.perf_counter()
                c.execute("INSERT INTO probe (body) VALUES (?)", ("y" * 1000,))
                worst[0] = max(worst[0], time.perf_counter() - began)
                writes[0] += 1
                time.sleep(0.001)  # a busy bot, not a tight loop holding the GIL
            c.close()

        thread = threading.Thread(target=writer)
        thread.start()
        time.sleep(0.2)
        writes[0], worst[0] = 0, 0.0
        began = time.perf_counter()
        made = backups.backup(database, Path(tmp) / "backups" / "copy.sqlite3")
        took = time.perf_counter() - began
        during, slowest = writes[0], worst[0]
        stop.set()
        thread.join()
        print(f"database {size:,.0f} MB: backup (copy + integrity check) {took:.1f} s "
              f"({size / took:,.0f} MB/s), {made.size / 1e6:,.0f} MB written")
        print(f"  the writer meanwhile: {during:,} commits, slowest {slowest * 1000:.1f} ms")
        began = time.perf_counter()
        backups.restore(made.path, database, utcnow())
        print(f"restore (checks, copy, check): {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500)
