"""Rules that live in one place stay there: found by walking bot/ with ``ast``."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "bot"


def modules(root: Path = ROOT) -> list[tuple[str, ast.Module]]:
    return [(str(path.relative_to(root.parent)), ast.parse(path.read_text("utf-8")))
            for path in sorted(root.rglob("*.py"))]


def private_imports(root: Path = ROOT) -> list[str]:
    """Imports of python-telegram-bot's private modules (``telegram._...``,
    ``telegram.ext._...``): they change without notice between releases."""
    bad = []
    for name, tree in modules(root):
        for node in ast.walk(tree):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [])
            bad += [f"{name} imports {n}" for n in names
                    if n.split(".")[0] == "telegram" and any(p.startswith("_")
                                                           for p in n.split(".")[1:])]
    return bad


def test_nothing_imports_private_telegram_modules() -> None:
    assert private_imports() == []


def test_the_checks_notice_what_they_look_for(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "x.py").write_text("from telegram.ext._utils.types import CD\n")
    assert private_imports(tmp_path / "bot") == ["bot/x.py imports telegram.ext._utils.types"]


def clock_reads(root: Path = ROOT) -> list[str]:
    """Places that read the time themselves instead of through an injected ``Clock``:
    ``datetime.now()``/``utcnow()``/``date.today()`` calls and home-made ``utcnow``
    functions, anywhere but ``bot/clock.py``."""
    bad = []
    for name, tree in modules(root):
        if name == "bot/clock.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and \
                    node.name.strip("_") in {"utcnow", "utc_now", "now_utc"}:
                bad.append(f"{name}:{node.lineno} defines {node.name}")
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in {"now", "utcnow", "today"}
                  and isinstance(node.func.value, ast.Name)
                  and node.func.value.id in {"datetime", "date"}):
                bad.append(f"{name}:{node.lineno} calls {node.func.value.id}.{node.func.attr}")
    return bad


def _reads_timezone(node: ast.expr) -> bool:
    if isinstance(node, ast.IfExp):
        node = node.body
    return isinstance(node, ast.Attribute) and node.attr == "timezone"


def zone_fallbacks(root: Path = ROOT) -> list[str]:
    """``owner.timezone or <a default>`` anywhere but ``zones.owner_zone``: the owner's
    zone has one rule (theirs, else DEFAULT_TIMEZONE)."""
    bad = []
    for name, tree in modules(root):
        for node in ast.walk(tree):
            if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and \
                    _reads_timezone(node.values[0]) and name != "bot/services/zones.py":
                bad.append(f"{name}:{node.lineno} picks a zone itself")
    return bad


def test_the_time_is_read_through_the_one_clock() -> None:
    assert clock_reads() == []


def test_an_owners_zone_comes_from_the_one_rule() -> None:
    assert zone_fallbacks() == []


def test_the_clock_and_zone_checks_notice_what_they_look_for(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "x.py").write_text(
        "def utcnow():\n    return datetime.now(UTC)\n"
        "zone = owner.timezone or 'UTC'\n"
        "name = (owner.timezone if owner else None) or default\n")
    assert clock_reads(tmp_path / "bot") == ["bot/x.py:1 defines utcnow",
                                             "bot/x.py:2 calls datetime.now"]
    assert zone_fallbacks(tmp_path / "bot") == ["bot/x.py:3 picks a zone itself",
                                                "bot/x.py:4 picks a zone itself"]
