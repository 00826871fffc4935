"""Run the benchmark suite: `python -m bench [--quick] [--only NAME ...]`.

Each benchmark prints its absolute figures, a ratio against a baseline measured in the same
run, and PASS or FAIL against its target; then one summary table. Exit status 1 when a target
is missed (a skipped benchmark - an optional tool not installed - is not a miss).
`--quick` scales the sizes down to finish in a few minutes. Results are noisy on a shared
machine: read the ratios, measured in one process, rather than the absolute times.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import traceback

from bench._common import Result, summary_table

BENCHMARKS = {
    "triage": "bench.bench_triage",
    "scrub": "bench.bench_scrub_compare",
    "bridge": "bench.bench_bridge",
    "discovery": "bench.bench_discovery",
    "dags": "bench.bench_dags",
    "sweep": "bench.bench_sweep",
    "gates": "bench.bench_gates",
    "accuracy": "bench.bench_accuracy",
}


def machine() -> str:
    from importlib.metadata import version

    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    versions = ", ".join(f"{name} {version(name)}" for name in ("apache-airflow", "pandas", "numpy", "moto", "duckdb"))
    return (
        f"{os.cpu_count()} CPUs, {mem:.0f} GiB, Python {platform.python_version()} ({platform.machine()}), {versions}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (a few minutes)")
    parser.add_argument("--only", nargs="+", choices=list(BENCHMARKS), help="run only these")
    parser.add_argument("--skip", nargs="+", choices=list(BENCHMARKS), default=[], help="run all but these")
    parser.add_argument("--sweep-tickets", type=int, help="tickets for the sweep benchmark (default 1,000; quick 100)")
    args = parser.parse_args(argv)
    print(f"machine: {machine()}")
    print(f"mode: {'quick' if args.quick else 'full'}", flush=True)
    results: list[Result] = []
    for name in [n for n in (args.only or BENCHMARKS) if n not in args.skip]:
        start = time.perf_counter()
        try:
            module = __import__(BENCHMARKS[name], fromlist=["run"])
            result = module.run(args.quick, args.sweep_tickets) if name == "sweep" else module.run(args.quick)
        except Exception as exc:  # one broken benchmark must not hide the others' numbers
            traceback.print_exc()
            result = Result(name=name, target="(crashed)", passed=False, note=f"{type(exc).__name__}: {exc}"[:200])
        result.figures.setdefault("benchmark wall time", f"{time.perf_counter() - start:.1f} s")
        result.print()
        results.append(result)
    print("\n" + summary_table(results))
    return 1 if any(r.passed is False for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
