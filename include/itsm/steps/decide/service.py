"""Step 5, decide: is this change safe to schedule, when, at what cost, and who says go?

Why here: after cross-validation the scope is trusted, so this is where it turns into a bounded
Phase 1 (the pilot account and its eligible resources), a maintenance window in the customer's
own time zone (notice, freeze calendar and other booked changes respected), a rollback plan, and
a cost estimate with its formula. Nothing proceeds until Business, Security and Engineering
approve as three different people (gates go_no_go_business/_security/_engineering; Engineering
with rollback-test evidence) and the change manager confirms the window (gate "window"), whose
`apply` evaluates the 3-party rule and raises on any violation, because the lifecycle relies on
apply raising to stop the run.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from include.itsm.context import RunContext
from include.itsm.core import adf
from include.itsm.core.artifact import Provenance
from include.itsm.core.inventory import Resource
from include.itsm.ports import EvidenceError
from include.itsm.steps import GateBrief, GateDecision, approved
from include.itsm.steps.classify.proposal import LabelProposal
from include.itsm.steps.cross_validate.domain import CrossValidation
from include.itsm.steps.decide.domain import (
    Approval,
    Decision,
    GateResult,
    ScheduledChange,
    blast_radius,
    choose_phase,
    drafter_conflicts,
    eligible_instances,
    estimate_cost,
    evaluate_go_no_go,
    propose_window,
    rollback_plan,
    rollback_problems,
)
from include.itsm.steps.discover.domain import Discovery
from include.itsm.steps.intake.domain import IntakeArtifact
from include.itsm.steps.operate.domain import alarm_specs

STEP = "decide"
PARTY_GATES = {"go_no_go_business": "business", "go_no_go_security": "security", "go_no_go_engineering": "engineering"}
GATES = (*PARTY_GATES, "window")


class DecisionRecord(Decision):
    """The domain's Decision plus what later steps need to act on exactly the same scope."""

    ticket_type: str = "change"
    phase_account_ids: list[str] = Field(default_factory=list)
    candidate_account_ids: list[str] = Field(default_factory=list)  # every account the ticket asks for
    pilot_basis: str = ""
    resources: list[Resource] = Field(default_factory=list)  # Phase 1's eligible resources
    scheduled: list[ScheduledChange] = Field(default_factory=list)  # other bookings considered
    requested_at: datetime
    window_confirmed: bool = False


def _now() -> datetime:
    """The wall clock: for stamping events and refusing windows already under way, never for planning."""
    return datetime.now(UTC)


def drafter_of(ctx: RunContext) -> str:
    """The lifecycle passes the triggering user as `user:<name>`; that person drafted the change."""
    return ctx.actor.removeprefix("user:")


def other_bookings(ctx: RunContext, key: str, now: datetime) -> list[ScheduledChange]:
    """Windows other tickets' latest decide artifacts booked and that have not ended yet."""
    booked = []
    for other in ctx.evidence.keys():
        if other == key:
            continue
        try:
            decision = ctx.evidence.latest(other, STEP, DecisionRecord)
        except (EvidenceError, ValueError):
            continue
        if decision.window.end > now:
            booked.append(
                ScheduledChange(
                    key=other,
                    start=decision.window.start,
                    end=decision.window.end,
                    account_ids=set(decision.blast_radius.account_ids),
                    resource_ids={r.resource_id for r in decision.resources},
                )
            )
    return booked


def run(ctx: RunContext, key: str) -> dict:
    evidence = ctx.evidence.latest(key, "cross-validate", CrossValidation)
    proposal = ctx.evidence.latest(key, "classify", LabelProposal)
    intake = ctx.evidence.latest(key, "intake", IntakeArtifact)
    discovery = ctx.evidence.latest(key, "discover", Discovery)
    c = proposal.classification
    if c.ticket_type != "change":
        raise ValueError(f"{key} is a {c.ticket_type}: decide applies to changes (a fix is a linked Change ticket)")
    if evidence.verdict != "pass":
        raise ValueError(
            f"{key}: cross-validation verdict is {evidence.verdict}: resolve the evidence and re-run "
            "cross-validate first"
        )
    policy, customer = ctx.settings.policy.change, ctx.customer
    change_type = c.change_type or "normal"
    now = ctx.as_of
    phase, candidates, basis = choose_phase(
        intake.result.account_values, discovery.resources, set(customer.standard_env_values), customer.env_tag_key
    )
    in_phase = [r for r in discovery.resources if r.account_id in phase]
    eligible = eligible_instances(in_phase, phase) or in_phase
    inventory = Provenance(
        source="evidence:discover",
        query=f"{key}/{discovery.run_id}/discover.json",
        as_of=discovery.as_of,
        detail={"accounts": phase, "eligible": len(eligible)},
    )
    radius = blast_radius(eligible, inventory, services=[intake.result.service] if intake.result.service else [])
    scheduled = other_bookings(ctx, key, now)
    window = propose_window(
        now, change_type, policy, account_ids=phase, resource_ids=[r.resource_id for r in eligible], scheduled=scheduled
    )
    plan = rollback_plan(eligible, intake.result.service)
    drafter = drafter_of(ctx)
    record = DecisionRecord(
        key=key,
        run_id=ctx.run_id,
        mode=ctx.mode,
        change_type=change_type,
        drafter=drafter,
        blast_radius=radius,
        window=window,
        cost=estimate_cost(
            sum(1 for r in eligible if r.resource_type == "AWS::EC2::Instance"),
            len(alarm_specs(key, eligible, policy)),
            policy,
            inventory,
        ),
        rollback=plan,
        rollback_problems=rollback_problems(plan, change_type, policy),
        approvals=[],
        go_no_go=evaluate_go_no_go([], drafter=drafter, policy=policy),
        ticket_type=c.ticket_type,
        phase_account_ids=phase,
        candidate_account_ids=candidates,
        pilot_basis=basis,
        resources=eligible,
        scheduled=scheduled,
        requested_at=now,
    )
    path = ctx.evidence.write(key, ctx.run_id, STEP, record)
    ctx.evidence.write_text(key, ctx.run_id, f"{STEP}.md", render_markdown(record, evidence))
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "window": window.start.isoformat(),
            "eligible": len(eligible),
            "saving_usd": record.cost.monthly_saving_usd,
            "conflicts": len(scheduled),
        },
    )
    return {
        "key": key,
        "step": STEP,
        "artifact": path,
        "change_type": change_type,
        "phase_accounts": phase,
        "eligible_instances": len(eligible),
        "window": window.local_label(),
        "monthly_saving_usd": record.cost.monthly_saving_usd,
        "monitoring_monthly_usd": record.cost.monitoring_monthly_usd,
        "rollback_problems": record.rollback_problems,
    }


def _names(evidence: CrossValidation | None, ids: list[str]) -> str:
    names = evidence.account_names if evidence else {}
    return ", ".join(f"{names[a]} ({a})" if a in names else a for a in ids)


def render_markdown(record: DecisionRecord, evidence: CrossValidation | None = None) -> str:
    b, w = record.blast_radius, record.window
    lines = [
        f"# Decide {record.key} ({record.change_type} change)",
        "",
        f"- Phase 1: {_names(evidence, record.phase_account_ids)} ({record.pilot_basis})",
        f"- Blast radius: {b.instances} instances in {b.accounts} accounts; services {', '.join(b.services) or '-'}; "
        f"users {b.users if b.users is not None else 'not known'}",
        f"- Window: {w.local_label()}; notice {w.notice}",
        *[f"  - skipped {s.start.isoformat()}: {s.reason}" for s in w.skipped],
        "",
        "## Cost",
        "",
        *[f"- {line}" for line in record.cost.formula],
        "",
        "## Rollback plan",
        "",
        *[f"{i}. {s.action} ({s.minutes} min): `{s.command}`" for i, s in enumerate(record.rollback.steps, 1)],
        f"Total {record.rollback.minutes} minutes; tested in: {record.rollback.tested_in or 'not yet attested'}",
        *[f"- problem: {p}" for p in record.rollback_problems],
        "",
        "## Go/no-go",
        "",
        f"passed: {record.go_no_go.passed}",
        *[f"- {r}" for r in record.go_no_go.reasons],
    ]
    return "\n".join(lines) + "\n"


def brief(ctx: RunContext, key: str, gate: str) -> GateBrief:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    record = ctx.evidence.latest(key, STEP, DecisionRecord)
    b, cost, w = record.blast_radius, record.cost, record.window
    scope = f"Phase 1: {b.instances} instances in {b.accounts} account(s) ({', '.join(b.account_ids)})."
    if gate == "go_no_go_business":
        body = [
            scope,
            "",
            "Cost/benefit (CFO):",
            *[f"- {line}" for line in cost.formula],
            f"- ROI {'positive' if cost.net_monthly_usd > 0 else 'NOT positive'}: net ${cost.net_monthly_usd:,.2f}/month",
        ]
        subject = (
            f"{key} go/no-go (Business): saving ${cost.monthly_saving_usd:,.0f}/month, monitoring "
            f"${cost.monitoring_monthly_usd:,.0f}/month"
        )
    elif gate == "go_no_go_security":
        body = [
            scope,
            "",
            "Compliance (CSO):",
            f"- resource types changed: {', '.join(b.resource_types)}; tag changes only, no IAM, encryption "
            "or network policy change in the implementation steps",
            "- audit logging: CloudTrail records every scheduler Start/StopInstances; govern links the trail",
            f"- evidence: cross-validation accepted; audit log of {key} hash-chained",
        ]
        subject = f"{key} go/no-go (Security): compliance trail for {b.instances} instances"
    elif gate == "go_no_go_engineering":
        body = [
            scope,
            "",
            f"Rollback plan (CTO), {record.rollback.minutes} minutes:",
            *[f"{i}. {s.action} ({s.minutes} min): `{s.command}`" for i, s in enumerate(record.rollback.steps, 1)],
            "",
            "**Approve only with rollback-test evidence** (a link or attestation of the rehearsal in non-prod) "
            "in the evidence field; an approval without it is refused.",
        ]
        subject = f"{key} go/no-go (Engineering): rollback in {record.rollback.minutes} min, test evidence required"
    else:
        body = [
            scope,
            "",
            f"Proposed window: {w.local_label()} (notice {w.notice}; "
            f"{record.change_type} changes need {ctx.settings.policy.change.cab.for_type(record.change_type).notice}).",
            *[f"- skipped {s.start.isoformat()}: {s.reason}" for s in w.skipped],
            f"- other bookings considered: {', '.join(s.key for s in record.scheduled) or 'none'}",
            "",
            "Confirming the window also checks the 3-party go/no-go (three different people, none the drafter).",
        ]
        subject = f"{key} maintenance window: {w.local_label()}"
    return GateBrief(subject=subject, body="\n".join(body))


def _approval(gate: str, party: str, d: GateDecision) -> Approval:
    return Approval(
        party=party,
        user=d.user_id or d.user_name or "nobody (timed out)",
        decision="approve" if d.approved else "reject",
        evidence=d.evidence or ("" if d.approved else d.reason),
        at=d.at or _now(),
    )


def apply(ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    record = ctx.evidence.latest(key, STEP, DecisionRecord)
    drafter = drafter_of(ctx)
    policy = ctx.settings.policy.change
    if gate in PARTY_GATES:  # each party's answer is checked as it comes; the rule as a whole at "window"
        d = approved(decisions, gate, key, f"{PARTY_GATES[gate]}'s go/no-go")
        if (d.user_id or d.user_name) in (drafter, record.drafter):
            raise PermissionError(f"{key}: self-approval: {d.user_id} drafted the change and answered {gate}")
        ctx.evidence.audit(
            key,
            actor=ctx.actor,
            action="approved",
            step=STEP,
            run_id=ctx.run_id,
            detail={"gate": gate, "user": d.user_id, "evidence": d.evidence},
        )
        return {"key": key, "gate": gate, "recorded": d.user_id, "planned": []}
    approvals = [_approval(g, party, decisions[g]) for g, party in PARTY_GATES.items() if g in decisions]
    result = evaluate_go_no_go(approvals, drafter=drafter, policy=policy)
    if record.drafter != drafter:  # whoever drafted at run time may not approve either
        extra = drafter_conflicts(record.drafter, approvals)
        result = GateResult(passed=result.passed and not extra, reasons=result.reasons + extra)
    if not result.passed:
        raise PermissionError(f"{key}: go/no-go refused: " + "; ".join(result.reasons))
    window_decision = decisions.get("window")
    if window_decision is None or not window_decision.approved:
        raise PermissionError(f"{key}: the maintenance window was not confirmed")
    if window_decision.user_id in (drafter, record.drafter):
        raise PermissionError(
            f"{key}: self-approval: {window_decision.user_id} drafted the change and may not confirm its window"
        )
    if record.window.start <= _now():
        raise ValueError(f"{key}: window {record.window.local_label()} has already started: re-run decide")
    engineering = next(a for a in approvals if a.party == "engineering")
    record.approvals = approvals
    record.go_no_go = result
    record.window.approved_by = window_decision.user_id
    record.window_confirmed = True
    record.rollback.tested_in = f"non-prod rehearsal attested by {engineering.user}: {engineering.evidence}"
    record.rollback_problems = rollback_problems(record.rollback, record.change_type, policy)
    record.mode = ctx.mode
    ctx.evidence.write(key, ctx.run_id, STEP, record.model_copy(update={"created": _now(), "run_id": ctx.run_id}))
    before = len(ctx.jira.planned)
    ctx.jira.upsert_step_comment(key, STEP, comment(record))
    planned = [p.model_dump() for p in ctx.jira.planned[before:]]
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action="apply" if ctx.execute else "preview",
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "gate": gate,
            "window": record.window.start.isoformat(),
            "confirmed_by": window_decision.user_id,
            "go_no_go": {a.party: a.user for a in approvals},
        },
    )
    return {"key": key, "gate": gate, "go": True, "window": record.window.local_label(), "planned": planned}


def comment(record: DecisionRecord) -> dict:
    w = record.window
    return adf.doc(
        [
            adf.heading("ITSM decide: go", 3),
            adf.paragraph(
                [adf.text("Maintenance window: ", bold=True), f"{w.local_label()} (confirmed by {w.approved_by})"]
            ),
            adf.paragraph(
                [
                    adf.text("Blast radius: ", bold=True),
                    f"{record.blast_radius.instances} instances in {record.blast_radius.accounts} account(s)",
                ]
            ),
            adf.bullet_list(record.cost.formula),
            adf.table(
                ("Party", "Approver", "Evidence"), [(a.party, a.user, a.evidence or "-") for a in record.approvals]
            ),
        ]
    )
