"""The callables of a lifecycle run's tasks: thin glue from Airflow's context to the steps.

Failures that a retry cannot fix (a missing input artifact, an unselected-but-required step,
a separation-of-duties violation) fail at once with AirflowFailException and a message that
says what to do; transient ones (Jira/AWS down) are left to the task's retries.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from include.itsm.airflow.gates import read_decisions, read_refusals
from include.itsm.airflow.runtime import task_context
from include.itsm.core import adf
from include.itsm.core.artifact import Artifact
from include.itsm.lifecycle.plan import REGISTER_REFUSAL, Plan, validate_selection
from include.itsm.ports import EvidenceError
from include.itsm.steps import GateDecision
from include.itsm.steps.registry import service


class LifecycleOutcome(Artifact):
    """How a lifecycle run ended: the steps selected, every gate decision, what failed."""

    steps: list[str]
    execute: bool
    reason: str = ""
    decisions: dict[str, GateDecision]
    failed_tasks: list[str]
    outcome: str  # completed | rejected | failed


def _selected(context) -> list[str]:
    return list(context["params"]["steps"])


def _context(context, customer: str | None):
    """This task's RunContext for the ticket's customer (its manifest entry's), in the run's mode."""
    return task_context(execute=context["params"]["execute"], customer_id=customer)


def start(plan: dict, customer: str | None = None, **context) -> dict:
    """Refuse runs without an explicit logical date (approval sensors match on it) or with bad steps."""
    plan = Plan.model_validate(plan)
    if context["dag_run"].logical_date is None:
        raise AirflowFailException(
            f"{plan.key}: trigger this lifecycle with an explicit logical date: its approval gates are "
            "matched by logical date, and a run without one can never see its approvals"
        )
    try:
        steps = validate_selection(plan, _selected(context))
    except ValueError as exc:
        raise AirflowFailException(str(exc)) from exc
    ctx = _context(context, customer)
    ctx.evidence.audit(
        plan.key,
        actor=ctx.actor,
        action="lifecycle-start",
        run_id=ctx.run_id,
        detail={"steps": steps, "execute": ctx.execute, "reason": context["params"]["reason"]},
    )
    return {"steps": steps, "execute": ctx.execute, "actor": ctx.actor}


def receive_input(step: str):
    """The step's store for what people hand a run (only the PIR takes any)."""
    from include.itsm.steps.pir import service as pir

    if step != pir.STEP:
        raise ValueError(f"step {step} takes no input through the run's conf")
    return pir.receive_input


def run_step(key: str, step: str, customer: str | None = None, **context) -> dict:
    """Run the step; what people handed it through the run's conf (`inputs`: the PIR's, from `itsm
    create-pir --input --execute`) is stored first, on this side."""
    if step not in _selected(context):
        raise AirflowSkipException(f"{step} not selected for this run")
    ctx = _context(context, customer)
    handed = ((context["dag_run"].conf or {}).get("inputs") or {}).get(step)
    try:
        if handed:
            receive_input(step)(ctx, key, handed)
        return service(step).run(ctx, key)
    except (EvidenceError, ValueError) as exc:  # missing inputs or a refusal: a retry cannot change it
        raise AirflowFailException(str(exc)) from exc


def apply_gate(key: str, step: str, gate: str, gates: list[str], customer: str | None = None, **context) -> dict:
    """After the gate(s): what the approval unlocks (preview: the planned requests only)."""
    if step not in _selected(context):
        raise AirflowSkipException(f"{step} not selected for this run")
    decisions = read_decisions(context, key, gates)
    missing = [g for g in gates if g not in decisions or not decisions[g].approved]
    if missing:
        raise AirflowFailException(f"{key}: gate(s) {missing} not approved: nothing is applied")
    try:
        return service(step).apply(_context(context, customer), key, gate, decisions)
    except (EvidenceError, ValueError, PermissionError) as exc:
        raise AirflowFailException(f"{key}: {gate} refused: {exc}") from exc


def _failed_tasks(context) -> list[str]:
    from airflow.sdk.execution_time.task_runner import RuntimeTaskInstance

    states = RuntimeTaskInstance.get_task_states(dag_id=context["dag"].dag_id, run_ids=[context["run_id"]])
    per_task = states.get(context["run_id"], states)
    return sorted(task for task, state in per_task.items() if state in ("failed", "upstream_failed"))


def record_outcome(key: str, gates: list[str], customer: str | None = None, **context) -> dict:
    """Record every decision and the run's end; a rejection or failure fails the run, visibly."""
    params = context["params"]
    ctx = _context(context, customer)
    decisions = read_decisions(context, key, gates)
    failed = _failed_tasks(context)
    refused = [d for d in decisions.values() if not d.approved]
    outcome = "rejected" if refused else ("failed" if failed else "completed")
    record = LifecycleOutcome(
        key=key,
        step="lifecycle",
        run_id=ctx.run_id,
        mode=ctx.mode,
        steps=_selected(context),
        execute=ctx.execute,
        reason=params["reason"],
        decisions=decisions,
        failed_tasks=failed,
        outcome=outcome,
    )
    ctx.evidence.write(key, ctx.run_id, "lifecycle", record)
    for decision in decisions.values():
        ctx.evidence.audit(
            key,
            actor=f"user:{decision.user_id}" if decision.user_id else "system:timeout",
            action="approval" if decision.approved else decision.outcome,
            step=decision.gate,
            run_id=ctx.run_id,
            detail={"reason": decision.reason, "evidence": decision.evidence},
        )
    lines = [
        f"Gate {d.gate}: {d.outcome} by {d.user_name or 'nobody (timed out)'}" + (f": {d.reason}" if d.reason else "")
        for d in refused
    ]
    answers_refused = [  # already in the audit log: the gate recorded each when it refused it
        f"Gate {gate}: answer by {r['user']} refused: {'; '.join(r['problems'])}"
        for gate, refusals in read_refusals(context, key, gates).items()
        for r in refusals
    ]
    if lines or answers_refused:  # one comment per run (re-runs of this task replace it)
        heading = "ITSM lifecycle stopped" if refused else "ITSM lifecycle: answers refused at the gates"
        ctx.jira.upsert_step_comment(
            key, "lifecycle", adf.doc([adf.heading(heading, 3), adf.bullet_list(lines + answers_refused)])
        )
    if refused:
        raise AirflowFailException(f"{key}: stopped at the gate: " + "; ".join(lines))
    if failed:
        raise AirflowFailException(f"{key}: tasks failed: {', '.join(failed)}")
    return {"outcome": outcome, "decisions": len(decisions)}


def register_ticket(customer: str | None = None, **context) -> dict:
    """The register DAG's task. A refusal (no such ticket, a step its type lacks, a step run before
    the one it needs) fails at once and is left as XCom, for `itsm lifecycle --execute` to show."""
    from include.itsm.lifecycle.run import register

    params = context["params"]
    try:
        registration = register(task_context(customer_id=customer), params["key"], params["steps"])
    except Exception as exc:
        if not (isinstance(exc, ValueError | EvidenceError) or "HTTP 404" in str(exc)):
            raise  # transient (Jira or AWS down): the task's retry
        context["ti"].xcom_push(
            key=REGISTER_REFUSAL, value={"message": str(exc)}
        )  # an object: REST hands it back as JSON
        raise AirflowFailException(str(exc)) from exc
    return registration.model_dump(mode="json")
