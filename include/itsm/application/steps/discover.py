"""Step 2 in a lifecycle run: the ticket's scope in the newest org snapshot (or a fresh one)."""

from __future__ import annotations

from include.itsm.application.assess import run_discover
from include.itsm.application.context import RunContext
from include.itsm.application.sweep import current_snapshot
from include.itsm.domain.assessment import IntakeArtifact


def run(ctx: RunContext, key: str) -> dict:
    intake = ctx.evidence.latest(key, "intake", IntakeArtifact)
    discovery = run_discover(ctx, key, intake, current_snapshot(ctx))
    ctx.evidence.audit(key, actor=ctx.actor, action=ctx.mode, step="discover", run_id=ctx.run_id,
                       detail={"resources": discovery.resource_count, "accounts": discovery.account_count,
                               "errors": len(discovery.errors), "snapshot": discovery.snapshot_run_id})
    return {"resources": discovery.resource_count, "accounts": discovery.account_count,
            "errors": len(discovery.errors)}
