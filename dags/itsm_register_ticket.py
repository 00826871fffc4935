"""Register one ticket for its lifecycle run: what `itsm lifecycle KEY --execute` triggers first.

Wiring only: the logic is `include.itsm.lifecycle.run.register`. The task runs on a worker, so the
manifest it adds the ticket to is the one the DAG processor reads (`runtime.manifest_path`) and the
triage of a ticket never classified uses the deployment's connections, wherever the CLI runs. One
per customer: `itsm_register_ticket` with one customer, `itsm_register_ticket__<id>` each with several.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from include.itsm.config import settings
from include.itsm.core.ticket import TICKET_KEY_PATTERN
from include.itsm.lifecycle.plan import REGISTER_DAG, REGISTER_TASK
from include.itsm.tenancy import dag_ids_per_customer


def register_dag(dag_id: str, customer_id: str):
    @dag(
        dag_id=dag_id,
        schedule=None,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=4,
        is_paused_upon_creation=False,
        tags=["itsm", "lifecycle"],
        params={
            "key": Param(
                "OPS-1", type="string", pattern=TICKET_KEY_PATTERN.pattern, description="the ticket to register"
            ),
            "steps": Param(
                None, type=["null", "array"], items={"type": "string"}, description="the steps its run will select"
            ),
        },
        doc_md=__doc__,
    )
    def itsm_register_ticket():
        @task(task_id=REGISTER_TASK, retries=2, retry_delay=timedelta(seconds=10))
        def register(**context) -> dict:
            from include.itsm.airflow.lifecycle_tasks import register_ticket

            return register_ticket(customer_id, **context)

        register()

    return itsm_register_ticket()


for _dag_id, _customer_id in dag_ids_per_customer(settings(), REGISTER_DAG):
    register_dag(_dag_id, _customer_id)
