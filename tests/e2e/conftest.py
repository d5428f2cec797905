"""End-to-end harness: the real Qasid application, talking to an in-process fake Bot API.

The application's database is ``db_target`` (tests/conftest.py): each test that starts the
bot (``make_settings``, ``harness``) runs on both engines, ``test_x[sqlite]`` on a fresh
SQLite file and ``test_x[postgres]`` on a fresh PostgreSQL database (``QASID_TEST_PG``;
skipped without it). A test about SQLite itself says ``@pytest.mark.engines("sqlite")``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from telegram.request import HTTPXRequest

from bot.app import Qasid
from bot.config import Settings
from bot.console.botapi import FakeBotApi, FakeUser
from bot.console.driver import ChatDriver
from tests.conftest import ENGINES

ADMIN_ID = 900


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test here whose database is ``db_target`` runs on every engine unless it names
    its engines (tests/conftest.py's hook parametrizes it, after this one)."""
    if ("db_engine" in metafunc.fixturenames
            and metafunc.definition.get_closest_marker("engines") is None):
        metafunc.definition.add_marker(pytest.mark.engines(*ENGINES))


def database_settings(db_target: Path | str) -> dict[str, object]:
    """The settings that point the application at ``db_target``."""
    if isinstance(db_target, str):
        return {"database_url": db_target}
    return {"database_path": db_target}


def database_env(db_target: Path | str) -> dict[str, str]:
    """The same, as the environment of a ``python -m bot`` child process."""
    if isinstance(db_target, str):
        return {"DATABASE_URL": db_target}
    return {"DATABASE_PATH": str(db_target)}


class Harness:
    def __init__(self, api: FakeBotApi, settings: Settings) -> None:
        self.api, self.settings = api, settings
        self.qasid: Qasid | None = None

    async def start(self) -> Qasid:
        self.api.add_user(FakeUser(id=ADMIN_ID, first_name="Admin"))  # the admin opened the bot
        request = HTTPXRequest(httpx_kwargs={"transport": self.api.transport()})
        self.qasid = Qasid(self.settings, request=request, token=self.api.token,
                           rate_limit=False)
        await self.qasid.start()
        return self.qasid

    async def restart(self) -> Qasid:
        """Stop the bot and start a new one on the same database, as after a crash."""
        assert self.qasid is not None
        await self.qasid.stop()
        return await self.start()

    async def stop(self) -> None:
        if self.qasid is not None:
            await self.qasid.stop()

    def chat(self, user_id: int, language: str = "en", name: str = "User") -> ChatDriver:
        assert self.qasid is not None
        user = FakeUser(id=user_id, first_name=name, language_code=language)
        return ChatDriver(self.qasid.application, self.api, user)

    @property
    def admin(self) -> ChatDriver:
        return self.chat(ADMIN_ID, name="Admin")

    async def register(self, user_id: int, *, name: str = "Aysel", company: str = "Gül Evi",
                       phone: str = "+994501234567", language: str = "en") -> ChatDriver:
        """A user answers every registration question and accepts the terms."""
        chat = self.chat(user_id, language, name)
        await chat.send("/start")
        await chat.send(name)
        await chat.send(company)
        await chat.share_contact(phone)
        await chat.press(chat.buttons()[0])  # the terms: accept
        return chat

    async def active_owner(self, user_id: int, **kwargs: str) -> ChatDriver:
        """A registered owner whose request the admin approved with the button."""
        chat = await self.register(user_id, **kwargs)
        await self.admin.press("✅ Approve")  # the newest request is this owner's
        return chat


@pytest.fixture
def make_settings(db_target: Path | str) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            **database_settings(db_target),
            "admin_ids": frozenset({ADMIN_ID}),
            "telegram_bot_token": None,
            "sandbox_delivery_delay": 0.01,
            "sandbox_read_delay": 0.01,
        }
        values.update(overrides)
        return Settings(_env_file=None, **values)  # type: ignore[call-arg]

    return make


@pytest.fixture
async def harness(request: pytest.FixtureRequest, make_settings) -> AsyncIterator[Harness]:
    """The bot on the fake Bot API. A module marked ``no_ticks`` gets no dispatcher ticks:
    the messages stay where the test puts them."""
    still = request.node.get_closest_marker("no_ticks") is not None
    h = Harness(FakeBotApi(), make_settings(dispatch_interval=0) if still else make_settings())
    await h.start()
    yield h
    await h.stop()
