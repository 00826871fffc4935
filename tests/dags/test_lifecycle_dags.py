"""The generated DAG pair's shape: the Airflow traps of docs/architecture.md §9 stay closed."""

from datetime import timedelta

import pendulum
import pytest
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.providers.standard.triggers.external_task import WorkflowTrigger
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException, TaskDeferred

from include.itsm.airflow.gates import GateApproval, GateTiming
from include.itsm.airflow.lifecycle_dags import _sensor, build_approvals_dag, build_lifecycle_dag
from include.itsm.core.change_policy import ChangePolicy
from include.itsm.lifecycle.plan import plan_for

PLAN = plan_for("OPS-180", "change", "normal")


@pytest.fixture(scope="module")
def pair():
    timing = GateTiming(timeout=timedelta(hours=1), poke_seconds=2)
    return build_lifecycle_dag(PLAN, "scheduler", timing), build_approvals_dag(
        PLAN, "scheduler", timing, ChangePolicy()
    )


def test_dag_ids_and_never_paused(pair):
    lifecycle, approvals = pair
    assert (lifecycle.dag_id, approvals.dag_id) == ("itsm_lifecycle__OPS-180", "itsm_approvals__OPS-180")
    assert lifecycle.is_paused_upon_creation is False and approvals.is_paused_upon_creation is False
    assert lifecycle.max_active_runs == 1


def test_the_approvals_run_shares_run_id_and_logical_date(pair):
    trigger = pair[0].get_task("trigger_approvals")
    assert isinstance(trigger, TriggerDagRunOperator)
    assert (trigger.trigger_run_id, trigger.logical_date) == ("{{ run_id }}", "{{ logical_date }}")


def test_every_gate_is_a_failing_approval_waited_on_by_a_deferrable_sensor(pair):
    lifecycle, approvals = pair
    for gate in PLAN.gates:
        approval = approvals.get_task(gate.name)
        assert isinstance(approval, GateApproval)
        assert approval.fail_on_reject is True and approval.retries == 0
        sensor = lifecycle.get_task(f"gate_{gate.name}")
        assert isinstance(sensor, ExternalTaskSensor) and sensor.deferrable
        assert (sensor.external_dag_id, sensor.external_task_id) == (approvals.dag_id, gate.name)
        assert {"failed", "upstream_failed"} <= set(sensor.failed_states)


def test_labels_are_applied_only_downstream_of_their_gate(pair):
    lifecycle, _ = pair
    apply_labels = lifecycle.get_task("apply_labels")
    assert "gate_labels" in apply_labels.upstream_task_ids
    assert "apply_labels" in lifecycle.get_task("cross-validate").upstream_task_ids


def test_approvers_are_assigned_from_configuration(pair):
    _, approvals = pair
    assert approvals.get_task("go_no_go_business").assigned_users == [{"id": "cfo-delegate", "name": "cfo-delegate"}]


def test_each_approval_reviews_its_lifecycle_task_without_a_sensor_of_its_own(pair):
    lifecycle, approvals = pair
    assert {task.task_id for task in approvals.tasks} == {gate.name for gate in PLAN.gates}
    assert approvals.get_task("cab_1").reviews == (lifecycle.dag_id, "apply_change")
    assert approvals.get_task("cab_2").reviews == (lifecycle.dag_id, "apply_change")  # opens with cab_1
    assert approvals.get_task("go_no_go_security").reviews == (lifecycle.dag_id, "decide")
    assert all(not task.upstream_task_ids for task in approvals.tasks)


def test_an_approval_first_waits_deferred_for_the_task_it_reviews(pair):
    approval = pair[1].get_task("labels")
    logical_date = pendulum.datetime(2026, 11, 27)
    with pytest.raises(TaskDeferred) as deferred:
        approval.execute({"logical_date": logical_date})
    trigger = deferred.value.trigger
    assert isinstance(trigger, WorkflowTrigger) and deferred.value.method_name == "reviewed"
    assert (trigger.external_dag_id, list(trigger.external_task_ids), trigger.logical_dates) == (
        "itsm_lifecycle__OPS-180",
        ["classify"],
        [logical_date],
    )
    assert "failed" in trigger.failed_states and "skipped" in trigger.skipped_states
    assert deferred.value.timeout == timedelta(hours=1)


def test_an_approval_whose_reviewed_task_did_not_succeed_is_never_asked(pair):
    approval = pair[1].get_task("labels")
    with pytest.raises(AirflowSkipException):  # the step was not selected in this run
        approval.reviewed({}, {"status": "skipped"})
    with pytest.raises(AirflowFailException, match="classify ended failed"):  # final: no retry, no vote
        approval.reviewed({}, {"status": "failed"})


def test_step_param_defaults_to_the_ticket_types_steps(pair):
    params = pair[0].params
    assert params["steps"] == PLAN.steps and params["execute"] is False


def test_a_gate_wait_whose_awaited_task_failed_fails_without_retrying() -> None:
    wait = _sensor("ready_labels", "itsm_lifecycle__OPS-1", "classify", GateTiming(timedelta(hours=1), 5))
    context = {"logical_date": pendulum.datetime(2026, 11, 27)}
    wait.execute_complete(context, {"status": "success"})  # the awaited task succeeded: go on
    with pytest.raises(AirflowFailException):  # failed: final, a retry would wait for the same failure
        wait.execute_complete(context, {"status": "failed"})


def test_the_form_asks_only_for_what_the_gate_needs(pair):
    """Reason and evidence are optional in the form (the answer checks say when one is missing);
    only Engineering's go/no-go asks for evidence, only the pir gate for the PIR's content."""
    _, approvals = pair
    for gate in PLAN.gates:
        fields = approvals.get_task(gate.name).serialized_params
        expected = {"reason", "evidence"} if gate.name == "go_no_go_engineering" else {"reason"}
        assert set(fields) == expected, gate.name
        assert all("null" in spec["schema"]["type"] for spec in fields.values()), gate.name


def test_the_approvals_run_knows_the_drafter(pair):
    conf = pair[0].get_task("trigger_approvals").conf
    assert conf["drafter"] == "{{ dag_run.triggering_user_name or '' }}"
