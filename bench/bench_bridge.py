"""The pattern bridge's detection on generated historical incidents, against DuckDB.

1M incidents (quick: 100k) over two years, 12 services x 8 causes (two of them placeholders),
priorities P0..P4, MTTRs. Times the product's `detect` (all three rules) on a normalised frame
and its windowed part (`recurring_windows`) alone; DuckDB runs the same windowed query in the
same process on the same frame (count per incident of its pair's incidents in the closed
[t, t + 90 days] window, members = incidents covered by a qualifying window, per pattern:
members and the densest window's count). The pattern counts must agree.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench._common import Result, timed
from include.itsm.bridge.domain import BridgeRules, detect, normalise, recurring_windows

SERVICES = [
    "compute",
    "storage",
    "network",
    "database",
    "identity",
    "observability",
    "security",
    "finops",
    "containers",
    "serverless",
    "backup",
    "dns",
]
RCAS = [
    "human-error",
    "infra-failure",
    "3rd-party",
    "code-defect",
    "config-drift",
    "capacity",
    "unknown",
    "not-applicable",
]
SLA_HOURS = {"P0": 4, "P1": 8, "P2": 24, "P3": 72, "P4": 168}


def incidents(n: int, seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2024-11-01T00:00:00", "ms").astype(np.int64)
    created = start + rng.integers(0, 730 * 86_400_000, n)
    priority = rng.choice(["P0", "P1", "P2", "P3", "P4"], n, p=[0.0005, 0.02, 0.2, 0.4, 0.3795])
    mttr_h = rng.exponential(10, n)
    return pd.DataFrame(
        {
            "key": [f"OPS-{i}" for i in range(1, n + 1)],
            "created": pd.to_datetime(created, unit="ms", utc=True),
            "resolved": pd.to_datetime(created + (mttr_h * 3_600_000).astype(np.int64), unit="ms", utc=True),
            "priority": priority,
            "service": rng.choice([f"service:{s}" for s in SERVICES], n),
            "rca": rng.choice([f"rca:{r}" for r in RCAS], n, p=[0.12, 0.12, 0.12, 0.12, 0.11, 0.01, 0.2, 0.2]),
            "summary": "generated incident",
            "status": "Done",
        }
    )


DUCKDB_QUERY = """
WITH base AS (
  SELECT service, rca, created FROM incidents
  WHERE service IS NOT NULL AND rca IS NOT NULL AND rca NOT IN ('unknown', 'not-applicable')
), counted AS (
  SELECT service, rca, created,
         COUNT(*) OVER (PARTITION BY service, rca ORDER BY created
                        RANGE BETWEEN CURRENT ROW AND INTERVAL {days} DAYS FOLLOWING) AS n
  FROM base
), covered AS (
  SELECT service, rca, n,
         MAX(CASE WHEN n >= {min_n} THEN 1 ELSE 0 END) OVER (PARTITION BY service, rca ORDER BY created
                        RANGE BETWEEN INTERVAL {days} DAYS PRECEDING AND CURRENT ROW) AS member
  FROM counted
)
SELECT service, rca, COUNT(*) FILTER (WHERE member = 1) AS incidents, MAX(n) AS max_in_window
FROM covered GROUP BY service, rca HAVING MAX(n) >= {min_n} ORDER BY service, rca
"""


def run(quick: bool) -> Result:
    n = 100_000 if quick else 1_000_000
    rules = BridgeRules()
    sla = {p: pd.Timedelta(hours=h).to_pytimedelta() for p, h in SLA_HOURS.items()}
    raw = incidents(n)
    norm_s, df = timed(normalise, raw)
    detect_s, found = timed(detect, df, sla, rules, normalised=True, repeat=3)
    windows_s, recurring = timed(recurring_windows, df, rules, repeat=3)
    result = Result(
        name=f"pattern bridge ({n:,} incidents)",
        target="<= 2 s and <= 1.5x DuckDB",
        ratio_label="product/DuckDB time, windowed query",
    )
    result.figures["detect (3 rules, normalised frame)"] = f"{detect_s:.3f} s ({len(found.patterns)} patterns)"
    result.figures["normalise (labels, UTC)"] = f"{norm_s:.3f} s"
    result.figures["recurring windows (product)"] = f"{windows_s:.3f} s"
    try:
        import duckdb
    except ImportError:
        result.note = "duckdb not installed"
        result.passed = detect_s + norm_s <= 2
        return result
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    con.execute("SET threads TO 1")  # one core, as the product's numpy
    frame = pd.DataFrame(
        {
            "service": df["service"].astype(object),
            "rca": df["rca"].astype(object),
            "created": df["created"].dt.tz_convert("UTC").dt.tz_localize(None),
        }
    )
    con.register("incidents", frame)
    query = DUCKDB_QUERY.format(days=rules.window_days, min_n=rules.min_incidents)
    duck_s, rows = timed(lambda: con.execute(query).fetchall(), repeat=3)
    con.execute("RESET threads")
    duck_mt_s, _ = timed(lambda: con.execute(query).fetchall(), repeat=3)
    ours = sorted(
        zip(
            recurring.patterns["service"],
            recurring.patterns["rca"],
            recurring.patterns["incidents"],
            recurring.patterns["max_in_window"],
        )
    )
    agree = [(s, r, int(i), int(m)) for s, r, i, m in ours] == [(s, r, int(i), int(m)) for s, r, i, m in rows]
    result.figures["DuckDB same windowed query (1 thread / all threads)"] = f"{duck_s:.3f} s / {duck_mt_s:.3f} s"
    result.figures["patterns agree with DuckDB"] = str(agree)
    result.ratio = windows_s / duck_s
    result.passed = detect_s + norm_s <= 2 and result.ratio <= 1.5 and agree
    return result
