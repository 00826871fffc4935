"""Human gates on Airflow's Human-in-the-loop: the approval task and how decisions are read back.

`GateApproval` is Airflow's `ApprovalOperator` with what DESIGN section 4 requires: it fails on
reject (`fail_on_reject=True`, `retries=0`: a retried approval would re-open the vote), shows the
approver the step's artifact, and leaves the decision (who, when, reason, evidence) in XCom under
`decision` even when it rejects or times out, so the lifecycle can record it and check separation
of duties from `responded_by_user`, the one source of truth.

An approval opens only once the lifecycle task whose artifact it reviews has finished: it first
waits deferred, as an ExternalTaskSensor would, then asks. One task per gate instead of a sensor
plus an approval: the approvals DAGs of a thousand tickets are a fifth fewer tasks to parse and
schedule, and a fifth fewer waits on the triggerer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.providers.standard.triggers.external_task import WorkflowTrigger
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from include.itsm.application.lifecycle import approvals_dag_id
from include.itsm.application.steps import GateDecision

DECISION_XCOM_KEY = "decision"
# How a wait on another DAG's task reads that task's state (the lifecycle's gate sensors, the approvals' reviews).
AWAITED_STATES = {"allowed_states": ("success",), "failed_states": ("failed", "upstream_failed"),
                  "skipped_states": ("skipped",)}


@dataclass(frozen=True)
class GateTiming:
    """How long a gate may wait for people, and how often its waits look (runtime configuration)."""

    timeout: timedelta
    poke_seconds: float

    @classmethod
    def from_runtime(cls, runtime) -> "GateTiming":
        return cls(timedelta(hours=runtime.gate_timeout_hours), runtime.gate_poke_seconds)


class GateApproval(ApprovalOperator):
    """One gate of one ticket, opened once `reviews` (a lifecycle (dag id, task id)) has finished; the
    subject and body come from the step's brief at run time."""

    def __init__(self, *, ticket_key: str, gate: str, step: str, approvers: list[str], reviews: tuple[str, str],
                 timing: GateTiming, extra_params: dict[str, Param] | None = None, **kwargs) -> None:
        super().__init__(
            task_id=gate,
            subject=f"{ticket_key}: {gate}",
            body=None,
            fail_on_reject=True,
            retries=0,
            response_timeout=timing.timeout,
            assigned_users=[{"id": user, "name": user} for user in approvers],
            params={
                "reason": Param("", type="string", title="Reason (required to reject)"),
                "evidence": Param("", type="string", title="Evidence (link or attestation, e.g. rollback test)"),
                **(extra_params or {}),
            },
            **kwargs,
        )
        self.ticket_key, self.gate, self.step = ticket_key, gate, step
        self.reviews, self.timing = reviews, timing
        self.extra_param_names = sorted(extra_params or {})

    def execute(self, context):
        """Wait (deferred, on the triggerer) until the reviewed task has finished in this run's lifecycle run."""
        self.defer(
            trigger=WorkflowTrigger(external_dag_id=self.reviews[0], external_task_ids=[self.reviews[1]],
                                    logical_dates=[context["logical_date"]], poke_interval=self.timing.poke_seconds,
                                    **AWAITED_STATES),
            method_name="reviewed", timeout=self.timing.timeout)

    def reviewed(self, context, event: dict[str, Any] | None = None):
        """The reviewed task has finished: ask the approvers if it succeeded, else end as it did.

        Its failure is final (a retry would only find the same failure); skipped (a step this run
        did not select) skips the gate."""
        status = (event or {}).get("status")
        if status == "skipped":
            raise AirflowSkipException(f"{self.ticket_key}: {self.reviews[1]} was skipped: nothing to review")
        if status != "success":
            raise AirflowFailException(f"{self.ticket_key}: {self.reviews[1]} ended {status or 'without a state'}: "
                                       f"gate {self.gate} is not asked")
        from include.itsm.airflow.runtime import task_context
        from include.itsm.application.lifecycle import step_module

        brief = step_module(self.step).brief(task_context(), self.ticket_key, self.gate)
        self.subject, self.body = brief.subject, brief.body
        return super().execute(context)

    def _push(self, context, decision: GateDecision) -> None:
        context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=decision.model_dump(mode="json"))

    def execute_complete(self, context, event: dict[str, Any]):
        if "error" in event:
            self._push(context, GateDecision(gate=self.gate, approved=False, outcome="timeout",
                                             at=datetime.now(timezone.utc), reason=str(event.get("error"))))
            return super().execute_complete(context, event)
        user = event.get("responded_by_user") or {}
        params = event.get("params_input") or {}
        approved = event["chosen_options"] == [self.APPROVE]
        responded_at = event.get("responded_at")
        self._push(context, GateDecision(
            gate=self.gate, approved=approved, outcome="approved" if approved else "rejected",
            user_id=user.get("id"), user_name=user.get("name"),
            at=responded_at if isinstance(responded_at, datetime) else None,
            reason=str(params.get("reason") or ""), evidence=str(params.get("evidence") or ""),
            inputs={name: params[name] for name in self.extra_param_names if name in params}))
        return super().execute_complete(context, event)


def read_decisions(context, key: str, gates: list[str]) -> dict[str, GateDecision]:
    """Decisions already taken on `gates` in this lifecycle run's approvals run (same run id)."""
    ti = context["ti"]
    decisions = {}
    for gate in gates:
        raw = ti.xcom_pull(dag_id=approvals_dag_id(key), task_ids=gate, key=DECISION_XCOM_KEY,
                           run_id=context["run_id"], map_indexes=-1)
        if raw:
            decisions[gate] = GateDecision.model_validate(raw)
    return decisions
