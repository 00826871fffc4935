"""Step 1, intake: extract service, environment, accounts and resource ids from the ticket text.

Why here: consistent extraction before human judgment; every later step scopes its queries by it.
Account ids are checked against the organisation's account list (a 12-digit number that is not an
org account is not an account id); every value keeps the text that supports it.
"""

from __future__ import annotations

from include.itsm.context import RunContext
from include.itsm.core.ticket import Ticket
from include.itsm.steps.discover.service import current_snapshot
from include.itsm.steps.intake.domain import IntakeArtifact, extract

STEP = "intake"


def run_intake(ctx: RunContext, ticket: Ticket, org_accounts: set[str]) -> IntakeArtifact:
    """Extract and gate; the artifact keeps every value with the text that supports it."""
    intake = IntakeArtifact(
        key=ticket.key,
        step=STEP,
        run_id=ctx.run_id,
        mode=ctx.mode,
        summary=ticket.summary,
        issue_type_as_filed=ticket.issue_type,
        result=extract(ticket, ctx.settings.policy, org_accounts=org_accounts or None),
    )
    ctx.evidence.write(ticket.key, ctx.run_id, STEP, intake)
    return intake


def run(ctx: RunContext, key: str) -> dict:
    """Step 1 in a lifecycle run: re-read the ticket and extract, against the org's accounts."""
    intake = run_intake(ctx, ctx.jira.get_ticket(key), current_snapshot(ctx).org_account_ids())
    ctx.evidence.audit(
        key,
        actor=ctx.actor,
        action=ctx.mode,
        step=STEP,
        run_id=ctx.run_id,
        detail={"gate": [g.model_dump() for g in intake.result.gate]},
    )
    return {
        "service": intake.result.service,
        "environment": intake.result.environment,
        "accounts": len(intake.result.account_ids),
        "resources": len(intake.result.resource_ids),
    }
