"""``python -m bot backup`` / ``restore`` as an operator types them: what they print and
their exit status (the copy itself: tests/storage/test_backup.py)."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import bot.__main__ as cli
from bot.backups import run_backup, run_restore
from bot.storage.db import Database


def migrated(path: Path) -> Path:
    async def make() -> None:
        db = Database(path)
        await db.connect()
        await db.close()

    asyncio.run(make())
    return path


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env here
    monkeypatch.setenv("DATABASE_PATH", str(tmp_path / "qasid.sqlite3"))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    migrated(tmp_path / "qasid.sqlite3")
    return tmp_path


def test_help_describes_backup_and_restore(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    for command, words in [("backup", "while the bot runs"), ("restore", "stop the bot")]:
        assert any(line.strip().startswith(command + " ") and words in line
                   for line in text.splitlines()), text
    with pytest.raises(SystemExit):
        cli.main(["backup", "--help"])
    text = capsys.readouterr().out
    assert "--to PATH" in text and "pg_dump" in text and "integrity" in text


def test_backup_prints_the_file_and_its_size_and_never_overwrites(
    here: Path, capsys: pytest.CaptureFixture
) -> None:
    assert cli.main(["backup"]) == 0
    out = capsys.readouterr().out
    found = re.search(r"written to (\S+backups/qasid-\d{8}-\d{6}\.sqlite3) \(([\d.]+) KB", out)
    assert found, out
    made = Path(found.group(1))
    assert made.parent == here / "backups" and made.exists()
    assert abs(float(found.group(2)) - made.stat().st_size / 1024) < 0.1

    assert cli.main(["backup", "--to", str(made)]) == 1
    captured = capsys.readouterr()
    assert "exists already" in captured.err and captured.out == ""

    assert cli.main(["restore", str(made)]) == 0
    out = capsys.readouterr().out
    assert "restored" in out and "before-restore-" in out
    assert cli.main(["restore", str(here / "qasid.sqlite3.before-restore-x")]) == 1
    assert "does not exist" in capsys.readouterr().err


def test_with_postgresql_both_print_pg_tools_and_do_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    settings: Any = SimpleNamespace(
        database_url="postgresql://qasid:hunter2-pw@postgres:5432/qasid",
        database_path=tmp_path / "qasid.sqlite3")
    assert run_backup(settings, None) == 0
    assert run_restore(settings, tmp_path / "x.dump") == 0
    out = capsys.readouterr().out
    assert "pg_dump --format=custom" in out and "pg_restore" in out
    assert "'postgresql://qasid@postgres:5432/qasid'" in out
    assert "hunter2" not in out
    assert list(tmp_path.iterdir()) == []  # nothing made


def test_with_database_url_the_commands_say_the_pg_tools_and_hide_the_password(
    here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgres://qasid:hunter2-pw@10.0.0.5/qasid")
    before = sorted(p.name for p in here.iterdir())
    assert cli.main(["backup"]) == 0
    assert cli.main(["restore", "qasid.dump"]) == 0
    out = capsys.readouterr().out
    assert out.count("pg_dump --format=custom") == 2
    assert "'postgres://qasid@10.0.0.5/qasid'" in out and "hunter2" not in out
    assert sorted(p.name for p in here.iterdir()) == before  # no SQLite backup made
