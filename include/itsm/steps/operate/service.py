"""Step 7, operate: alarms on everything the change modifies, escalation, rollback triggers, reviews.

Why here: a change without monitoring fails silently. `run` turns the Phase 1 resources into
CloudWatch alarm specs (per-type templates + the rollback-trigger alarm, e.g. more than 5 failed
start operations in 1 hour), the escalation path from policy, and dated reviews on the customer's
calendar. The service owner approves the thresholds (gate "alarms"); `apply` then creates the
alarms through the separate write connection (`aws_operations`, the only AWS write in the
lifecycle, `ctx.alarm_writer`; the discovery connection `ctx.aws` stays read-only), reads them back through `ctx.aws`
and verifies them, and writes the review dates to the ticket. In preview it sends nothing and lists
the exact PutMetricAlarm requests instead.
"""

from __future__ import annotations

from collections import defaultdict

from include.itsm.context import RunContext
from include.itsm.core import adf
from include.itsm.steps import GateBrief, GateDecision, approved
from include.itsm.steps.decide.service import DecisionRecord
from include.itsm.steps.implement.domain import ChangeRecord
from include.itsm.steps.operate.domain import AlarmSpec, OperatePlan, plan_operations, verify_alarms

STEP = "operate"
GATES = ("alarms",)


def put_metric_alarm_request(spec: AlarmSpec) -> dict:
    """The PutMetricAlarm parameters for one spec (what preview shows and execute sends)."""
    return {
        "AlarmName": spec.alarm_name,
        "AlarmDescription": spec.description,
        "Namespace": spec.namespace,
        "MetricName": spec.metric_name,
        "Statistic": spec.statistic,
        "ComparisonOperator": spec.comparison_operator,
        "Threshold": spec.threshold,
        "Period": spec.period,
        "EvaluationPeriods": spec.evaluation_periods,
        "ActionsEnabled": True,
        "AlarmActions": spec.alarm_actions,
        "Dimensions": [{"Name": k, "Value": v} for k, v in spec.dimensions.items()],
        "TreatMissingData": "notBreaching",
    }


def run(ctx: RunContext, key: str) -> dict:
    decision = ctx.evidence.latest(key, "decide", DecisionRecord)
    ctx.evidence.latest(key, "implement", ChangeRecord)  # the change record must exist before monitoring it
    plan = plan_operations(key, ctx.run_id, decision.resources, decision.window.start, ctx.settings.policy.change)
    plan.mode = ctx.mode
    path = ctx.evidence.write(key, ctx.run_id, STEP, plan)
    ctx.evidence.write_text(key, ctx.run_id, f"{STEP}.md", render_markdown(plan))
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step=STEP,
        run_id=ctx.run_id,
        detail={"alarms": len(plan.alarms), "reviews": [r.due.isoformat() for r in plan.reviews]},
    )
    return {
        "key": key,
        "step": STEP,
        "artifact": path,
        "alarms": len(plan.alarms),
        "rollback_triggers": [t.description for t in plan.rollback_triggers],
        "reviews": {r.name: r.due.isoformat() for r in plan.reviews},
    }


def render_markdown(plan: OperatePlan) -> str:
    e = plan.escalation
    lines = [
        f"# Operate {plan.key}",
        "",
        "| Alarm | Account / region | Metric | Condition | Period x N |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {a.alarm_name} | {a.account_id} {a.region} | {a.namespace} {a.metric_name} ({a.statistic}) | "
        f"{a.comparison_operator} {a.threshold:g} | {a.period}s x {a.evaluation_periods} |"
        for a in plan.alarms
    ]
    lines += [
        "",
        f"Escalation: PagerDuty service `{e.pagerduty_service}`, Slack {e.slack_channel}, owner {e.on_call_owner}",
        "",
        "Rollback triggers:",
        *[f"- {t.description} (alarm {t.alarm.name})" for t in plan.rollback_triggers],
        "",
        "Reviews:",
        *[f"- {r.name} ({r.purpose}): {r.due.isoformat()}" for r in plan.reviews],
    ]
    return "\n".join(lines) + "\n"


def brief(ctx: RunContext, key: str, gate: str) -> GateBrief:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    plan = ctx.evidence.latest(key, STEP, OperatePlan)
    return GateBrief(
        subject=f"{key} alarms: {len(plan.alarms)} CloudWatch alarms, "
        f"{len(plan.rollback_triggers)} rollback trigger(s) (you own the thresholds)",
        body=render_markdown(plan),
    )


def _grouped(specs: list[AlarmSpec]) -> dict[tuple[str, str], list[AlarmSpec]]:
    places: dict[tuple[str, str], list[AlarmSpec]] = defaultdict(list)
    for spec in specs:
        places[(spec.account_id, spec.region)].append(spec)
    return dict(places)


def review_comment(plan: OperatePlan, verified: list[str]) -> dict:
    e = plan.escalation
    return adf.doc(
        [
            adf.heading("ITSM operate: monitoring in place", 3),
            adf.paragraph(
                f"{len(verified)} CloudWatch alarms created and verified by read-back; escalation to PagerDuty "
                f"{e.pagerduty_service} and Slack {e.slack_channel} ({e.on_call_owner})."
            ),
            adf.paragraph("Rollback triggers: " + "; ".join(t.description for t in plan.rollback_triggers)),
            adf.table(("Review", "Purpose", "Due"), [(r.name, r.purpose, r.due.isoformat()) for r in plan.reviews]),
        ]
    )


def apply(ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    d = approved(decisions, gate, key, "alarm thresholds")
    plan = ctx.evidence.latest(key, STEP, OperatePlan)
    before = len(ctx.jira.planned)
    places = _grouped(plan.alarms)
    if not ctx.execute:
        aws_planned = [
            {
                "method": "PutMetricAlarm",
                "service": "cloudwatch",
                "account_id": account,
                "region": region,
                "via": ctx.customer.aws_operations_conn_id,
                "body": put_metric_alarm_request(spec),
            }
            for (account, region), specs in places.items()
            for spec in specs
        ]
        ctx.jira.upsert_step_comment(key, STEP, review_comment(plan, []))
        planned = [p.model_dump() for p in ctx.jira.planned[before:]]
        ctx.evidence.audit(
            key,
            actor=ctx.actor,
            action="preview",
            step=STEP,
            run_id=ctx.run_id,
            detail={"gate": gate, "put_metric_alarm": len(aws_planned)},
        )
        return {"key": key, "gate": gate, "created": 0, "planned": aws_planned + planned}
    described = []
    for (account, region), specs in places.items():
        for spec in specs:  # the write path: the operations connection, never the read-only ctx.aws
            ctx.alarm_writer.put_metric_alarm(account, region, put_metric_alarm_request(spec))
        described += ctx.aws.alarms(account, region, [s.alarm_name for s in specs])  # read back to verify
    verification = verify_alarms(plan.alarms, described)
    if not verification.ok:
        raise RuntimeError(
            f"{key}: alarms not verified by read-back: missing {verification.missing}, mismatched "
            + "; ".join(f"{m.alarm_name}.{m.field}: {m.expected!r} != {m.actual!r}" for m in verification.mismatched)
        )
    ctx.jira.upsert_step_comment(key, STEP, review_comment(plan, verification.configured))
    planned = [p.model_dump() for p in ctx.jira.planned[before:]]
    ctx.evidence.write_text(key, ctx.run_id, f"{STEP}-verification.json", verification.model_dump_json(indent=2))
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action="apply",
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "gate": gate,
            "approved_by": d.user_id,
            "alarms_created": len(plan.alarms),
            "verified": len(verification.configured),
        },
    )
    return {
        "key": key,
        "gate": gate,
        "created": len(plan.alarms),
        "verified": verification.configured,
        "planned": planned,
    }
