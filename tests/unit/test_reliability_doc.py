"""Every test RELIABILITY.md names exists (found by parsing the test files' AST)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _tests_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {
        n.name
        for n in ast.walk(tree)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name.startswith("test")
    }


def test_every_named_test_exists():
    text = (REPO / "RELIABILITY.md").read_text()
    named = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", text)
    assert len(named) >= 20
    missing = [
        f"{path}::{name}" for path, name in named if not (REPO / path).exists() or name not in _tests_in(REPO / path)
    ]
    assert missing == []
