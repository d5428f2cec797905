"""Backups of the SQLite file, and putting one back (``python -m bot backup|restore``).

A backup is SQLite's online backup (``sqlite3.Connection.backup``) copied a number of
pages at a time. It reads from one snapshot: the source connection holds a read
transaction for the whole copy, so in WAL mode (the bot's) the running bot keeps writing
meanwhile, into the WAL, and the copy is the database as it was when the backup began.
(Without that snapshot SQLite restarts the copy from its first page whenever another
connection writes, and a busy bot's backup never ends.) The copy is written next to its
target as ``<target>.partial``, switched to a rollback journal (one self-contained file),
checked (``PRAGMA integrity_check``, its page count and schema version against the
snapshot's), and only then renamed to its name.

A restore checks the file is a Qasid database (an SQLite file with ``schema_migrations``,
integrity ok), refuses while any process has the database open (it cannot take SQLite's
exclusive lock), moves the current file and its ``-wal``/``-shm`` aside to
``<name>.before-restore-<timestamp>`` and puts a copy of the backup in place.

With PostgreSQL (``DATABASE_URL``) nothing is copied here: ``postgres_advice`` says which
``pg_dump`` / ``pg_restore`` commands to run, the URL's password left out.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

PAGES_PER_STEP = 1024  # 4 MB of 4 KB pages per step: the progress is reported between steps
TIMESTAMP = "%Y%m%d-%H%M%S"

Progress = Callable[[int, int], None]  # (pages copied, pages in all)


class BackupError(Exception):
    """Why a backup or a restore was refused or failed: one line for the operator.
    Nothing was changed when it is raised (a partial copy is removed)."""


@dataclass(frozen=True)
class Backup:
    path: Path
    size: int  # bytes
    pages: int
    schema_version: int


@dataclass(frozen=True)
class Restored:
    path: Path  # the database, now the backup's copy
    aside: Path | None  # the database it replaced, kept (None: there was none)
    schema_version: int


def default_name(now: datetime) -> str:
    return f"qasid-{now.strftime(TIMESTAMP)}.sqlite3"


def target_for(database: Path, to: Path | None, now: datetime) -> Path:
    """Where ``backup`` writes: ``--to`` as given, inside it when it is a folder, else
    ``backups/qasid-YYYYmmdd-HHMMSS.sqlite3`` beside the database file."""
    if to is None:
        return database.parent / "backups" / default_name(now)
    if to.is_dir():
        return to / default_name(now)
    return to


def _uri(path: Path, mode: str) -> str:
    return f"{path.absolute().as_uri()}?mode={mode}"


def _connect(path: Path, mode: str, timeout: float = 5.0) -> sqlite3.Connection:
    """Open an existing file (``mode`` ro or rw: never creates one)."""
    if not path.is_file():
        raise BackupError(f"{path} does not exist (or is not a file)")
    try:
        return sqlite3.connect(_uri(path, mode), uri=True, isolation_level=None,
                               timeout=timeout)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {path}: {exc}") from exc


def _schema_version(conn: sqlite3.Connection, path: Path) -> int:
    """The newest migration applied; a file without ``schema_migrations`` is refused."""
    try:
        found = conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
        ).fetchone()
        if found is None:
            raise BackupError(f"{path} is not a Qasid database (no schema_migrations table)")
        row = conn.execute("SELECT COALESCE(MAX(version), 0) FROM schema_migrations").fetchone()
    except sqlite3.DatabaseError as exc:  # "file is not a database", a damaged header
        raise BackupError(f"{path} is not a Qasid database: {exc}") from exc
    return int(row[0])


def _integrity(conn: sqlite3.Connection, path: Path) -> None:
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{path} failed its integrity check: {exc}") from exc
    if [tuple(row) for row in rows] != [("ok",)]:
        first = "; ".join(str(row[0]) for row in rows[:3])
        raise BackupError(f"{path} failed its integrity check: {first}")


def check(path: Path) -> int:
    """``path`` is a whole Qasid database: its schema version (else ``BackupError``)."""
    conn = _connect(path, "ro")
    try:
        version = _schema_version(conn, path)
        _integrity(conn, path)
        return version
    finally:
        conn.close()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def backup(database: Path, target: Path, *, pages: int = PAGES_PER_STEP,
           progress: Progress | None = None) -> Backup:
    """Copy ``database`` to ``target`` (which must not exist) while others keep writing."""
    if target.exists():
        raise BackupError(f"{target} exists already: nothing was written (name another "
                          "file with --to, or move that one away)")
    source = _connect(database, "rw")
    try:
        version = _schema_version(source, database)
        wal = str(source.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal"
        # The snapshot: writers go on in WAL mode; with a rollback journal a held read
        # would stop them, so that (rare) case copies in one step instead.
        source.execute("BEGIN")
        total = int(source.execute("PRAGMA page_count").fetchone()[0])
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        partial.unlink(missing_ok=True)  # a killed backup's leftover
        copy = sqlite3.connect(partial, isolation_level=None)
        try:
            def report(_status: int, remaining: int, count: int) -> None:
                if progress is not None:
                    progress(count - remaining, count)

            source.backup(copy, pages=pages if wal else -1, progress=report)
            source.execute("COMMIT")
            copy.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
            _integrity(copy, partial)
            copied = int(copy.execute("PRAGMA page_count").fetchone()[0])
            if copied != total or _schema_version(copy, partial) != version:
                raise BackupError(f"the copy of {database} is incomplete ({copied} of "
                                  f"{total} pages): nothing was written")
        except BaseException:
            copy.close()
            partial.unlink(missing_ok=True)
            raise
        copy.close()
        os.chmod(partial, stat.S_IMODE(database.stat().st_mode))  # as private as the original
        _fsync(partial)
        if target.exists():  # appeared meanwhile
            partial.unlink()
            raise BackupError(f"{target} exists already: nothing was written")
        os.replace(partial, target)
    except sqlite3.Error as exc:
        raise BackupError(f"the backup of {database} failed: {exc}") from exc
    finally:
        source.close()
    return Backup(path=target, size=target.stat().st_size, pages=total, schema_version=version)


def _siblings(path: Path) -> list[Path]:
    return [path.with_name(path.name + suffix) for suffix in ("-wal", "-shm")]


def _not_in_use(database: Path) -> None:
    """Take SQLite's exclusive lock for a moment: any other open connection (the bot,
    idle or not, in any process) refuses it. Closing it checkpoints a crashed process's
    leftover WAL into the file, so what is moved aside is whole."""
    conn = _connect(database, "rw", timeout=0)
    try:
        conn.execute("PRAGMA locking_mode = EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("COMMIT")
    except sqlite3.OperationalError as exc:
        raise BackupError(
            f"{database} is open in another process ({exc}): stop the bot first "
            "(systemctl stop qasid, docker compose stop), then restore; nothing was changed"
        ) from exc
    finally:
        conn.close()


def restore(source: Path, database: Path, now: datetime) -> Restored:
    """Put a copy of the backup ``source`` in place of ``database`` (kept aside)."""
    if database.exists() and source.resolve() == database.resolve():
        raise BackupError(f"{source} is the database itself")
    version = check(source)
    if database.exists():
        _not_in_use(database)
    database.parent.mkdir(parents=True, exist_ok=True)
    staged = database.with_name(database.name + ".restoring")
    shutil.copyfile(source, staged)
    if database.exists():
        os.chmod(staged, stat.S_IMODE(database.stat().st_mode))
    _fsync(staged)
    aside: Path | None = None
    if database.exists():
        aside = database.with_name(f"{database.name}.before-restore-{now.strftime(TIMESTAMP)}")
        if aside.exists():
            staged.unlink()
            raise BackupError(f"{aside} exists already: nothing was changed")
        os.replace(database, aside)
        for wal, kept in zip(_siblings(database), _siblings(aside), strict=True):
            if wal.exists():
                os.replace(wal, kept)
    for stale in _siblings(database):  # a -wal of another file must never meet this one
        stale.unlink(missing_ok=True)
    os.replace(staged, database)
    check(database)
    return Restored(path=database, aside=aside, schema_version=version)


def is_postgres(url: str | None) -> bool:
    return bool(url) and str(url).startswith(("postgresql://", "postgres://"))


def without_password(url: str) -> str:
    """The libpq URL with its password (in the authority or ``?password=``) left out."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        netloc = f"{userinfo.split(':', 1)[0]}@{host}"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def postgres_advice(url: str, now: datetime) -> list[str]:
    """What to run for a PostgreSQL database: Qasid leaves it to PostgreSQL's tools."""
    safe = without_password(url)
    dump = f"qasid-{now.strftime(TIMESTAMP)}.dump"
    return [
        "DATABASE_URL is PostgreSQL: back it up with PostgreSQL's own tools (nothing was done).",
        "  backup (while the bot runs; one consistent snapshot):",
        f"    pg_dump --format=custom --file={dump} '{safe}'",
        "  restore (the bot and workers stopped; into the same or an empty database):",
        f"    pg_restore --clean --if-exists --no-owner --single-transaction --dbname='{safe}' "
        f"{dump}",
        "  the password is left out here: give it in PGPASSWORD or ~/.pgpass.",
    ]
