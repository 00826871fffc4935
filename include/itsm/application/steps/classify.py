"""Step 3 in a lifecycle run, and the labels gate: labels reach Jira only after the sre lead approves."""

from __future__ import annotations

from include.itsm.application.assess import run_classify
from include.itsm.application.context import RunContext
from include.itsm.application.steps import GateBrief, GateDecision
from include.itsm.domain.assessment import IntakeArtifact, LabelProposal
from include.itsm.domain.discover import Discovery


def run(ctx: RunContext, key: str) -> dict:
    intake = ctx.evidence.latest(key, "intake", IntakeArtifact)
    discovery = ctx.evidence.latest(key, "discover", Discovery)
    proposal = run_classify(ctx, ctx.jira.get_ticket(key), intake, discovery)
    c = proposal.classification
    ctx.evidence.audit(key, actor=ctx.actor, action=ctx.mode, step="classify", run_id=ctx.run_id,
                       detail={"ticket_type": c.ticket_type, "priority": c.priority, "labels": c.labels})
    return {"ticket_type": c.ticket_type, "change_type": c.change_type, "priority": c.priority,
            "labels_to_add": proposal.labels_to_add, "labels_to_remove": proposal.labels_to_remove}


def brief(ctx: RunContext, key: str, gate: str) -> GateBrief:
    proposal = ctx.evidence.latest(key, "classify", LabelProposal)
    c = proposal.classification
    lines = [f"**{key}** classified as **{c.ticket_type}{' / ' + c.change_type if c.change_type else ''}**, "
             f"**{c.priority}** (impact {c.impact} x urgency {c.urgency}, blast {c.blast}).", "",
             "Labels to add: " + (", ".join(f"`{label}`" for label in proposal.labels_to_add) or "none"),
             "Labels to remove: " + (", ".join(f"`{label}`" for label in proposal.labels_to_remove) or "none"), ""]
    lines += [f"- lint: `{f.label}` {f.reason}" + (f" -> `{f.replacement}`" if f.replacement else "")
              for f in proposal.findings]
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
    ctx.evidence.audit(key, actor=ctx.actor, action="write" if ctx.execute else "preview", step="classify",
                       run_id=ctx.run_id, detail={"gate": gate, "approved_by": decision.user_id if decision else None,
                                                  "added": added, "removed": removed, "planned": len(planned)})
    return {"added": added, "removed": removed, "planned": planned}
