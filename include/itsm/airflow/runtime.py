"""Building a RunContext inside an Airflow task: the run id, the mode and who acts."""

from __future__ import annotations

from include.itsm.application.context import RunContext
from include.itsm.config import settings


def task_context(execute: bool = False, customer_id: str | None = None) -> RunContext:
    """The current task's RunContext; evidence lands under this DAG run's id."""
    from airflow.sdk import get_current_context

    context = get_current_context()
    current = settings()
    return RunContext(settings=current, run_id=context["run_id"], customer=current.customer(customer_id),
                      execute=execute, actor=f"system:{context['dag'].dag_id}")
