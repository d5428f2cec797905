"""What is SQLite's own in the repositories' SQL is said in one place,
``bot/storage/dialect.py`` (its docstring has the inventory): no other storage module but
``db.py`` (SQLite's connections) and the migrations writes it itself.

Found with ``ast``: the SQL text of a module is its string literals (f-strings with their
holes as ``{}``; docstrings are prose, left out), checked against the constructs below;
``.lastrowid`` / ``.executemany`` and ``import sqlite3`` are found as code.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STORAGE = ROOT / "bot" / "storage"
# and migrations/, which are not .py; pg.py is PostgreSQL's connection (it speaks SQLite's
# exception classes and aiosqlite's cursor API to look like it); bulk_pg.py is PostgreSQL's
# own import writer (COPY, temporary tables, jsonb), as bulk.py is SQLite's
EXEMPT = {"dialect.py", "db.py", "pg.py", "bulk_pg.py", "__init__.py"}

# construct -> what finds it in SQL text (keywords as the repositories write them: upper case)
SQL_CONSTRUCTS: dict[str, re.Pattern[str]] = {
    "INSERT OR IGNORE/REPLACE": re.compile(r"\bINSERT\s+OR\s+[A-Z]+|^\s*REPLACE\s+INTO\b"),
    "JSON function": re.compile(r"\bjson(_[a-z_]+)?\s*\(", re.IGNORECASE),
    "JSON operator ->/->>": re.compile(r"->"),
    "date/time function": re.compile(
        r"\b(strftime|julianday|datetime|date|time|unixepoch)\s*\(|\bCURRENT_(TIMESTAMP|DATE|TIME)"
        r"\b|'now'", re.IGNORECASE),
    "PRAGMA": re.compile(r"\bPRAGMA\b", re.IGNORECASE),
    "temporary table": re.compile(r"\bTEMP(ORARY)?\s+(TABLE|TRIGGER|VIEW)\b|\btemp\.",
                                  re.IGNORECASE),
    "rowid": re.compile(r"\b(_?rowid_?|last_insert_rowid)\b", re.IGNORECASE),
    "null-safe IS / IS NOT": re.compile(r"\bIS\s+(NOT\s+)?(?!NULL\b|NOT\b|DISTINCT\b)[\w?(]"),
    "SUM of a condition": re.compile(r"\bSUM\(\s*(?!CASE\b)[^()]*?(\bIS\b|\bIN\b|[<>=])"),
    "scalar MAX/MIN of several values": re.compile(r"\b(MAX|MIN)\(\s*[^()]*,"),
    "CAST(... AS INTEGER)": re.compile(r"\bCAST\s*\(.*\bAS\s+INTEGER\s*\)"),
    "SQLite-only function": re.compile(
        r"\b(ifnull|iif|group_concat|total|printf|instr|randomblob|zeroblob|likelihood|unlikely"
        r"|changes|typeof)\s*\(", re.IGNORECASE),
    "numbered parameter ?NNN": re.compile(r"\?\d"),
    "named parameter :name": re.compile(r"(?<![:\w]):[a-z_]\w*"),
}
CODE_CONSTRUCTS = {"lastrowid": "cursor.lastrowid", "executemany": "executemany",
                   "executescript": "executescript"}
IMPORTED = {"sqlite3": "import sqlite3"}

# What truly cannot move, each with its reason: (module, where, construct) -> reason.
# ``where`` is the function (``Class.method``) or module-level name; ``*`` the whole module.
_WRITER = ("bot/storage/bulk.py is SQLite's own import writer (plain sqlite3 in a worker "
           "thread); a second engine brings its own writer (COPY) with the same methods")
SQLITE_ONLY: dict[tuple[str, str, str], str] = {
    ("bulk.py", "*", "import sqlite3"): _WRITER,
    ("bulk.py", "ImportWriter.__init__", "PRAGMA"): _WRITER + ": its connection's settings",
    ("bulk.py", "_RENAMED_TABLE", "temporary table"): _WRITER + ": renames seen by a trigger",
    ("bulk.py", "_RENAMED_TRIGGER", "temporary table"): _WRITER + ": renames seen by a trigger",
    ("bulk.py", "_RENAMED_TRIGGER", "null-safe IS / IS NOT"): _WRITER + ": the trigger's WHEN",
    ("bulk.py", "_RENAMED_SQL", "rowid"): _WRITER + ": the order the trigger saw renames in",
    ("bulk.py", "_RENAMED_SQL", "null-safe IS / IS NOT"): _WRITER + ": renamed back is none",
    ("bulk.py", "ImportWriter.create_list", "cursor.lastrowid"): _WRITER + " (sqlite3's cursor)",
    ("outbox.py", "advance_many", "numbered parameter ?NNN"):
        "a parameter used several times; PostgreSQL's $N is the same thing (the connection "
        "translates ?NNN as it translates ?)",
    ("backup.py", "*", "import sqlite3"): "python -m bot backup|restore: SQLite's online "
        "backup of its file (sqlite3's Connection.backup); PostgreSQL's is pg_dump",
    ("backup.py", "*", "PRAGMA"): "the backup's checks of an SQLite file (integrity_check, "
        "page_count, journal_mode, locking_mode)",
}
# Storage code of issue 17 written while the dialect was being made: theirs to port (the
# engineers who own them were told to use the dialect). Not reasons to keep anything.
NOT_YET_PORTED: dict[str, str] = {}


def _where(stack: list[ast.AST]) -> str:
    names = [n.name for n in stack if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef
                                                 | ast.ClassDef)]
    if names:
        return ".".join(names)
    for node in stack:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            return ",".join(t.id for t in targets if isinstance(t, ast.Name)) or "<module>"
    return "<module>"


def _docstrings(tree: ast.Module) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) \
                and node.body and isinstance(node.body[0], ast.Expr) \
                and isinstance(node.body[0].value, ast.Constant):
            found.add(id(node.body[0].value))
    return found


def _text(node: ast.JoinedStr) -> str:
    return "".join(str(v.value) if isinstance(v, ast.Constant) else "{}" for v in node.values)


def offences(source: str) -> Iterator[tuple[str, int, str]]:
    """(where, line, construct) of every SQLite-only construct a module writes itself."""
    tree = ast.parse(source)
    skip = _docstrings(tree)

    def visit(node: ast.AST, stack: list[ast.AST]) -> Iterator[tuple[str, int, str]]:
        text, line = None, getattr(node, "lineno", 0)
        if isinstance(node, ast.JoinedStr):
            text = _text(node)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                and id(node) not in skip:
            text = node.value
        if text is not None:
            for construct, pattern in SQL_CONSTRUCTS.items():
                if pattern.search(text):
                    yield _where(stack), line, construct
        if isinstance(node, ast.Attribute) and node.attr in CODE_CONSTRUCTS:
            yield _where(stack), node.lineno, CODE_CONSTRUCTS[node.attr]
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""]
            for name in names:
                if name.split(".")[0] in IMPORTED:
                    yield "*", node.lineno, IMPORTED[name.split(".")[0]]
        children = node.values if isinstance(node, ast.JoinedStr) else ast.iter_child_nodes(node)
        for child in children:
            if isinstance(node, ast.JoinedStr) and isinstance(child, ast.Constant):
                continue  # part of the f-string's text, checked with it
            yield from visit(child, [*stack, node])

    yield from visit(tree, [])


def storage_offences(root: Path = STORAGE) -> list[str]:
    found = []
    for path in sorted(root.glob("*.py")):
        if path.name in EXEMPT or path.name in NOT_YET_PORTED:
            continue
        for where, line, construct in offences(path.read_text("utf-8")):
            if (path.name, where, construct) in SQLITE_ONLY or \
                    (path.name, "*", construct) in SQLITE_ONLY:
                continue
            found.append(f"bot/storage/{path.name}:{line} ({where}) writes {construct}")
    return found


def test_sqlite_only_sql_is_said_by_the_dialect_alone() -> None:
    assert storage_offences() == [], (
        "say it through bot/storage/dialect.py (dialect.of(conn)), or, if it truly cannot "
        "move, add it to SQLITE_ONLY with its reason")


def test_every_exception_is_still_needed() -> None:
    """An allowed construct that moved after all leaves the list."""
    used = set()
    for path in STORAGE.glob("*.py"):
        for where, _line, construct in offences(path.read_text("utf-8")):
            used |= {(path.name, where, construct), (path.name, "*", construct)}
    assert [key for key in SQLITE_ONLY if key not in used] == []


@pytest.mark.parametrize(("sql", "construct"), [
    ("INSERT OR IGNORE INTO t (a) VALUES (?)", "INSERT OR IGNORE/REPLACE"),
    ("INSERT OR REPLACE INTO t (a) VALUES (?)", "INSERT OR IGNORE/REPLACE"),
    ("SELECT value FROM json_each(?)", "JSON function"),
    ("SELECT json_extract(config, '$.token') FROM senders", "JSON function"),
    ("SELECT attributes ->> ? FROM contacts", "JSON operator ->/->>"),
    ("SELECT strftime('%s', 'now')", "date/time function"),
    ("SELECT julianday(created_at) FROM t", "date/time function"),
    ("WHERE created_at > datetime('now', '-1 day')", "date/time function"),
    ("PRAGMA foreign_keys = ON", "PRAGMA"),
    ("CREATE TEMP TABLE x (i INTEGER)", "temporary table"),
    ("DELETE FROM temp.x", "temporary table"),
    ("SELECT MIN(rowid) FROM t", "rowid"),
    ("WHERE id IS NOT ?", "null-safe IS / IS NOT"),
    ("SELECT COALESCE(SUM(c.opted_out_at IS NOT NULL), 0)", "SUM of a condition"),
    ("SET attempts = MAX(0, attempts - 1)", "scalar MAX/MIN of several values"),
    ("SELECT CAST((sent_at - ?) / ? AS INTEGER)", "CAST(... AS INTEGER)"),
    ("SELECT IFNULL(campaign_id, '')", "SQLite-only function"),
    ("UPDATE t SET a = ?1 WHERE id = ?2", "numbered parameter ?NNN"),
    ("UPDATE t SET a = :a WHERE id = :id", "named parameter :name"),
])
def test_the_check_notices_what_it_looks_for(sql: str, construct: str) -> None:
    assert ("f", 2, construct) in set(offences(f"def f(conn):\n    conn.execute({sql!r})\n"))


def test_the_check_leaves_plain_sql_and_prose_alone() -> None:
    source = (
        '"""Uses INSERT OR IGNORE and json_each(?), in prose."""\n'
        "def f(conn, d):\n"
        "    conn.execute('SELECT COUNT(*), MAX(planned_at), SUM(CASE WHEN kind = ? THEN 1 END)'\n"
        "                 ' FROM messages WHERE sent_at IS NOT NULL AND id IN (?, ?)'\n"
        "                 ' ON CONFLICT (owner_id) DO UPDATE SET a = excluded.a')\n"
        "    conn.execute(f\"SELECT id FROM t WHERE {d.in_list('phone')}\")\n"
    )
    assert list(offences(source)) == []


def test_code_constructs_are_found_where_they_are(tmp_path: Path) -> None:
    (tmp_path / "x.py").write_text(
        "import sqlite3\n\n"
        "async def add(conn):\n    cur = await conn.execute('INSERT INTO t DEFAULT VALUES')\n"
        "    return cur.lastrowid\n\n"
        "async def many(conn, rows):\n    await conn.executemany('UPDATE t SET a = ?', rows)\n"
        "Q = f\"SELECT {1} FROM t WHERE a IS NOT b\"\n")
    assert storage_offences(tmp_path) == [
        "bot/storage/x.py:1 (*) writes import sqlite3",
        "bot/storage/x.py:5 (add) writes cursor.lastrowid",
        "bot/storage/x.py:8 (many) writes executemany",
        "bot/storage/x.py:9 (Q) writes null-safe IS / IS NOT",
    ]
