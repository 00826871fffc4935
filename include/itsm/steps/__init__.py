"""Steps 4-8 of the lifecycle, one module per step, each in two halves around its gate(s).

Contract every step module here follows (the lifecycle DAG, `itsm lifecycle` and tests call
them alike):

    run(ctx: RunContext, key: str) -> dict
        Compute the step from earlier artifacts (`ctx.evidence.latest(key, step, Model)`; a
        missing input raises EvidenceError naming the step to run first) and from reads of Jira/
        AWS; write the step's artifact under `ctx.run_id`, append an audit entry; return a small
        JSON-able summary (it travels through XCom). Never writes to Jira or AWS, whatever the mode.

    brief(ctx: RunContext, key: str, gate: str) -> GateBrief
        What the approver of `gate` sees (subject + Markdown body) from the step's artifact.

    apply(ctx: RunContext, key: str, gate: str, decisions: dict[str, GateDecision]) -> dict
        The writes that approval of `gate` unlocks (labels, description panel, change record,
        CAB sub-task, alarms, governance record ...). With `ctx.execute` False the Jira adapter
        only records PlannedRequests: return them in the summary under "planned". Idempotent:
        a re-run never duplicates (look before you create). `decisions` holds every gate decided
        so far in this run (who approved, when, with what evidence/reason).
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from include.itsm.core.vocab import GateOutcome


class GateDecision(BaseModel):
    """One human decision on one gate, as Airflow recorded it (responded_by_user is the truth)."""

    gate: str
    approved: bool
    user_id: str | None = None  # None: timed out with nobody responding
    user_name: str | None = None
    at: datetime | None = None
    reason: str = ""
    evidence: str = ""  # e.g. Engineering's rollback-test link or attestation
    outcome: GateOutcome = GateOutcome.APPROVED
    inputs: dict = {}  # the gate's extra entry-form fields (only the pir gate has any)


class GateBrief(BaseModel):
    subject: str
    body: str  # Markdown
    approval_blocked: str | None = None  # why the artifact can only be rejected (None: it may be approved)


def approved(decisions: dict[str, GateDecision], gate: str, key: str, what: str) -> GateDecision:
    """The gate's decision if it approved; otherwise nothing is applied (PermissionError naming why)."""
    decision = decisions.get(gate)
    if decision is None or not decision.approved:
        raise PermissionError(f"{key}: {what} not approved ({decision.outcome if decision else 'no answer'})")
    return decision
