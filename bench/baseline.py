"""Earlier versions of product modules, loaded from git, as in-run baselines.

A benchmark compares the current code with the code as it was at a given commit, in one process
on the same inputs (so ratios are not skewed by the machine's load, and outputs can be compared
for equality). The modules are read with `git show` and executed as private modules. Imports
between the loaded modules are redirected to each other; imports of shared modules that have
moved since (the ticket, ADF and policy models, the prefilter) are redirected to where they
live now, which keeps the same names.
"""

from __future__ import annotations

import re
import subprocess
import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRIAGE_BASELINE_COMMIT = "2675032"  # docs: application layer and test fixtures (before issue 7)
ACCURACY_BASELINE_COMMIT = "e4854c3"  # the rules before the real-text accuracy work
# Where shared modules of older commits live now (same names inside).
MOVED = {
    "include.itsm.application.jsonl": "include.itsm.jsonl",
    "include.itsm.domain.adf": "include.itsm.core.adf",
    "include.itsm.domain.artifact": "include.itsm.core.artifact",
    "include.itsm.domain.change_policy": "include.itsm.core.change_policy",
    "include.itsm.domain.inventory": "include.itsm.core.inventory",
    "include.itsm.domain.policy": "include.itsm.core.policy",
    "include.itsm.domain.ticket": "include.itsm.core.ticket",
    "include.itsm.domain.discovery_summary": "include.itsm.steps.discover.summary",
    "include.itsm.domain.prefilter": "include.itsm.textscan.prefilter",
    "include.itsm.domain.scrub_config": "include.itsm.scrub.config",
}


def _module(name: str, source: str, commit: str) -> types.ModuleType:
    module = types.ModuleType(name)
    module.__file__ = f"<{commit}:{name}>"
    sys.modules[name] = module  # dataclasses and pydantic look their module up
    exec(compile(source, module.__file__, "exec"), module.__dict__)
    return module


def load_at(commit: str, paths: dict[str, str]) -> dict[str, types.ModuleType] | None:
    """{name: module} of `paths` ({name: path in the repository at `commit`}), loaded in the given
    order (a module imports only those before it); None when git or the commit is not available."""
    try:
        sources = {
            name: subprocess.run(
                ["git", "show", f"{commit}:{path}"], cwd=REPO, check=True, capture_output=True, text=True
            ).stdout
            for name, path in paths.items()
        }
    except (OSError, subprocess.CalledProcessError):
        return None
    private = {path.removesuffix(".py").replace("/", "."): f"_baseline_{commit}_{name}" for name, path in paths.items()}
    renames = {**MOVED, **private}
    pattern = re.compile(r"\b(" + "|".join(re.escape(old) for old in sorted(renames, key=len, reverse=True)) + r")\b")
    return {
        name: _module(
            private[paths[name].removesuffix(".py").replace("/", ".")],
            pattern.sub(lambda m: renames[m.group(1)], source),
            commit,
        )
        for name, source in sources.items()
    }


def load() -> tuple[types.ModuleType, types.ModuleType] | None:
    """(intake, classify) at TRIAGE_BASELINE_COMMIT, or None when git or the commit is not available."""
    modules = load_at(
        TRIAGE_BASELINE_COMMIT,
        {"intake": "include/itsm/domain/intake.py", "classify": "include/itsm/domain/classify.py"},
    )
    return (modules["intake"], modules["classify"]) if modules else None


def load_accuracy_baseline(commit: str = ACCURACY_BASELINE_COMMIT):
    """(triage, scrub) callables of `commit`'s own policy, intake, classify, triage and scrub (the
    shapes bench/accuracy.py scores), or None when git or the commit is not available."""
    modules = load_at(
        commit,
        {
            "policy": "include/itsm/domain/policy.py",
            "intake": "include/itsm/domain/intake.py",
            "classify": "include/itsm/domain/classify.py",
            "triage": "include/itsm/application/triage.py",
            "scrub": "include/itsm/domain/scrub.py",
        },
    )
    if modules is None:
        return None
    policy = modules["policy"].Policy()
    triage, scrub = modules["triage"].triage_record, modules["scrub"].scrub
    return (lambda record: triage(record, policy)), (lambda text: scrub(text).text)
