"""The layering of docs/architecture.md §2, checked on the source: imports point downwards only.

- boto3, botocore, atlassian and requests are imported only in include/itsm/adapters/ (and the devstack);
- `domain.py` modules and core/ import no Airflow, no client library, no adapter, service or wiring;
- product code never imports the devstack (only the `itsm devstack` command starts it);
- nothing cites a design document outside the repository.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PRODUCT = [p for d in ("include", "dags", "plugins") for p in (REPO / d).rglob("*.py")]
CLIENT_LIBRARIES = ("boto3", "botocore", "atlassian", "requests")


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def _rel(path: Path) -> str:
    return path.relative_to(REPO).as_posix()


def _outside(*folders: str) -> list[Path]:
    return [p for p in PRODUCT if not any(_rel(p).startswith(f) for f in folders)]


def test_client_libraries_only_in_the_adapters():
    leaks = {
        _rel(p): sorted(n for n in _imports(p) if n.split(".")[0] in CLIENT_LIBRARIES)
        for p in _outside("include/itsm/adapters/", "include/itsm/devstack/")
    }
    assert {k: v for k, v in leaks.items() if v} == {}


@pytest.mark.parametrize(
    "path",
    [p for p in PRODUCT if p.name == "domain.py" or "/core/" in _rel(p)],
    ids=lambda p: _rel(p),
)
def test_domain_and_core_are_pure(path):
    forbidden = ("airflow", *CLIENT_LIBRARIES, "include.itsm.adapters", "include.itsm.wiring", "include.itsm.devstack")
    bad = sorted(
        n for n in _imports(path) if n.split(".")[0] in forbidden or n.startswith(forbidden) or ".service" in n
    )
    assert bad == []


def test_product_code_never_imports_the_devstack():
    users = [
        _rel(p)
        for p in _outside("include/itsm/devstack/")
        if any(n.startswith("include.itsm.devstack") for n in _imports(p))
        and _rel(p) != "include/itsm/commands/devstack.py"
    ]
    assert users == []


def test_no_reference_to_a_design_document_outside_the_repository():
    pattern = re.compile(r"DESIGN(\.md| section| §|\s+\d)|\.\./shared|shared/DESIGN")
    tests = [p for p in (REPO / "tests").rglob("*.py") if p.name != "test_layering.py"]
    files = [*PRODUCT, *(REPO / "docs").rglob("*.md"), REPO / "README.md", *tests]
    cited = [
        f"{_rel(p)}:{n}" for p in files for n, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)
    ]
    assert cited == []
