"""Steps 1-3 for one ticket: read it, intake, discover against the snapshot, classify.

Written once and used by the nightly sweep's batches, `itsm classify`, `itsm sweep` and the
lifecycle. Each step leaves its artifact and an audit entry; the optional ITSM comment is
sent only when the run executes (otherwise the adapter records it as a planned request).
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from include.itsm.application.context import RunContext
from include.itsm.application.discovery import discover_ticket
from include.itsm.application.manifest import TicketOutcome
from include.itsm.domain.assessment import IntakeArtifact, LabelProposal, assessment_comment, propose_labels
from include.itsm.domain.classify import classify, lint_labels
from include.itsm.domain.discover import Discovery
from include.itsm.domain.intake import extract
from include.itsm.domain.inventory import InventorySnapshot
from include.itsm.domain.ticket import Ticket


class Assessment(BaseModel):
    """The three artifacts of one ticket, as returned to callers (the store holds the same)."""

    ticket: Ticket
    intake: IntakeArtifact
    discovery: Discovery
    proposal: LabelProposal
    planned_requests: list[dict] = Field(default_factory=list)


def run_intake(ctx: RunContext, ticket: Ticket, org_accounts: set[str]) -> IntakeArtifact:
    """Step 1: extract and gate; the artifact keeps every value with the text that supports it."""
    intake = IntakeArtifact(key=ticket.key, step="intake", run_id=ctx.run_id, mode=ctx.mode, summary=ticket.summary,
                            issue_type_as_filed=ticket.issue_type,
                            result=extract(ticket, ctx.settings.policy, org_accounts=org_accounts or None))
    ctx.evidence.write(ticket.key, ctx.run_id, "intake", intake)
    return intake


def run_discover(ctx: RunContext, key: str, intake: IntakeArtifact, snapshot: InventorySnapshot) -> Discovery:
    """Step 2: the ticket's scope in the org-wide snapshot, with the per-account fallback."""
    discovery = discover_ticket(ctx, key, intake.result, snapshot, set(ctx.customer.standard_env_values))
    ctx.evidence.write(key, ctx.run_id, "discover", discovery)
    return discovery


def run_classify(ctx: RunContext, ticket: Ticket, intake: IntakeArtifact, discovery: Discovery) -> LabelProposal:
    """Step 3: type, priority and the proposed label change (written only after the labels gate)."""
    policy = ctx.settings.policy
    classification = classify(ticket, intake.result, policy, discovery.summary())
    to_add, to_remove = propose_labels(ticket.labels, classification)
    proposal = LabelProposal(key=ticket.key, step="classify", run_id=ctx.run_id, mode=ctx.mode,
                             classification=classification, existing_labels=ticket.labels,
                             findings=lint_labels(ticket.labels, policy), labels_to_add=to_add,
                             labels_to_remove=to_remove)
    ctx.evidence.write(ticket.key, ctx.run_id, "classify", proposal)
    return proposal


def assess_ticket(ctx: RunContext, ticket: Ticket, snapshot: InventorySnapshot, *, annotate: bool = False) -> Assessment:
    """Steps 1-3 for `ticket`; writes intake/discover/classify artifacts under this run."""
    key = ticket.key
    intake = run_intake(ctx, ticket, snapshot.org_account_ids())
    discovery = run_discover(ctx, key, intake, snapshot)
    proposal = run_classify(ctx, ticket, intake, discovery)
    planned_before = len(ctx.jira.planned)
    if annotate:
        ctx.jira.upsert_step_comment(key, "assessment", assessment_comment(discovery, proposal))
    planned = [p.model_dump() for p in ctx.jira.planned[planned_before:]]
    ctx.evidence.audit(key, actor=ctx.actor, action=ctx.mode, step="intake+discover+classify", run_id=ctx.run_id,
                       detail={"priority": proposal.classification.priority,
                               "ticket_type": proposal.classification.ticket_type,
                               "resources": discovery.resource_count, "annotated": annotate and ctx.execute,
                               "planned_requests": len(planned)})
    return Assessment(ticket=ticket, intake=intake, discovery=discovery, proposal=proposal, planned_requests=planned)


def assess_keys(ctx: RunContext, keys: list[str], snapshot: InventorySnapshot, *, annotate: bool = False
                ) -> list[TicketOutcome]:
    """A batch: every ticket gets an outcome; one bad ticket is reported, never fails the batch."""
    outcomes = []
    for key in keys:
        started = time.monotonic()
        try:
            result = assess_ticket(ctx, ctx.jira.get_ticket(key), snapshot, annotate=annotate)
        except Exception as exc:  # noqa: BLE001 - any failure is this ticket's, reported with its reason
            outcomes.append(TicketOutcome(key=key, ok=False, error=f"{type(exc).__name__}: {exc}"[:500],
                                          seconds=round(time.monotonic() - started, 3)))
            continue
        c = result.proposal.classification
        outcomes.append(TicketOutcome(key=key, ok=True, ticket_type=c.ticket_type, change_type=c.change_type,
                                      priority=c.priority, summary=result.ticket.summary[:200],
                                      resource_count=result.discovery.resource_count,
                                      account_count=result.discovery.account_count,
                                      seconds=round(time.monotonic() - started, 3)))
    return outcomes
