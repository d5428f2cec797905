"""``bot/storage/backup.py`` on real SQLite files: a backup taken while another
connection keeps writing, a restore and what it refuses.

The backup is SQLite's own; these tests are what an operator relies on: the copy holds
everything committed before it began and nothing half-written, the bot is not stopped
meanwhile, a restore puts the copy back and keeps what it replaced."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.storage import backup as backups
from bot.storage.db import Database

NOW = datetime(2026, 12, 4, 3, 15, 0, tzinfo=UTC)
ROWS = 2000  # about 600 pages of 4 KB: many steps of 16 pages


async def _migrated(path: Path) -> None:
    db = Database(path)
    await db.connect()
    await db.close()


async def _count_as_the_bot(path: Path) -> int:
    db = Database(path)
    await db.connect()
    try:
        async with db.reader.execute("SELECT COUNT(*) FROM probe") as cur:
            row = await cur.fetchone()
            assert row is not None
            return int(row[0])
    finally:
        await db.close()


def qasid_file(path: Path, rows: int = 0) -> Path:
    """A migrated Qasid database with a table of numbered rows of 1 KB."""
    asyncio.run(_migrated(path))
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE probe (n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        conn.executemany("INSERT INTO probe (n, body) VALUES (?, ?)",
                         [(n, "x" * 1000) for n in range(1, rows + 1)])
    conn.close()
    return path


def numbers(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT n FROM probe ORDER BY n")]
    finally:
        conn.close()


def versions(path: Path) -> list[int]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT version FROM schema_migrations")]
    finally:
        conn.close()


class Writer(threading.Thread):
    """Another connection (the running bot) committing one row at a time in WAL mode."""

    def __init__(self, path: Path, first: int) -> None:
        super().__init__(daemon=True)
        self.path, self.next = path, first
        self.committed = 0
        self.stop = threading.Event()
        self.changed = threading.Condition()
        self.error: BaseException | None = None

    def run(self) -> None:
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=5)
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            while not self.stop.is_set():
                conn.execute("INSERT INTO probe (n, body) VALUES (?, ?)", (self.next, "y" * 1000))
                self.next += 1
                with self.changed:
                    self.committed += 1
                    self.changed.notify_all()
        except BaseException as exc:  # the test asserts there was none
            self.error = exc
        finally:
            conn.close()

    def wait_for(self, count: int) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: self.committed >= count, timeout=30)


def test_a_backup_while_another_connection_writes_is_complete_and_consistent(
    tmp_path: Path,
) -> None:
    database = qasid_file(tmp_path / "qasid.sqlite3", rows=ROWS)
    database.chmod(0o600)  # personal data: the copy is as private
    writer = Writer(database, first=ROWS + 1)
    writer.start()
    assert writer.wait_for(1)
    seen: list[tuple[int, int]] = []
    writes_meanwhile: list[bool] = []

    def progress(copied: int, total: int) -> None:
        seen.append((copied, total))
        if len(seen) > 5000:  # a copy restarted by every write would never end
            raise RuntimeError("the backup keeps restarting")
        if len(seen) == 2:  # halfway through the copy: the bot goes on committing
            writes_meanwhile.append(writer.wait_for(writer.committed + 25))

    target = tmp_path / "backups" / "copy.sqlite3"
    try:
        made = backups.backup(database, target, pages=16, progress=progress)
    finally:
        writer.stop.set()
        writer.join()
    assert writer.error is None
    assert writes_meanwhile == [True], "the writer was blocked by the backup"
    assert len(seen) > 10 and seen[-1][0] == seen[-1][1] == made.pages
    assert [b[0] for b in seen] == sorted(b[0] for b in seen), "the copy restarted"

    copied = numbers(target)
    # complete: every row committed before the backup began; consistent: one snapshot,
    # no gap, no half-written row; the rows written meanwhile are in the database only
    assert copied == list(range(1, len(copied) + 1))
    assert len(copied) > ROWS
    assert len(numbers(database)) >= len(copied) + 25
    assert versions(target) == versions(database)
    assert made.path == target and made.size == target.stat().st_size > ROWS * 1000
    assert target.stat().st_mode & 0o777 == 0o600
    assert backups.check(target) == made.schema_version == max(versions(database))
    # one self-contained file: no -wal needed beside it, nothing left over
    assert sorted(p.name for p in target.parent.iterdir()) == ["copy.sqlite3"]
    conn = sqlite3.connect(target)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()


def test_a_backup_never_overwrites_a_file(tmp_path: Path) -> None:
    database = qasid_file(tmp_path / "qasid.sqlite3", rows=3)
    target = tmp_path / "taken.sqlite3"
    target.write_bytes(b"someone's file")
    with pytest.raises(backups.BackupError, match="exists already"):
        backups.backup(database, target)
    assert target.read_bytes() == b"someone's file"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qasid.sqlite3", "taken.sqlite3"]


def test_a_backup_refuses_what_is_not_a_qasid_database(tmp_path: Path) -> None:
    with pytest.raises(backups.BackupError, match="does not exist"):
        backups.backup(tmp_path / "none.sqlite3", tmp_path / "copy.sqlite3")
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (a)").connection.close()
    with pytest.raises(backups.BackupError, match="not a Qasid database"):
        backups.backup(other, tmp_path / "copy.sqlite3")
    assert not (tmp_path / "none.sqlite3").exists()
    assert not (tmp_path / "copy.sqlite3").exists()


def test_the_default_target_is_timestamped_beside_the_database(tmp_path: Path) -> None:
    database = tmp_path / "data" / "qasid.sqlite3"
    assert backups.target_for(database, None, NOW) == \
        tmp_path / "data" / "backups" / "qasid-20261204-031500.sqlite3"
    assert backups.target_for(database, tmp_path, NOW) == tmp_path / "qasid-20261204-031500.sqlite3"
    assert backups.target_for(database, tmp_path / "x.db", NOW) == tmp_path / "x.db"


def test_restore_puts_the_backup_back_and_keeps_the_database_it_replaced(
    tmp_path: Path,
) -> None:
    database = qasid_file(tmp_path / "qasid.sqlite3", rows=10)
    copy = backups.backup(database, tmp_path / "copy.sqlite3").path
    # after the backup: rows 11-15 by the bot, then a process that died without closing
    # its connection, its last rows only in the WAL
    with sqlite3.connect(database) as conn:
        conn.executemany("INSERT INTO probe (n, body) VALUES (?, 'later')",
                         [(n,) for n in range(11, 16)])
    conn.close()
    crash = (
        "import os, sqlite3, sys\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode = WAL')\n"
        "c.execute(\"INSERT INTO probe (n, body) VALUES (16, 'in the wal')\")\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", crash, str(database)], check=True, timeout=60)
    assert (tmp_path / "qasid.sqlite3-wal").stat().st_size > 0

    database.chmod(0o640)
    done = backups.restore(copy, database, NOW)

    assert numbers(database) == list(range(1, 11))
    assert database.stat().st_mode & 0o777 == 0o640
    assert done.aside == tmp_path / "qasid.sqlite3.before-restore-20261204-031500"
    assert numbers(done.aside) == list(range(1, 17)), "what it replaced is kept whole"
    assert done.schema_version == max(versions(database))
    assert copy.exists() and numbers(copy) == list(range(1, 11))  # the backup stays
    names = sorted(p.name for p in tmp_path.iterdir())
    assert not any(n.startswith("qasid.sqlite3-") or n.endswith(".restoring") for n in names)
    assert asyncio.run(_count_as_the_bot(database)) == 10  # the bot starts on it


def test_restore_refuses_while_the_database_is_open(tmp_path: Path) -> None:
    database = qasid_file(tmp_path / "qasid.sqlite3", rows=5)
    copy = backups.backup(database, tmp_path / "copy.sqlite3").path
    bot = sqlite3.connect(database, isolation_level=None)  # the running bot, idle
    bot.execute("PRAGMA journal_mode = WAL")
    assert bot.execute("SELECT COUNT(*) FROM probe").fetchone()[0] == 5
    try:
        before = sorted(p.name for p in tmp_path.iterdir())
        with pytest.raises(backups.BackupError, match="stop the bot first"):
            backups.restore(copy, database, NOW)
        assert sorted(p.name for p in tmp_path.iterdir()) == before
        assert bot.execute("SELECT COUNT(*) FROM probe").fetchone()[0] == 5
    finally:
        bot.close()
    assert backups.restore(copy, database, NOW).aside is not None  # once it has stopped


def test_restore_refuses_a_file_that_is_not_a_whole_qasid_database(
    tmp_path: Path,
) -> None:
    database = qasid_file(tmp_path / "qasid.sqlite3", rows=300)
    text = tmp_path / "notes.txt"
    text.write_text("not a database\n" * 100)
    other = tmp_path / "other.sqlite3"
    sqlite3.connect(other).execute("CREATE TABLE t (a)").connection.close()
    damaged = backups.backup(database, tmp_path / "damaged.sqlite3").path
    data = bytearray(damaged.read_bytes())
    page = 4096
    for at in range(3 * page, len(data) - page, 7 * page):  # tables' pages overwritten
        data[at:at + page] = b"\xa5" * page
    damaged.write_bytes(bytes(data))

    for bad, why in [(text, "not a Qasid database"), (other, "no schema_migrations"),
                     (damaged, "integrity|not a Qasid database"),
                     (tmp_path / "missing.sqlite3", "does not exist")]:
        with pytest.raises(backups.BackupError, match=why):
            backups.restore(bad, database, NOW)
    assert numbers(database) == list(range(1, 301))
    assert not any(p.name.startswith("qasid.sqlite3.") for p in tmp_path.iterdir())


def test_postgres_advice_names_pg_dump_and_never_the_password() -> None:
    url = "postgresql://qasid:s3cr3t-pw@db.example:5432/qasid?sslmode=require&password=other"
    lines = backups.postgres_advice(url, NOW)
    text = "\n".join(lines)
    assert "pg_dump --format=custom --file=qasid-20261204-031500.dump " \
           "'postgresql://qasid@db.example:5432/qasid?sslmode=require'" in text
    assert "pg_restore" in text and "PGPASSWORD" in text
    assert "s3cr3t" not in text and "other" not in text
    assert backups.without_password("postgres://u@h/d") == "postgres://u@h/d"
    assert backups.is_postgres(url) and backups.is_postgres("postgres://h/d")
    assert not backups.is_postgres(None) and not backups.is_postgres("qasid.sqlite3")
