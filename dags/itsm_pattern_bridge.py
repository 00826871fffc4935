"""Pattern bridge (OPS -> SPM): daily, and at once when the sweep classifies a P0.

Wiring only: the logic is `include.itsm.application.bridge`. `detect` drafts scrubbed stories
and `report` writes the daily report; with `execute` the `stories` approval gate (Airflow
Human-in-the-loop, `fail_on_reject=True`, `retries=0`) stands before `create_stories`, which
creates each SPM story once (idempotent per pattern) and links it to its incidents.

Schedule: the daily cron OR the asset `itsm://p0-classified` (a P0 must not wait for the
night); the sweep emits that asset event when it classifies a P0.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.providers.standard.operators.hitl import ApprovalOperator
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, task

from include.itsm.airflow.assets import P0_CLASSIFIED
from include.itsm.config import settings

BRIDGE_SCHEDULE = "0 14 * * *"  # daily, UTC, one hour after the nightly sweep
APPROVERS = list(settings().policy.change.approvers.stories)


@dag(
    dag_id="itsm_pattern_bridge",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable(BRIDGE_SCHEDULE, timezone="UTC"),
                                 assets=P0_CLASSIFIED),  # fmt: skip
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    tags=["itsm", "bridge", "spm"],
    default_args={"retries": 2, "retry_delay": timedelta(seconds=30), "retry_exponential_backoff": True},
    params={"execute": Param(False, type="boolean",
                             description="after the `stories` approval, create the drafted stories in SPM")},
    doc_md=__doc__,
)
def itsm_pattern_bridge():
    @task
    def detect() -> dict:
        from include.itsm.airflow.runtime import task_context
        from include.itsm.application.bridge import detect_and_draft

        run = detect_and_draft(task_context())
        return {"drafts": len(run.drafts), "titles": [f"{d.pattern_id}: {d.title}" for d in run.drafts],
                "new": [d.pattern_id for d in run.drafts if d.pattern_id not in run.story_keys]}  # fmt: skip

    @task
    def report() -> dict:
        from include.itsm.airflow.runtime import task_context
        from include.itsm.application.bridge import write_report

        written = write_report(task_context())
        return {"date": written.date, "points": len(written.points)}

    @task.short_circuit
    def stories_wanted(found: dict, params=None) -> bool:
        """Skip the gate and creation in preview runs and when nothing was drafted."""
        return bool(params["execute"]) and found["drafts"] > 0

    gate = ApprovalOperator(
        task_id="stories",
        subject="Pattern bridge: create the drafted SPM stories?",
        body="Drafted (PII-scrubbed) stories of run {{ run_id }}:\n\n"
             "{% for t in ti.xcom_pull(task_ids='detect')['titles'] %}- {{ t }}\n{% endfor %}\n"
             "Drafts and their Markdown are in the evidence store under _bridge/{{ run_id }}/.",
        assigned_users=[{"id": user, "name": user} for user in APPROVERS] or None,
        fail_on_reject=True,
        retries=0,
    )  # fmt: skip

    @task
    def create_stories() -> dict:
        from include.itsm.airflow.runtime import task_context
        from include.itsm.application.bridge import create_stories as create

        result = create(task_context(execute=True))
        return {"stories": {o.pattern_id: o.story_key for o in result.outcomes},
                "created": [o.story_key for o in result.outcomes if o.created]}  # fmt: skip

    @task(task_id="report_created")
    def report_created() -> dict:
        from include.itsm.airflow.runtime import task_context
        from include.itsm.application.bridge import write_report

        written = write_report(task_context(execute=True))
        return {"date": written.date, "points": len(written.points)}

    found = detect()
    found >> report()
    stories_wanted(found) >> gate >> create_stories() >> report_created()


itsm_pattern_bridge()
