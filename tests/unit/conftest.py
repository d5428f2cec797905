"""Fixtures shared by the unit tests."""

from __future__ import annotations

import pytest

from bot.storage.db import Database
from tests.unit.seeding import Seeded, seed_owner


@pytest.fixture
async def alice(db: Database, clock) -> Seeded:
    return await seed_owner(db, clock, 101)


@pytest.fixture
async def bob(db: Database, clock) -> Seeded:
    return await seed_owner(db, clock, 102)
