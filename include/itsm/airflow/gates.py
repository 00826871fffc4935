"""Human gates on Airflow's Human-in-the-loop: the approval task and how decisions are read back.

`GateApproval` is Airflow's `ApprovalOperator` with what docs/architecture.md §5 requires: it fails on
reject (`fail_on_reject=True`, `retries=0`: a retried approval would re-open the vote), shows the
approver the step's artifact, and leaves the decision (who, when, reason, evidence) in XCom under
`decision` even when it rejects or times out, so the lifecycle can record it and check separation
of duties from `responded_by_user`, the one source of truth.

Answers are checked when given (include/itsm/lifecycle/answers.py): a wrong one is refused, recorded
(audit log, XCom `refusals`) and the same request is asked again, so it never fails the run.

An approval opens only once the lifecycle task whose artifact it reviews has finished: it first
waits deferred, as an ExternalTaskSensor would, then asks. One task per gate instead of a sensor
plus an approval: the approvals DAGs of a thousand tickets are a fifth fewer tasks to parse and
schedule, and a fifth fewer waits on the triggerer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.providers.standard.triggers.external_task import WorkflowTrigger
from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from include.itsm.airflow.approvers import AssignedApproval, responder_name
from include.itsm.lifecycle.answers import ROLLBACK_EVIDENCE_GATE, answer_problems, exclusive_siblings
from include.itsm.lifecycle.plan import approvals_dag_id
from include.itsm.steps import GateDecision

DECISION_XCOM_KEY = "decision"
REFUSALS_XCOM_KEY = "refusals"  # answers refused so far: [{user, approved, problems}]
# How a wait on another DAG's task reads that task's state (the lifecycle's gate sensors, the approvals' reviews).
AWAITED_STATES = {
    "allowed_states": ("success",),
    "failed_states": ("failed", "upstream_failed"),
    "skipped_states": ("skipped",),
}


@dataclass(frozen=True)
class GateTiming:
    """How long a gate may wait for people, and how often its waits look (runtime configuration)."""

    timeout: timedelta
    poke_seconds: float

    @classmethod
    def from_runtime(cls, runtime) -> GateTiming:
        return cls(timedelta(hours=runtime.gate_timeout_hours), runtime.gate_poke_seconds)


def gate_params(gate: str, extra: dict[str, Param] | None = None) -> dict[str, Param]:
    """A gate's entry form: a reason (needed only to reject), evidence where the gate requires it
    (Engineering's rollback test), then the gate's own fields. Optional in the form; the answer
    checks say when one is missing."""
    params = {"reason": Param(None, type=["null", "string"], title="Reason (required to reject)")}
    if gate == ROLLBACK_EVIDENCE_GATE:
        params["evidence"] = Param(
            None, type=["null", "string"], title="Rollback-test evidence (link or attestation; required to approve)"
        )
    return params | (extra or {})


class GateApproval(AssignedApproval):
    """One gate of one ticket, opened once `reviews` (a lifecycle (dag id, task id)) has finished; the
    subject and body come from the step's brief at run time."""

    def __init__(
        self,
        *,
        ticket_key: str,
        gate: str,
        step: str,
        approvers: list[str],
        reviews: tuple[str, str],
        timing: GateTiming,
        extra_params: dict[str, Param] | None = None,
        customer_id: str | None = None,
        **kwargs,
    ) -> None:
        super().__init__(
            task_id=gate,
            subject=f"{ticket_key}: {gate}",
            body=None,
            fail_on_reject=True,
            retries=0,
            response_timeout=timing.timeout,
            approvers=approvers,
            params=gate_params(gate, extra_params),
            **kwargs,
        )
        self.ticket_key, self.gate, self.step = ticket_key, gate, step
        self.reviews, self.timing = reviews, timing
        self.customer_id = customer_id  # the ticket's customer: its brief reads that customer's evidence
        self.extra_param_names = sorted(extra_params or {})

    def execute(self, context):
        """Wait (deferred, on the triggerer) until the reviewed task has finished in this run's lifecycle run."""
        self.defer(
            trigger=WorkflowTrigger(
                external_dag_id=self.reviews[0],
                external_task_ids=[self.reviews[1]],
                logical_dates=[context["logical_date"]],
                poke_interval=self.timing.poke_seconds,
                **AWAITED_STATES,
            ),
            method_name="reviewed",
            timeout=self.timing.timeout,
        )

    def reviewed(self, context, event: dict[str, Any] | None = None):
        """The reviewed task has finished: ask the approvers if it succeeded, else end as it did.

        Its failure is final (a retry would only find the same failure); skipped (a step this run
        did not select) skips the gate."""
        status = (event or {}).get("status")
        if status == "skipped":
            raise AirflowSkipException(f"{self.ticket_key}: {self.reviews[1]} was skipped: nothing to review")
        if status != "success":
            raise AirflowFailException(
                f"{self.ticket_key}: {self.reviews[1]} ended {status or 'without a state'}: "
                f"gate {self.gate} is not asked"
            )
        brief = self._brief()
        self.subject, self.body = brief.subject, brief.body
        return super().execute(context)

    def _push(self, context, decision: GateDecision) -> None:
        context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=decision.model_dump(mode="json"))

    def execute_complete(self, context, event: dict[str, Any]):
        """Take the answer, or refuse it and ask again (docs/architecture.md §5: answers checked when given)."""
        if "error" in event:
            decision = GateDecision(
                gate=self.gate, approved=False, outcome="timeout", at=datetime.now(UTC), reason=str(event.get("error"))
            )
            self._push(context, decision)  # record_outcome records it (audit log, ticket comment)
            return super().execute_complete(context, event)
        decision = self._decision(event)
        self._push(context, decision)  # before the checks: a sibling answered at the same time then sees it
        problems = self._problems(context, decision, event)
        if problems:
            context["ti"].xcom_push(key=DECISION_XCOM_KEY, value=None)  # withdrawn: the gate is asked again
            return self._refuse(context, decision, problems)
        return super().execute_complete(context, event)

    def _decision(self, event: dict[str, Any]) -> GateDecision:
        user = event.get("responded_by_user") or {}
        params = event.get("params_input") or {}
        approved = event["chosen_options"] == [self.APPROVE]
        responded_at = event.get("responded_at")
        return GateDecision(
            gate=self.gate,
            approved=approved,
            outcome="approved" if approved else "rejected",
            user_id=responder_name(user),
            user_name=user.get("name"),
            at=responded_at if isinstance(responded_at, datetime) else None,
            reason=str(params.get("reason") or ""),
            evidence=str(params.get("evidence") or ""),
            inputs={name: params[name] for name in self.extra_param_names if name in params},
        )

    def _problems(self, context, decision: GateDecision, event: dict[str, Any]) -> list[str]:
        """What is wrong with this answer: first its fit to the gate's form, then the lifecycle's rules."""
        try:
            self.validate_chosen_options(event["chosen_options"])
            self.validate_params_input(event.get("params_input") or {})
        except ValueError as exc:
            return [f"the answer does not fit the gate's form: {exc}"]
        siblings = exclusive_siblings(self.gate, list(self.dag.task_ids))
        return answer_problems(
            decision,
            drafter=(context["dag_run"].conf or {}).get("drafter") or None,
            siblings=read_decisions(context, self.ticket_key, siblings),
            approval_blocked=self._brief().approval_blocked if decision.approved else None,
        )

    def _refuse(self, context, decision: GateDecision, problems: list[str]):
        """Record the refusal (task log, audit log, XCom `refusals`) and ask the gate again."""
        ti = context["ti"]
        refusal = {"user": decision.user_id, "approved": decision.approved, "problems": problems}
        refusals = list(ti.xcom_pull(task_ids=self.gate, key=REFUSALS_XCOM_KEY, map_indexes=-1) or [])
        ti.xcom_push(key=REFUSALS_XCOM_KEY, value=[*refusals, refusal])
        self.log.warning("%s: answer to %s by %s refused: %s", self.ticket_key, self.gate, decision.user_id, problems)
        self._audit("answer-refused", decision.user_id, {"approved": decision.approved, "problems": problems})
        return AssignedApproval.execute(self, context)  # the same request, its response cleared: asked again

    def _brief(self):
        from include.itsm.airflow.runtime import task_context
        from include.itsm.steps.registry import service

        return service(self.step).brief(task_context(customer_id=self.customer_id), self.ticket_key, self.gate)

    def _audit(self, action: str, user: str | None, detail: dict) -> None:
        from include.itsm.airflow.runtime import task_context

        ctx = task_context(customer_id=self.customer_id)
        ctx.evidence.audit(
            self.ticket_key,
            actor=f"user:{user}",
            action=action,
            step=self.step,
            run_id=ctx.run_id,
            detail={"gate": self.gate, **detail},
        )


def read_refusals(context, key: str, gates: list[str]) -> dict[str, list[dict]]:
    """Answers the gates refused in this lifecycle run's approvals run: gate -> [{user, approved, problems}]."""
    ti, refusals = context["ti"], {}
    for gate in gates:
        raw = ti.xcom_pull(
            dag_id=approvals_dag_id(key), task_ids=gate, key=REFUSALS_XCOM_KEY, run_id=context["run_id"], map_indexes=-1
        )
        if raw:
            refusals[gate] = list(raw)
    return refusals


def read_decisions(context, key: str, gates: list[str]) -> dict[str, GateDecision]:
    """Decisions already taken on `gates` in this lifecycle run's approvals run (same run id)."""
    ti = context["ti"]
    decisions = {}
    for gate in gates:
        raw = ti.xcom_pull(
            dag_id=approvals_dag_id(key), task_ids=gate, key=DECISION_XCOM_KEY, run_id=context["run_id"], map_indexes=-1
        )
        if raw:
            decisions[gate] = GateDecision.model_validate(raw)
    return decisions
