"""Step 6A/6B, implement: the 7-section change record and its CAB sub-task.

No record is drafted on incomplete evidence (INCOMPLETE_EVIDENCE: all 4 sources present and the
cross-validation passed) or with template text left in it (TBD, TODO, {...}, [...], N/A, empty),
and each refusal names the section. One block model renders to both ADF (the Jira Change
description) and Markdown, so the two never drift apart.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from include.itsm.core import adf
from include.itsm.core.artifact import Artifact
from include.itsm.core.change_policy import ChangePolicy
from include.itsm.steps.cross_validate.domain import CrossValidation, SourceSummary
from include.itsm.steps.decide.domain import (
    BlastRadius,
    MaintenanceWindow,
    RollbackPlan,
    placeholder_in,
    rollback_problems,
)

INCOMPLETE_EVIDENCE = "INCOMPLETE_EVIDENCE"
PLACEHOLDER = "PLACEHOLDER"
# The seed's customer decision gate, answered on the ticket before Phase 2.
DECISION_GATE_QUESTIONS = (
    "Which account should be the Phase 1 pilot?",
    "What workloads must never be stopped (always-on exception list)?",
    "Should the tag gap in the two non-standard environments be fixed, or should those accounts be excluded?",
)


class ChangeRefused(ValueError):
    def __init__(self, code: str, problems: list[str]):
        super().__init__(f"{code}: " + "; ".join(problems))
        self.code, self.problems = code, problems


class RiskRating(BaseModel):
    level: Literal["Low", "Medium", "High"]
    justification: str


class ValidationCheck(BaseModel):
    stage: Literal["pre", "post"]
    command: str
    expected: str


class RunbookStep(BaseModel):
    action: str
    command: str


class CabApproval(BaseModel):
    reviewers: list[str]
    approved_at: datetime | None = None  # set once the CAB gate passes


class Phase(BaseModel):
    number: int
    scope: str
    account_ids: list[str]
    instances: int
    requires_cab_update: bool = False


class AsIsState(BaseModel):
    scheduled_accounts: list[str]
    tags: list[str]  # e.g. env values in the scheduled accounts, the scheduler tag
    window: str  # e.g. "20:00-08:00 NZT Monday-Friday"


class ChangeDraft(BaseModel):
    """What the drafter writes; `draft_change_record` checks it before it becomes a record."""

    change_type: Literal["standard", "normal", "emergency"]
    drafter: str
    summary: str
    impact: str  # systems affected, in words; the figures are in `blast_radius`
    blast_radius: BlastRadius
    risk: RiskRating
    rollback: RollbackPlan
    test_plan: list[ValidationCheck]
    implementation: list[RunbookStep]
    approval: CabApproval | None = None
    window: MaintenanceWindow
    as_is: AsIsState | None = None
    expansion_candidates: list[str] = Field(default_factory=list)
    phases: list[Phase] = Field(default_factory=list)
    prerequisites: list[str] = Field(default_factory=list)
    cab_conditions: list[str] = Field(default_factory=list)
    decision_gate: dict[str, str | None] = Field(default_factory=lambda: dict.fromkeys(DECISION_GATE_QUESTIONS))


class ChangeRecord(Artifact):
    step: str = "implement"
    change: ChangeDraft
    evidence: list[SourceSummary]  # the cross-validation it rests on
    evidence_run_id: str


def draft_problems(draft: ChangeDraft, policy: ChangePolicy) -> list[str]:
    """Every section populated with real content; each problem names its section."""
    texts = {
        "1. Summary": [draft.summary],
        "2. Impact Assessment": [draft.impact],
        "3. Risk Rating": [draft.risk.justification],
        "5. Test Plan": [v for t in draft.test_plan for v in (t.command, t.expected)],
        "6. Implementation Steps": [v for s in draft.implementation for v in (s.action, s.command)],
        "7. Approval": list(draft.approval.reviewers) if draft.approval else [],
    }
    rule = policy.cab.for_type(draft.change_type)
    problems = []
    for section, values in texts.items():
        if section != "7. Approval" or rule.requires_cab:
            problems += [f"{section}: {found}" for found in [placeholder_in(v) for v in values] or ["empty"] if found]
    problems += [f"4. Rollback Plan: {p}" for p in rollback_problems(draft.rollback, draft.change_type, policy)]
    stages = {t.stage for t in draft.test_plan}
    problems += [f"5. Test Plan: no {s}-implementation check" for s in rule.test_stages if s not in stages]
    problems += [
        f"{name}: {found}"
        for name, values in (("Prerequisites", draft.prerequisites), ("CAB conditions", draft.cab_conditions))
        for found in (placeholder_in(v) for v in values)
        if found
    ]
    return problems


def evidence_problems(evidence: CrossValidation, policy: ChangePolicy) -> list[str]:
    required = policy.cross_validation.required_sources
    problems = []
    if len(evidence.sources) < required:
        problems.append(f"{len(evidence.sources)} of {required} evidence sources present")
    if evidence.verdict != "pass":
        problems.append(
            f"cross-validation verdict is {evidence.verdict}: "
            + "; ".join([r.reason for r in evidence.refusals] or [f"{len(evidence.unexplained)} unexplained"])
        )
    return problems


def draft_change_record(
    draft: ChangeDraft, evidence: CrossValidation, policy: ChangePolicy, *, key: str, run_id: str
) -> ChangeRecord:
    """The record, or ChangeRefused(INCOMPLETE_EVIDENCE | PLACEHOLDER, problems)."""
    if problems := evidence_problems(evidence, policy):
        raise ChangeRefused(INCOMPLETE_EVIDENCE, problems)
    if problems := draft_problems(draft, policy):
        raise ChangeRefused(PLACEHOLDER, problems)
    return ChangeRecord(
        key=key, run_id=run_id, change=draft, evidence=evidence.sources, evidence_run_id=evidence.run_id
    )


# --- rendering: one block list, two renderers ------------------------------------------------

Block = tuple  # ("h", text) | ("p", text) | ("ul", [items]) | ("table", headers, rows) | ("code", text)


def _blocks(record: ChangeRecord) -> list[Block]:
    c = record.change
    b = c.blast_radius
    users = f", {b.users} users" if b.users is not None else ""
    out: list[Block] = [
        ("h", "1. Summary"),
        ("p", c.summary),
        ("h", "2. Impact Assessment"),
        (
            "p",
            f"{c.impact} Blast radius: {b.instances} instances in {b.accounts} accounts "
            f"({', '.join(b.account_ids)}), services {', '.join(b.services) or 'n/a'}{users}.",
        ),
        ("h", "3. Risk Rating"),
        ("p", f"{c.risk.level}: {c.risk.justification}"),
        ("h", "4. Rollback Plan"),
        (
            "table",
            ("#", "Action", "Command", "Minutes"),
            [(i, s.action, s.command, s.minutes) for i, s in enumerate(c.rollback.steps, 1)],
        ),
        ("p", f"Total {c.rollback.minutes} minutes; tested in {c.rollback.tested_in}."),
        ("h", "5. Test Plan"),
        ("table", ("Stage", "Command", "Expected"), [(t.stage, t.command, t.expected) for t in c.test_plan]),
        ("h", "6. Implementation Steps"),
        ("p", f"Window: {c.window.local_label()}."),
        ("table", ("#", "Action", "Command"), [(i, s.action, s.command) for i, s in enumerate(c.implementation, 1)]),
        ("h", "7. Approval"),
        (
            "p",
            f"CAB reviewers: {', '.join(c.approval.reviewers)}; approved "
            f"{c.approval.approved_at.isoformat() if c.approval.approved_at else 'pending'}."
            if c.approval
            else "Standard change: pre-approved template, no CAB.",
        ),
    ]
    if c.as_is:
        out += [
            ("h", "AS-IS state"),
            (
                "ul",
                [
                    f"Scheduled accounts ({len(c.as_is.scheduled_accounts)}): " + ", ".join(c.as_is.scheduled_accounts),
                    f"Tags: {', '.join(c.as_is.tags)}",
                    f"Window: {c.as_is.window}",
                ],
            ),
        ]
    if c.expansion_candidates:
        out += [("h", "Expansion candidates"), ("ul", c.expansion_candidates)]
    if c.phases:
        out += [
            ("h", "Phases"),
            (
                "table",
                ("Phase", "Scope", "Accounts", "Instances", "Needs new CAB update"),
                [
                    (p.number, p.scope, ", ".join(p.account_ids), p.instances, "yes" if p.requires_cab_update else "no")
                    for p in c.phases
                ],
            ),
        ]
    for title, items in (("Prerequisites", c.prerequisites), ("CAB conditions", c.cab_conditions)):
        if items:
            out += [("h", title), ("ul", items)]
    out += [
        ("h", "Customer decision gate (answer on the ticket before Phase 2)"),
        ("table", ("Question", "Answer"), [(q, a or "awaiting customer") for q, a in c.decision_gate.items()]),
        (
            "p",
            "Evidence: "
            + "; ".join(f"{s.name} ({s.system} {s.api})" for s in record.evidence)
            + f", cross-validation run {record.evidence_run_id}.",
        ),
    ]
    return out


def render_markdown(record: ChangeRecord) -> str:
    lines = [f"# Change record {record.key}", ""]
    for block in _blocks(record):
        kind = block[0]
        if kind == "h":
            lines += [f"## {block[1]}", ""]
        elif kind == "p":
            lines += [block[1], ""]
        elif kind == "ul":
            lines += [f"- {item}" for item in block[1]] + [""]
        elif kind == "table":
            headers, rows = block[1], block[2]
            lines += ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in rows] + [""]
    return "\n".join(lines).rstrip() + "\n"


def render_adf(record: ChangeRecord) -> dict:
    nodes = []
    for block in _blocks(record):
        kind = block[0]
        if kind == "h":
            nodes.append(adf.heading(block[1], 2))
        elif kind == "p":
            nodes.append(adf.paragraph(block[1]))
        elif kind == "ul":
            nodes.append(adf.bullet_list(block[1]))
        elif kind == "table":
            nodes.append(adf.table(block[1], block[2]))
    return adf.doc(nodes)


# --- Step 6B: the CAB sub-task ------------------------------------------------------------------


class CabSubtask(BaseModel):
    change_key: str
    change_type: Literal["normal", "emergency"]
    requested_at: datetime
    window: MaintenanceWindow
    rollback_steps: int
    full_plan: bool
    test_stages: list[str]
    approvers: list[str]
    evidence_stages: list[str]  # B: cross-validation, C: change record
    post_review_due: datetime | None = None


def cab_subtask(record: ChangeRecord, requested_at: datetime, policy: ChangePolicy) -> CabSubtask:
    """The CAB sub-task for a normal or emergency change (standard changes have none)."""
    c = record.change
    rule = policy.cab.for_type(c.change_type)
    if not rule.requires_cab:
        raise ValueError(f"{c.change_type} changes need no CAB sub-task")
    return CabSubtask(
        change_key=record.key,
        change_type=c.change_type,
        requested_at=requested_at,
        window=c.window,
        rollback_steps=len(c.rollback.steps),
        full_plan=True,
        test_stages=sorted({t.stage for t in c.test_plan}),
        approvers=list(c.approval.reviewers) if c.approval else [],
        evidence_stages=["B", "C"],
        post_review_due=c.window.end + rule.post_review_within if rule.post_review_within else None,
    )


def cab_subtask_problems(task: CabSubtask, policy: ChangePolicy, drafter: str) -> list[str]:
    """The seed's Step 6B field rules per change type."""
    rule = policy.cab.for_type(task.change_type)
    problems = []
    notice = task.window.start - task.requested_at
    if notice < rule.notice:
        problems.append(f"implementation window has {notice} notice; {task.change_type} changes need {rule.notice}")
    if rule.expedited and not task.window.approved_by:
        problems.append("expedited window has no HITL approval")
    if task.rollback_steps < rule.min_rollback_steps:
        problems.append(f"rollback plan has {task.rollback_steps} steps; at least {rule.min_rollback_steps} required")
    if rule.full_plan and not task.full_plan:
        problems.append("a full 7-section plan is required")
    problems += [f"no {s}-implementation test" for s in rule.test_stages if s not in task.test_stages]
    approvers = {a for a in task.approvers if a != drafter}
    if drafter in task.approvers:
        problems.append(f"the drafter {drafter} may not sit on the CAB")
    if len(approvers) < rule.approvers:
        problems.append(f"{len(approvers)} CAB approvers assigned; {rule.approvers} required")
    problems += [f"evidence of stage {s} missing" for s in rule.evidence_stages if s not in task.evidence_stages]
    if rule.post_review_within is not None and (
        task.post_review_due is None or task.post_review_due > task.window.end + rule.post_review_within
    ):
        problems.append(f"post-implementation review must be due within {rule.post_review_within} of the window")
    return problems
