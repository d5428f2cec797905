"""The architecture of DESIGN.md, enforced: dependencies point one way only."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "bot"


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def violations(package: str, forbidden: tuple[str, ...], root: Path = ROOT) -> list[str]:
    bad = []
    for path in sorted((root / package).rglob("*.py")):
        for name in imports_of(path):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                bad.append(f"{path.relative_to(root.parent)} imports {name}")
    return bad


def test_services_never_import_telegram_or_the_web() -> None:
    assert violations("services", ("telegram", "starlette", "uvicorn", "bot.handlers",
                                   "bot.web")) == []


def test_storage_and_gateways_never_import_services() -> None:
    assert violations("storage", ("bot.services", "bot.handlers", "telegram")) == []
    assert violations("gateways", ("bot.services", "bot.handlers", "bot.storage",
                                   "telegram")) == []


def test_sql_lives_in_storage_only() -> None:
    bad = []
    for path in sorted(ROOT.rglob("*.py")):
        if "storage" in path.parts:
            continue
        for name in imports_of(path):
            if name in {"aiosqlite", "sqlite3"}:
                bad.append(f"{path.relative_to(ROOT.parent)} imports {name}")
    assert bad == []


def test_the_checker_notices_a_violation(tmp_path) -> None:
    (tmp_path / "bot" / "services").mkdir(parents=True)
    (tmp_path / "bot" / "services" / "x.py").write_text("from telegram.ext import Application\n")
    found = violations("services", ("telegram",), root=tmp_path / "bot")
    assert found == ["bot/services/x.py imports telegram.ext"]
