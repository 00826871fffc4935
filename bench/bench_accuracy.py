"""Accuracy on the real-text corpus: every row of bench/accuracy.py's table, test split and dev split.

The test split is printed next to the figures of the code before the accuracy work (commit
ACCURACY_BASELINE_COMMIT's intake, classify, policy, triage and scrub, loaded from git by
bench/baseline.py and run in this process on the same items), with PASS/FAIL against the
targets. The dev split, which the rules were tuned on, follows for comparison. `--quick` changes
nothing: the corpus is small.
"""

from __future__ import annotations

from bench import accuracy, baseline
from bench._common import Result


def _table(title: str, rows: list[accuracy.Row], before: dict[str, accuracy.Row] | None) -> str:
    header = ("row", "corpus", "now", f"before ({baseline.ACCURACY_BASELINE_COMMIT})", "target", "result")
    lines = [header]
    for row in rows:
        old = before[row.name].detail if before else "(baseline not available)"
        verdict = {None: "-", True: "PASS", False: "FAIL"}[row.passed]
        lines.append((row.name, row.corpus, row.detail, old, row.target_text, verdict))
    widths = [min(72, max(len(line[i]) for line in lines)) for i in range(len(header))]
    out = [title] + ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(line)) for line in lines]
    out.insert(2, "  ".join("-" * w for w in widths))
    return "\n".join(out)


def run(quick: bool) -> Result:
    old = baseline.load_accuracy_baseline()
    result = Result(name="accuracy (real-text corpus)", target="rca >= 0.75, service >= 0.85, false rca <= 1% (test)")
    for split in ("test", "dev"):
        rows = accuracy.score(split)
        before = accuracy.by_name(accuracy.score(split, *old)) if old else None
        print("\n" + _table(f"{split} split", rows, before), flush=True)
        if split == "test":
            targeted = [row for row in rows if row.target]
            result.passed = all(row.passed for row in targeted)
            for row in targeted:
                result.figures[f"test: {row.name}"] = (
                    f"{row.detail} (before: {before[row.name].detail if before else 'n/a'})"
                )
        else:
            for row in rows:
                if row.target:
                    result.figures[f"dev: {row.name}"] = row.detail
    if old is None:
        result.note = "baseline commit not available (no git): earlier figures not shown"
    return result
