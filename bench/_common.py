"""Shared bits of the benchmark suite: results, targets, timing, the summary table."""

from __future__ import annotations

import gc
import resource
import time
from dataclasses import dataclass, field


@dataclass
class Result:
    """One benchmark's outcome: absolute figures, a ratio to its in-run baseline, PASS/FAIL."""

    name: str
    figures: dict[str, str] = field(default_factory=dict)  # label -> formatted value
    ratio: float | None = None  # measured / baseline, in the direction of `ratio_label`
    ratio_label: str = ""
    target: str = ""
    passed: bool | None = None  # None: not run (skipped), with `note`
    note: str = ""

    def print(self) -> None:
        print(f"\n== {self.name}")
        for label, value in self.figures.items():
            print(f"   {label}: {value}")
        if self.ratio is not None:
            print(f"   ratio ({self.ratio_label}): {self.ratio:,.2f}x")
        if self.note:
            print(f"   note: {self.note}")
        verdict = "SKIP" if self.passed is None else ("PASS" if self.passed else "FAIL")
        print(f"   target: {self.target} -> {verdict}", flush=True)

    @property
    def verdict(self) -> str:
        return "SKIP" if self.passed is None else ("PASS" if self.passed else "FAIL")


def timed(fn, *args, repeat: int = 1, **kwargs):
    """(best seconds over `repeat` runs, last return value); GC collected before each run."""
    best, value = float("inf"), None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        value = fn(*args, **kwargs)
        best = min(best, time.perf_counter() - start)
    return best, value


def peak_rss_mb(children: bool = False) -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN if children else resource.RUSAGE_SELF)
    return usage.ru_maxrss / 1024


def summary_table(results: list[Result]) -> str:
    rows = [("benchmark", "headline", "ratio", "target", "result")]
    for r in results:
        headline = next(iter(r.figures.values()), "") if r.figures else r.note[:40]
        ratio = f"{r.ratio:,.2f}x {r.ratio_label}" if r.ratio is not None else "-"
        rows.append((r.name, headline, ratio, r.target, r.verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)) for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
