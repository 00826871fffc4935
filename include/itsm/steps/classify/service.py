"""Step 3, classify: ticket type, priority and the 6-prefix label set, approved before any label is written.

Why here: the classification drives SLA, routing and whether CAB review applies. `run` proposes the
label change (labels to add and to remove, with the reasons); the sre lead approves it at gate
"labels", and only then does `apply` write the labels.
"""

from __future__ import annotations

from include.itsm.context import RunContext
from include.itsm.core.ticket import Ticket
from include.itsm.steps import GateBrief, GateDecision
from include.itsm.steps.classify.domain import classify, lint_labels
from include.itsm.steps.classify.proposal import LabelProposal, propose_labels
from include.itsm.steps.discover.domain import Discovery
from include.itsm.steps.intake.domain import IntakeArtifact

STEP = "classify"


def run_classify(ctx: RunContext, ticket: Ticket, intake: IntakeArtifact, discovery: Discovery) -> LabelProposal:
    """Type, priority and the proposed label change (written only after the labels gate)."""
    policy = ctx.settings.policy
    classification = classify(ticket, intake.result, policy, discovery.summary())
    to_add, to_remove = propose_labels(ticket.labels, classification)
    proposal = LabelProposal(
        key=ticket.key,
        step=STEP,
        run_id=ctx.run_id,
        mode=ctx.mode,
        classification=classification,
        existing_labels=ticket.labels,
        findings=lint_labels(ticket.labels, policy),
        labels_to_add=to_add,
        labels_to_remove=to_remove,
    )
    ctx.evidence.write(ticket.key, ctx.run_id, STEP, proposal)
    return proposal


def run(ctx: RunContext, key: str) -> dict:
    intake = ctx.evidence.latest(key, "intake", IntakeArtifact)
    discovery = ctx.evidence.latest(key, "discover", Discovery)
    proposal = run_classify(ctx, ctx.jira.get_ticket(key), intake, discovery)
    c = proposal.classification
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step="classify",
        run_id=ctx.run_id,
        detail={"ticket_type": c.ticket_type, "priority": c.priority, "labels": c.labels},
    )
    return {
        "ticket_type": c.ticket_type,
        "change_type": c.change_type,
        "priority": c.priority,
        "labels_to_add": proposal.labels_to_add,
        "labels_to_remove": proposal.labels_to_remove,
    }


def brief(ctx: RunContext, key: str, gate: str) -> GateBrief:
    proposal = ctx.evidence.latest(key, "classify", LabelProposal)
    c = proposal.classification
    lines = [
        f"**{key}** classified as **{c.ticket_type}{' / ' + c.change_type if c.change_type else ''}**, "
        f"**{c.priority}** (impact {c.impact} x urgency {c.urgency}, blast {c.blast}).",
        "",
        "Labels to add: " + (", ".join(f"`{label}`" for label in proposal.labels_to_add) or "none"),
        "Labels to remove: " + (", ".join(f"`{label}`" for label in proposal.labels_to_remove) or "none"),
        "",
    ]
    lines += [
        f"- lint: `{f.label}` {f.reason}" + (f" -> `{f.replacement}`" if f.replacement else "")
        for f in proposal.findings
    ]
    lines += ["", "Why:"] + [f"- {reason}" for reason in c.reasons]
    return GateBrief(subject=f"{key}: approve the label set ({c.priority} {c.ticket_type})", body="\n".join(lines))


def apply(ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict:
    """Write the approved label change (preview: recorded as planned requests only)."""
    proposal = ctx.evidence.latest(key, "classify", LabelProposal)
    planned_before = len(ctx.jira.planned)
    added = ctx.jira.add_labels(key, proposal.labels_to_add)
    removed = ctx.jira.remove_labels(key, proposal.labels_to_remove)
    planned = [p.model_dump() for p in ctx.jira.planned[planned_before:]]
    decision = decisions.get(gate)
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action="write" if ctx.execute else "preview",
        step="classify",
        run_id=ctx.run_id,
        detail={
            "gate": gate,
            "approved_by": decision.user_id if decision else None,
            "added": added,
            "removed": removed,
            "planned": len(planned),
        },
    )
    return {"added": added, "removed": removed, "planned": planned}
