"""``python -m bot backup`` and ``python -m bot restore``: what they print and return.

The work is ``bot/storage/backup.py``'s; this says it to the operator (one line each,
exit status 0 done, 1 refused or failed).
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.clock import utcnow
from bot.config import Settings
from bot.storage import backup as backups


def _database_url(settings: Settings) -> str | None:
    url = getattr(settings, "database_url", None)  # the PostgreSQL setting (issue 22)
    return str(url) if url else None


def _size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value, unit = size / 1024, "KB"
    for bigger in ("MB", "GB", "TB"):
        if value < 1024:
            break
        value, unit = value / 1024, bigger
    return f"{value:.1f} {unit}"


def run_backup(settings: Settings, to: Path | None) -> int:
    now = utcnow()
    url = _database_url(settings)
    if backups.is_postgres(url):
        assert url is not None
        for line in backups.postgres_advice(url, now):
            print(line)
        return 0
    database = Path(settings.database_path)
    target = backups.target_for(database, to, now)
    shown = -1

    def progress(copied: int, total: int) -> None:
        nonlocal shown
        if sys.stderr.isatty() and total and (percent := copied * 100 // total) != shown:
            shown = percent
            print(f"\rcopying {database}: {percent}%", end="", file=sys.stderr, flush=True)

    try:
        made = backups.backup(database, target, progress=progress)
    except backups.BackupError as exc:
        print(f"backup refused: {exc}", file=sys.stderr)
        return 1
    finally:
        if shown >= 0:
            print(file=sys.stderr)
    print(f"backup of {database} written to {made.path} ({_size(made.size)}, schema version "
          f"{made.schema_version}, integrity ok)")
    return 0


def run_restore(settings: Settings, source: Path) -> int:
    now = utcnow()
    url = _database_url(settings)
    if backups.is_postgres(url):
        assert url is not None
        for line in backups.postgres_advice(url, now):
            print(line)
        return 0
    database = Path(settings.database_path)
    try:
        done = backups.restore(source, database, now)
    except backups.BackupError as exc:
        print(f"restore refused: {exc}", file=sys.stderr)
        return 1
    kept = f"; the database it replaced is kept as {done.aside}" if done.aside else ""
    print(f"restored {source} to {database} (schema version {done.schema_version}){kept}. "
          "Start the bot: it applies newer migrations, if any.")
    return 0
