"""Build the per-ticket DAG pair: `itsm_lifecycle__<KEY>` and `itsm_approvals__<KEY>`.

The lifecycle runs the ticket's steps in order; after each step, a deferrable
ExternalTaskSensor waits on the matching approval task of the approvals run (same logical
date, same run id), and only then does the step's apply task write what the gate unlocks.
Each approval task in turn opens only once the lifecycle task whose artifact it reviews has
finished (it waits deferred first), so approvers always see finished evidence and a failure
anywhere ends both runs.

docs/architecture.md §9's traps are handled here: explicit logical dates (checked in `start`),
`fail_on_reject=True` with `retries=0` on approvals, sensors listing the failed states, never
paused at creation, one lifecycle run per ticket at a time.

The pairs are spread over `LIFECYCLE_FILES` DAG files (dags/itsm_ticket_lifecycle_<n>.py): the DAG
processor serializes about 35 DAGs a second, so a thousand open tickets in one file would run past
its 50 s `dag_file_processor_timeout`; in four files each stays under 20 s, and they parse in parallel.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import zlib
from datetime import timedelta

import pendulum

from airflow.providers.standard.exceptions import ExternalDagFailedError
from airflow.providers.standard.operators.python import PythonOperator
from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator
from airflow.providers.standard.sensors.external_task import ExternalTaskSensor
from airflow.sdk import DAG, BaseOperator, Param, chain, get_parsing_context
from airflow.sdk.definitions.param import ParamsDict
from airflow.sdk.exceptions import AirflowFailException
from include.itsm.airflow.gates import AWAITED_STATES, GateApproval, GateTiming
from include.itsm.airflow.notices import gate_notifiers
from include.itsm.config import GateNotices, settings
from include.itsm.lifecycle.manifest import read_manifest
from include.itsm.lifecycle.plan import ALL_STEPS, Plan, approvals_dag_id, approvers, lifecycle_dag_id, plan_for

START_DATE = pendulum.datetime(2026, 1, 1, tz="UTC")
# A step's gate waits and apply tasks run only after something before them succeeded: a step the run
# did not select skips them at once (instead of each wait first seeing its approval skipped, one by
# one); the next step's task (none_failed) still runs and decides for itself.
AFTER_ITS_STEP = "none_failed_min_one_success"
TASK_DEFAULTS = {"retries": 2, "retry_delay": timedelta(seconds=20)}


class _Wait(ExternalTaskSensor):
    """An ExternalTaskSensor for which the awaited task's failure is final.

    A retry would only wait again for the same failed task. When a run ends, a burst of such
    retries (every waiting gate at once) is what exposes Airflow 3.3's stale-executor-event
    race: the scheduler then fails to save a task instance and exits.
    """

    def execute_complete(self, context, event=None) -> None:
        try:
            super().execute_complete(context, event)
        except ExternalDagFailedError as exc:
            raise AirflowFailException(str(exc)) from exc


def _sensor(
    task_id: str, external_dag_id: str, external_task_id: str, timing: GateTiming, **kwargs
) -> ExternalTaskSensor:
    return _Wait(
        task_id=task_id,
        external_dag_id=external_dag_id,
        external_task_id=external_task_id,
        **AWAITED_STATES,
        deferrable=True,
        poke_interval=timing.poke_seconds,
        timeout=timing.timeout.total_seconds(),
        **kwargs,
    )


def gate_form(gate: str) -> dict[str, Param] | None:
    """Extra entry-form fields of a gate: only the pir gate asks people for the PIR's content."""
    if gate != "pir":
        return None
    return {
        "whys": Param(
            "",
            type="string",
            format="multiline",
            title="5 Whys (one per line; prefix the 5th with 'process:' or 'system:')",
        ),
        "root_cause": Param("", type="string", title="Root cause (concise statement)"),
        "rca": Param(
            "", type="string", title="rca label (code-defect, config-drift, infra-failure, human-error, 3rd-party)"
        ),
        "action_items": Param(
            "", type="string", format="multiline", title="Action items (one per line: action | owner | YYYY-MM-DD)"
        ),
    }


@functools.cache
def _configured_dag_args() -> dict:
    """The DAG arguments Airflow reads from its configuration when a DAG leaves them out.

    Read for every DAG, they were over half the cost of building one (2 DAGs per ticket). Read
    once per process (the configuration is fixed while Airflow runs), every DAG still gets them.
    """
    from airflow.sdk.configuration import conf

    return {
        "max_active_tasks": conf.getint("core", "max_active_tasks_per_dag"),
        "max_active_runs": conf.getint("core", "max_active_runs_per_dag"),
        "max_consecutive_failed_dag_runs": conf.getint("core", "max_consecutive_failed_dag_runs_per_dag"),
        "disable_bundle_versioning": conf.getboolean("dag_processor", "disable_bundle_versioning"),
    }


def _dag(**kwargs) -> DAG:
    """One DAG of the pair: runs only when triggered, never paused at creation, TASK_DEFAULTS for its tasks."""
    return DAG(
        schedule=None,
        start_date=START_DATE,
        catchup=False,
        is_paused_upon_creation=False,
        default_args=TASK_DEFAULTS,
        **(_configured_dag_args() | kwargs),
    )


def _add_tasks(dag: DAG, tasks: list[BaseOperator]) -> None:
    """Add tasks built outside the DAG's context; each gets the DAG's params, as Airflow gives them.

    Inside `with DAG(...)`, every level of every operator's constructor (up to 4 levels, ~30
    operators per ticket) copies the DAG's default_args and deep-copies its params. Built outside,
    a task gets the same defaults from `_placed(dag)`, and the DAG params once here, shared
    instead of copied (the lifecycle's tasks declare no params of their own).
    """
    inherited = {name: copy.copy(param) for name, param in dag.params.items()}  # once per DAG, not per task
    for task in tasks:
        if inherited:
            if task.params:
                raise ValueError(f"{task.task_id}: lifecycle tasks take the DAG's params only")
            task.params = ParamsDict(inherited)
            task.params._fill_missing_param_source("dag")
        dag.add_task(task)


def _placed(dag: DAG) -> dict:
    """What a task built outside `dag`'s context needs to be placed as if built inside it."""
    return {"task_group": dag.task_group, "default_args": dag.default_args}


LIFECYCLE_FILES = 4  # dags/itsm_ticket_lifecycle_0.py .. _3.py


def file_of(key: str) -> int:
    """Which lifecycle DAG file holds a ticket's pair: the same in every process and run."""
    return zlib.crc32(key.encode()) % LIFECYCLE_FILES


def add_manifest_dags(namespace: dict, file_index: int) -> None:
    """Build the DAG pairs of the manifest's tickets that belong to DAG file `file_index` into
    `namespace` (that file's globals).

    The manifest (written by the nightly sweep and by the register task) is a local file, or an S3
    object read through this process's copy of at most `runtime.manifest_refresh_seconds` ago: no DB,
    and no network on most parses. A worker parsing the file to run one task builds only that task's
    pair, from a fresh read if its copy predates the ticket."""
    config = settings()
    timing = GateTiming.from_runtime(config.runtime)
    wanted = get_parsing_context().dag_id  # None when the DAG processor parses everything
    notices_of = functools.cache(lambda customer_id: config.customer(customer_id).notices)  # once per customer
    manifest = read_manifest(config.runtime.manifest_path, config.runtime.manifest_refresh_seconds)
    if wanted and not any(wanted in (lifecycle_dag_id(k), approvals_dag_id(k)) for k in manifest.tickets):
        manifest = read_manifest(config.runtime.manifest_path)
    with gc_paused():  # every object built here is kept: collector passes would find nothing
        for entry in manifest.tickets.values():
            if not entry.ticket_type or file_of(entry.key) != file_index:
                continue
            lifecycle_id, approvals_id = lifecycle_dag_id(entry.key), approvals_dag_id(entry.key)
            if wanted and wanted not in (lifecycle_id, approvals_id):
                continue
            plan = plan_for(entry.key, entry.ticket_type, entry.change_type)
            namespace[lifecycle_id] = build_lifecycle_dag(plan, entry.summary, timing, entry.customer)
            namespace[approvals_id] = build_approvals_dag(
                plan, entry.summary, timing, config.policy.change, entry.customer, notices_of(entry.customer)
            )


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while the DAG pairs are built.

    Building keeps what it makes (the DAGs), so the collector finds next to nothing to free
    (130 objects for 1,000 tickets), yet each of its full passes walks the whole growing heap:
    20% to 40% of parsing the 1,000-ticket manifest. Reference counting frees memory as usual;
    the collector's state is restored afterwards.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def build_lifecycle_dag(plan: Plan, summary: str, timing: GateTiming, customer: str | None = None) -> DAG:
    """The ticket's lifecycle; every task works for `customer` (None: the first configured)."""
    key = plan.key
    from include.itsm.airflow import lifecycle_tasks as tasks

    dag = _dag(
        dag_id=lifecycle_dag_id(key),
        description=f"{key}: {summary}"[:200],
        max_active_runs=1,
        tags=["itsm", "lifecycle", plan.ticket_type],
        doc_md=f"Lifecycle of **{key}** ({plan.ticket_type}{'/' + plan.change_type if plan.change_type else ''}).",
        params={
            "steps": Param(
                plan.default_steps,
                type="array",
                items={"type": "string", "enum": list(ALL_STEPS)},
                examples=list(plan.default_steps),
                title="Steps",
                description=f"lifecycle steps to run (a {plan.ticket_type} has: {', '.join(plan.steps)})",
            ),
            "execute": Param(
                False,
                type="boolean",
                title="Execute",
                description="apply changes to Jira/AWS after each gate's approval (default: preview)",
            ),
            "reason": Param("", type="string", title="Reason", description="why this run (recorded in the audit log)"),
        },
    )
    placed = _placed(dag)
    approvals_id = approvals_dag_id(key)
    applied = {}  # apply task -> the gates it applies (consecutive in the plan); it runs after the last
    for gate in plan.gates:
        if gate.apply_task:
            applied.setdefault(gate.apply_task, []).append(gate.name)
    ordered = [  # the run's tasks, each downstream of the one before
        PythonOperator(
            task_id="start",
            python_callable=tasks.start,
            op_kwargs={"plan": plan.model_dump(), "customer": customer},
            **placed,
        ),
        TriggerDagRunOperator(
            task_id="trigger_approvals",
            trigger_dag_id=approvals_id,
            trigger_run_id="{{ run_id }}",
            logical_date="{{ logical_date }}",
            conf={"lifecycle_run_id": "{{ run_id }}", "drafter": "{{ dag_run.triggering_user_name or '' }}"},
            wait_for_completion=False,
            skip_when_already_exists=True,
            **placed,
        ),
    ]
    for step in plan.steps:
        ordered.append(
            PythonOperator(
                task_id=step,
                python_callable=tasks.run_step,
                trigger_rule="none_failed",
                op_kwargs={"key": key, "step": step, "customer": customer},
                **placed,
            )
        )
        for gate in (g for g in plan.gates if g.step == step):
            ordered.append(
                _sensor(f"gate_{gate.name}", approvals_id, gate.name, timing, trigger_rule=AFTER_ITS_STEP, **placed)
            )
            if gate.apply_task and applied[gate.apply_task][-1] == gate.name:
                ordered.append(
                    PythonOperator(
                        task_id=gate.apply_task,
                        python_callable=tasks.apply_gate,
                        trigger_rule=AFTER_ITS_STEP,
                        op_kwargs={
                            "key": key,
                            "step": step,
                            "gate": gate.name,
                            "gates": applied[gate.apply_task],
                            "customer": customer,
                        },
                        **placed,
                    )
                )
    ordered.append(
        PythonOperator(
            task_id="record_outcome",
            python_callable=tasks.record_outcome,
            trigger_rule="all_done",
            retries=2,
            op_kwargs={"key": key, "gates": [g.name for g in plan.gates], "customer": customer},
            **placed,
        )
    )
    _add_tasks(dag, ordered)
    chain(*ordered)
    return dag


def build_approvals_dag(
    plan: Plan,
    summary: str,
    timing: GateTiming,
    policy_change,
    customer: str | None = None,
    notices: GateNotices | None = None,
) -> DAG:
    """The ticket's gates, each telling its approvers through `notices` (the customer's channel) when it asks."""
    key = plan.key
    dag = _dag(
        dag_id=approvals_dag_id(key),
        description=f"{key} approvals: {summary}"[:200],
        tags=["itsm", "approvals", plan.ticket_type],
        doc_md=f"Human gates of **{key}**, triggered by its lifecycle run with the same logical date and run id.",
    )
    placed = _placed(dag)
    lifecycle_id = lifecycle_dag_id(key)
    notifiers = gate_notifiers(notices or GateNotices(), customer)
    _add_tasks(
        dag,
        [
            GateApproval(
                ticket_key=key,
                gate=gate.name,
                step=gate.step,
                approvers=approvers(policy_change, gate),
                reviews=(lifecycle_id, gate.reviews_task),
                timing=timing,
                extra_params=gate_form(gate.name),
                customer_id=customer,
                notifiers=notifiers,
                **placed,
            )
            for gate in plan.gates
        ],
    )
    return dag
