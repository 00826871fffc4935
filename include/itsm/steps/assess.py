"""Steps 1-3 for one ticket: read it, intake, discover against the snapshot, classify.

Written once and used by the nightly sweep's batches, `itsm classify`, `itsm sweep` and the
lifecycle. Each step leaves its artifact and an audit entry; the optional ITSM comment is
sent only when the run executes (otherwise the adapter records it as a planned request).
"""

from __future__ import annotations

import time

from pydantic import BaseModel, Field

from include.itsm.context import RunContext
from include.itsm.core.inventory import InventorySnapshot
from include.itsm.core.ticket import Ticket
from include.itsm.lifecycle.manifest import TicketOutcome
from include.itsm.steps.classify.proposal import LabelProposal, assessment_comment
from include.itsm.steps.classify.service import run_classify
from include.itsm.steps.discover.domain import Discovery
from include.itsm.steps.discover.service import run_discover
from include.itsm.steps.intake.domain import IntakeArtifact
from include.itsm.steps.intake.service import run_intake


class Assessment(BaseModel):
    """The three artifacts of one ticket, as returned to callers (the store holds the same)."""

    ticket: Ticket
    intake: IntakeArtifact
    discovery: Discovery
    proposal: LabelProposal
    planned_requests: list[dict] = Field(default_factory=list)


def assess_ticket(
    ctx: RunContext, ticket: Ticket, snapshot: InventorySnapshot, *, annotate: bool = False
) -> Assessment:
    """Steps 1-3 for `ticket`; writes intake/discover/classify artifacts under this run."""
    key = ticket.key
    intake = run_intake(ctx, ticket, snapshot.org_account_ids())
    discovery = run_discover(ctx, key, intake, snapshot)
    proposal = run_classify(ctx, ticket, intake, discovery)
    planned_before = len(ctx.jira.planned)
    if annotate:
        ctx.jira.upsert_step_comment(key, "assessment", assessment_comment(discovery, proposal))
    planned = [p.model_dump() for p in ctx.jira.planned[planned_before:]]
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step="intake+discover+classify",
        run_id=ctx.run_id,
        detail={
            "priority": proposal.classification.priority,
            "ticket_type": proposal.classification.ticket_type,
            "resources": discovery.resource_count,
            "annotated": annotate and ctx.execute,
            "planned_requests": len(planned),
        },
    )
    return Assessment(ticket=ticket, intake=intake, discovery=discovery, proposal=proposal, planned_requests=planned)


def assess_tickets(
    ctx: RunContext, tickets: list[Ticket], snapshot: InventorySnapshot, *, annotate: bool = False
) -> list[TicketOutcome]:
    """A batch of searched tickets: every ticket gets an outcome; one bad ticket is reported, never fails
    the batch. Jira is asked again only for a ticket whose changelog or comments the search truncated."""
    outcomes = []
    for searched in tickets:
        key, started = searched.key, time.monotonic()
        try:
            ticket = searched if searched.complete else ctx.jira.get_ticket(key)
            result = assess_ticket(ctx, ticket, snapshot, annotate=annotate)
        except Exception as exc:  # noqa: BLE001 - any failure is this ticket's, reported with its reason
            outcomes.append(
                TicketOutcome(
                    key=key,
                    ok=False,
                    error=f"{type(exc).__name__}: {exc}"[:500],
                    seconds=round(time.monotonic() - started, 3),
                )
            )
            continue
        c = result.proposal.classification
        outcomes.append(
            TicketOutcome(
                key=key,
                ok=True,
                ticket_type=c.ticket_type,
                change_type=c.change_type,
                priority=c.priority,
                summary=result.ticket.summary[:200],
                resource_count=result.discovery.resource_count,
                account_count=result.discovery.account_count,
                seconds=round(time.monotonic() - started, 3),
            )
        )
    return outcomes
