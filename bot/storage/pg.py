"""PostgreSQL behind ``Database`` (``DATABASE_URL=postgresql://...``): psycopg 3, async,
a pool of connections, each looking like aiosqlite's to the repositories.

What the repositories see (``bot.storage.dialect`` docstring): ``execute(sql, params)``
usable with ``await`` and ``async with``; cursors with ``fetchone``/``fetchall``/
``rowcount`` and async iteration; rows readable by name and by position (``keys()`` too);
``.dialect`` = ``dialect.POSTGRES``. Their ``?`` and SQLite's numbered ``?NNN`` are
rewritten into psycopg's placeholders once per statement text (cached). A parameter
written ``?::jsonb`` (the dialect writes it: ``array_items('?')``) takes JSON text (a str,
as SQLite's ``json_each(?)`` does) or a Python value, sent as JSON; every other list is
sent as an array (``in_list``'s ``= ANY(?)``). A str is sent as ``text`` (not psycopg's
untyped default), so that ``to_jsonb(?)`` and the like know its type.

Values come back as SQLite gives them: ``numeric`` (``SUM`` of integers) as int (or
float when it has a fraction), booleans as 0/1, ``json``/``jsonb`` as their text (JSON
columns are TEXT; the SQL casts ``::jsonb`` where it reads them). Python's bools are
sent as 0/1 (the schema keeps booleans in integer columns).

Transactions (``PgEngine.transaction``): an asyncio lock in the process, as with SQLite,
and ``pg_advisory_xact_lock(WRITER_LOCK)`` across processes first, so that writers
serialise like SQLite's ``BEGIN IMMEDIATE`` (read-then-write code such as the credit
reservation stays correct without row locks). ``shared=True`` skips the global lock: only
for what is safe with other processes writing meanwhile (claims with ``FOR UPDATE SKIP
LOCKED``, lease renewals). Reads (``reader``) run on any connection of the pool, many at
once, outside a transaction.

Errors: what means "cannot write now" (no space, the connection lost, a lock or
statement timeout, a deadlock, the server shutting down) is raised as
``StorageUnavailable`` as SQLite's are (``db.unavailable``); a constraint is raised as
``IntegrityError``, which is both ``sqlite3.IntegrityError`` and psycopg's, so that code
catching either stays engine-neutral. Anything else keeps psycopg's exception.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sqlite3
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar, NoReturn

import psycopg
from psycopg import errors as pg_errors
from psycopg.abc import AdaptContext
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.pq import TransactionStatus
from psycopg.rows import RowMaker
from psycopg.types.json import Jsonb
from psycopg.types.string import StrDumper
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from bot.clock import utcnow
from bot.errors import StorageUnavailable
from bot.storage import dialect

log = logging.getLogger(__name__)

# pg_advisory_xact_lock keys (64-bit, this application's own): every writing transaction
# takes WRITER_LOCK; migrations run under MIGRATE_LOCK, one process at a time.
WRITER_LOCK = 0x5161_7369_6401  # "Qasid" 01
MIGRATE_LOCK = 0x5161_7369_6402

POOL_MIN, POOL_MAX = 1, 10
POOL_TIMEOUT = 10.0  # seconds waiting for a connection of the pool, then StorageUnavailable
LOCK_TIMEOUT_MS = 30_000  # a transaction waiting this long for a lock gives up (locked)

PgParams = Sequence[Any] | dict[str, Any]


# --- placeholders ---------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Rewritten:
    """A statement in psycopg's words: ``?`` became ``%s`` (``%(pN)s`` when the
    statement numbers its parameters), ``%`` became ``%%``."""

    sql: str
    count: int  # parameters the statement takes
    numbered: bool  # parameters go by name p1..pN (a dict) rather than in order
    jsonb: frozenset[int]  # 1-based parameters written ?::jsonb: sent as JSON

    def params(self, params: Sequence[Any] | None) -> PgParams:
        values = list(params or ())
        if len(values) != self.count:
            raise psycopg.ProgrammingError(
                f"the statement takes {self.count} parameters, {len(values)} given:"
                f" {self.sql[:80]!r}")
        for n in self.jsonb:  # a str is JSON text already (SQLite's json_each(?) takes it)
            if not isinstance(values[n - 1], str):
                values[n - 1] = Jsonb(values[n - 1])
        if self.numbered:
            return {f"p{n}": v for n, v in enumerate(values, 1)}
        return values


_DOLLAR = re.compile(r"\$([A-Za-z_][A-Za-z_0-9]*)?\$")
_NUMBER = re.compile(r"\d+")
_JSONB_CAST = re.compile(r"\s*::\s*jsonb\b", re.IGNORECASE)


def _skip_quoted(sql: str, i: int) -> int:
    """The end (exclusive) of the literal, identifier, comment or dollar-quoted body at
    ``sql[i]``; ``i`` itself when none starts there."""
    c = sql[i]
    if c in "'\"":
        end = sql.find(c, i + 1)
        return len(sql) if end < 0 else end + 1  # '' inside a literal: two literals in a row
    if sql.startswith("--", i):
        end = sql.find("\n", i)
        return len(sql) if end < 0 else end + 1
    if sql.startswith("/*", i):
        end = sql.find("*/", i + 2)
        return len(sql) if end < 0 else end + 2
    if c == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
        m = _DOLLAR.match(sql, i)
        if m:
            end = sql.find(m.group(0), m.end())
            return len(sql) if end < 0 else end + len(m.group(0))
    return i


@lru_cache(maxsize=4096)
def rewrite(sql: str) -> Rewritten:
    """``?``/``?NNN`` as psycopg's placeholders (SQLite's numbering: a bare ``?`` takes
    the largest number so far plus one), ``%`` doubled; literals, quoted names, comments
    and dollar-quoted bodies are left as they are (but for ``%``)."""
    out: list[str] = []
    slots: list[int] = []  # the parameter number of each placeholder, in order
    jsonb: set[int] = set()
    numbered = False
    i, n = 0, len(sql)
    while i < n:
        end = _skip_quoted(sql, i)
        if end > i:
            out.append(sql[i:end].replace("%", "%%"))
            i = end
            continue
        c = sql[i]
        if c == "?":
            m = _NUMBER.match(sql, i + 1)
            if m:
                numbered = True
                number, i = int(m.group(0)), m.end()
            else:
                number, i = max(slots, default=0) + 1, i + 1
            slots.append(number)
            out.append(f"\0{number}\0")
            if _JSONB_CAST.match(sql, i):
                jsonb.add(number)
            continue
        out.append("%%" if c == "%" else c)
        i += 1
    text = "".join(out)
    count = max(slots, default=0)
    if numbered:
        text = re.sub(r"\0(\d+)\0", r"%(p\1)s", text)
    else:
        text = re.sub(r"\0\d+\0", "%s", text)
    return Rewritten(text, count, numbered, frozenset(jsonb))


def statements(script: str) -> list[str]:
    """A migration split into its statements at the semicolons outside literals, quoted
    names, comments and dollar-quoted bodies (``$$ ... $$``); comments-only pieces go."""
    found: list[str] = []
    start = i = 0
    n = len(script)
    while i < n:
        end = _skip_quoted(script, i)
        if end > i:
            i = end
            continue
        if script[i] == ";":
            found.append(script[start:i])
            start = i + 1
        i += 1
    found.append(script[start:])
    return [s.strip() for s in found if _meaningful(s)]


def _meaningful(piece: str) -> bool:
    i, n = 0, len(piece)
    while i < n:
        if piece[i].isspace():
            i += 1
        elif piece.startswith(("--", "/*"), i):
            i = _skip_quoted(piece, i)
        else:
            return True
    return False


# --- rows and values --------------------------------------------------------------------

class Row(tuple[Any, ...]):
    """A row by position (a tuple) and by name (``row["phone"]``, ``keys()``), as
    ``aiosqlite.Row``; names match case-insensitively when not exactly."""

    __slots__ = ()
    _names: ClassVar[tuple[str, ...]] = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            at = self._index.get(key)
            if at is None:
                at = self._index.get(key.lower())
            if at is None:
                raise IndexError(f"No item with that key: {key!r}")
            return tuple.__getitem__(self, at)
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index = {name.lower(): i for i, name in reversed(list(enumerate(names)))}
    index.update({name: i for i, name in reversed(list(enumerate(names)))})
    return type("Row", (Row,), {"__slots__": (), "_names": names, "_index": index})


def _row_factory(cursor: Any) -> RowMaker[Row]:
    description = cursor.description
    if description is None:
        return lambda values: Row(values)
    cls = _row_class(tuple(col.name for col in description))
    return lambda values: cls(values)


class _NumericLoader(Loader):
    """``numeric`` as SQLite would give it: an int when whole, else a float."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data).decode()
        if "." in text or not text.lstrip("-").isdigit():  # a fraction, NaN, Infinity
            return float(text)
        return int(text)


class _BoolLoader(Loader):
    def load(self, data: Buffer) -> int:
        return 1 if bytes(data) == b"t" else 0


class _TextLoader(Loader):
    """``json``/``jsonb`` as its text: the code reads JSON columns as strings."""

    def load(self, data: Buffer) -> str:
        return bytes(data).decode()


class _BoolDumper(Dumper):
    """Python's bools as 0/1 (SQLite stores them so; the schema has integer columns)."""

    def __init__(self, cls: type, context: AdaptContext | None = None) -> None:
        super().__init__(cls, context)
        self.oid = psycopg.adapters.types["int8"].oid

    def dump(self, obj: Any) -> Buffer:
        return b"1" if obj else b"0"


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    adapters = conn.adapters
    adapters.register_loader("numeric", _NumericLoader)
    adapters.register_loader("bool", _BoolLoader)
    for name in ("json", "jsonb"):
        adapters.register_loader(name, _TextLoader)
    adapters.register_dumper(bool, _BoolDumper)
    adapters.register_dumper(str, StrDumper)
    await conn.execute(f"SET lock_timeout = {LOCK_TIMEOUT_MS}")


# --- errors -----------------------------------------------------------------------------

class IntegrityError(sqlite3.IntegrityError, psycopg.IntegrityError):
    """A constraint PostgreSQL enforced (unique, foreign key, not null, check): the same
    exception class code catches on SQLite. ``cause`` is psycopg's error."""

    def __init__(self, cause: psycopg.Error) -> None:
        sqlite3.IntegrityError.__init__(self, str(cause))
        self.cause = cause
        self.sqlstate = cause.sqlstate


# SQLSTATE classes and codes meaning "cannot save now"
_UNAVAILABLE_CLASS = {"08": "io_error", "53": "io_error", "57": "io_error", "58": "io_error",
                      "40": "locked"}
_UNAVAILABLE_CODE = {"53100": "disk_full", "55P03": "locked", "57014": "locked",
                     "25006": "io_error"}  # lock or statement timeout; read-only standby


def unavailable(exc: BaseException) -> StorageUnavailable | None:
    """psycopg's ``exc`` as ``StorageUnavailable`` when it says the database cannot save
    now; else None (a constraint or a bug keeps its own exception)."""
    if isinstance(exc, PoolTimeout):
        return StorageUnavailable("io_error", f"no database connection: {exc}")
    if not isinstance(exc, psycopg.Error) or isinstance(exc, psycopg.IntegrityError):
        return None
    state = exc.sqlstate
    reason = None
    if state:
        reason = _UNAVAILABLE_CODE.get(state) or _UNAVAILABLE_CLASS.get(state[:2])
    elif isinstance(exc, psycopg.OperationalError):  # no SQLSTATE: the connection is gone
        reason = "io_error"
    return StorageUnavailable(reason, str(exc)) if reason else None


def _translated(exc: BaseException) -> BaseException:
    """What to raise for psycopg's ``exc``: ``IntegrityError``, ``StorageUnavailable``, or
    ``exc`` itself (also when it is one of those already)."""
    if isinstance(exc, psycopg.IntegrityError) and not isinstance(exc, IntegrityError):
        return IntegrityError(exc)
    return unavailable(exc) or exc


def _raise(exc: BaseException) -> NoReturn:
    fault = _translated(exc)
    if fault is exc:
        raise exc
    raise fault from exc


# --- cursors and connections ------------------------------------------------------------

class Cursor:
    """A statement's result, read whole when it ran (the connection goes back to the pool
    at once): ``fetchone``, ``fetchall``, ``fetchmany``, ``async for``, ``rowcount``."""

    def __init__(self, rows: list[Row], rowcount: int, description: Any) -> None:
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount
        self.description = description
        self.lastrowid = None  # PostgreSQL has none: dialect.insert_id uses RETURNING id
        self.arraysize = 1

    async def fetchone(self) -> Row | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    async def fetchall(self) -> list[Row]:
        rest, self._at = self._rows[self._at:], len(self._rows)
        return rest

    async def fetchmany(self, size: int | None = None) -> list[Row]:
        size = self.arraysize if size is None else size
        part = self._rows[self._at:self._at + size]
        self._at += len(part)
        return part

    def __aiter__(self) -> AsyncIterator[Row]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Row]:
        while self._at < len(self._rows):
            self._at += 1
            yield self._rows[self._at - 1]

    async def close(self) -> None:
        pass

    async def __aenter__(self) -> Cursor:
        return self

    async def __aexit__(self, *exc: object) -> None:
        pass


class _Pending:
    """``conn.execute(...)``: awaited, or entered with ``async with``, as aiosqlite's."""

    def __init__(self, run: Any) -> None:
        self._run = run
        self._cursor: Cursor | None = None

    def __await__(self) -> Iterator[Any]:
        return self._run().__await__()

    async def __aenter__(self) -> Cursor:
        self._cursor = await self._run()
        return self._cursor

    async def __aexit__(self, *exc: object) -> None:
        pass


async def _execute(raw: psycopg.AsyncConnection[Any], sql: str,
                   params: Sequence[Any] | None) -> Cursor:
    query = rewrite(sql)
    try:
        if query.count == 0 and not params:
            cur = await raw.execute(sql)  # no parameters: sent as written (no % to escape)
        else:
            cur = await raw.execute(query.sql, query.params(params))
        rows = await cur.fetchall() if cur.description is not None else []
    except psycopg.Error as exc:
        _raise(exc)
    return Cursor(rows, cur.rowcount, cur.description)


class Connection:
    """One pooled connection in a transaction, as aiosqlite's (``dialect`` says so)."""

    dialect = dialect.POSTGRES

    def __init__(self, raw: psycopg.AsyncConnection[Any]) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Pending:
        return _Pending(lambda: _execute(self.raw, sql, params))

    async def execute_fetchall(self, sql: str,
                               params: Sequence[Any] | None = None) -> list[Row]:
        return await (await _execute(self.raw, sql, params)).fetchall()

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        """``sql`` once per row (psycopg pipelines them); ``rowcount`` is their sum."""
        query = rewrite(sql)
        try:
            async with self.raw.cursor() as cur:
                await cur.executemany(query.sql, [query.params(r) for r in rows])
                return Cursor([], cur.rowcount, None)
        except psycopg.Error as exc:
            _raise(exc)

    async def copy_rows(self, table: str, columns: Sequence[str],
                        rows: Iterable[Sequence[Any]]) -> None:
        """``COPY table (columns) FROM STDIN``: PostgreSQL's fast path for many rows."""
        try:
            async with self.raw.cursor() as cur:
                async with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        await copy.write_row(row)
        except psycopg.Error as exc:
            _raise(exc)

    async def commit(self) -> None:
        raise RuntimeError("a transaction commits when its Database.transaction() block ends")

    async def rollback(self) -> None:
        raise RuntimeError("a transaction rolls back when its block raises")


class Reader:
    """Queries outside a transaction, each on any connection of the pool."""

    dialect = dialect.POSTGRES

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self._pool = pool

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> _Pending:
        return _Pending(lambda: self._run(sql, params))

    async def execute_fetchall(self, sql: str,
                               params: Sequence[Any] | None = None) -> list[Row]:
        return await (await self._run(sql, params)).fetchall()

    async def _run(self, sql: str, params: Sequence[Any] | None) -> Cursor:
        try:
            async with self._pool.connection(timeout=POOL_TIMEOUT) as raw:
                return await _execute(raw, sql, params)
        except (psycopg.Error, PoolTimeout) as exc:
            _raise(exc)


# --- the engine -----------------------------------------------------------------------

class PgEngine:
    """``Database``'s PostgreSQL half: the pool, the locks, the migrations."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: AsyncConnectionPool[Any] | None = None
        self._reader: Reader | None = None
        self._lock = asyncio.Lock()
        self.commits = 0

    async def connect(self) -> None:
        kwargs: dict[str, Any] = {"autocommit": True, "row_factory": _row_factory}
        if "application_name" not in self.url:  # how pg_stat_activity names the sessions
            kwargs["application_name"] = "qasid"
        pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
            self.url, min_size=POOL_MIN, max_size=POOL_MAX, open=False, timeout=POOL_TIMEOUT,
            kwargs=kwargs, configure=_configure, name="qasid")
        try:
            await pool.open(wait=True, timeout=POOL_TIMEOUT)
            async with pool.connection() as raw:
                await migrate(raw)
        except BaseException:
            await pool.close()
            raise
        self._pool = pool
        self._reader = Reader(pool)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
        self._pool = self._reader = None

    @property
    def reader(self) -> Reader:
        if self._reader is None:
            raise RuntimeError("Database.connect() has not been awaited")
        return self._reader

    @property
    def pool(self) -> AsyncConnectionPool[Any]:
        if self._pool is None:
            raise RuntimeError("Database.connect() has not been awaited")
        return self._pool

    @asynccontextmanager
    async def exclusive(self) -> AsyncIterator[None]:
        """The writer lock without a transaction (an import writer of its own writes
        meanwhile, never through ``transaction()``): the asyncio lock and, on a connection
        held meanwhile, the session-level advisory lock every writer takes."""
        async with self._lock:
            try:
                async with self.pool.connection(timeout=POOL_TIMEOUT) as raw:
                    await raw.execute("SELECT pg_advisory_lock(%s)", (WRITER_LOCK,))
                    try:
                        yield
                    finally:
                        await _quietly(raw, "SELECT pg_advisory_unlock(%s)", (WRITER_LOCK,))
            except (psycopg.Error, PoolTimeout) as exc:
                _raise(exc)

    @asynccontextmanager
    async def transaction(self, shared: bool = False) -> AsyncIterator[Connection]:
        """``BEGIN`` and the global writer lock (not with ``shared``) ... ``COMMIT``; any
        error rolls back."""
        async with self._lock:
            try:
                async with self.pool.connection(timeout=POOL_TIMEOUT) as raw:
                    await raw.execute("BEGIN")
                    try:
                        if not shared:
                            await raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITER_LOCK,))
                        yield Connection(raw)
                        if raw.info.transaction_status == TransactionStatus.INERROR:
                            raise pg_errors.InFailedSqlTransaction(
                                "a statement of the transaction failed: rolled back")
                        await raw.execute("COMMIT")
                        self.commits += 1
                    except BaseException:
                        await _quietly(raw, "ROLLBACK")
                        raise
            except (psycopg.Error, PoolTimeout) as exc:
                _raise(exc)


async def _quietly(raw: psycopg.AsyncConnection[Any], sql: str,
                   params: Sequence[Any] | None = None) -> None:
    """A rollback or unlock that fails is logged, not raised over the error before it
    (a lost connection is dropped by the pool)."""
    try:
        await raw.execute(sql, params)
    except psycopg.Error as exc:
        log.warning("%s failed: %s", sql.split()[0], exc)


# --- migrations -------------------------------------------------------------------------

# What the dialect's SQL calls that PostgreSQL has not: installed (again) before the
# migrations. ``qasid_items``: a JSON array's elements as SQLite's json_each gives them,
# ``key`` (0-based position), ``value`` (a scalar as text, unquoted; an array or object as
# its JSON) and ``item`` (the element as jsonb, for ``dialect.element``).
SUPPORT_SQL = """
CREATE OR REPLACE FUNCTION qasid_items(items jsonb)
RETURNS TABLE (key bigint, value text, item jsonb)
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT t.o - 1, t.e #>> '{}', t.e
      FROM jsonb_array_elements(items) WITH ORDINALITY AS t(e, o) $$
"""


def migration_files() -> list[tuple[int, str, str]]:
    folder = resources.files("bot.storage") / "migrations_pg"
    found = []
    if folder.is_dir():
        for entry in folder.iterdir():
            name = entry.name
            if name.endswith(".sql") and name[:4].isdigit():
                found.append((int(name[:4]), name.removesuffix(".sql"),
                              entry.read_text("utf-8")))
    return sorted(found)


async def migrate(raw: psycopg.AsyncConnection[Any]) -> list[str]:
    """Apply every migration of ``migrations_pg`` not yet applied, each once, in order,
    each in its own transaction; one process at a time (an advisory lock), so that
    workers starting together do not apply one twice."""
    await raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATE_LOCK,))
    try:
        await raw.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)")
        cur = await raw.execute("SELECT 1 FROM pg_proc WHERE proname = 'qasid_items'")
        if await cur.fetchone() is None:
            await raw.execute(SUPPORT_SQL)
        cur = await raw.execute("SELECT version FROM schema_migrations")
        done = {row[0] for row in await cur.fetchall()}
        applied = []
        for version, name, script in migration_files():
            if version in done:
                continue
            async with raw.transaction():
                for statement in statements(script):
                    await raw.execute(statement)
                await raw.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at)"
                    " VALUES (%s, %s, %s)", (version, name, utcnow().timestamp()))
            log.info("applied migration %s", name)
            applied.append(name)
        return applied
    finally:
        await raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATE_LOCK,))

