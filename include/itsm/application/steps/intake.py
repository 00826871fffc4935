"""Step 1 in a lifecycle run: re-read the ticket and extract, against the org's accounts."""

from __future__ import annotations

from include.itsm.application.assess import run_intake
from include.itsm.application.context import RunContext
from include.itsm.application.sweep import current_snapshot


def run(ctx: RunContext, key: str) -> dict:
    intake = run_intake(ctx, ctx.jira.get_ticket(key), current_snapshot(ctx).org_account_ids())
    ctx.evidence.audit(key, actor=ctx.actor, action=ctx.mode, step="intake", run_id=ctx.run_id,
                       detail={"gate": [g.model_dump() for g in intake.result.gate]})
    return {"service": intake.result.service, "environment": intake.result.environment,
            "accounts": len(intake.result.account_ids), "resources": len(intake.result.resource_ids)}
