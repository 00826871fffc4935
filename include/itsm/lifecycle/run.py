"""`itsm lifecycle` outside Airflow: preview in-process, or hand the run to Airflow.

Preview runs the selected steps here, writes their artifacts, and shows for every gate what
its approvers would see and the exact requests its apply would send if every gate were
approved (nothing is sent: the Jira adapter is in preview). Execute never runs here: through
Airflow's REST API, as the caller, the customer's register DAG adds the ticket to the manifest on the
Airflow side (wherever the CLI runs), then the ticket's lifecycle run is triggered.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from include.itsm.context import RunContext
from include.itsm.lifecycle.manifest import Manifest, ManifestEntry, update_manifest
from include.itsm.lifecycle.plan import (
    REGISTER_DAG,
    REGISTER_REFUSAL,
    REGISTER_TASK,
    Plan,
    approvers,
    lifecycle_dag_id,
    plan_for,
    validate_selection,
)
from include.itsm.ports import AirflowError, AirflowRuns, EvidenceError
from include.itsm.steps import GateBrief, GateDecision
from include.itsm.steps.classify.proposal import LabelProposal
from include.itsm.steps.registry import service
from include.itsm.tenancy import check_ticket_of, dag_id_for

TRIAGE_STEPS = ["intake", "discover", "classify"]


class GatePreview(BaseModel):
    gate: str
    approvers: list[str]
    brief: GateBrief | None = None
    planned: list[dict] = Field(default_factory=list)  # requests its apply would send once approved
    error: str | None = None


class StepPreview(BaseModel):
    step: str
    result: dict = Field(default_factory=dict)
    error: str | None = None
    gates: list[GatePreview] = Field(default_factory=list)


class LifecycleTriggered(BaseModel):
    """What `itsm lifecycle --execute` hands back: the run it started and the gates that run will ask."""

    dag_id: str
    run_id: str
    logical_date: datetime
    steps: list[str]
    gates: list[str]


class LifecyclePreview(BaseModel):
    key: str
    run_id: str
    ticket_type: str | None
    change_type: str | None
    steps: list[StepPreview]


def known_plan(ctx: RunContext, key: str) -> Plan | None:
    """The ticket's plan from its newest classification, if it has one."""
    try:
        c = ctx.evidence.latest(key, "classify", LabelProposal).classification
    except EvidenceError:
        return None
    return plan_for(key, c.ticket_type, c.change_type)


def _preview_decisions(ctx: RunContext, plan: Plan) -> dict[str, GateDecision]:
    """Every gate approved by its configured approvers (the n-th CAB gate by the n-th member), so
    applies show what they would send. Marked as preview: an executing run never accepts them."""
    now = datetime.now(UTC)
    decisions = {}
    for gate in plan.gates:
        candidates = approvers(ctx.settings.policy.change, gate)
        same_group = [g.name for g in plan.gates if g.approvers_key == gate.approvers_key]
        user = candidates[min(same_group.index(gate.name), len(candidates) - 1)]
        decisions[gate.name] = GateDecision(
            gate=gate.name,
            approved=True,
            user_id=user,
            user_name=f"{user} (preview stand-in)",
            at=now,
            outcome="approved",
            evidence="(preview: rollback-test evidence to be attached)",
        )
    return decisions


def preview(
    ctx: RunContext, key: str, steps: list[str] | None = None, progress: Callable[[str], None] | None = None
) -> LifecyclePreview:
    """Run the selected steps in-process (preview), stopping at the first step that fails; `progress`
    is told as each step starts."""
    plan = known_plan(ctx, key)
    if plan is None:  # unclassified: steps 1-3 first, then the type's plan
        for step in TRIAGE_STEPS:
            service(step).run(ctx, key)
        plan = known_plan(ctx, key)
    selected = validate_selection(plan, steps or plan.default_steps)
    decisions = _preview_decisions(ctx, plan)
    results = []
    for n, step in enumerate(selected, 1):
        if progress:
            progress(f"step {n}/{len(selected)}: {step}")
        outcome = StepPreview(step=step)
        results.append(outcome)
        try:
            outcome.result = service(step).run(ctx, key)
        except (EvidenceError, ValueError) as exc:
            outcome.error = str(exc)
            break
        for gate in (g for g in plan.gates if g.step == step):
            gate_preview = GatePreview(gate=gate.name, approvers=approvers(ctx.settings.policy.change, gate))
            outcome.gates.append(gate_preview)
            try:
                gate_preview.brief = service(step).brief(ctx, key, gate.name)
                last_of_apply = [g for g in plan.gates if g.apply_task == gate.apply_task][-1].name == gate.name
                if last_of_apply:
                    before = len(ctx.jira.planned)
                    applied = service(step).apply(ctx, key, gate.name, decisions)
                    jira_planned = [p.model_dump() for p in ctx.jira.planned[before:]]
                    gate_preview.planned = jira_planned + [
                        p for p in applied.get("planned", []) if p not in jira_planned
                    ]
            except (EvidenceError, ValueError, PermissionError) as exc:
                gate_preview.error = str(exc)
    return LifecyclePreview(
        key=key, run_id=ctx.run_id, ticket_type=plan.ticket_type, change_type=plan.change_type, steps=results
    )


def add_to_manifest(ctx: RunContext, plan: Plan, summary: str) -> None:
    """On-demand: the ticket's DAG pair appears within one DAG-processor refresh (a P0 cannot wait)."""
    now = datetime.now(UTC)
    entry = ManifestEntry(
        key=plan.key,
        ticket_type=plan.ticket_type,
        change_type=plan.change_type,
        summary=summary,
        on_demand=True,
        updated=now,
        customer=ctx.customer.id,
    )

    def with_entry(manifest: Manifest) -> Manifest:
        manifest.tickets[plan.key] = entry
        manifest.generated = now
        return manifest

    update_manifest(ctx.settings.runtime.manifest_path, with_entry)


class Registration(BaseModel):
    """What the register task hands `itsm lifecycle --execute` back (small: it travels through XCom)."""

    key: str
    ticket_type: str
    change_type: str | None
    steps: list[str]  # the selection, checked against the ticket type


def register(ctx: RunContext, key: str, steps: list[str] | None) -> Registration:
    """Airflow side: classify the ticket if it never was, check the selection, add it to the manifest.

    Runs in the register task, so the manifest written is the one the DAG processor reads and the
    triage uses the deployment's connections and evidence store, wherever the CLI runs."""
    check_ticket_of(ctx.settings, ctx.customer, key)  # another customer's key never reaches this one's Jira
    ticket = ctx.jira.get_ticket(key)
    check_ticket_of(ctx.settings, ctx.customer, key, ticket.labels)
    plan = known_plan(ctx, key)
    if plan is None:
        for step in TRIAGE_STEPS:
            service(step).run(ctx, key)
        plan = known_plan(ctx, key)
    selected = validate_selection(plan, steps or plan.default_steps)
    add_to_manifest(ctx, plan, ticket.summary)
    return Registration(key=key, ticket_type=plan.ticket_type, change_type=plan.change_type, steps=selected)


def _register_on_airflow(ctx: RunContext, api: AirflowRuns, key: str, steps: list[str] | None) -> Registration:
    """Trigger the customer's register DAG as the caller and wait for its answer.

    A refusal of the ticket or the selection comes back as the usage error it is (ValueError);
    anything else as an Airflow error naming the run to look at."""
    dag_id = dag_id_for(ctx.settings, REGISTER_DAG, ctx.customer.id)
    api.wait_for_dag(dag_id)
    run_id = api.trigger(dag_id, conf={"key": key, "steps": steps})["dag_run_id"]
    if api.wait_for_run(dag_id, run_id) == "success":
        return Registration.model_validate(api.xcom(dag_id, run_id, REGISTER_TASK, "return_value"))
    refusal = api.xcom(dag_id, run_id, REGISTER_TASK, REGISTER_REFUSAL)
    if refusal:
        raise ValueError(refusal["message"])
    raise AirflowError(f"{key}: Airflow could not register the ticket: see the log of {dag_id} run {run_id}")


def trigger(
    ctx: RunContext,
    api: AirflowRuns,
    key: str,
    steps: list[str] | None,
    reason: str,
    inputs: dict[str, dict] | None = None,
) -> LifecycleTriggered:
    """Register the ticket on the Airflow side, then trigger its lifecycle run (execute) as the caller.
    `inputs` (step -> what people gave it, e.g. the PIR's 5 Whys) travel in the run's conf: the step
    stores them on the Airflow side, never in the caller's evidence store."""
    registration = _register_on_airflow(ctx, api, key, steps)
    plan = plan_for(key, registration.ticket_type, registration.change_type)
    dag_id = lifecycle_dag_id(key)
    api.wait_for_dag(dag_id)
    now = datetime.now(UTC)
    run_id = f"cli__{now:%Y-%m-%dT%H-%M-%S-%f}"
    selected = registration.steps
    conf = {"steps": selected, "execute": True, "reason": reason} | ({"inputs": inputs} if inputs else {})
    api.trigger_at(dag_id, run_id, now, conf=conf)
    gates = [g.name for g in plan.gates if g.step in selected]
    return LifecycleTriggered(dag_id=dag_id, run_id=run_id, logical_date=now, steps=selected, gates=gates)
