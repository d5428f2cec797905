"""Shared fixtures: a real database per test (SQLite, and PostgreSQL when the environment
gives a server), a controllable clock (``tests/fakes``).

The ``db`` fixture of the tests under ``tests/storage`` runs on both engines:
``test_x[sqlite]`` on a fresh SQLite file, ``test_x[postgres]`` on a fresh PostgreSQL
database copied from a template migrated once per session (``CREATE DATABASE ... TEMPLATE``,
dropped after the test). The server is ``QASID_TEST_PG``, a libpq URL of a server where the
tests may create databases (``export QASID_TEST_PG="$(scripts/pg-test-cluster start)"``).
Without it the postgres half is skipped and the run says so at its end; CI never skips it.
A test elsewhere opts in with ``@pytest.mark.engines("sqlite", "postgres")``; a storage test
that is about SQLite itself says ``@pytest.mark.engines("sqlite")``.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import threading
from collections.abc import AsyncIterator, Iterator
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

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

ENGINES = ("sqlite", "postgres")
PG_URL = os.environ.get("QASID_TEST_PG", "").strip()
PG_SKIPPED = "PostgreSQL run skipped: QASID_TEST_PG unset"
# CI=true without QASID_TEST_PG fails the run: CI never skips the PostgreSQL half
# (.ci/run starts a throwaway cluster and exports QASID_TEST_PG).
CI_REQUIRES_POSTGRES = True


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "engines(*names): the engines the db fixture runs this test on "
                   "(tests/storage: sqlite and postgres unless it says)")
    if CI_REQUIRES_POSTGRES and os.environ.get("CI") == "true" and not PG_URL:
        raise pytest.UsageError(
            f"{PG_SKIPPED}: CI runs the suite on PostgreSQL too "
            "(.ci/run starts scripts/pg-test-cluster and exports it)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Runs a test that uses ``db`` once per engine (see the module's docstring)."""
    if "db_engine" not in metafunc.fixturenames:
        return
    marker = metafunc.definition.get_closest_marker("engines")
    if marker is not None:
        engines = tuple(marker.args)
        unknown = set(engines) - set(ENGINES)
        if unknown:
            raise pytest.UsageError(f"{metafunc.definition.nodeid}: unknown engines {unknown}")
    elif metafunc.definition.path.is_relative_to(TESTS / "storage"):
        engines = ENGINES
    else:
        return
    if engines == ("sqlite",):
        return  # the default, and the test's id stays as it was
    skip = [pytest.mark.skip(reason=PG_SKIPPED)] if not PG_URL else []
    metafunc.parametrize(
        "db_engine",
        [pytest.param(e, id=e, marks=skip if e == "postgres" else []) for e in engines],
        indirect=True,
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if PG_URL:
        return
    skipped = [r for r in terminalreporter.stats.get("skipped", [])
               if PG_SKIPPED in str(getattr(r, "longrepr", ""))]
    if skipped:
        terminalreporter.write_line(
            f"{PG_SKIPPED} ({len(skipped)} [postgres] tests; "
            "export QASID_TEST_PG=\"$(scripts/pg-test-cluster start)\" to run them)",
            yellow=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "qasid.sqlite3"


@pytest.fixture
def db_engine(request: pytest.FixtureRequest) -> str:
    """The engine of this test's ``db``: "sqlite" unless parametrized (see above)."""
    return str(getattr(request, "param", "sqlite"))


# --- PostgreSQL ---------------------------------------------------------------------------

def pg_database_url(name: str) -> str:
    """QASID_TEST_PG's server, database ``name``."""
    return urlsplit(PG_URL)._replace(path=f"/{name}").geturl()


def pg_engine_there() -> bool:
    """Whether ``Database(url)`` opens PostgreSQL (bot/storage/pg.py, issue 22) yet."""
    return getattr(Database(PG_URL), "engine", None) == "postgres"


def _pg_admin() -> Any:
    import psycopg

    return psycopg.connect(PG_URL, autocommit=True)


def apply_pg_migrations(url: str, versions: range = range(1, 10_000)) -> None:
    """bot/storage/migrations_pg's ``versions`` applied with psycopg, in order, each in a
    transaction (the migration tests' way to a database of an older version; and the
    template's until the PostgreSQL engine, bot/storage/pg.py, migrates as it does)."""
    import psycopg

    folder = resources.files("bot.storage") / "migrations_pg"
    files = sorted(f for f in folder.iterdir()
                   if f.name.endswith(".sql") and int(f.name[:4]) in versions)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
                     " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
        done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
        for file in (f for f in files if int(f.name[:4]) not in done):
            with conn.transaction():
                conn.execute(file.read_text("utf-8"))
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, 0)",
                             (int(file.name[:4]), file.name.removesuffix(".sql")))


def _migrate_pg(url: str) -> None:
    """Migrate the template as the application does: ``Database(url).connect()`` (run in a
    thread of its own: this is called from inside the tests' event loop)."""
    if not pg_engine_there():
        apply_pg_migrations(url)
        return

    async def migrate() -> None:
        database = Database(url)
        await database.connect()
        await database.close()

    failure: list[BaseException] = []

    def run() -> None:
        try:
            asyncio.run(migrate())
        except BaseException as exc:  # re-raised in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="pg-template-migrate")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str]:
    """A database migrated once per session (per xdist worker and process: several runs
    may share one server), the template of each test's database."""
    if not PG_URL:
        pytest.skip(PG_SKIPPED)
    name = f"qasid_tpl_{os.getpid()}"
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
    _migrate_pg(pg_database_url(name))
    yield name
    with _pg_admin() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_pg_numbers = itertools.count(1)


@pytest.fixture
def pg_url(pg_template: str) -> Iterator[str]:
    """The URL of a fresh, migrated PostgreSQL database, dropped after the test."""
    name = f"qasid_t_{os.getpid()}_{next(_pg_numbers)}"
    with _pg_admin() as admin:
        # FILE_COPY: 10 ms a copy, against 40 ms writing the template through the WAL
        strategy = " STRATEGY FILE_COPY" if admin.info.server_version >= 150000 else ""
        admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{pg_template}"{strategy}')
        try:
            yield pg_database_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_empty_url() -> Iterator[str]:
    """The URL of a fresh PostgreSQL database without any migration, dropped after."""
    if not PG_URL:
        pytest.skip(PG_SKIPPED)
    name = f"qasid_e_{os.getpid()}_{next(_pg_numbers)}"
    with _pg_admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield pg_database_url(name)
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def db_target(db_engine: str, db_path: Path, request: pytest.FixtureRequest) -> Path | str:
    """What this test's ``Database`` opens: the SQLite file, or a PostgreSQL URL."""
    if db_engine == "postgres":
        if not pg_engine_there():  # never a SQLite file named postgresql:...
            pytest.skip("the PostgreSQL engine (bot/storage/pg.py) is not there yet")
        return str(request.getfixturevalue("pg_url"))
    return db_path


@pytest.fixture
async def db(db_target: Path | str) -> AsyncIterator[Database]:
    database = Database(db_target)
    await database.connect()
    yield database
    await database.close()
