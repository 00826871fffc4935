"""Step 6A/6B, implement: the 7-section change record and, for CAB changes, its CAB sub-task.

Why here: an MSP may not touch production without a formal change order (APRA CPS 234 audit
trail). `run` drafts the record from the artifacts of steps 2-5 (phases, AS-IS, expansion
candidates, tag-gap prerequisites, CAB conditions, the customer decision gate) and refuses on
incomplete evidence or placeholder text. Gate "change" (the change manager, never the drafter)
unlocks the Change issue linked to the originating ticket; the last CAB gate ("cab_2" for normal,
"cab_1" for emergency) checks the quorum and creates the CAB sub-task under that Change issue
(emergency: plus the post-implementation review sub-task due within 24 h). Every Jira create is
keyed, so a re-run finds what it made before instead of making it twice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

from pydantic import Field

from include.itsm.context import RunContext
from include.itsm.core import adf
from include.itsm.core.artifact import Artifact
from include.itsm.core.inventory import InventorySnapshot
from include.itsm.core.ticket import idempotency_label
from include.itsm.ports import PlannedRequest
from include.itsm.steps import GateBrief, GateDecision, approved
from include.itsm.steps.classify.proposal import LabelProposal
from include.itsm.steps.cross_validate import sources as src
from include.itsm.steps.cross_validate.domain import ENV_TAG_MISSING, ENV_TAG_NON_STANDARD, CrossValidation
from include.itsm.steps.decide.domain import SCHEDULER_TAG_KEY, Approval, cab_quorum
from include.itsm.steps.decide.service import DecisionRecord, drafter_of
from include.itsm.steps.discover.domain import PROD_ENV_VALUES, Discovery
from include.itsm.steps.implement.domain import (
    INCOMPLETE_EVIDENCE,
    AsIsState,
    CabApproval,
    CabSubtask,
    ChangeDraft,
    ChangeRecord,
    ChangeRefused,
    Phase,
    RiskRating,
    RunbookStep,
    ValidationCheck,
    cab_subtask,
    cab_subtask_problems,
    draft_change_record,
    render_adf,
    render_markdown,
)

STEP = "implement"
CAB_STEP = "implement-cab"
GATES = ("change", "cab_1", "cab_2")
CHANGE_ISSUE_TYPE = "Change"  # defaults; the names used come from the customer's `jira` mapping
LINK_TYPE = "Relates"
# What a scheduler tag value means, in the customer's words (configuration candidate).
KNOWN_SCHEDULES = {"nz-office-hours": "20:00-08:00 NZT Monday-Friday (stop 8pm, start 8am)"}


class CabRequest(Artifact):
    """Step 6B's plan: the CAB sub-task fields (None for standard changes) and their rule check."""

    step: str = "implement"
    subtask: CabSubtask | None = None
    problems: list[str] = Field(default_factory=list)
    last_gate: str | None = None  # the CAB gate whose apply checks the quorum


def change_idempotency_key(key: str) -> str:
    return f"{key}:change-record"


def _now() -> datetime:
    return datetime.now(UTC)


def _names(evidence: CrossValidation, ids) -> list[str]:
    return [evidence.account_names.get(a, a) for a in ids]


def _as_is(ctx: RunContext, discovery: Discovery) -> AsIsState | None:
    """Accounts the scheduler already covers, from the org-wide snapshot (else the ticket's scope)."""
    try:
        resources = ctx.evidence.latest("_org", "discover", InventorySnapshot).resources
        names = {a.account_id: a.name for a in ctx.evidence.latest("_org", "discover", InventorySnapshot).accounts}
    except Exception:  # noqa: BLE001 - the snapshot is optional context; the scope is the fallback
        resources, names = discovery.resources, {}
    scheduled = [r for r in resources if r.resource_type == "AWS::EC2::Instance" and SCHEDULER_TAG_KEY in r.tags]
    if not scheduled:
        return None
    accounts = sorted({r.account_id for r in scheduled})
    key = ctx.customer.env_tag_key
    values = sorted({r.tags[SCHEDULER_TAG_KEY] for r in scheduled})
    return AsIsState(
        scheduled_accounts=[names.get(a) or a for a in accounts],
        tags=sorted({r.tags[key] for r in scheduled if r.tags.get(key)}) + [f"{SCHEDULER_TAG_KEY}={v}" for v in values],
        window="; ".join(KNOWN_SCHEDULES.get(v, f"schedule '{v}'") for v in values),
    )


def _risk(decision: DecisionRecord, env_key: str) -> RiskRating:
    envs = sorted({r.tags.get(env_key, "untagged") for r in decision.resources})
    prod = [e for e in envs if e in PROD_ENV_VALUES]
    accounts = decision.blast_radius.accounts
    if prod:
        return RiskRating(
            level="High",
            justification=f"production resources in scope (env {', '.join(prod)}); "
            f"{decision.blast_radius.instances} instances",
        )
    level = "Medium" if accounts > 1 else "Low"
    return RiskRating(
        level=level,
        justification=(
            f"non-production scope only (env {', '.join(envs)}) in {accounts} account(s); "
            f"rollback in {decision.rollback.minutes} minutes by managed code"
        ),
    )


def build_draft(
    ctx: RunContext, key: str, summary: str, decision: DecisionRecord, evidence: CrossValidation, discovery: Discovery
) -> ChangeDraft:
    policy = ctx.settings.policy.change
    rule = policy.cab.for_type(decision.change_type)
    resources = decision.resources
    phase_names = _names(evidence, decision.phase_account_ids)
    rest = [a for a in decision.candidate_account_ids if a not in decision.phase_account_ids]
    count = {a: sum(1 for r in discovery.resources if r.account_id == a) for a in decision.candidate_account_ids}
    per_place = sorted({(r.account_id, r.region) for r in resources})
    ids = {p: " ".join(sorted(r.resource_id for r in resources if (r.account_id, r.region) == p)) for p in per_place}
    n = len(resources)
    implementation, tests = [], []
    for (account, region), id_list in ids.items():
        where = f"--profile {account} --region {region}"
        implementation += [
            RunbookStep(
                action=f"Add the Phase 1 instances of {account} {region} to the schedule",
                command=f"aws ec2 create-tags {where} --resources {id_list} "
                f"--tags Key={SCHEDULER_TAG_KEY},Value={next(iter(KNOWN_SCHEDULES))}",
            ),
            RunbookStep(
                action="Confirm the first scheduled stop in CloudTrail",
                command=f"aws cloudtrail lookup-events {where} --lookup-attributes "
                "AttributeKey=EventName,AttributeValue=StopInstances",
            ),
        ]
        tests += [
            ValidationCheck(
                stage="pre",
                command=f"aws ec2 describe-instances {where} --instance-ids {id_list} "
                "--query 'Reservations[].Instances[].State.Name'",
                expected=f"{id_list.count(' ') + 1} instances running before the window",
            ),
            ValidationCheck(
                stage="post",
                command=f"aws ec2 describe-instance-status {where} --include-all-instances --instance-ids {id_list}",
                expected="stopped after the scheduled stop time, running and status ok after the start time",
            ),
        ]
    gaps = [g for g in evidence.explanations if g.reason in (ENV_TAG_MISSING, ENV_TAG_NON_STANDARD)]
    prerequisites = [
        f"Tag gap: {g.instances} instances in {', '.join(_names(evidence, g.accounts))} "
        f"({'no env tag' if g.reason == ENV_TAG_MISSING else 'non-standard env tag values'}) are invisible to the "
        "scheduler's env-tag rules: normalise the tags, or exclude those accounts (decision gate question 3), before "
        "they are added"
        for g in gaps
    ]
    window = decision.window
    phases = [Phase(number=1, scope="pilot", account_ids=decision.phase_account_ids, instances=n)]
    if rest:
        phases.append(
            Phase(
                number=2,
                scope="remaining candidates",
                account_ids=rest,
                instances=sum(count[a] for a in rest),
                requires_cab_update=True,
            )
        )
    return ChangeDraft(
        change_type=decision.change_type,
        drafter=drafter_of(ctx),
        summary=f"{summary}: Phase 1 in {', '.join(phase_names)} ({n} instances)",
        impact=(
            f"Phase 1 changes {n} instances in {', '.join(phase_names)}; "
            f"{len(evidence.sources)} independent sources agree on the scope (cross-validation run {evidence.run_id})."
        ),
        blast_radius=decision.blast_radius,
        risk=_risk(decision, ctx.customer.env_tag_key),
        rollback=decision.rollback,
        test_plan=tests,
        implementation=implementation,
        approval=CabApproval(reviewers=list(policy.approvers.cab)) if rule.requires_cab else None,
        window=window,
        as_is=_as_is(ctx, discovery),
        expansion_candidates=_names(evidence, decision.candidate_account_ids),
        phases=phases,
        prerequisites=prerequisites,
        cab_conditions=[
            f"The customer submits the always-on exception list (batch jobs and compliance processes that must not "
            f"stop) before the pilot window opens ({window.local_label()})",
            f"Phase 1 covers {', '.join(phase_names)} only; Phase 2 "
            f"({', '.join(_names(evidence, rest)) or 'none'}) requires a separate CAB update",
        ],
    )


def _missing_sources(evidence: CrossValidation) -> list[str]:
    expected = (
        src.CHANGE_SOURCES
        if evidence.billing is not None or any(s.name in src.CHANGE_SOURCES for s in evidence.sources)
        else src.INCIDENT_SOURCES
    )
    present = {s.name for s in evidence.sources}
    return [f"evidence source {name!r} missing" for name in expected if name not in present]


def run(ctx: RunContext, key: str) -> dict:
    evidence = ctx.evidence.latest(key, "cross-validate", CrossValidation)
    decision = ctx.evidence.latest(key, "decide", DecisionRecord)
    discovery = ctx.evidence.latest(key, "discover", Discovery)
    proposal = ctx.evidence.latest(key, "classify", LabelProposal)
    policy = ctx.settings.policy.change
    if missing := _missing_sources(evidence):
        raise ChangeRefused(INCOMPLETE_EVIDENCE, missing + [r.reason for r in evidence.refusals])
    ticket = ctx.jira.get_ticket(key)
    draft = build_draft(ctx, key, ticket.summary, decision, evidence, discovery)
    record = draft_change_record(draft, evidence, policy, key=key, run_id=ctx.run_id)
    record.mode = ctx.mode
    cab = CabRequest(key=key, run_id=ctx.run_id, mode=ctx.mode)
    rule = policy.cab.for_type(decision.change_type)
    if rule.requires_cab:
        cab.subtask = cab_subtask(record, decision.requested_at, policy)
        cab.problems = cab_subtask_problems(cab.subtask, policy, record.change.drafter)
        cab.last_gate = f"cab_{rule.approvers}"
    path = ctx.evidence.write(key, ctx.run_id, STEP, record)
    ctx.evidence.write(key, ctx.run_id, CAB_STEP, cab)
    ctx.evidence.write_text(key, ctx.run_id, f"{STEP}.md", render_markdown(record))
    ctx.evidence.write_text(key, ctx.run_id, f"{STEP}.adf.json", json.dumps(render_adf(record), indent=2))
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step=STEP,
        run_id=ctx.run_id,
        detail={
            "change_type": decision.change_type,
            "cab": cab.last_gate,
            "cab_problems": cab.problems,
            "go_no_go_passed": decision.go_no_go.passed,
        },
    )
    return {
        "key": key,
        "step": STEP,
        "artifact": path,
        "change_type": decision.change_type,
        "cab_gates": [f"cab_{i}" for i in range(1, rule.approvers + 1)] if rule.requires_cab else [],
        "cab_problems": cab.problems,
        "go_no_go_passed": decision.go_no_go.passed,
        "customer_questions": list(record.change.decision_gate),
        "tickets": proposal.key,
    }


def brief(ctx: RunContext, key: str, gate: str) -> GateBrief:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    record = ctx.evidence.latest(key, STEP, ChangeRecord)
    if gate == "change":
        return GateBrief(
            subject=f"{key} change record ({record.change.change_type}, risk {record.change.risk.level}) "
            f"drafted by {record.change.drafter}",
            body=render_markdown(record) + "\nApprove to create the Change issue linked to "
            f"{key} (you may not be the drafter).",
        )
    cab = ctx.evidence.latest(key, CAB_STEP, CabRequest)
    if cab.subtask is None:
        raise ValueError(f"{key}: a {record.change.change_type} change has no CAB")
    t = cab.subtask
    body = [
        f"CAB review of {key} ({t.change_type}): window {t.window.local_label()}",
        f"- rollback plan: {t.rollback_steps} steps, {record.change.rollback.minutes} minutes",
        f"- test stages: {', '.join(t.test_stages)}; evidence stages {', '.join(t.evidence_stages)}",
        f"- quorum: {ctx.settings.policy.change.cab.for_type(t.change_type).approvers} distinct CAB members, "
        f"not the drafter ({record.change.drafter})",
        *[f"- CAB condition: {c}" for c in record.change.cab_conditions],
        *[f"- problem: {p}" for p in cab.problems],
    ]
    if t.post_review_due:
        body.append(f"- post-implementation review due {t.post_review_due.isoformat()}")
    return GateBrief(
        subject=f"{key} CAB ({gate}): {t.change_type} change, window {t.window.local_label()}", body="\n".join(body)
    )


def _find_change(ctx: RunContext, key: str) -> str | None:
    label = idempotency_label(change_idempotency_key(key))
    found = next(
        ctx.jira.search(
            f'project = "{ctx.customer.jira_project}" AND labels = "{label}" ORDER BY key ASC',
            page_size=1,
            fields=("summary",),
        ),
        None,
    )
    return found.key if found else None


def _cab_description(record: ChangeRecord, task: CabSubtask, approvals: list[Approval], evidence_run: str) -> dict:
    c = record.change
    rows = [
        (
            "Implementation Window",
            f"{task.window.local_label()}; notice {task.window.start - task.requested_at}"
            + (
                f"; expedited, approved by {task.window.approved_by}"
                if task.window.approved_by and task.change_type == "emergency"
                else ""
            ),
        ),
        (
            "Rollback Plan",
            f"{'Full 7-section plan' if task.full_plan else 'Abbreviated'}: {task.rollback_steps} steps, "
            f"{c.rollback.minutes} minutes, tested in {c.rollback.tested_in or 'not attested'}",
        ),
        ("Test Plan", ", ".join(f"{s}-implementation" for s in task.test_stages)),
        ("CAB Reviewers", "; ".join(f"{a.user} approved {a.at.isoformat()}" for a in approvals)),
        (
            "Evidence Required",
            f"stage B: cross-validation run {evidence_run}; stage C: change record {record.key} run {record.run_id}",
        ),
    ]
    if task.post_review_due:
        rows.append(("Post-implementation review", f"due {task.post_review_due.isoformat()}"))
    return adf.doc(
        [
            adf.heading(f"CAB review: {task.change_type} change for {record.key}", 3),
            adf.table(("Field", "Value"), rows),
            adf.bullet_list([f"CAB condition: {x}" for x in c.cab_conditions]),
        ]
    )


def apply(ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict:
    if gate not in GATES:
        raise ValueError(f"step {STEP} has gates {GATES}, not {gate!r}")
    record = ctx.evidence.latest(key, STEP, ChangeRecord)
    drafter, policy = drafter_of(ctx), ctx.settings.policy.change
    drafters = {drafter, record.change.drafter}
    before = len(ctx.jira.planned)
    if gate == "change":
        d = approved(decisions, "change", key, "the change record")
        if d.user_id in drafters:
            raise PermissionError(f"{key}: self-approval: {d.user_id} drafted the change record and may not approve it")
        decision = ctx.evidence.latest(key, "decide", DecisionRecord)
        if not decision.go_no_go.passed:
            raise PermissionError(
                f"{key}: the 3-party go/no-go has not passed ({'; '.join(decision.go_no_go.reasons)})"
                ": confirm the decide window first"
            )
        if ctx.execute and decision.mode != "execute":
            raise PermissionError(
                f"{key}: the newest go/no-go is a preview (stand-in approvers): "
                "confirm the decide window in an executing run first"
            )
        change_key = ctx.jira.create_linked_issue(
            key,
            project=ctx.customer.jira_project,
            issue_type=ctx.customer.jira.issue_type("change"),
            summary=f"[{key}] {record.change.summary}"[:250],
            description_adf=render_adf(record),
            link_type=ctx.customer.jira.link_type("relates"),
            idempotency_key=change_idempotency_key(key),
            labels=[f"cr:{record.change.change_type}"],
        )
        result = {"change_issue": change_key}
    else:
        cab = ctx.evidence.latest(key, CAB_STEP, CabRequest)
        if cab.subtask is None:
            raise ValueError(f"{key}: {record.change.change_type} changes have no CAB (pre-approved template)")
        if gate != cab.last_gate:
            ctx.evidence.audit(
                key,
                actor=ctx.actor,
                action="approved",
                step=STEP,
                run_id=ctx.run_id,
                detail={"gate": gate, "user": decisions[gate].user_id if gate in decisions else None},
            )
            return {"key": key, "gate": gate, "recorded": True, "planned": []}
        task = cab.subtask
        approvals = [
            Approval(
                party="cab",
                user=d.user_id or "nobody (timed out)",
                decision="approve" if d.approved else "reject",
                evidence=d.reason or d.evidence,
                at=d.at or _now(),
            )
            for g, d in decisions.items()
            if g.startswith("cab_")
        ]
        quorum = cab_quorum(task.change_type, approvals, drafter=drafter, policy=policy)
        extra = [
            f"self-approval: {a.user} drafted the change and answered cab"
            for a in approvals
            if a.user in drafters and a.user != drafter
        ]
        if not quorum.passed or extra:
            raise PermissionError(f"{key}: CAB refused: " + "; ".join(quorum.reasons + extra))
        change_key = _find_change(ctx, key)
        if change_key is None and ctx.execute:
            raise ValueError(
                f"{key}: no Change issue with idempotency key {change_idempotency_key(key)!r}: approve "
                "gate 'change' first (the CAB sub-task is never standalone)"
            )
        evidence = ctx.evidence.latest(key, "cross-validate", CrossValidation)
        body = _cab_description(record, task, [a for a in approvals if a.decision == "approve"], evidence.run_id)
        subtasks = [("cab", f"CAB review: {key} {task.change_type} change, window {task.window.local_label()}", body)]
        if task.post_review_due:
            subtasks.append(
                (
                    "pir-review",
                    f"Post-implementation review of {key}: due {task.post_review_due:%Y-%m-%d %H:%M %Z}",
                    adf.doc(
                        [
                            adf.paragraph(
                                f"Emergency change {key}: review the implementation within 24 h "
                                f"of the window; due {task.post_review_due.isoformat()}."
                            )
                        ]
                    ),
                )
            )
        created = {}
        for kind, summary, description in subtasks:
            if change_key is None:  # preview before the Change exists: show the request it would send
                ctx.jira.planned.append(
                    PlannedRequest(
                        method="POST",
                        path="/rest/api/3/issue",
                        body={
                            "fields": {
                                "issuetype": {"name": ctx.customer.jira.issue_type("subtask")},
                                "parent": {"key": f"<Change issue of {key}>"},
                                "summary": summary,
                                "description": description,
                            }
                        },
                    )
                )
                created[kind] = None
                continue
            created[kind] = ctx.jira.create_subtask(
                change_key,
                issue_type=ctx.customer.jira.issue_type("subtask"),
                summary=summary[:250],
                description_adf=description,
                idempotency_key=f"{key}:{kind}-subtask",
            )
        result = {"change_issue": change_key, "subtasks": created, "cab": [a.user for a in approvals]}
    planned = [p.model_dump() for p in ctx.jira.planned[before:]]
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action="apply" if ctx.execute else "preview",
        step=STEP,
        run_id=ctx.run_id,
        detail={"gate": gate, **result, "planned_requests": len(planned)},
    )
    return {"key": key, "gate": gate, **result, "planned": planned}
