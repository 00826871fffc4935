"""Per-ticket lifecycle DAGs: `itsm_lifecycle__<KEY>` and `itsm_approvals__<KEY>` for every ticket
in the manifest (written by the nightly sweep and by `itsm lifecycle KEY`).

Wiring only. The manifest is a local file (no network or DB at parse time); when a worker parses
this file to run one task, only that task's DAG pair is built.
"""

from __future__ import annotations

from airflow.sdk import get_parsing_context

from include.itsm.airflow.lifecycle_dags import GateTiming, build_approvals_dag, build_lifecycle_dag, gc_paused
from include.itsm.application.lifecycle import approvals_dag_id, lifecycle_dag_id, plan_for
from include.itsm.application.manifest import read_manifest
from include.itsm.config import settings

SETTINGS = settings()
TIMING = GateTiming.from_runtime(SETTINGS.runtime)
WANTED = get_parsing_context().dag_id  # None when the DAG processor parses everything

with gc_paused():  # every object built here is kept: collector passes would find nothing
    for entry in read_manifest(SETTINGS.runtime.manifest_path).tickets.values():
        if not entry.ticket_type:
            continue
        lifecycle_id, approvals_id = lifecycle_dag_id(entry.key), approvals_dag_id(entry.key)
        if WANTED and WANTED not in (lifecycle_id, approvals_id):
            continue
        plan = plan_for(entry.key, entry.ticket_type, entry.change_type)
        globals()[lifecycle_id] = build_lifecycle_dag(plan, entry.summary, TIMING)
        globals()[approvals_id] = build_approvals_dag(plan, entry.summary, TIMING, SETTINGS.policy.change)
