"""Building a RunContext inside an Airflow task: the run id, its as-of time, the mode, who acts."""

from __future__ import annotations

from include.itsm.config import settings
from include.itsm.context import RunContext


def task_context(execute: bool = False, customer_id: str | None = None) -> RunContext:
    """The current task's RunContext for the ticket's customer; evidence lands under this DAG run's id.

    `as_of` is the run's logical date (a run without one: its run-after time), so a re-run of the same
    run computes the same windows and periods. The actor is the Airflow user who triggered the run
    (the drafter, for separation of duties), or `system:<dag_id>` for scheduled and system-triggered runs.
    """
    from airflow.sdk import get_current_context
    from include.itsm.wiring import run_context

    context = get_current_context()
    dag_run = context["dag_run"]
    user = getattr(dag_run, "triggering_user_name", None)
    return run_context(
        settings(),
        context["run_id"],
        customer_id,
        execute=execute,
        actor=f"user:{user}" if user else f"system:{context['dag'].dag_id}",
        as_of=context.get("logical_date") or dag_run.run_after,
    )
