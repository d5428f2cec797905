"""PostgreSQL's contact import writer: ``bot.storage.bulk.ImportWriter``'s methods and
meaning, written with COPY.

One import, one transaction, on a connection of its own (plain synchronous psycopg in the
import's worker thread, as SQLite's writer uses plain ``sqlite3``). Each chunk the parser
sends (a JSON array of rows, see ``imports.parse.Batch``) goes with one COPY into a
temporary staging table, one JSON row a line: the chunk's text becomes COPY's text with
two C-speed replaces, so no row becomes a Python object on the way. Set-based statements
then write the staged rows into ``contacts`` (the newer name and attributes win, as
``contacts.upsert_returning_ids_sql``) and put every one of them into the list:

- an owner without contacts before the import (a first import): plain inserts of the rows
  whose phone the file had not had before, ``INSERT ... ON CONFLICT`` for the repeats;
- else each row is looked up first (one index lookup a row): the known contacts it
  renames are recorded with the name they had (SQLite's writer sees renames with a
  temporary trigger), the known contacts it changes are updated (one it leaves as it was
  keeps its ``updated_at``, as ``contacts.upsert`` leaves identical rows alone), the
  unknown ones inserted.

The caller holds ``Database.exclusive()`` meanwhile (on PostgreSQL the advisory lock
every process's writers take, ``pg.WRITER_LOCK``), so no other transaction writes: the new
contacts' ids (the largest id when the import began + their place in the file) are free,
and the identity sequence is moved past them before the commit. psycopg's errors are
translated by ``exclusive()`` as by ``transaction()``.

Foreign keys: as SQLite's writer turns them off and checks them once per import, this one
skips PostgreSQL's per-row checks (``session_replication_role = replica`` for its
transaction) when its role may (a superuser, or a role granted ``SET ON PARAMETER
session_replication_role``); without it the triggers check every row, slower.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Sequence
from datetime import datetime
from types import TracebackType

import psycopg

from bot.storage.db import to_ts

_STAGE = ("CREATE TEMPORARY TABLE import_rows (r jsonb NOT NULL) ON COMMIT DROP")
_RENAMED_TABLE = ("CREATE TEMPORARY TABLE import_renamed"
                  " (id bigint, phone text, old text, chunk integer) ON COMMIT DROP")
_FOUND_TABLE = ("CREATE TEMPORARY TABLE import_found (r jsonb NOT NULL, id bigint, old text)"
                " ON COMMIT DROP")
_COPY = "COPY import_rows (r) FROM STDIN"

# The staged row r: [phone, name or null, {attributes}, seq, line, duplicate]. A new
# contact's id is base + seq (see ``contacts.upsert_returning_ids_sql``).
_VALUES = "%(base)s + (r->>3)::bigint, %(owner)s, r->>0, r->>1, (r->2)::text, %(ts)s, %(ts)s"
_INTO = "contacts AS c (id, owner_id, phone, name, attributes, created_at, updated_at)"
_MEMBERS = "list_members (list_id, contact_id, added_at) SELECT %(list)s, id, %(ts)s"
# A first import's rows that repeat an earlier row of the file: the newer name and
# attributes win; every row is touched, so that each hands back its id.
_UPSERT = (
    f"WITH written AS (INSERT INTO {_INTO} SELECT {_VALUES} FROM import_rows"
    " WHERE r->>5 <> '0'"
    " ON CONFLICT (owner_id, phone) DO UPDATE SET"
    "  name = COALESCE(excluded.name, c.name),"
    "  attributes = CASE WHEN excluded.attributes = '{}' THEN c.attributes"
    "   WHEN c.attributes = '{}' THEN excluded.attributes"
    "   ELSE (c.attributes::jsonb || excluded.attributes::jsonb)::text END,"
    "  updated_at = excluded.updated_at"
    " RETURNING c.id)"
    f" INSERT INTO {_MEMBERS} FROM written ORDER BY id ON CONFLICT DO NOTHING"
)
# An owner without contacts before the import: a row whose phone the file had not had
# before is a new contact, in no list yet, its id base + seq. Plain inserts (an upsert's
# speculative insertion measured twice the cost), the list's rows straight from the staged
# ones (through the insert's RETURNING and a sort: 1.8 us a row more).
_INSERT_NEW = (f"INSERT INTO {_INTO} SELECT {_VALUES} FROM import_rows WHERE r->>5 = '0'")
_ADD_NEW = (
    "INSERT INTO list_members (list_id, contact_id, added_at)"
    " SELECT %(list)s, %(base)s + (r->>3)::bigint, %(ts)s FROM import_rows WHERE r->>5 = '0'"
    " ORDER BY 2"
)
# An owner with contacts: each staged row with the contact of its phone, if known (and the
# name it has), looked up once (LATERAL ... OFFSET 0: an index lookup a row, never a hash
# of all the contacts).
_FIND = (
    "INSERT INTO import_found (r, id, old) SELECT s.r, c.id, c.name FROM import_rows s"
    " LEFT JOIN LATERAL (SELECT id, name FROM contacts"
    "  WHERE owner_id = %(owner)s AND phone = s.r->>0 OFFSET 0) AS c ON true"
)
# Known contacts (ids up to base) the rows rename, with the name they had: what the
# trigger of SQLite's writer records (a row without a name keeps the old one).
_RECORD_RENAMED = (
    "INSERT INTO import_renamed (id, phone, old, chunk)"
    " SELECT id, r->>0, old, %(chunk)s FROM import_found"
    " WHERE id <= %(base)s AND old IS NOT NULL AND r->>1 IS NOT NULL AND r->>1 <> old"
)
# The known contacts the rows change (the newer name and attributes win); one the file
# does not change is left alone, as ``contacts.upsert`` leaves an identical row (SQLite's
# writer touches every row to get its id back: here the lookup gave it). Measured: a
# re-import 14 us a row of the server's CPU instead of 28.
_UPDATE_KNOWN = (
    "UPDATE contacts AS c SET name = COALESCE(f.r->>1, c.name),"
    " attributes = CASE WHEN f.r->2 = '{}'::jsonb THEN c.attributes"
    "  WHEN c.attributes = '{}' THEN (f.r->2)::text"
    "  ELSE (c.attributes::jsonb || (f.r->2))::text END,"
    " updated_at = %(ts)s"
    " FROM import_found AS f WHERE c.id = f.id"
    " AND (f.r->>1 IS NOT NULL AND f.r->>1 IS DISTINCT FROM c.name"
    "  OR f.r->2 <> '{}'::jsonb AND c.attributes::jsonb || (f.r->2) <> c.attributes::jsonb)"
)
_INSERT_UNKNOWN = (
    f"INSERT INTO {_INTO} SELECT {_VALUES} FROM import_found WHERE id IS NULL"
)
_ADD_FOUND = (
    "INSERT INTO list_members (list_id, contact_id, added_at)"
    " SELECT %(list)s, COALESCE(id, %(base)s + (r->>3)::bigint), %(ts)s FROM import_found"
    " ORDER BY 2 ON CONFLICT DO NOTHING"
)
# Each renamed contact once, with its name before the file (its first change) and now
# (renamed back within the file: none), in the order they were written, with their count.
_RENAMED = (
    "SELECT r.phone, r.old, c.name, COUNT(*) OVER () FROM"
    " (SELECT DISTINCT ON (id) id, phone, old, chunk FROM import_renamed"
    "  ORDER BY id, chunk) AS r"
    " JOIN contacts c ON c.id = r.id"
    " WHERE c.owner_id = %s AND c.name IS DISTINCT FROM r.old ORDER BY r.chunk, r.phone"
    " LIMIT %s"
)
# The identity sequence past the ids this import gave (never backwards).
_SEQUENCE = (
    "SELECT setval(s, GREATEST(m, COALESCE(pg_sequence_last_value(s::regclass), 0)))"
    " FROM (SELECT pg_get_serial_sequence('contacts', 'id') AS s,"
    "  (SELECT MAX(id) FROM contacts) AS m) AS q WHERE m IS NOT NULL"
)
_ADD_VARIABLES = (
    "UPDATE contact_lists SET variables = (SELECT COALESCE(json_agg(name ORDER BY first),"
    " '[]')::text FROM ("
    "  SELECT value AS name, MIN(o) AS first FROM ("
    "   SELECT value, ordinality AS o"
    "   FROM jsonb_array_elements_text(contact_lists.variables::jsonb) WITH ORDINALITY"
    "   UNION ALL SELECT value, 100000 + ordinality"
    "   FROM jsonb_array_elements_text(%s::jsonb) WITH ORDINALITY) AS v"
    "  GROUP BY value) AS g)"
    " WHERE owner_id = %s AND id = %s"
)


_NUL = re.compile(r"(?<!\\)((?:\\\\)*)\\u0000")


def copy_text(rows: str) -> str:
    """A chunk's JSON array of rows as COPY's text: one row a line.

    Rows are ``["+994...",...]``, their strings JSON-encoded, so ``],["`` only ever joins
    two rows (a ``"`` inside a string is escaped), and a line holds no tab or newline.
    COPY's own escape is the backslash; PostgreSQL's text holds no NUL (its JSON escape
    is left out: an escape preceded by an even number of backslashes)."""
    if "\\u0000" in rows:
        rows = _NUL.sub(r"\1", rows)
    return rows[1:-1].replace("\\", "\\\\").replace('],["', ']\n["') + "\n"


def _may_skip_triggers(conn: psycopg.Connection) -> bool:
    """Whether this role may set ``session_replication_role`` (a superuser, or since
    PostgreSQL 15 a role granted ``SET ON PARAMETER session_replication_role``)."""
    if conn.info.parameter_status("is_superuser") == "on":
        return True
    if conn.info.server_version < 150000:
        return False
    row = conn.execute(
        "SELECT has_parameter_privilege('session_replication_role', 'SET')").fetchone()
    return bool(row and row[0])


class PgImportWriter:
    """``ImportWriter`` on PostgreSQL: ``with PgImportWriter(url) as writer: ...``."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True, application_name="qasid import")
        self._checks_keys = True
        self._base = 0
        self._chunks = 0
        self._known: dict[int, bool] = {}  # owner -> had contacts before the import
        self.timings = {"copy": 0.0, "merge": 0.0}  # seconds of the chunks (for bench/)

    def __enter__(self) -> PgImportWriter:
        conn = self._conn
        try:
            conn.execute("BEGIN")
            self._checks_keys = not _may_skip_triggers(conn)
            if not self._checks_keys:
                # no foreign-key trigger per row (measured, 100,000 rows: a contact 13 us
                # with its trigger, 4-7 without; a list member 19 us with its two, 6
                # without): ``create_list`` checks the owner instead, the list belongs to
                # the owner, and every contact id comes from this transaction
                conn.execute("SET LOCAL session_replication_role = replica")
            row = conn.execute("SELECT COALESCE(MAX(id), 0) FROM contacts").fetchone()
            assert row is not None
            self._base = int(row[0])
            conn.execute(_STAGE)
            conn.execute(_RENAMED_TABLE)
            conn.execute(_FOUND_TABLE)
            # the staged rows are a few thousand, the contacts millions: every join of
            # this transaction is an index lookup a staged row (its statistics are
            # unknown, a hash of a big table would be read once per chunk)
            conn.execute("SET LOCAL enable_hashjoin = off")
            conn.execute("SET LOCAL enable_mergejoin = off")
        except BaseException:
            conn.close()
            raise
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            if exc_type is None:
                if self._chunks:
                    self._conn.execute(_SEQUENCE)
                self._conn.execute("COMMIT")
            elif not self._conn.closed:
                with contextlib.suppress(psycopg.Error):  # gone: rolled back by the server
                    self._conn.execute("ROLLBACK")
        finally:
            self._conn.close()

    def list_name(self, owner_id: int, list_id: int) -> str | None:
        row = self._conn.execute(
            "SELECT name FROM contact_lists WHERE owner_id = %s AND id = %s",
            (owner_id, list_id)).fetchone()
        return row[0] if row else None

    def name_taken(self, owner_id: int, name: str) -> bool:
        return self._conn.execute(
            "SELECT 1 FROM contact_lists WHERE owner_id = %s AND name = %s",
            (owner_id, name)).fetchone() is not None

    def create_list(self, owner_id: int, name: str, now: datetime) -> int:
        if not self._checks_keys and self._conn.execute(
                "SELECT 1 FROM owners WHERE id = %s", (owner_id,)).fetchone() is None:
            raise psycopg.errors.ForeignKeyViolation(f"no owner {owner_id} for the list")
        row = self._conn.execute(
            "INSERT INTO contact_lists (owner_id, name, created_at) VALUES (%s, %s, %s)"
            " RETURNING id", (owner_id, name, to_ts(now))).fetchone()
        assert row is not None
        return int(row[0])

    def add_variables(self, owner_id: int, list_id: int, names: Sequence[str]) -> None:
        self._conn.execute(_ADD_VARIABLES, (json.dumps(list(names)), owner_id, list_id))

    def contact_count(self, owner_id: int) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM contacts WHERE owner_id = %s", (owner_id,)).fetchone()
        assert row is not None
        return int(row[0])

    def has_opt_outs(self, owner_id: int) -> bool:
        return self._conn.execute(
            "SELECT 1 FROM contacts WHERE owner_id = %s AND opted_out_at IS NOT NULL LIMIT 1",
            (owner_id,)).fetchone() is not None

    def write_chunk(self, owner_id: int, list_id: int, rows: str, now: datetime) -> None:
        """Upsert a chunk (the newer name and attributes win) and add it to the list.

        ``rows`` is the chunk as a JSON array (``imports.worker.Parsed.rows``), each phone
        once."""
        conn = self._conn
        known = self._known.get(owner_id)
        if known is None:  # before this import's first row of the owner's
            known = self._known[owner_id] = conn.execute(
                "SELECT 1 FROM contacts WHERE owner_id = %s LIMIT 1", (owner_id,)
            ).fetchone() is not None
        self._chunks += 1
        started = time.perf_counter()
        conn.execute("TRUNCATE import_rows")
        with conn.cursor().copy(_COPY) as copy:
            copy.write(copy_text(rows))
        copied = time.perf_counter()
        self.timings["copy"] += copied - started
        params = {"base": self._base, "owner": owner_id, "list": list_id, "ts": to_ts(now),
                  "chunk": self._chunks}
        if known:  # every row may be a known contact, renamed
            conn.execute("TRUNCATE import_found")
            conn.execute(_FIND, params)
            conn.execute(_RECORD_RENAMED, params)
            conn.execute(_UPDATE_KNOWN, params)
            conn.execute(_INSERT_UNKNOWN, params)
            conn.execute(_ADD_FOUND, params)
        else:
            new = conn.execute(_INSERT_NEW, params).rowcount
            conn.execute(_ADD_NEW, params)
            if new < rows.count('],["') + 1:  # the rest repeat earlier rows of the file
                conn.execute(_UPSERT, params)
        self.timings["merge"] += time.perf_counter() - copied

    def renamed(self, owner_id: int, examples: int) -> tuple[int, list[tuple[str, str, str]]]:
        """How many contacts known before the import it gave a new name, and the first
        ``examples`` of them as (phone, name before, name now)."""
        rows = self._conn.execute(_RENAMED, (owner_id, max(examples, 1))).fetchall()
        count = int(rows[0][3]) if rows else 0
        return count, [(phone, old, new) for phone, old, new, _ in rows[:examples]]

    def count_opted_out(self, owner_id: int, phones: Sequence[str]) -> int:
        row = self._conn.execute(
            "SELECT COUNT(*) FROM contacts WHERE owner_id = %s AND opted_out_at IS NOT NULL"
            " AND phone = ANY(%s)", (owner_id, list(phones))).fetchone()
        assert row is not None
        return int(row[0])
