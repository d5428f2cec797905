"""Shared fixtures: a real SQLite file per test, a controllable clock."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.storage.db import Database

# The gateways' published specifications (tests/contracts/specs/README.md says where each
# comes from) and realistic contact files with their expected counts and generator.
TESTS = Path(__file__).resolve().parent
SPECS = TESTS / "contracts" / "specs"
SAMPLES = TESTS / "data" / "samples"

# python-telegram-bot warns about its coming timedelta API unless told to use it now.
os.environ.setdefault("PTB_TIMEDELTA", "1")


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self.now = start or datetime(2026, 11, 25, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "qasid.sqlite3"


@pytest.fixture
async def db(db_path: Path) -> AsyncIterator[Database]:
    database = Database(db_path)
    await database.connect()
    yield database
    await database.close()
