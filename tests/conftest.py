"""Shared fixtures: a real SQLite file per test, a controllable clock (``tests/fakes``)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.storage.db import Database
from tests.fakes import FakeClock

# The gateways' published specifications (tests/contracts/specs/README.md says where each
# comes from) and realistic contact files with their expected counts and generator.
TESTS = Path(__file__).resolve().parent
SPECS = TESTS / "contracts" / "specs"
SAMPLES = TESTS / "data" / "samples"

# python-telegram-bot warns about its coming timedelta API unless told to use it now.
os.environ.setdefault("PTB_TIMEDELTA", "1")


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
