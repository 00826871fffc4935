"""What a lifecycle run's gates are doing, as Airflow's REST API shows them: which are open, who may
answer each, how long they have waited and what each waits for (`itsm status`, `itsm approve`,
`itsm lifecycle --execute` print from here)."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel, Field

from include.itsm.adapters.airflow_api import AirflowApiError
from include.itsm.lifecycle.plan import Gate, approvals_dag_id, approvers, plan_for

OPEN = "awaiting_input"  # the approval task's Airflow state while it asks people


class GateView(BaseModel):
    gate: str
    state: str  # the approval task's Airflow state ("not started" before its run has it)
    open: bool
    approvers: list[str]
    waits_for: str  # in words: an answer from whom, or which lifecycle task
    waiting_s: float | None = None  # open gates: since the question was asked
    answered_by: str | None = None
    refusals: list[dict] = Field(default_factory=list)  # answers refused so far ({user, approved, problems})


def gate_named(name: str) -> Gate:
    """The plan's gate of that name (its approvers and the task it reviews), whatever the ticket type."""
    for ticket_type, change_type in (("change", "normal"), ("incident", None)):
        for gate in plan_for("OPS-1", ticket_type, change_type).gates:
            if gate.name == name:
                return gate
    raise KeyError(name)


def gate_views(api, key: str, run_id: str, policy_change, now: datetime | None = None) -> list[GateView]:
    """Every gate of the ticket's approvals run `run_id`, in the order the lifecycle checks them."""
    dag_id = approvals_dag_id(key)
    now = now or datetime.now(UTC)
    try:
        tis = {t["task_id"]: t for t in api.task_instances(dag_id, run_id)}
    except AirflowApiError as exc:
        if "HTTP 404" in str(exc):
            return []  # the lifecycle run has not started its approvals run yet
        raise
    details = {
        d["task_instance"]["task_id"]: d
        for d in api.get(f"/dags/{dag_id}/dagRuns/{run_id}/hitlDetails")["hitl_details"]
    }
    order = {g.name: n for n, g in enumerate(plan_for("OPS-1", "change", "normal").gates)}
    views = []
    for name in sorted(tis, key=lambda n: order.get(n, len(order))):
        ti, detail, gate = tis[name], details.get(name) or {}, gate_named(name)
        state = ti.get("state") or "not started"
        names = [u["name"] for u in detail.get("assigned_users") or []] or approvers(policy_change, gate)
        is_open = state == OPEN and not detail.get("response_received")
        asked_at = detail.get("created_at")
        views.append(
            GateView(
                gate=name,
                state=state,
                open=is_open,
                approvers=names,
                waits_for=_waits_for(state, is_open, names, gate),
                waiting_s=(now - datetime.fromisoformat(asked_at)).total_seconds() if is_open and asked_at else None,
                answered_by=(detail.get("responded_by_user") or {}).get("name"),
                refusals=api.xcom(dag_id, run_id, name, "refusals") or [],
            )
        )
    return views


def _waits_for(state: str, is_open: bool, names: list[str], gate: Gate) -> str:
    if is_open:
        return f"an answer from one of {', '.join(names)}"
    if state == OPEN:
        return "the answer just given to be checked"
    if state in ("deferred", "scheduled", "queued", "running", "not started", "none"):
        return f"lifecycle task {gate.reviews_task} to finish"
    return "nothing (done)" if state == "success" else f"nothing ({state})"


def next_gate_line(views: list[GateView]) -> str:
    """One line naming the gates open now and who may answer, else the next one to open."""
    open_now = [v for v in views if v.open]
    if open_now:
        return "open now: " + "; ".join(f"{v.gate} (approvers: {', '.join(v.approvers)})" for v in open_now)
    waiting = [v for v in views if v.state not in ("success", "failed", "skipped", "upstream_failed")]
    if waiting:
        first = waiting[0]
        return f"next gate: {first.gate} (approvers: {', '.join(first.approvers)}), waiting for {first.waits_for}"
    return "no gate is open or waiting" if views else "no gates yet: the lifecycle run starts its approvals run first"
