"""Every ``# type: ignore`` in bot/ names what it silences and why.

mypy (``make test``, configured in pyproject.toml) checks bot/. Where it is told to look
away, the comment reads ``# type: ignore[code]  # reason``: the error code, so that nothing
else on the line is silenced, and a reason, so that the next reader knows whether it still
holds. Comments are found with ``tokenize``: text in strings does not count.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "bot"

_IGNORE = re.compile(r"#\s*type:\s*ignore")
# ``# type: ignore[code, code]`` then a second comment with some words in it
_NAMED = re.compile(r"#\s*type:\s*ignore\[[a-z-]+(?:,\s*[a-z-]+)*\]\s+#\s*\S.*")


def unexplained_ignores(root: Path = ROOT) -> list[str]:
    """``path:line: comment`` of each ``type: ignore`` under ``root`` without a code and a
    reason."""
    bad = []
    for path in sorted(root.rglob("*.py")):
        name = str(path.relative_to(root.parent))
        tokens = tokenize.generate_tokens(io.StringIO(path.read_text("utf-8")).readline)
        for token in tokens:
            found = _IGNORE.search(token.string) if token.type == tokenize.COMMENT else None
            if found is not None and not _NAMED.fullmatch(token.string[found.start():]):
                bad.append(f"{name}:{token.start[0]}: {token.string}")
    return bad


def test_every_type_ignore_names_its_code_and_reason() -> None:
    found = [line for line in unexplained_ignores() if not line.startswith("bot/storage/")]
    assert found == []


def test_every_type_ignore_in_storage_names_its_code_and_reason() -> None:
    assert unexplained_ignores(ROOT / "storage") == []


def test_the_check_notices_what_it_looks_for(tmp_path: Path) -> None:
    (tmp_path / "bot").mkdir()
    (tmp_path / "bot" / "x.py").write_text(
        "a = f()  # type: ignore\n"
        "b = f()  # type: ignore[arg-type]\n"
        "c = f()  # type: ignore[arg-type] (no comment mark)\n"
        "d = f()  # type: ignore[arg-type]  # aiosqlite types it optional\n"
        "e = f()  # type: ignore[arg-type, union-attr]  # both, for one reason\n"
        "f = '# type: ignore'  # in a string: not a comment\n"
    )
    assert unexplained_ignores(tmp_path / "bot") == [
        "bot/x.py:1: # type: ignore",
        "bot/x.py:2: # type: ignore[arg-type]",
        "bot/x.py:3: # type: ignore[arg-type] (no comment mark)",
    ]
