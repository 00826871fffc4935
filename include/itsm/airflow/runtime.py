"""Building a RunContext inside an Airflow task: the run id, the mode and who acts."""

from __future__ import annotations

from include.itsm.application.context import RunContext
from include.itsm.config import settings


def task_context(execute: bool = False, customer_id: str | None = None) -> RunContext:
    """The current task's RunContext; evidence lands under this DAG run's id.

    The actor is the Airflow user who triggered the run (the drafter, for separation of
    duties), or `system:<dag_id>` for scheduled and system-triggered runs.
    """
    from airflow.sdk import get_current_context

    context = get_current_context()
    current = settings()
    user = getattr(context["dag_run"], "triggering_user_name", None)
    actor = f"user:{user}" if user else f"system:{context['dag'].dag_id}"
    return RunContext(settings=current, run_id=context["run_id"], customer=current.customer(customer_id),
                      execute=execute, actor=actor)
