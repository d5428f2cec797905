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
