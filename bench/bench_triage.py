"""Offline triage (intake + classify) throughput on generated tickets, one core.

Tickets: bench/tickets.py (mean >= 1.5 KB; plain, wiki markup, HTML e-mail, quoted replies,
Slack pastes). Baseline: the same two modules as they were before issue 7's fixes, loaded from
git (bench/baseline.py) and run in the same process on the same tickets; their outputs must be
identical to the current code's (behaviour kept).
"""

from __future__ import annotations

import statistics

from bench import baseline
from bench._common import Result, timed
from bench.tickets import generate
from include.itsm.application import triage
from include.itsm.domain.policy import Policy

TARGET = 5_000  # tickets/s


def run(quick: bool) -> Result:
    records = generate(2_000 if quick else 10_000)
    policy = Policy()
    mean_kb = statistics.mean(len((r["summary"] + r["description"]).encode()) for r in records) / 1e3
    current = lambda: [triage.triage_record(r, policy) for r in records]  # noqa: E731
    current()
    cur_s, cur_out = timed(current, repeat=1 if not quick else 2)
    rate = len(records) / cur_s
    result = Result(name="triage (intake + classify)", target=f">= {TARGET:,} tickets/s, one core",
                    ratio_label="current/baseline speed")
    result.figures["current"] = f"{rate:,.0f} tickets/s ({len(records):,} tickets, mean {mean_kb:.2f} KB)"
    modules = baseline.load()
    if modules is None:
        result.note = "baseline commit not available (no git): ratio not measured"
    else:
        intake, classify = modules

        def base():
            out = []
            for r in records:
                ticket = triage._ticket(r)
                found = intake.extract(ticket, policy)
                c = classify.classify(ticket, found, policy)
                out.append((found.service, found.environment, found.account_values, found.resource_values,
                            c.ticket_type, c.change_type, c.priority, c.rca, c.labels))
            return out

        base()  # warm its pattern caches as the current code's were
        base_s, base_out = timed(base)
        cur_s = min(cur_s, timed(current)[0])
        rate = len(records) / cur_s
        result.figures["current"] = f"{rate:,.0f} tickets/s ({len(records):,} tickets, mean {mean_kb:.2f} KB)"
        same = [(o["intake"]["service"], o["intake"]["environment"], o["intake"]["account_ids"], o["intake"]["resource_ids"],
                 o["classification"]["ticket_type"], o["classification"]["change_type"], o["classification"]["priority"],
                 o["classification"]["rca"], o["classification"]["labels"]) for o in cur_out] == base_out  # fmt: skip
        result.figures["baseline (before fixes, from git)"] = f"{len(records) / base_s:,.0f} tickets/s"
        result.figures["outputs identical to baseline"] = str(same)
        result.ratio = base_s / cur_s
        if not same:
            result.note = "current output differs from the baseline's"
    result.passed = rate >= TARGET and "differs" not in result.note
    return result
