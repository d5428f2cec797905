"""Each rule in one place, enforced: services ask a gateway what it can do instead of
comparing its name, turn its errors into domain errors, and handlers never see one; the
web layer reads no gateway's wire format and reaches storage only through services."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "bot"
GATEWAY_NAMES = frozenset({"cloud", "waha"})
# the fields of WAHA's and Meta's webhook bodies that say whom a body is for
WIRE_KEYS = frozenset({"session", "event", "payload", "entry", "changes", "metadata",
                       "phone_number_id", "statuses"})


def modules(package: str, root: Path = ROOT) -> list[tuple[str, ast.Module]]:
    return [(str(path.relative_to(root.parent)), ast.parse(path.read_text("utf-8")))
            for path in sorted((root / package).rglob("*.py"))]


def gateway_names_in(package: str, root: Path = ROOT) -> list[str]:
    """Where a module says "cloud" or "waha" as a value (``gateway == "cloud"``,
    ``frozenset({"waha"})``, ``gateway="cloud"``): a decision by the gateway's name."""
    return [f"{name}:{node.lineno}" for name, tree in modules(package, root)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in GATEWAY_NAMES]


def detail_matching_in(package: str, root: Path = ROOT) -> list[str]:
    """``<error>.detail.startswith(...)``, ``"auth" in exc.detail``, ...: reading an
    error's words to decide."""
    found = []
    for name, tree in modules(package, root):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                    and node.func.attr in ("startswith", "endswith") \
                    and isinstance(node.func.value, ast.Attribute) \
                    and node.func.value.attr == "detail":
                found.append(f"{name}:{node.lineno}")
            elif isinstance(node, ast.Compare) and any(
                    isinstance(op, ast.In | ast.NotIn) for op in node.ops) and any(
                    isinstance(c, ast.Attribute) and c.attr == "detail"
                    for c in node.comparators):
                found.append(f"{name}:{node.lineno}")
    return found


def gateway_errors_in(package: str, root: Path = ROOT) -> list[str]:
    """Modules that import the gateways' error types (to catch them)."""
    return [f"{name} imports {alias.name}" for name, tree in modules(package, root)
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("bot.gateways")
            for alias in node.names if alias.name in ("GatewayError", "ErrorCategory")]


def wire_keys_in(package: str, root: Path = ROOT) -> list[str]:
    """Where a module says a webhook body's field names (``body.get("session")``,
    ``body["entry"]``): reading a gateway's wire format."""
    return [f"{name}:{node.lineno} {node.value}" for name, tree in modules(package, root)
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value in WIRE_KEYS]


def storage_imports_in(package: str, root: Path = ROOT) -> list[str]:
    return [f"{name} imports {module}" for name, tree in modules(package, root)
            for node in ast.walk(tree)
            for module in ([node.module or ""] if isinstance(node, ast.ImportFrom) else
                           [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if module == "bot.storage" or module.startswith("bot.storage.")]


def test_the_web_reads_no_wire_format_and_no_storage() -> None:
    assert wire_keys_in("web") == []
    assert storage_imports_in("web") == []


def test_services_ask_the_gateway_instead_of_naming_it() -> None:
    assert gateway_names_in("services") == []
    assert detail_matching_in("services") == []


def test_handlers_never_catch_gateway_errors() -> None:
    assert gateway_errors_in("handlers") == []


def test_gateway_calls_are_typed() -> None:
    """The router hands out what each adapter can do as protocols: no call that the
    type checker has to be told to look away from."""
    ignored = re.compile(r"type:\s*ignore\[(attr-defined|arg-type)\]")
    bad = [f"{path.relative_to(ROOT.parent)}:{n}"
           for path in [ROOT / "app.py", ROOT / "gateways" / "router.py",
                        ROOT / "services" / "dispatcher.py", ROOT / "services" / "senders.py"]
           for n, line in enumerate(path.read_text("utf-8").splitlines(), 1)
           if ignored.search(line) and re.search(r"gateway|waha|cloud|linker", line)]
    assert bad == []


def test_the_checkers_notice_a_violation(tmp_path) -> None:
    (tmp_path / "bot" / "services").mkdir(parents=True)
    (tmp_path / "bot" / "handlers").mkdir(parents=True)
    (tmp_path / "bot" / "services" / "x.py").write_text(
        'def f(sender, exc):\n'
        '    if sender.gateway == "cloud":\n'
        '        return exc.detail.startswith("auth") or "auth" in exc.detail\n')
    (tmp_path / "bot" / "handlers" / "y.py").write_text(
        "from bot.gateways.base import GatewayError, SenderState\n")
    (tmp_path / "bot" / "web").mkdir(parents=True)
    (tmp_path / "bot" / "web" / "z.py").write_text(
        "from bot.storage import senders\nimport bot.storage.db\n"
        "def f(body):\n    return body.get('session'), body['entry']\n")
    root = tmp_path / "bot"
    assert wire_keys_in("web", root) == ["bot/web/z.py:4 session", "bot/web/z.py:4 entry"]
    assert storage_imports_in("web", root) == ["bot/web/z.py imports bot.storage",
                                               "bot/web/z.py imports bot.storage.db"]
    assert gateway_names_in("services", root) == ["bot/services/x.py:2"]
    assert detail_matching_in("services", root) == ["bot/services/x.py:3"] * 2
    assert gateway_errors_in("handlers", root) == ["bot/handlers/y.py imports GatewayError"]
