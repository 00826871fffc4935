"""Step 8, govern: what the change really did, and the evidence an auditor needs to believe it.

Why here: without a governance record the change cannot be audited or learnt from. `run` reads
what happened, not what was planned: CloudTrail shows which instances really stopped (and why the
others did not), Cost Explorer the actual saving, which is set against the decide estimate
pro-rated to the observed days and to the instances that really stopped, and what remains
unexplained is reported, not hidden. It adds the security posture delta, the compliance trail in
the observed window, a performance delta, the SHA-256 bundle hash over every artifact of the ticket
(this run and earlier ones), the evidence index per compliance control, persona summaries and
stakeholder e-mail templates. The governance approver's approval (gate "governance") lets `apply`
post the record's summary with the bundle hash to the ticket and archive it in the audit log.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

from include.itsm.context import RunContext
from include.itsm.core import adf
from include.itsm.core.artifact import Provenance
from include.itsm.ports import AwsError
from include.itsm.steps import GateBrief, GateDecision, approved
from include.itsm.steps.cross_validate import sources as src
from include.itsm.steps.decide.service import DecisionRecord
from include.itsm.steps.govern.domain import (
    PERSONAS,
    GovernanceRecord,
    MetricDelta,
    RuleCompliance,
    TrailEvent,
    bundle_hash,
    compliance_trail,
    cost_delta,
    evidence_index,
    persona_summaries,
    security_delta,
    stakeholder_email,
)
from include.itsm.steps.operate.domain import OperatePlan

STEP = "govern"
GATES = ("governance",)
LOOKBACK = timedelta(days=90)  # how far back CloudTrail is searched for the change's first run
BASELINE_DAYS = 7


def _now() -> datetime:
    """The wall clock: for provenance stamps (when AWS was asked), never for the window read."""
    return datetime.now(UTC)


def daily_costs(ctx: RunContext, accounts: list[str], start: date, end: date) -> tuple[dict[date, float], dict]:
    """Cost Explorer DAILY EC2 compute of the change's accounts."""
    request = {
        "TimePeriod": {"Start": start.isoformat(), "End": end.isoformat()},
        "Granularity": "DAILY",
        "Metrics": ["UnblendedCost"],
        "Filter": {
            "And": [
                {"Dimensions": {"Key": "LINKED_ACCOUNT", "Values": accounts}},
                {"Dimensions": {"Key": "SERVICE", "Values": [src.EC2_COMPUTE_SERVICE]}},
            ]
        },
    }
    days = {period.start: period.total_usd for period in ctx.aws.cost_and_usage(request) if start <= period.start < end}
    return days, request


def actual_saving(days: dict[date, float], first: date) -> tuple[float, int, float, list[str]]:
    """(saving, observed days, baseline/day, arithmetic): baseline = mean of the days before the change."""
    before = [v for d, v in sorted(days.items()) if d < first][-BASELINE_DAYS:]
    after = [v for d, v in sorted(days.items()) if d >= first]
    if not before or not after:
        raise ValueError(
            f"Cost Explorer has {len(before)} day(s) before and {len(after)} after {first}: "
            "govern needs both to measure the saving"
        )
    baseline = sum(before) / len(before)
    saving = round(baseline * len(after) - sum(after), 2)
    return (
        saving,
        len(after),
        baseline,
        [
            f"baseline = mean of {len(before)} days before {first} = ${baseline:,.2f}/day",
            f"actual saving = {len(after)} days x ${baseline:,.2f} - ${sum(after):,.2f} billed = ${saving:,.2f}",
        ],
    )


def _latest_paths(ctx: RunContext, key: str, steps) -> dict[str, str]:
    """step -> path of its newest artifact (by run order) across the ticket's runs."""
    out = {}
    for path, _ in ctx.evidence.files(key):
        name = path.rsplit("/", 1)[-1]
        if name.endswith(".json") and name.removesuffix(".json") in steps:
            out[name.removesuffix(".json")] = path
    return out


def run(ctx: RunContext, key: str) -> dict:
    decision = ctx.evidence.latest(key, "decide", DecisionRecord)
    ctx.evidence.latest(key, "operate", OperatePlan)  # govern follows monitoring
    policy = ctx.settings.policy.change
    now = ctx.as_of  # the window read is the run's: a re-run reads the same days
    ids = {r.resource_id for r in decision.resources}
    places = sorted({(r.account_id, r.region) for r in decision.resources})
    stops: list[TrailEvent] = []
    for account, region in places:
        stops += [
            e
            for e in ctx.aws.lookup_events(account, region, now - LOOKBACK, now, ("EventName", "StopInstances"))
            if e.resource_id in ids
        ]
    if not stops:
        raise ValueError(
            f"{key}: CloudTrail shows no StopInstances on the {len(ids)} Phase 1 instances in the last "
            f"{LOOKBACK.days} days: govern runs after the change has run"
        )
    started = min(e.event_time for e in stops)
    trail_prov = Provenance(
        source="aws:cloudtrail:LookupEvents",
        as_of=_now(),
        query="EventName=StopInstances",
        detail={"places": [list(p) for p in places], "events": len(stops), "first": started.isoformat()},
    )
    accounts = sorted({a for a, _ in places})
    days, request = daily_costs(ctx, accounts, started.date() - timedelta(days=BASELINE_DAYS), now.date())
    saving, observed, baseline, saving_lines = actual_saving(days, started.date())
    ce_prov = Provenance(
        source="aws:ce:GetCostAndUsage",
        as_of=_now(),
        query=json.dumps(request, separators=(",", ":")),
        detail={"baseline_per_day": round(baseline, 2), "observed_days": observed, "arithmetic": saving_lines},
    )
    period_end = started + timedelta(days=observed)
    cost = cost_delta(decision.cost, saving, started, period_end, stops, policy, ce_prov, trail_prov)
    cost.arithmetic = saving_lines + cost.arithmetic
    window_events: list[TrailEvent] = []
    for account, region in places:
        window_events += ctx.aws.lookup_events(account, region, started - timedelta(hours=1), period_end)
    rules, rules_note = [], "Config rules: none evaluated in scope"
    for account in accounts:
        try:
            for rule, state in ctx.aws.rule_compliance(account).items():
                rules.append(RuleCompliance(rule=f"{account}:{rule}", before=state, after=state))
        except AwsError as exc:
            rules_note = f"Config rules not readable: {exc.code}: {exc.message}"
    failed = len(cost.failed_stops)
    attempted = cost.stopped_instances + failed
    performance = [
        MetricDelta(
            metric="scheduler StopInstances failure rate",
            before=0.0,
            after=round(100 * failed / attempted, 2) if attempted else 0.0,
            unit="%",
        ),
        MetricDelta(
            metric="instances running overnight",
            before=float(len(ids)),
            after=float(len(ids) - cost.stopped_instances),
            unit="instances",
        ),
    ]
    files = ctx.evidence.files(key)
    digests = [hashlib.sha256(content).hexdigest() for _, content in files]
    paths = _latest_paths(ctx, key, [s for s in policy.compliance if s != STEP])
    paths[STEP] = ctx.evidence.location(key, ctx.run_id, f"{STEP}.json")
    record = GovernanceRecord(
        key=key,
        run_id=ctx.run_id,
        mode=ctx.mode,
        cost=cost,
        security=security_delta(rules, window_events),
        trail=compliance_trail(window_events, started - timedelta(hours=1), period_end),
        performance=performance,
        evidence_index=evidence_index(paths, policy),
        bundle_sha256=bundle_hash(digests),
    )
    path = ctx.evidence.write(key, ctx.run_id, STEP, record)
    summaries = persona_summaries(record)
    ctx.evidence.write_text(key, ctx.run_id, f"{STEP}.md", render_markdown(record, summaries, rules_note, files))
    recipients = {
        "CFO": policy.approvers.go_no_go["business"][0],
        "CSO": policy.approvers.go_no_go["security"][0],
        "CTO": policy.approvers.go_no_go["engineering"][0],
        "CloudOps": policy.escalation.on_call_owner,
    }
    for persona in PERSONAS:
        ctx.evidence.write_text(
            key,
            ctx.run_id,
            f"{STEP}-email-{persona.lower()}.txt",
            stakeholder_email(record, persona, recipients[persona]),
        )
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "bundle_sha256": record.bundle_sha256,
            "artifacts": len(files),
            "actual_usd": cost.actual_usd,
            "prorated_usd": cost.prorated_estimate_usd,
            "unexplained_usd": cost.unexplained_usd,
        },
    )
    return {
        "key": key,
        "step": STEP,
        "artifact": path,
        "actual_usd": cost.actual_usd,
        "prorated_estimate_usd": cost.prorated_estimate_usd,
        "unexplained_usd": cost.unexplained_usd,
        "stopped": f"{cost.stopped_instances}/{cost.estimated_instances}",
        "bundle_sha256": record.bundle_sha256,
        "artifacts_hashed": len(files),
    }


def render_markdown(record: GovernanceRecord, summaries: dict[str, str], rules_note: str, files) -> str:
    c = record.cost
    lines = [
        f"# Governance record {record.key}",
        "",
        "## Cost delta",
        "",
        *[f"- {a}" for a in c.arithmetic],
        *[f"- failed stop {i}: {e}" for i, e in c.failed_stops.items()],
        "",
        "## Security posture",
        "",
        f"- {rules_note}",
        f"- Config rules changed compliance: {len(record.security.changed_rules)}",
        f"- IAM changes in the window: {len(record.security.iam_changes)}",
        *[f"  - {x}" for x in record.security.iam_changes],
        "",
        "## Compliance trail (CloudTrail, observed window)",
        "",
        *[
            f"- {name}: " + ", ".join(f"{o} {n}" for o, n in outcomes.items())
            for name, outcomes in record.trail.items()
        ],
        "",
        "## Performance",
        "",
        *[f"- {m.metric}: {m.before:g} -> {m.after:g} {m.unit}" for m in record.performance],
        "",
        "## Evidence",
        "",
        f"Bundle SHA-256 over {len(files)} artifacts: `{record.bundle_sha256}`",
        "",
        *[f"- {control}: {', '.join(paths)}" for control, paths in record.evidence_index.items()],
        "",
        "## Persona summaries",
        "",
        *[f"- **{p}**: {s}" for p, s in summaries.items()],
    ]
    return "\n".join(lines) + "\n"


def brief(ctx: RunContext, key: str, gate: str) -> GateBrief:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    record = ctx.evidence.latest(key, STEP, GovernanceRecord)
    c = record.cost
    body = [
        *[f"- {a}" for a in c.arithmetic],
        "",
        *[f"- **{p}**: {s}" for p, s in persona_summaries(record).items()],
        "",
        f"Evidence bundle SHA-256 `{record.bundle_sha256}`; {len(record.evidence_index)} controls indexed.",
        "Approve to archive the governance record and link it on the ticket.",
    ]
    return GateBrief(
        subject=f"{key} governance: ${c.actual_usd:,.2f} actual vs ${c.prorated_estimate_usd:,.2f} "
        f"pro-rated (${c.unexplained_usd:,.2f} unexplained)",
        body="\n".join(body),
    )


def comment(record: GovernanceRecord) -> dict:
    c = record.cost
    return adf.doc(
        [
            adf.heading("ITSM govern: governance record", 3),
            adf.bullet_list(c.arithmetic),
            adf.table(("Persona", "Summary"), list(persona_summaries(record).items())),
            adf.paragraph(
                [
                    adf.text("Evidence bundle SHA-256: ", bold=True),
                    adf.text(record.bundle_sha256, code=True),
                    f" (run {record.run_id}; {len(record.evidence_index)} compliance controls indexed)",
                ]
            ),
        ]
    )


def apply(ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    d = approved(decisions, gate, key, "governance record")
    record = ctx.evidence.latest(key, STEP, GovernanceRecord)
    before = len(ctx.jira.planned)
    ctx.jira.upsert_step_comment(key, STEP, comment(record))
    planned = [p.model_dump() for p in ctx.jira.planned[before:]]
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action="archived" if ctx.execute else "preview",
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "gate": gate,
            "approved_by": d.user_id,
            "bundle_sha256": record.bundle_sha256,
            "governance_run": record.run_id,
        },
    )
    return {"key": key, "gate": gate, "bundle_sha256": record.bundle_sha256, "planned": planned}
