"""The repository stands on its own: a copy of it with nothing beside it collects every
test, and nothing in bot/, tests/ or bench/ reads the reference folder next to the
checkout."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"\.\./" + "shared|/ \"" + "shared\"")  # split: this file is no hit


def test_no_code_test_or_bench_reads_outside_the_repository() -> None:
    hits = [str(path.relative_to(ROOT))
            for folder in ("bot", "tests", "bench") for path in (ROOT / folder).rglob("*.py")
            if OUTSIDE.search(path.read_text(encoding="utf-8"))]
    assert hits == []


def test_a_copy_alone_collects_every_test(tmp_path: Path) -> None:
    alone = tmp_path / "alone" / "qasid"  # nothing beside it
    for part in ("bot", "tests", "bench"):
        shutil.copytree(ROOT / part, alone / part,
                        ignore=shutil.ignore_patterns("__pycache__", "data", ".pytest_cache")
                        if part == "bench" else shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", alone / "pyproject.toml")
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=alone, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYTHONPATH": str(alone)})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"^\d+ tests collected", done.stdout, re.MULTILINE), done.stdout[-500:]
