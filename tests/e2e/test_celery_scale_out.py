"""Scale-out end to end: the nightly sweep on the production topology (docker-compose.yaml).

PostgreSQL metadata DB (a fresh database, dropped at the end), CeleryExecutor with the Redis
broker, and two `airflow celery worker`s with distinct names, all started and stopped here
(LocalAirflow's executor/DB options). The run must succeed and its tasks must have run on
both workers (task instance hostnames are the workers' names).
PostgreSQL on 127.0.0.1:5432 (trust, user postgres) and Redis on 127.0.0.1:6379 are expected
to run (.ci/run starts them when they are down).
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone

import psycopg2
import pytest
import redis

from include.itsm.adapters.evidence import run_segment
from include.itsm.devstack.demo.tickets import demo_tickets
from include.itsm.devstack.local_airflow import LocalAirflow
from include.itsm.devstack.services import free_port
from tests.integration.demo_fixtures import connection_env, write_test_config

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]
DAG_ID = "itsm_nightly_sweep"
PG = dict(host=os.environ.get("ITSM_TEST_PG_HOST", "127.0.0.1"), port=int(os.environ.get("ITSM_TEST_PG_PORT", "5432")),
          user=os.environ.get("ITSM_TEST_PG_USER", "postgres"))  # fmt: skip
REDIS_URL = os.environ.get("ITSM_TEST_REDIS_URL", "redis://127.0.0.1:6379/11")
WORKERS = ("itsm-worker-a", "itsm-worker-b")
BATCH_SIZE = 2  # several mapped batches, so both workers get some


def _admin(sql: str) -> None:
    conn = psycopg2.connect(dbname="postgres", **PG)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
    finally:
        conn.close()


@pytest.fixture(scope="module")
def metadata_db():
    name = f"itsm_celery_test_{uuid.uuid4().hex[:8]}"  # fresh per run; sessions on one server never meet
    _admin(f"CREATE DATABASE {name}")
    try:
        yield f"postgresql+psycopg2://{PG['user']}@{PG['host']}:{PG['port']}/{name}"
    finally:
        _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' AND pid <> pg_backend_pid()")
        _admin(f"DROP DATABASE IF EXISTS {name}")


@pytest.fixture(scope="module")
def celery_airflow(tmp_path_factory, metadata_db, demo_board, local_aws):
    redis.Redis.from_url(REDIS_URL).ping()  # the broker must be up (a clear error, not a hung scheduler)
    directory = tmp_path_factory.mktemp("celery")
    env = connection_env(demo_board.url, demo_board.user, demo_board.token, local_aws.endpoint_url)
    env["ITSM_CONFIG"] = str(write_test_config(directory, sweep_schedule=None, sweep_batch_size=BATCH_SIZE))
    env["AIRFLOW__CORE__PARALLELISM"] = "8"
    # a random port: 8080 (the default first choice) may be taken by the time the api-server binds it
    airflow = LocalAirflow(home=directory / "airflow", port=free_port(0), extra_env=env, executor="CeleryExecutor",
                           sql_alchemy_conn=metadata_db, broker_url=REDIS_URL, celery_workers=WORKERS)
    airflow.start(timeout_s=240)
    airflow.config_dir = directory
    try:
        yield airflow
    finally:
        airflow.stop()


def test_sweep_on_postgres_celery_redis_runs_on_both_workers(celery_airflow):
    client = celery_airflow.client()
    client.wait_for_dag(DAG_ID)
    now = datetime.now(timezone.utc)
    run_id = f"celery__{now:%Y%m%dT%H%M%S%f}"
    client.trigger_at(DAG_ID, run_id, now, conf={"execute": False})
    assert client.wait_for_run(DAG_ID, run_id, timeout_s=600) == "success"

    tis = client.task_instances(DAG_ID, run_id)
    assert {ti["state"] for ti in tis} == {"success"}, [(ti["task_id"], ti["state"]) for ti in tis]
    batches = [ti for ti in tis if ti["task_id"] == "assess_batch"]
    assert len(batches) >= len(demo_tickets()) // BATCH_SIZE
    hostnames = {ti["hostname"] for ti in tis}
    assert set(WORKERS) <= hostnames, hostnames  # both workers ran tasks; nothing ran elsewhere
    assert hostnames <= set(WORKERS), hostnames

    summary = json.loads((celery_airflow.config_dir / "evidence" / "_sweep" / run_segment(run_id) / "summary.json").read_text())
    assert summary["failed"] == 0 and summary["succeeded"] >= len(demo_tickets())
