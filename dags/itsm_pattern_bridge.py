"""Pattern bridge (OPS -> SPM): daily, and at once when the sweep classifies a P0.

Wiring only: the logic is `include.itsm.bridge.service`. `detect` drafts scrubbed stories
and `report` writes the daily report; with `execute` the `stories` approval gate (Airflow
Human-in-the-loop, `fail_on_reject=True`, `retries=0`) stands before `create_stories`, which
creates each SPM story once (idempotent per pattern) and links it to its incidents.

Schedule: the daily cron OR the asset `itsm://p0-classified` (a P0 must not wait for the
night); the sweep emits that asset event when it classifies a P0.
One bridge per customer, named like the sweeps: `itsm_pattern_bridge` with one customer,
`itsm_pattern_bridge__<id>` each when the configuration has several; each reads its customer's
board and writes that customer's report and stories only.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from include.itsm.airflow.approvers import AssignedApproval
from include.itsm.airflow.assets import P0_CLASSIFIED
from include.itsm.config import settings
from include.itsm.tenancy import dag_ids_per_customer

BRIDGE_SCHEDULE = "0 14 * * *"  # daily, UTC, one hour after the nightly sweep
APPROVERS = list(settings().policy.change.approvers.stories)


def bridge_dag(dag_id: str, customer_id: str):
    """The pattern bridge of one customer (its board, evidence root, report and SPM stories)."""

    @dag(
        dag_id=dag_id,
        schedule=AssetOrTimeSchedule(
            timetable=CronTriggerTimetable(BRIDGE_SCHEDULE, timezone="UTC"), assets=P0_CLASSIFIED
        ),
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        max_active_runs=1,
        is_paused_upon_creation=False,
        tags=["itsm", "bridge", "spm"],
        default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True},
        params={
            "execute": Param(
                False, type="boolean", description="after the `stories` approval, create the drafted stories in SPM"
            )
        },
        doc_md=__doc__,
    )
    def itsm_pattern_bridge():
        @task
        def detect() -> dict:
            from include.itsm.airflow.runtime import task_context
            from include.itsm.bridge.service import detect_and_draft

            run = detect_and_draft(task_context(customer_id=customer_id))
            return {
                "drafts": len(run.drafts),
                "titles": [f"{d.pattern_id}: {d.title}" for d in run.drafts],
                "new": [d.pattern_id for d in run.drafts if d.pattern_id not in run.story_keys],
            }

        @task
        def report() -> dict:
            from include.itsm.airflow.runtime import task_context
            from include.itsm.bridge.service import write_report

            written = write_report(task_context(customer_id=customer_id))
            return {"date": written.date, "points": len(written.points)}

        @task.short_circuit
        def stories_wanted(found: dict, params=None) -> bool:
            """Skip the gate and creation in preview runs and when nothing was drafted."""
            return bool(params["execute"]) and found["drafts"] > 0

        stories = AssignedApproval(
            task_id="stories",
            subject="Pattern bridge: create the drafted SPM stories?",
            body="Drafted (PII-scrubbed) stories of run {{ run_id }}:\n\n"
            "{% for t in ti.xcom_pull(task_ids='detect')['titles'] %}- {{ t }}\n{% endfor %}\n"
            "Drafts and their Markdown are in the evidence store under _bridge/{{ run_id }}/.",
            approvers=APPROVERS,
            fail_on_reject=True,
            retries=0,
        )

        @task
        def create_stories() -> dict:
            from include.itsm.airflow.runtime import task_context
            from include.itsm.bridge.service import create_stories as create

            result = create(task_context(execute=True, customer_id=customer_id))
            return {
                "stories": {o.pattern_id: o.story_key for o in result.outcomes},
                "created": [o.story_key for o in result.outcomes if o.created],
            }

        @task(task_id="report_created")
        def report_created() -> dict:
            from include.itsm.airflow.runtime import task_context
            from include.itsm.bridge.service import write_report

            written = write_report(task_context(execute=True, customer_id=customer_id))
            return {"date": written.date, "points": len(written.points)}

        found = detect()
        found >> report()
        stories_wanted(found) >> stories >> create_stories() >> report_created()

    return itsm_pattern_bridge()


for _dag_id, _customer_id in dag_ids_per_customer(settings(), "itsm_pattern_bridge"):
    bridge_dag(_dag_id, _customer_id)
