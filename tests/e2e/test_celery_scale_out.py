"""Scale-out end to end: the nightly sweep on the Celery topology (tests/e2e/conftest.py's
`celery_airflow`: PostgreSQL, Redis, two named workers). The run must succeed and its tasks must
have run on both workers (task instance hostnames are the workers' names).
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from include.itsm.adapters.evidence import run_segment
from include.itsm.devstack.demo.tickets import demo_tickets
from tests.e2e.conftest import CELERY_BATCH_SIZE, CELERY_WORKERS

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
DAG_ID = "itsm_nightly_sweep"


def test_sweep_on_postgres_celery_redis_runs_on_both_workers(celery_airflow):
    client = celery_airflow.client()
    client.wait_for_dag(DAG_ID)
    now = datetime.now(UTC)
    run_id = f"celery__{now:%Y%m%dT%H%M%S%f}"
    client.trigger_at(DAG_ID, run_id, now, conf={"execute": False})
    assert client.wait_for_run(DAG_ID, run_id, timeout_s=600) == "success"

    tis = client.task_instances(DAG_ID, run_id)
    assert {ti["state"] for ti in tis} == {"success"}, [(ti["task_id"], ti["state"]) for ti in tis]
    batches = [ti for ti in tis if ti["task_id"] == "assess_batch"]
    assert len(batches) >= len(demo_tickets()) // CELERY_BATCH_SIZE
    hostnames = {ti["hostname"] for ti in tis}
    assert set(CELERY_WORKERS) <= hostnames, hostnames  # both workers ran tasks; nothing ran elsewhere
    assert hostnames <= set(CELERY_WORKERS), hostnames

    summary = json.loads(
        (celery_airflow.config_dir / "evidence" / "_sweep" / run_segment(run_id) / "summary.json").read_text()
    )
    assert summary["failed"] == 0 and summary["succeeded"] >= len(demo_tickets())


def test_the_approvers_are_fab_users_assigned_by_id(celery_airflow):
    """Under FAB, Airflow compares a respondent's numeric user id with a gate's assigned ids: the
    ids `itsm approvers sync` stored must be those users' ids (the lifecycle run in
    test_process_faults_e2e.py is then answered by them)."""
    client = celery_airflow.client()
    ids = json.loads(client.get("/variables/itsm_approver_ids")["value"])
    listed = subprocess.run(  # FAB's REST API does not expose ids; its CLI lists them
        [sys.executable, "-m", "airflow", "users", "list", "--output", "json"],
        env=celery_airflow.env(),
        cwd=celery_airflow.home,
        check=True,
        capture_output=True,
        text=True,
    )
    users = {u["username"]: u for u in json.loads(listed.stdout.strip().splitlines()[-1])}
    assert set(ids) >= {"cab-1", "cab-2", "product-owner", "dual-delegate"}
    assert all(ids[name] == str(users[name]["id"]) and ids[name].isdigit() for name in ids), (ids, users)
