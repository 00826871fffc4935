"""The triage code as it was before the benchmark's fixes, loaded from git, as an in-run baseline.

`BASELINE_COMMIT` is the last commit before intake/classify were optimised. The two modules are
read with `git show` and executed as private modules (classify's import of intake redirected),
so the baseline and the current code run in one process on the same tickets, and their outputs
can be compared for equality.
"""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASELINE_COMMIT = "2675032"  # docs: application layer and test fixtures (before issue 7)


def _module(name: str, source: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"<{BASELINE_COMMIT}:{name}>"
    sys.modules[name] = module  # dataclasses and pydantic look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def load() -> tuple[types.ModuleType, types.ModuleType] | None:
    """(intake, classify) at BASELINE_COMMIT, or None when git or the commit is not available."""
    try:
        show = lambda path: subprocess.run(["git", "show", f"{BASELINE_COMMIT}:{path}"], cwd=REPO, check=True,  # noqa: E731
                                           capture_output=True, text=True).stdout
        intake_src, classify_src = show("include/itsm/domain/intake.py"), show("include/itsm/domain/classify.py")
    except (OSError, subprocess.CalledProcessError):
        return None
    intake = _module("_bench_baseline_intake", intake_src)
    classify = _module("_bench_baseline_classify",
                       classify_src.replace("from include.itsm.domain.intake import", "from _bench_baseline_intake import"))
    return intake, classify
