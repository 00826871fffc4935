"""Offline triage (intake + classify) throughput on generated tickets, one core.

Tickets: bench/tickets.py (mean >= 1.5 KB; plain, wiki markup, HTML e-mail, quoted replies,
Slack pastes). Baseline: the same two modules as they were before issue 7's fixes, loaded from
git (bench/baseline.py) and run in the same process on the same tickets. Their outputs must be
identical to the current code's on every field the real-text accuracy work did not change
(environment, account ids, and the `env:`, `ke:` and `tier:` labels); service, rca, ticket type,
change type, priority and resource ids are judged on real text (`--only accuracy`) and compared
here for speed only, with the number of tickets where each differs printed.
"""

from __future__ import annotations

import statistics

from bench import baseline
from bench._common import Result, timed
from bench.tickets import generate
from include.itsm import triage
from include.itsm.core.policy import Policy

TARGET = 5_000  # tickets/s
# judged on real text since (bench --only accuracy): speed only here
ACCURACY_FIELDS = ("service", "rca", "ticket_type", "change_type", "priority", "resource_ids")
KEPT_FIELDS = ("environment", "account_ids")
KEPT_LABELS = ("env:", "ke:", "tier:")


def _kept(output: dict) -> tuple:
    """The fields that must equal the baseline's, and the labels that follow only from them."""
    labels = [label for label in output["labels"] if label.startswith(KEPT_LABELS)]
    return (*(output[f] for f in KEPT_FIELDS), labels)


def run(quick: bool) -> Result:
    records = generate(2_000 if quick else 10_000)
    policy = Policy()
    mean_kb = statistics.mean(len((r["summary"] + r["description"]).encode()) for r in records) / 1e3
    current = lambda: [triage.triage_record(r, policy) for r in records]  # noqa: E731
    current()
    cur_s, cur_out = timed(current, repeat=1 if not quick else 2)
    rate = len(records) / cur_s
    result = Result(
        name="triage (intake + classify)",
        target=f">= {TARGET:,} tickets/s, one core",
        ratio_label="current/baseline speed",
    )
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
                out.append(
                    {
                        "service": found.service,
                        "environment": found.environment,
                        "account_ids": found.account_values,
                        "resource_ids": found.resource_values,
                        "ticket_type": c.ticket_type,
                        "change_type": c.change_type,
                        "priority": c.priority,
                        "rca": c.rca,
                        "labels": c.labels,
                    }
                )
            return out

        base()  # warm its pattern caches as the current code's were
        base_s, base_out = timed(base)
        cur_s = min(cur_s, timed(current)[0])
        rate = len(records) / cur_s
        result.figures["current"] = f"{rate:,.0f} tickets/s ({len(records):,} tickets, mean {mean_kb:.2f} KB)"
        now = [{**o["intake"], **o["classification"]} for o in cur_out]
        same = all(_kept(n) == _kept(b) for n, b in zip(now, base_out))
        changed = {f: sum(n[f] != b[f] for n, b in zip(now, base_out)) for f in ACCURACY_FIELDS}
        result.figures["baseline (before fixes, from git)"] = f"{len(records) / base_s:,.0f} tickets/s"
        result.figures["outputs identical to baseline (fields kept)"] = str(same)
        result.figures[f"tickets whose {' / '.join(ACCURACY_FIELDS)} changed (accuracy work)"] = " / ".join(
            f"{changed[f]:,}" for f in ACCURACY_FIELDS
        )
        before = baseline.load_accuracy_baseline()
        if before is not None:  # what the real-text accuracy work cost in speed, in this run
            old_triage = before[0]
            old_run = lambda: [old_triage(r) for r in records]  # noqa: E731
            old_run()
            old_s = timed(old_run, repeat=2)[0]  # best of two, as the current code gets
            result.figures[f"before the accuracy work ({baseline.ACCURACY_BASELINE_COMMIT}, from git)"] = (
                f"{len(records) / old_s:,.0f} tickets/s (now {old_s / cur_s:.2f}x its speed)"
            )
        result.ratio = base_s / cur_s
        if not same:
            result.note = "current output differs from the baseline's"
    result.passed = rate >= TARGET and "differs" not in result.note
    return result
