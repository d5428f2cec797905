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


LEDGER_WRITERS = {"bot/storage/ledger.py", "bot/services/billing.py"}


def ledger_writes(root: Path = ROOT) -> list[str]:
    """Where a module other than billing (or the ledger's own) writes a ledger row: calls
    ``ledger.add`` (however the module was imported), imports ``add`` from the ledger, or
    holds SQL inserting into it. Billing decides the rows' kinds and signs alone."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        where = str(path.relative_to(root.parent))
        if where in LEDGER_WRITERS:
            continue
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "add" and isinstance(node.func.value, ast.Name)
                    and "ledger" in node.func.value.id):
                bad.append(f"{where}:{node.lineno} calls {node.func.value.id}.add")
            elif (isinstance(node, ast.ImportFrom) and node.module == "bot.storage.ledger"
                  and any(alias.name == "add" for alias in node.names)):
                bad.append(f"{where}:{node.lineno} imports ledger.add")
            elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
                  and "into ledger" in node.value.lower()):
                bad.append(f"{where}:{node.lineno} inserts into the ledger")
    return bad


def test_only_billing_writes_ledger_rows() -> None:
    assert ledger_writes() == []


def test_the_ledger_check_notices_a_hand_signed_row(tmp_path) -> None:
    (tmp_path / "bot" / "services").mkdir(parents=True)
    (tmp_path / "bot" / "services" / "x.py").write_text(
        "from bot.storage import ledger\n"
        "async def f(tx, now):\n"
        "    await ledger.add(tx, 1, 'charge', -1, now)\n")
    assert ledger_writes(tmp_path / "bot") == ["bot/services/x.py:3 calls ledger.add"]
