"""Nightly sweep: one org-wide discovery, then steps 1-3 for every open OPS ticket, in batches.

Wiring only: the logic is `include.itsm.sweep`. Batches are mapped tasks (never
one task per ticket); a bad ticket is reported in the summary and never fails its batch. A P0
emits the `itsm://p0-classified` asset, on which the pattern bridge is also scheduled.
One sweep per customer: `itsm_nightly_sweep` with one customer, `itsm_nightly_sweep__<id>` each
when the configuration has several.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Param, dag, task

from include.itsm.airflow.assets import P0_CLASSIFIED
from include.itsm.config import settings
from include.itsm.tenancy import dag_ids_per_customer

SETTINGS = settings()
RUNTIME = SETTINGS.runtime


def sweep_dag(dag_id: str, customer_id: str):
    """The sweep of one customer (its connections, account org, project and evidence)."""

    @dag(
        dag_id=dag_id,
        schedule=RUNTIME.sweep_schedule,
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=["itsm", "sweep"],
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True},
        params={
            "execute": Param(
                RUNTIME.annotations_enabled,
                type="boolean",
                description="write the ITSM assessment comment on each ticket (labels never: they wait for the labels gate)",
            ),
            "max_tickets": Param(None, type=["null", "integer"], minimum=1, description="stop after this many tickets"),
            "jql": Param(None, type=["null", "string"], description="extra JQL to narrow the open OPS tickets"),
        },
        doc_md=__doc__,
    )
    def itsm_nightly_sweep():
        @task
        def fetch_open_tickets(params=None) -> list[dict]:
            """One search for every open ticket, stored in batches; XCom carries only batch names and keys."""
            from include.itsm.airflow.runtime import task_context
            from include.itsm.sweep import fetch_open_tickets as fetch

            return fetch(task_context(customer_id=customer_id), params["jql"], params["max_tickets"])

        @task
        def discover_org() -> dict:
            from include.itsm.airflow.runtime import task_context
            from include.itsm.sweep import snapshot_summary

            return snapshot_summary(task_context(customer_id=customer_id))

        @task(max_active_tis_per_dagrun=4)
        def assess_batch(batch: dict, snapshot: dict, params=None) -> list[dict]:
            from include.itsm.airflow.runtime import task_context
            from include.itsm.sweep import assess_batch as run_batch

            ctx = task_context(execute=params["execute"], customer_id=customer_id)
            return run_batch(ctx, batch, snapshot["run_id"], annotate=params["execute"])

        @task(trigger_rule="all_done")
        def summarize(outcomes, snapshot: dict, fetched: list[dict], params=None) -> dict:
            from include.itsm.airflow.runtime import task_context
            from include.itsm.sweep import open_keys
            from include.itsm.sweep import summarize as write_summary

            flat = [outcome for batch in (outcomes or []) for outcome in batch]
            summary = write_summary(
                task_context(customer_id=customer_id),
                flat,
                snapshot or {},
                open_keys(fetched),
                complete=not params["jql"] and not params["max_tickets"],
            )
            return {"tickets": summary.tickets, "succeeded": summary.succeeded, "failed": summary.failed}

        @task(outlets=[P0_CLASSIFIED])
        def signal_p0(outcomes) -> list[str]:
            """A P0 does not wait for the daily bridge: emit the asset its DAG is scheduled on."""
            from airflow.sdk import get_current_context
            from airflow.sdk.exceptions import AirflowSkipException

            keys = [o["key"] for batch in outcomes for o in batch if o.get("priority") == "P0"]
            if not keys:
                raise AirflowSkipException("no P0 classified in this sweep")
            get_current_context()["outlet_events"][P0_CLASSIFIED].extra = {"keys": keys}
            return keys

        fetched = fetch_open_tickets()
        snapshot = discover_org()
        outcomes = assess_batch.partial(snapshot=snapshot).expand(batch=fetched)
        summarize(outcomes, snapshot, fetched)
        signal_p0(outcomes)

    return itsm_nightly_sweep()


for _dag_id, _customer_id in dag_ids_per_customer(SETTINGS, "itsm_nightly_sweep"):
    sweep_dag(_dag_id, _customer_id)
