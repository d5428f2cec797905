"""What the repositories' SQL says in SQLite's own words, said once.

The repositories (``bot/storage/*.py``) write plain SQL text with ``?`` parameters. Where
SQLite and another engine (PostgreSQL: issue 22) write the same thing differently, the
repository asks the connection's ``Dialect`` for the piece (``dialect.of(conn)``): a
fragment of SQL text, a parameter's value, or, for the bulk paths, the call itself.
``SQLITE`` renders exactly the SQL the repositories had before this module existed, so
SQLite's plans, its statement cache and every figure in ``bench/`` stay as they were.

A second engine is an addition: a ``Dialect`` subclass, its migrations, and a connection
with aiosqlite's shape (``execute`` usable with ``await`` and ``async with``, cursors with
``fetchone``/``fetchall``/``rowcount`` and async iteration, rows readable by name and by
position) that has a ``dialect`` attribute and rewrites ``?`` (and SQLite's numbered
``?NNN``) into its own parameter style.

Inventory: the SQLite-only constructs of bot/storage (a grep of the 13 repository modules
when the dialect began): what, where it was, and the piece that says it now.

- ``?`` parameters (qmark): every statement. ``paramstyle``; a second engine's connection
  translates them. Numbered ``?NNN`` (outbox.advance_many) are kept: PostgreSQL's ``$N``
  is the same thing.
- A list bound as one JSON array, ``x IN (SELECT value FROM json_each(?))``: contacts
  (existing, add_to_list, opted_out, by_ids, whatsapp_known), outbox (claim,
  uncount_attempts, by_gateway_ids), campaigns (using_sender, progress,
  senders_busy_until), senders.ids_by_external_id, stats.failure_reasons.
  -> ``in_list(column)`` and ``list_param(values)``.
- Rows bound as one JSON array of arrays, ``json_each(?) AS r`` and ``r.value ->> 0``:
  contacts (the upserts), bulk (list members). -> ``array_items('?')``,
  ``element(value, i)``, ``list_param(rows)``.
- JSON arrays and objects in columns, ``json_each(column)``: lists (ADD_VARIABLES,
  owner_variables), contacts.attribute_names. -> ``array_items``, ``object_items``.
- ``json_extract(col, '$.k')`` and ``col ->> ?`` bound with ``'$."k"'``:
  prompts.clear_admins_about, senders (secrets, replaces), campaigns.lacking_values.
  -> ``json_get(expr, key)``, ``json_key(name)``.
- ``json_set`` / ``json_remove``: senders (set_secret, set_replaces). -> ``json_set``,
  ``json_remove``. ``json_patch``: contacts (the upserts' attributes). -> ``json_merge``.
  ``json_group_array``: campaigns (sender_ids), lists (ADD_VARIABLES). -> ``json_agg``.
- ``INSERT OR IGNORE``: contacts (ADD_TO_LIST), bulk (list members),
  campaigns.replace_sender. -> ``insert_ignore(into, rows)``.
- ``ON CONFLICT (...) DO UPDATE SET x = excluded.x``: contacts (the upserts, opt_out,
  remember_whatsapp), prompts (set, set_admin), templates.save_draft. -> ``upsert``.
- ``RETURNING``: contacts (the import's upsert). -> ``returning(columns)``.
- ``cursor.lastrowid``: owners.add, senders.add, lists.create, templates.add,
  imports.create, campaigns.create_draft. -> ``insert_id(conn, sql, params)``.
- ``executemany`` and its summed ``rowcount``: outbox (mark_sent_many, mark_many,
  advance_many), campaigns.set_senders, contacts.remember_whatsapp.
  -> ``execute_many(conn, sql, rows)``.
- A temporary table (``CREATE TEMP TABLE``, ``temp.x``) filled from one JSON array with
  each row's position (``key``): campaigns.write_outbox. -> ``temp_table``, ``temp``,
  ``write_rows(conn, table, columns, rows, position=...)`` (PostgreSQL: COPY).
- ``a IS NOT b`` as a null-safe comparison: contacts (UPSERT_SQL), templates.name_taken.
  -> ``distinct(a, b)``.
- ``SUM(condition)``: lists (opted_out), campaigns (audience, lacking_values), stats
  (recent_campaigns, timeline, by_sender). -> ``count_if(condition)``.
- Scalar ``MAX(a, b)``: outbox.uncount_attempts, stats.event_span. -> ``greatest``.
  ``CAST(x AS INTEGER)`` (cuts toward zero): stats.timeline. -> ``trunc``.
- ``IFNULL`` and ``'r' || id``: ledger.history. Now plain SQL both engines read
  (``COALESCE``, ``CAST(id AS TEXT)``).
- Date and time functions (``strftime``, ``julianday``, ``datetime()``, ``'now'``): none.
  Times are REAL epoch seconds bound as parameters (``db.to_ts`` / ``from_ts``), their
  arithmetic done in Python; keep it so.
- Stay where they are, SQLite's own by nature: ``PRAGMA`` in db.py (its connections) and
  the import writer, ``bulk.py``: plain ``sqlite3`` in a worker thread, a ``TEMP
  TRIGGER`` that records renames, ``rowid``, ``CROSS JOIN`` as a plan hint,
  ``lastrowid``. A second engine brings its own writer (COPY) with the same methods, made
  where ``ContactsService`` opens ``ImportWriter``. ``WHERE true`` before ``ON CONFLICT``
  in an INSERT ... SELECT (contacts) is kept: SQLite needs it to parse, PostgreSQL
  ignores it.

``tests/unit/test_storage_dialect.py`` fails when a storage module other than this one,
``db.py`` and the migrations uses one of these constructs directly; what truly cannot move
is listed there with its reason.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from typing import Any

import aiosqlite

# An update of an upsert: a column that takes the new row's value, or (column, expression).
Update = str | tuple[str, str]


class Dialect(ABC):
    """The pieces of SQL that differ between engines. Methods return SQL text to put into
    a statement (or a parameter's value); the bulk paths (``insert_id``, ``execute_many``,
    ``write_rows``) run the statement themselves, since the fast way differs by engine."""

    name: str
    paramstyle: str  # how parameters are written in the repositories' SQL

    # --- values bound as one parameter ---------------------------------------------------

    @abstractmethod
    def in_list(self, column: str) -> str:
        """``column IN (<the list bound at this ?>)``; bind ``list_param(values)``."""

    @abstractmethod
    def list_param(self, values: Iterable[Any]) -> Any:
        """A list (or rows, each a sequence) as the one parameter ``in_list`` and
        ``array_items('?')`` take."""

    @abstractmethod
    def array_items(self, source: str) -> str:
        """A FROM item with a JSON array's elements: ``key`` (the 0-based position) and
        ``value``. ``source`` is ``?`` (bound with ``list_param``) or a column."""

    @abstractmethod
    def object_items(self, source: str) -> str:
        """A FROM item with a JSON object's members: ``key`` and ``value``."""

    @abstractmethod
    def element(self, value: str, index: int, as_: str | None = None) -> str:
        """The ``index``-th element of a JSON array (a row of ``array_items``), as a SQL
        value; ``as_`` names its SQL type when it is not text."""

    # --- JSON in columns ----------------------------------------------------------------

    @abstractmethod
    def json_get(self, expr: str, key: str | None = None, as_: str | None = None) -> str:
        """The value at ``key`` of a JSON object; ``key=None``: the key is the parameter at
        this place, bound with ``json_key(name)``. ``as_`` names its SQL type when it is
        compared with a number (PostgreSQL's ``->>`` gives text; SQLite's own type)."""

    @abstractmethod
    def json_key(self, name: str) -> str:
        """A key as the parameter of ``json_get(expr)``."""

    @abstractmethod
    def json_set(self, expr: str, key: str) -> str:
        """The JSON object with ``key`` set to the parameter at this place."""

    @abstractmethod
    def json_remove(self, expr: str, key: str) -> str:
        """The JSON object without ``key``."""

    @abstractmethod
    def json_merge(self, base: str, patch: str) -> str:
        """Two flat JSON objects merged, ``patch``'s values winning."""

    @abstractmethod
    def json_agg(self, expr: str) -> str:
        """An aggregate: the group's values as a JSON array (``[]`` for none), in the order
        the rows come in."""

    # --- writing ------------------------------------------------------------------------

    def upsert(self, conflict: Sequence[str], updates: Sequence[Update],
               where: str | None = None) -> str:
        """``ON CONFLICT (conflict) DO UPDATE SET ...`` for after an INSERT: each update a
        column taking the new row's value (``excluded.column``) or (column, expression);
        ``where`` limits which conflicting rows change. (SQLite and PostgreSQL agree.)"""
        sets = ", ".join(f"{u} = excluded.{u}" if isinstance(u, str) else f"{u[0]} = {u[1]}"
                         for u in updates)
        clause = f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {sets}"
        return clause if where is None else f"{clause} WHERE {where}"

    @abstractmethod
    def insert_ignore(self, into: str, rows: str) -> str:
        """``INSERT INTO into rows`` (``rows``: a SELECT or VALUES) that skips the rows a
        unique key already has."""

    def returning(self, columns: str) -> str:
        """``RETURNING columns`` for after an INSERT or UPDATE. (SQLite 3.35+ and
        PostgreSQL agree.)"""
        return f" RETURNING {columns}"

    @abstractmethod
    async def insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        """Run an INSERT of one row; the id it got."""

    @abstractmethod
    async def execute_many(self, conn: Any, sql: str,
                           rows: Iterable[Sequence[Any]]) -> int:
        """Run ``sql`` once per row of parameters (one transaction's bulk path); the rows
        it changed, all together."""

    @abstractmethod
    def temp_table(self, name: str, columns: Sequence[tuple[str, str]]) -> str:
        """``CREATE`` a temporary table (this connection's) if it is not there yet; column
        types are ``INTEGER PRIMARY KEY``, ``INTEGER``, ``REAL`` (epoch seconds) or
        ``TEXT``."""

    @abstractmethod
    def temp(self, name: str) -> str:
        """A temporary table's name as statements write it."""

    @abstractmethod
    async def write_rows(self, conn: Any, table: str, columns: Sequence[str],
                         rows: Sequence[Sequence[Any]], *, position: str | None = None) -> None:
        """Insert many rows into ``table`` by the engine's fast path (SQLite: one
        statement over a JSON array; PostgreSQL: COPY); ``position``: a column that gets
        each row's 0-based place in ``rows``."""

    @abstractmethod
    async def ids_taken(self, conn: Any, table: str) -> None:
        """After rows written with ids of their own (``messages.next_id``'s): the ids the
        engine makes next come after them (SQLite's rowid does so by itself; PostgreSQL's
        identity sequence is moved past ``MAX(id)``)."""

    # --- expressions ----------------------------------------------------------------------

    @abstractmethod
    def distinct(self, a: str, b: str) -> str:
        """``a`` differs from ``b``, NULL being a value like any other."""

    @abstractmethod
    def count_if(self, condition: str) -> str:
        """An aggregate: how many rows of the group meet ``condition``."""

    @abstractmethod
    def greatest(self, *exprs: str) -> str:
        """The largest of the values (none of them NULL)."""

    @abstractmethod
    def trunc(self, expr: str) -> str:
        """A number cut to an integer toward zero."""

    @abstractmethod
    def cast(self, expr: str, as_: str) -> str:
        """``expr`` (e.g. an ``array_items`` row's ``value``, text on PostgreSQL) as the SQL
        type ``as_`` (``INTEGER``, ``REAL``, ``TEXT``); SQLite's values keep their own."""

    # --- locking ------------------------------------------------------------------------

    @abstractmethod
    def skip_locked(self) -> str:
        """What ends a claim's SELECT so that rows another process has claimed and not yet
        committed are passed over (``FOR UPDATE SKIP LOCKED``); SQLite: nothing (one
        writer at a time)."""


class SQLiteDialect(Dialect):
    """SQLite 3.38+ (``->>``, ``RETURNING``), through aiosqlite or sqlite3."""

    name = "sqlite"
    paramstyle = "qmark"

    def in_list(self, column: str) -> str:
        return f"{column} IN (SELECT value FROM json_each(?))"

    def list_param(self, values: Iterable[Any]) -> str:
        return json.dumps(list(values))

    def array_items(self, source: str) -> str:
        return f"json_each({source})"

    def object_items(self, source: str) -> str:
        return f"json_each({source})"

    def element(self, value: str, index: int, as_: str | None = None) -> str:
        return f"{value} ->> {index}"  # SQLite's ->> gives the element's own type

    def json_get(self, expr: str, key: str | None = None, as_: str | None = None) -> str:
        return f"{expr} ->> ?" if key is None else f"json_extract({expr}, '$.{key}')"

    def json_key(self, name: str) -> str:
        return f'$."{name}"'

    def json_set(self, expr: str, key: str) -> str:
        return f"json_set({expr}, '$.{key}', ?)"

    def json_remove(self, expr: str, key: str) -> str:
        return f"json_remove({expr}, '$.{key}')"

    def json_merge(self, base: str, patch: str) -> str:
        return f"json_patch({base}, {patch})"

    def json_agg(self, expr: str) -> str:
        return f"json_group_array({expr})"

    def insert_ignore(self, into: str, rows: str) -> str:
        return f"INSERT OR IGNORE INTO {into} {rows}"

    async def insert_id(self, conn: aiosqlite.Connection, sql: str,
                        params: Sequence[Any]) -> int:
        cur = await conn.execute(sql, params)
        if cur.lastrowid is None:
            raise RuntimeError(f"no row inserted by {sql[:60]!r}")
        return cur.lastrowid

    async def execute_many(self, conn: aiosqlite.Connection, sql: str,
                           rows: Iterable[Sequence[Any]]) -> int:
        cur = await conn.executemany(sql, rows)
        return cur.rowcount

    def temp_table(self, name: str, columns: Sequence[tuple[str, str]]) -> str:
        return (f"CREATE TEMP TABLE IF NOT EXISTS {name}"
                f" ({', '.join(f'{c} {t}' for c, t in columns)})")

    def temp(self, name: str) -> str:
        return f"temp.{name}"

    async def write_rows(self, conn: aiosqlite.Connection, table: str, columns: Sequence[str],
                         rows: Sequence[Sequence[Any]], *, position: str | None = None) -> None:
        # one statement over a JSON array: SQLite unpacks it itself, several times faster
        # than binding the rows one by one (executemany)
        names = [position, *columns] if position else list(columns)
        picks = (["key"] if position else []) + [f"value ->> {i}" for i in range(len(columns))]
        await conn.execute(f"INSERT INTO {table} ({', '.join(names)})"
                           f" SELECT {', '.join(picks)} FROM json_each(?)", (json.dumps(rows),))

    async def ids_taken(self, conn: aiosqlite.Connection, table: str) -> None:
        return None  # a rowid is MAX(rowid) + 1

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS NOT {b}"

    def count_if(self, condition: str) -> str:
        return f"SUM({condition})"  # a condition is 0 or 1 in SQLite

    def greatest(self, *exprs: str) -> str:
        return f"MAX({', '.join(exprs)})"  # SQLite's MAX of several arguments is a scalar

    def trunc(self, expr: str) -> str:
        return f"CAST({expr} AS INTEGER)"

    def cast(self, expr: str, as_: str) -> str:
        return expr

    def skip_locked(self) -> str:
        return ""


SQLITE = SQLiteDialect()

# SQLite's column types as PostgreSQL's (migrations_pg use the same)
_PG_TYPES = {"INTEGER": "BIGINT", "REAL": "DOUBLE PRECISION", "TEXT": "TEXT",
             "INTEGER PRIMARY KEY": "BIGINT PRIMARY KEY"}


def _pg_type(name: str) -> str:
    return _PG_TYPES.get(name.upper(), name)


def _jsonb(expr: str) -> str:
    """A JSON value (a TEXT column, or a parameter bound as JSON) as jsonb."""
    return "?::jsonb" if expr == "?" else f"({expr})::jsonb"


class PostgresDialect(Dialect):
    """PostgreSQL 13+ through ``bot.storage.pg`` (psycopg 3). JSON columns are TEXT: read
    with ``::jsonb``, written back as text. A parameter written ``?::jsonb`` takes JSON
    text or a Python value sent as JSON (``pg.rewrite``); lists elsewhere go as arrays.
    ``qasid_items`` is the one function of its own (``pg.SUPPORT_SQL``): json_each's
    ``key``/``value`` for an array, plus ``item``, the element as jsonb."""

    name = "postgres"
    paramstyle = "qmark"  # rewritten by the connection

    def in_list(self, column: str) -> str:
        return f"{column} = ANY(?)"

    def list_param(self, values: Iterable[Any]) -> list[Any]:
        return list(values)

    def array_items(self, source: str) -> str:
        return f"qasid_items({_jsonb(source)})"

    def object_items(self, source: str) -> str:
        return f"jsonb_each_text({_jsonb(source)})"

    def element(self, value: str, index: int, as_: str | None = None) -> str:
        # an array_items row's ``value`` is text: its ``item`` is the element as jsonb
        item = value.removesuffix("value") + "item" if value.endswith("value") \
            else _jsonb(value)
        text = f"({item} ->> {index})"
        return text if as_ is None else f"CAST({text} AS {_pg_type(as_)})"

    def json_get(self, expr: str, key: str | None = None, as_: str | None = None) -> str:
        text = f"({_jsonb(expr)} ->> {'?::text' if key is None else repr_key(key)})"
        return text if as_ is None else f"CAST({text} AS {_pg_type(as_)})"

    def json_key(self, name: str) -> str:
        return name

    def json_set(self, expr: str, key: str) -> str:
        return (f"CAST(jsonb_set(COALESCE({_jsonb(expr)}, '{{}}'), '{{{key}}}', to_jsonb(?))"
                " AS TEXT)")

    def json_remove(self, expr: str, key: str) -> str:
        return f"CAST({_jsonb(expr)} - {repr_key(key)} AS TEXT)"

    def json_merge(self, base: str, patch: str) -> str:
        return f"CAST({_jsonb(base)} || {_jsonb(patch)} AS TEXT)"

    def json_agg(self, expr: str) -> str:
        return f"COALESCE(CAST(json_agg({expr}) AS TEXT), '[]')"

    def insert_ignore(self, into: str, rows: str) -> str:
        return f"INSERT INTO {into} {rows} ON CONFLICT DO NOTHING"

    async def insert_id(self, conn: Any, sql: str, params: Sequence[Any]) -> int:
        async with conn.execute(sql + self.returning("id"), params) as cur:
            row = await cur.fetchone()
        if row is None:
            raise RuntimeError(f"no row inserted by {sql[:60]!r}")
        return int(row[0])

    async def execute_many(self, conn: Any, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        cur = await conn.executemany(sql, rows)
        return int(cur.rowcount)

    def temp_table(self, name: str, columns: Sequence[tuple[str, str]]) -> str:
        return (f"CREATE TEMP TABLE IF NOT EXISTS {name}"
                f" ({', '.join(f'{c} {_pg_type(t)}' for c, t in columns)})")

    def temp(self, name: str) -> str:
        return f"pg_temp.{name}"

    async def write_rows(self, conn: Any, table: str, columns: Sequence[str],
                         rows: Sequence[Sequence[Any]], *, position: str | None = None) -> None:
        if position:
            await conn.copy_rows(table, [position, *columns],
                                 ((i, *row) for i, row in enumerate(rows)))
        else:
            await conn.copy_rows(table, columns, rows)

    async def ids_taken(self, conn: Any, table: str) -> None:
        # never backwards (ids handed out and rolled back stay used)
        await conn.execute(
            "SELECT setval(s, GREATEST(m, COALESCE(pg_sequence_last_value(s::regclass), 0)))"
            f" FROM (SELECT pg_get_serial_sequence('{table}', 'id') AS s,"
            f"  (SELECT MAX(id) FROM {table}) AS m) AS q WHERE m IS NOT NULL")

    def distinct(self, a: str, b: str) -> str:
        return f"{a} IS DISTINCT FROM {b}"

    def count_if(self, condition: str) -> str:
        return f"COUNT(*) FILTER (WHERE {condition})"

    def greatest(self, *exprs: str) -> str:
        return f"GREATEST({', '.join(exprs)})"

    def trunc(self, expr: str) -> str:
        return f"CAST(TRUNC({expr}) AS BIGINT)"

    def cast(self, expr: str, as_: str) -> str:
        return f"CAST({expr} AS {_pg_type(as_)})"

    def skip_locked(self) -> str:
        return "FOR UPDATE SKIP LOCKED"


def repr_key(key: str) -> str:
    """A JSON key as a SQL string literal."""
    return "'" + key.replace("'", "''") + "'"


POSTGRES = PostgresDialect()


def of(conn: object) -> Dialect:
    """The dialect of a connection: a second engine's connection says its own
    (``conn.dialect``: ``bot.storage.pg``'s say ``POSTGRES``); aiosqlite's and sqlite3's
    are SQLite's."""
    return getattr(conn, "dialect", SQLITE)
